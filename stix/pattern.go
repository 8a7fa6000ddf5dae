package stix

import (
	"fmt"
	"net/netip"
	"strings"
)

// AddressPattern reads a STIX pattern that says "the address is one of
// these": observation expressions joined by OR, each a disjunction of
// comparisons of ipv4-addr:value, ipv6-addr:value or
// network-traffic:src_ref.value / dst_ref.value with =, IN or ISSUBSET
// against addresses or CIDR ranges. For example
//
//	[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value ISSUBSET '203.0.113.0/24']
//
// Anything else (AND, FOLLOWEDBY, NOT, qualifiers, other objects) is
// refused with the reason: such patterns need more than one event's
// address to decide.
func AddressPattern(pattern string) ([]netip.Prefix, error) {
	toks, err := lexPattern(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	p := &patParser{toks: toks}
	out, err := p.pattern()
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	return out, nil
}

type ptok struct {
	kind byte // '[', ']', '(', ')', ',', 's' string, 'w' word, 'o' operator, 0 end
	text string
	pos  int
}

func lexPattern(s string) ([]ptok, error) {
	var out []ptok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.IndexByte("[](),", c) >= 0:
			out = append(out, ptok{c, string(c), i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '\''; j++ {
				if s[j] == '\\' {
					if j+1 >= len(s) || s[j+1] != '\'' && s[j+1] != '\\' {
						return nil, fmt.Errorf("bad escape in the string at %d", j)
					}
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			out = append(out, ptok{'s', b.String(), i})
			i = j + 1
		case c == '=' || c == '!' || c == '<' || c == '>':
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			out = append(out, ptok{'o', s[i:j], i})
			i = j
		case c == '_' || c == '-' || c == ':' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '-' || s[j] == ':' || s[j] == '.' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			out = append(out, ptok{'w', s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return append(out, ptok{0, "", len(s)}), nil
}

type patParser struct {
	toks []ptok
	i    int
}

func (p *patParser) peek() ptok { return p.toks[p.i] }
func (p *patParser) next() ptok { t := p.toks[p.i]; p.i++; return t }

// pattern := observation ("OR" observation)* | "(" pattern ")"
func (p *patParser) pattern() ([]netip.Prefix, error) {
	out, err := p.observationOrGroup()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == 0:
			return out, nil
		case t.kind == 'w' && strings.EqualFold(t.text, "OR"):
			p.next()
			more, err := p.observationOrGroup()
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		case t.kind == ')':
			return out, nil
		case t.kind == 'w':
			return nil, fmt.Errorf("%s at %d: only OR between observations describes one address", strings.ToUpper(t.text), t.pos)
		default:
			return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
		}
	}
}

func (p *patParser) observationOrGroup() ([]netip.Prefix, error) {
	switch t := p.next(); t.kind {
	case '(':
		out, err := p.pattern()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != ')' {
			return nil, fmt.Errorf("missing ) for the ( at %d", t.pos)
		}
		return out, nil
	case '[':
		var out []netip.Prefix
		for {
			ps, err := p.comparison()
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
			t := p.next()
			if t.kind == ']' {
				return out, nil
			}
			if t.kind == 'w' && strings.EqualFold(t.text, "OR") {
				continue
			}
			if t.kind == 'w' {
				return nil, fmt.Errorf("%s at %d: only OR inside an observation describes one address", strings.ToUpper(t.text), t.pos)
			}
			return nil, fmt.Errorf("expected ] or OR at %d", t.pos)
		}
	default:
		return nil, fmt.Errorf("expected [ at %d", t.pos)
	}
}

// comparison := path op value
func (p *patParser) comparison() ([]netip.Prefix, error) {
	path := p.next()
	if path.kind != 'w' {
		return nil, fmt.Errorf("expected an object path at %d", path.pos)
	}
	var family string
	switch path.text {
	case "ipv4-addr:value":
		family = "4"
	case "ipv6-addr:value":
		family = "6"
	case "network-traffic:src_ref.value", "network-traffic:dst_ref.value":
	default:
		if strings.EqualFold(path.text, "NOT") {
			return nil, fmt.Errorf("NOT at %d: a negated comparison matches almost every address", path.pos)
		}
		return nil, fmt.Errorf("%s is not an address (ipv4-addr:value, ipv6-addr:value, network-traffic:src_ref.value)", path.text)
	}
	op := p.next()
	var vals []string
	switch {
	case op.kind == 'o' && op.text == "=", op.kind == 'w' && strings.EqualFold(op.text, "ISSUBSET"):
		v := p.next()
		if v.kind != 's' {
			return nil, fmt.Errorf("expected a quoted address at %d", v.pos)
		}
		vals = []string{v.text}
	case op.kind == 'w' && strings.EqualFold(op.text, "IN"):
		if t := p.next(); t.kind != '(' {
			return nil, fmt.Errorf("expected ( after IN at %d", t.pos)
		}
		for {
			v := p.next()
			if v.kind != 's' {
				return nil, fmt.Errorf("expected a quoted address at %d", v.pos)
			}
			vals = append(vals, v.text)
			t := p.next()
			if t.kind == ')' {
				break
			}
			if t.kind != ',' {
				return nil, fmt.Errorf("expected , or ) at %d", t.pos)
			}
		}
	default:
		return nil, fmt.Errorf("operator %q at %d: addresses are matched with =, IN or ISSUBSET", op.text, op.pos)
	}
	out := make([]netip.Prefix, 0, len(vals))
	for _, v := range vals {
		pf, err := parseAddr(v)
		if err != nil {
			return nil, err
		}
		if family == "4" && !pf.Addr().Is4() || family == "6" && !pf.Addr().Is6() {
			return nil, fmt.Errorf("%q is not an IPv%s address", v, family)
		}
		out = append(out, pf)
	}
	return out, nil
}

// parseAddr reads an address ("198.51.100.1") or a range ("10.0.0.0/8").
func parseAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address range", s)
		}
		return pf.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
