package sigma

import (
	"strings"
	"unicode/utf8"
)

// valueMatcher tests one value of a field. raw is the value as the event
// has it and low its lowercase form; d is there for fieldref.
type valueMatcher interface {
	match(d *Doc, raw, low string) bool
}

// fieldMatch is one "field|modifiers: values" item of a search (or a
// keyword list, with field -1: any value of any field).
type fieldMatch struct {
	field  int
	all    bool // every value matcher must match (the all modifier)
	vals   []valueMatcher
	ac     *acMatcher // many plain "contains" values, one pass
	null   bool       // a null value: matches a field that is absent or empty
	exists int8       // the exists modifier: 1 must exist, -1 must not
	// kwPlain: a keyword search whose values are all plain, case-folded
	// substrings (vals holds *pattern of kind patContains).
	kwPlain bool
}

func (m *fieldMatch) match(d *Doc) bool {
	if m.exists != 0 {
		return d.has(m.field) == (m.exists > 0)
	}
	if m.null && (m.field < 0 || !d.has(m.field)) {
		return true
	}
	if m.field < 0 {
		// Keywords: any value of any field. Plain ones search the
		// event's joined text (NUL between values, which no keyword
		// holds, so none matches across two values).
		if m.kwPlain {
			text := d.keywordText()
			if m.ac != nil && m.ac.ac.match(text) {
				return true
			}
			for _, vm := range m.vals {
				if p := vm.(*pattern); strings.Contains(text, p.lit) != m.all {
					return !m.all
				}
			}
			return m.all && len(m.vals) > 0
		}
		if m.all {
			for _, vm := range m.vals {
				found := false
				for f := range d.vals {
					if anyValue(d, f, vm) {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			}
			return len(m.vals) > 0
		}
		for f := range d.vals {
			if m.ac != nil && m.ac.any(d, f) {
				return true
			}
			for _, vm := range m.vals {
				if anyValue(d, f, vm) {
					return true
				}
			}
		}
		return false
	}
	if m.all {
		for _, vm := range m.vals {
			if !anyValue(d, m.field, vm) {
				return false
			}
		}
		return len(m.vals) > 0
	}
	if m.ac != nil && m.ac.any(d, m.field) {
		return true
	}
	for _, vm := range m.vals {
		if anyValue(d, m.field, vm) {
			return true
		}
	}
	return false
}

func anyValue(d *Doc, f int, vm valueMatcher) bool {
	low := d.low[f]
	for i, raw := range d.vals[f] {
		if vm.match(d, raw, low[i]) {
			return true
		}
	}
	return false
}

// acMatcher is an OR of plain contains values run as one automaton.
type acMatcher struct {
	ac    *ahoCorasick
	cased bool
}

func (m *acMatcher) any(d *Doc, f int) bool {
	vals := d.low[f]
	if m.cased {
		vals = d.vals[f]
	}
	for _, v := range vals {
		if m.ac.match(v) {
			return true
		}
	}
	return false
}

// pattern is a Sigma string value: literal parts between wildcards. It
// matches the lowercase value unless cased.
type pattern struct {
	parts []string // literal text; a wildcard sits between consecutive parts per wild
	wild  []byte   // wild[i] is '*' or '?' between parts[i] and parts[i+1]
	cased bool
	// shape fast paths
	kind patKind
	lit  string
}

type patKind uint8

const (
	patGlob patKind = iota
	patEq
	patPrefix
	patSuffix
	patContains
	patAny // "*": anything, even empty
)

// parsePattern reads Sigma's wildcard syntax: * any run, ? one character,
// and a backslash escaping *, ? or a backslash; any other backslash is
// itself.
func parsePattern(s string, cased bool) *pattern {
	p := &pattern{cased: cased}
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			p.parts = append(p.parts, cur.String())
			p.wild = append(p.wild, c)
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	p.parts = append(p.parts, cur.String())
	if !cased {
		for i := range p.parts {
			p.parts[i] = strings.ToLower(p.parts[i])
		}
	}
	p.classify()
	return p
}

// literal is a pattern that matches exactly s.
func literal(s string, cased bool) *pattern {
	if !cased {
		s = strings.ToLower(s)
	}
	p := &pattern{parts: []string{s}, cased: cased}
	p.classify()
	return p
}

// wrap adds a leading and/or trailing * (contains, startswith, endswith).
func (p *pattern) wrap(lead, trail bool) *pattern {
	q := &pattern{cased: p.cased, parts: append([]string(nil), p.parts...), wild: append([]byte(nil), p.wild...)}
	if lead {
		q.parts = append([]string{""}, q.parts...)
		q.wild = append([]byte{'*'}, q.wild...)
	}
	if trail {
		q.parts = append(q.parts, "")
		q.wild = append(q.wild, '*')
	}
	q.classify()
	return q
}

func (p *pattern) classify() {
	stars := true
	for _, w := range p.wild {
		if w != '*' {
			stars = false
		}
	}
	n := len(p.wild)
	switch {
	case n == 0:
		p.kind, p.lit = patEq, p.parts[0]
	case !stars:
		p.kind = patGlob
	case n == 1 && p.parts[0] == "" && p.parts[1] == "":
		p.kind = patAny
	case n == 1 && p.parts[1] == "":
		p.kind, p.lit = patPrefix, p.parts[0]
	case n == 1 && p.parts[0] == "":
		p.kind, p.lit = patSuffix, p.parts[1]
	case n == 2 && p.parts[0] == "" && p.parts[2] == "":
		p.kind, p.lit = patContains, p.parts[1]
	default:
		p.kind = patGlob
	}
}

// plainContains reports whether p is "*text*" (for Aho-Corasick).
func (p *pattern) plainContains() (string, bool) {
	return p.lit, p.kind == patContains
}

func (p *pattern) match(_ *Doc, raw, low string) bool {
	v := low
	if p.cased {
		v = raw
	}
	switch p.kind {
	case patEq:
		return v == p.lit
	case patPrefix:
		return strings.HasPrefix(v, p.lit)
	case patSuffix:
		return strings.HasSuffix(v, p.lit)
	case patContains:
		return strings.Contains(v, p.lit)
	case patAny:
		return true
	}
	return globMatch(p.parts, p.wild, v)
}

// globMatch matches v against parts joined by wildcards: ? is one
// character (rune), * any run. It backtracks only to the last *, which is
// enough for these patterns and keeps the work linear in practice.
func globMatch(parts []string, wild []byte, v string) bool {
	if !strings.HasPrefix(v, parts[0]) {
		return false
	}
	si := len(parts[0])
	pi := 0 // next wildcard
	starPi, starSi := -1, 0
	for {
		if pi < len(wild) {
			switch wild[pi] {
			case '*':
				starPi, starSi = pi, si
				pi++
				// The literal after the star is tried at the next step.
				if strings.HasPrefix(v[si:], parts[pi]) {
					si += len(parts[pi])
					continue
				}
			case '?':
				if si < len(v) {
					_, n := utf8.DecodeRuneInString(v[si:])
					if strings.HasPrefix(v[si+n:], parts[pi+1]) {
						si += n + len(parts[pi+1])
						pi++
						continue
					}
				}
			}
		} else if si == len(v) {
			return true
		}
		// Mismatch: let the last star take one more character, until the
		// literal after it matches again.
		for {
			if starPi < 0 || starSi >= len(v) {
				return false
			}
			_, n := utf8.DecodeRuneInString(v[starSi:])
			starSi += n
			if lit := parts[starPi+1]; strings.HasPrefix(v[starSi:], lit) {
				si, pi = starSi+len(lit), starPi+1
				break
			}
		}
	}
}
