package sigma

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// cond is a compiled condition: a tree over the rule's search
// identifiers.
type cond interface {
	eval(d *Doc, s []bool, done []bool, r *Rule) bool
}

type (
	condAnd   []cond
	condOr    []cond
	condNot   struct{ c cond }
	condIdent int // index into the rule's searches
	// condOf is "N of pattern", "all of pattern", "1 of them", "all of them".
	condOf struct {
		all    bool
		n      int
		idents []int
	}
)

func (c condAnd) eval(d *Doc, s, done []bool, r *Rule) bool {
	for _, x := range c {
		if !x.eval(d, s, done, r) {
			return false
		}
	}
	return true
}

func (c condOr) eval(d *Doc, s, done []bool, r *Rule) bool {
	for _, x := range c {
		if x.eval(d, s, done, r) {
			return true
		}
	}
	return false
}

func (c condNot) eval(d *Doc, s, done []bool, r *Rule) bool { return !c.c.eval(d, s, done, r) }

func (c condIdent) eval(d *Doc, s, done []bool, r *Rule) bool {
	// Each search is evaluated at most once per event, however often the
	// condition names it.
	if !done[c] {
		s[c], done[c] = r.searches[c].match(d), true
	}
	return s[c]
}

func (c condOf) eval(d *Doc, s, done []bool, r *Rule) bool {
	n := 0
	for _, i := range c.idents {
		if condIdent(i).eval(d, s, done, r) {
			n++
			if !c.all && n >= c.n {
				return true
			}
		} else if c.all {
			return false
		}
	}
	if c.all {
		return len(c.idents) > 0
	}
	return false
}

// token kinds of the condition language.
type tokKind int

const (
	tokIdent tokKind = iota
	tokAnd
	tokOr
	tokNot
	tokOf
	tokThem
	tokAll
	tokNum
	tokLParen
	tokRParen
	tokPipe
	tokEOF
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the condition, for errors
}

func lexCondition(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tokLParen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tokRParen, ")", i})
			i++
		case c == '|':
			// What follows is v1 aggregation syntax; the parser says so.
			return append(out, token{tokPipe, "|", i}, token{tokEOF, "", len(s)}), nil
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			w := s[i:j]
			k := tokIdent
			switch strings.ToLower(w) {
			case "and":
				k = tokAnd
			case "or":
				k = tokOr
			case "not":
				k = tokNot
			case "of":
				k = tokOf
			case "them":
				k = tokThem
			case "all":
				k = tokAll
			case "any":
				k, w = tokNum, "1"
			default:
				if _, err := strconv.Atoi(w); err == nil {
					k = tokNum
				}
			}
			out = append(out, token{k, w, i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at column %d", c, i+1)
		}
	}
	return append(out, token{tokEOF, "", len(s)}), nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '*' || c == '?' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// condParser is a recursive-descent parser; precedence, lowest first:
// or, and, not, then "x of" and parentheses.
type condParser struct {
	toks   []token
	i      int
	names  []string       // search identifiers, in the rule's order
	index  map[string]int // name -> position in names
	used   map[int]bool
	source string
}

func parseCondition(s string, names []string) (cond, map[int]bool, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, nil, err
	}
	p := &condParser{toks: toks, names: names, index: map[string]int{}, used: map[int]bool{}, source: s}
	for i, n := range names {
		p.index[n] = i
	}
	c, err := p.or()
	if err != nil {
		return nil, nil, err
	}
	switch t := p.peek(); t.kind {
	case tokEOF:
	case tokPipe:
		return nil, nil, fmt.Errorf("aggregations after | (column %d) are Sigma v1 syntax: write a correlation rule instead", t.pos+1)
	default:
		return nil, nil, fmt.Errorf("unexpected %q at column %d", t.text, t.pos+1)
	}
	return c, p.used, nil
}

func (p *condParser) peek() token { return p.toks[p.i] }
func (p *condParser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *condParser) or() (cond, error) {
	return p.chain(tokOr, p.and, func(cs []cond) cond { return condOr(cs) })
}

func (p *condParser) and() (cond, error) {
	return p.chain(tokAnd, p.not, func(cs []cond) cond { return condAnd(cs) })
}

// chain parses operand (op operand)*; one operand stands for itself.
func (p *condParser) chain(op tokKind, operand func() (cond, error), join func([]cond) cond) (cond, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	cs := []cond{first}
	for p.peek().kind == op {
		p.next()
		c, err := operand()
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if len(cs) == 1 {
		return first, nil
	}
	return join(cs), nil
}

func (p *condParser) not() (cond, error) {
	if p.peek().kind == tokNot {
		p.next()
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		return condNot{c}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (cond, error) {
	t := p.next()
	switch t.kind {
	case tokLParen:
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if r := p.next(); r.kind != tokRParen {
			return nil, fmt.Errorf("missing ) for the ( at column %d", t.pos+1)
		}
		return c, nil
	case tokAll, tokNum:
		of := condOf{all: t.kind == tokAll}
		if !of.all {
			of.n, _ = strconv.Atoi(t.text)
			if of.n < 1 {
				return nil, fmt.Errorf("%q of: the count must be at least 1 (column %d)", t.text, t.pos+1)
			}
		}
		if o := p.next(); o.kind != tokOf {
			return nil, fmt.Errorf("expected \"of\" after %q at column %d", t.text, t.pos+1)
		}
		target := p.next()
		switch target.kind {
		case tokThem:
			// "them" leaves out identifiers starting with an underscore.
			for i, n := range p.names {
				if !strings.HasPrefix(n, "_") {
					of.idents = append(of.idents, i)
				}
			}
		case tokIdent, tokNum:
			// Like "them", a pattern leaves out identifiers starting with
			// an underscore, unless it starts with one itself.
			for i, n := range p.names {
				if ok, _ := path.Match(target.text, n); ok && (!strings.HasPrefix(n, "_") || strings.HasPrefix(target.text, "_")) {
					of.idents = append(of.idents, i)
				}
			}
			if len(of.idents) == 0 {
				return nil, fmt.Errorf("%q (column %d) matches no search identifier (have %s)", target.text, target.pos+1, strings.Join(sorted(p.names), ", "))
			}
		default:
			return nil, fmt.Errorf("expected a search identifier pattern or \"them\" after \"of\" at column %d", target.pos+1)
		}
		for _, i := range of.idents {
			p.used[i] = true
		}
		return of, nil
	case tokIdent:
		i, ok := p.index[t.text]
		if !ok {
			if strings.ContainsAny(t.text, "*?") {
				return nil, fmt.Errorf("%q at column %d is a pattern: write \"1 of %s\" or \"all of %s\"", t.text, t.pos+1, t.text, t.text)
			}
			return nil, fmt.Errorf("unknown search identifier %q at column %d (have %s)", t.text, t.pos+1, strings.Join(sorted(p.names), ", "))
		}
		p.used[i] = true
		return condIdent(i), nil
	case tokEOF:
		return nil, fmt.Errorf("the condition ends where a search identifier was expected")
	}
	return nil, fmt.Errorf("unexpected %q at column %d", t.text, t.pos+1)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
