package sigma

// ahoCorasick finds whether any of many patterns occurs in a text in one
// pass (Aho and Corasick, 1975): what a "contains" list of hundreds of
// values (indicator strings, say) needs instead of one scan per value. The
// automaton is a full DFA over the bytes that occur in the patterns (every
// other byte maps to one class), so a scan is one table lookup per byte.
type ahoCorasick struct {
	class   [256]uint16
	classes int
	next    []int32 // state*classes + class -> state
	out     []bool  // state ends a pattern (itself or through its suffix links)
}

func newAhoCorasick(patterns []string) *ahoCorasick {
	a := &ahoCorasick{}
	// Class 0 is "a byte no pattern has".
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			if a.class[p[i]] == 0 {
				a.classes++
				a.class[p[i]] = uint16(a.classes)
			}
		}
	}
	a.classes++
	// Trie.
	goTo := [][]int32{make([]int32, a.classes)}
	out := []bool{false}
	for _, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := a.class[p[i]]
			if goTo[s][c] == 0 {
				goTo = append(goTo, make([]int32, a.classes))
				out = append(out, false)
				goTo[s][c] = int32(len(goTo) - 1)
			}
			s = goTo[s][c]
		}
		out[s] = true
	}
	// Breadth-first: failure links, folded into the transitions.
	fail := make([]int32, len(goTo))
	queue := make([]int32, 0, len(goTo))
	for c := 0; c < a.classes; c++ {
		if s := goTo[0][c]; s != 0 {
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		out[s] = out[s] || out[fail[s]]
		for c := 0; c < a.classes; c++ {
			t := goTo[s][c]
			if t != 0 {
				fail[t] = goTo[fail[s]][c]
				queue = append(queue, t)
			} else {
				goTo[s][c] = goTo[fail[s]][c]
			}
		}
	}
	a.next = make([]int32, len(goTo)*a.classes)
	for s, row := range goTo {
		copy(a.next[s*a.classes:], row)
	}
	a.out = out
	return a
}

// match reports whether text contains any pattern.
func (a *ahoCorasick) match(text string) bool {
	if a.out[0] {
		return true // an empty pattern occurs everywhere
	}
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = a.next[int(s)*a.classes+int(a.class[text[i]])]
		if a.out[s] {
			return true
		}
	}
	return false
}
