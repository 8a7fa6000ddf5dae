package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// value is one YAML value of a search, before modifiers apply.
type value struct {
	text string
	kind valueKind
	line int
}

type valueKind uint8

const (
	valString valueKind = iota
	valNumber
	valBool
	valNull
)

// modifierSet is a field's modifiers, parsed and checked.
type modifierSet struct {
	contains, startswith, endswith bool
	all, cased, exists, fieldref   bool
	neq                            bool
	re                             bool
	reFlags                        string // i, m, s
	cidr                           bool
	cmp                            string // lt, lte, gt, gte
	timePart                       string // minute, hour, day, week, month, year
	transforms                     []string
	expand                         bool
}

var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true, "cased": true, "exists": true,
	"fieldref": true, "neq": true, "re": true, "i": true, "m": true, "s": true, "cidr": true,
	"lt": true, "lte": true, "gt": true, "gte": true,
	"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true,
	"base64": true, "base64offset": true, "utf16le": true, "utf16be": true, "wide": true, "utf16": true,
	"windash": true, "expand": true,
}

func parseModifiers(mods []string) (modifierSet, error) {
	var m modifierSet
	seen := map[string]bool{}
	for _, raw := range mods {
		mod := strings.ToLower(raw)
		if !knownModifiers[mod] {
			return m, fmt.Errorf("unknown modifier %q", raw)
		}
		if seen[mod] {
			return m, fmt.Errorf("modifier %q given twice", raw)
		}
		seen[mod] = true
		switch mod {
		case "contains":
			m.contains = true
		case "startswith":
			m.startswith = true
		case "endswith":
			m.endswith = true
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "exists":
			m.exists = true
		case "fieldref":
			m.fieldref = true
		case "neq":
			m.neq = true
		case "re":
			m.re = true
		case "i", "m", "s":
			if !seen["re"] {
				return m, fmt.Errorf("modifier %q only follows re", raw)
			}
			m.reFlags += mod
		case "cidr":
			m.cidr = true
		case "lt", "lte", "gt", "gte":
			if m.cmp != "" {
				return m, fmt.Errorf("modifiers %q and %q both compare", m.cmp, raw)
			}
			m.cmp = mod
		case "minute", "hour", "day", "week", "month", "year":
			if m.timePart != "" {
				return m, fmt.Errorf("modifiers %q and %q both take a part of a time", m.timePart, raw)
			}
			m.timePart = mod
		case "base64", "base64offset", "utf16le", "utf16be", "wide", "utf16", "windash":
			m.transforms = append(m.transforms, mod)
		case "expand":
			m.expand = true
		}
	}
	n := 0
	for _, b := range []bool{m.contains, m.startswith, m.endswith} {
		if b {
			n++
		}
	}
	switch {
	case n > 1:
		return m, fmt.Errorf("contains, startswith and endswith exclude each other")
	case m.re && (n > 0 || len(m.transforms) > 0 || m.cidr || m.cmp != "" || m.cased):
		return m, fmt.Errorf("re takes no other matching modifier (its pattern says it all; use (?i) or |re|i for case)")
	case m.cidr && (n > 0 || len(m.transforms) > 0 || m.cmp != ""):
		return m, fmt.Errorf("cidr takes no other matching modifier")
	case m.exists && len(mods) > 1:
		return m, fmt.Errorf("exists takes no other modifier")
	case m.cmp != "" && (n > 0 || len(m.transforms) > 0 || m.fieldref):
		return m, fmt.Errorf("%s compares numbers and takes no string modifier", m.cmp)
	case m.fieldref && (len(m.transforms) > 0 || m.expand):
		return m, fmt.Errorf("fieldref takes no value transformation")
	}
	return m, nil
}

// compileField builds the matcher for one "field|mods: values" item.
// placeholders serve the expand modifier.
func compileField(field int, mods modifierSet, vals []value, s *Schema, placeholders map[string][]string) (*fieldMatch, error) {
	fm := &fieldMatch{field: field, all: mods.all}
	if mods.exists {
		if len(vals) != 1 || vals[0].kind != valBool {
			return nil, fmt.Errorf("exists takes true or false")
		}
		fm.exists = -1
		if vals[0].text == "true" {
			fm.exists = 1
		}
		return fm, nil
	}
	if field < 0 {
		if mods.fieldref || mods.cmp != "" || mods.timePart != "" || mods.cidr {
			return nil, fmt.Errorf("keywords take no field modifier")
		}
		for _, v := range vals {
			if v.kind == valNull {
				return nil, lineErr{v.line, fmt.Errorf("a null value must be bound to a field")}
			}
		}
		// A keyword is searched anywhere in the event: an implicit contains.
		if !mods.re && !mods.startswith && !mods.endswith {
			mods.contains = true
		}
	}
	if mods.expand {
		var out []value
		for _, v := range vals {
			ex, err := expand(v, placeholders)
			if err != nil {
				return nil, err
			}
			out = append(out, ex...)
		}
		vals = out
	}
	var contains []string
	for _, v := range vals {
		vm, err := compileValue(mods, v, s)
		if err != nil {
			return nil, lineErr{v.line, err}
		}
		if vm == nil { // null
			fm.null = true
			continue
		}
		for _, x := range vm {
			if p, ok := x.(*pattern); ok && !mods.all {
				if lit, ok := p.plainContains(); ok {
					contains = append(contains, lit)
					continue
				}
			}
			fm.vals = append(fm.vals, x)
		}
	}
	// A long contains list is one automaton pass; a short one is a few
	// strings.Contains calls, which is faster.
	if len(contains) >= 8 {
		fm.ac = &acMatcher{ac: newAhoCorasick(contains), cased: mods.cased}
	} else {
		for _, lit := range contains {
			p := &pattern{parts: []string{"", lit, ""}, wild: []byte{'*', '*'}, cased: mods.cased}
			p.classify()
			fm.vals = append(fm.vals, p)
		}
	}
	if field < 0 && !mods.cased && !mods.neq && !fm.null {
		fm.kwPlain = true
		for _, vm := range fm.vals {
			if p, ok := vm.(*pattern); !ok || p.kind != patContains || strings.IndexByte(p.lit, 0) >= 0 {
				fm.kwPlain = false
			}
		}
		if fm.ac != nil && mods.all {
			fm.kwPlain = false
		}
	}
	if mods.neq {
		fm = &fieldMatch{field: field, vals: []valueMatcher{notAll{fm}}}
	}
	return fm, nil
}

// lineErr is a problem with one value, on its own line.
type lineErr struct {
	line int
	err  error
}

func (e lineErr) Error() string { return e.err.Error() }

// notAll is the neq modifier: the field has a value none of the values
// matches.
type notAll struct{ fm *fieldMatch }

func (n notAll) match(d *Doc, raw, low string) bool {
	if n.fm.ac != nil && n.fm.ac.ac.match(pick(n.fm.ac.cased, raw, low)) {
		return false
	}
	for _, vm := range n.fm.vals {
		if vm.match(d, raw, low) {
			return false
		}
	}
	return true
}

func pick(cased bool, raw, low string) string {
	if cased {
		return raw
	}
	return low
}

// compileValue returns the matchers one value stands for (several when a
// transformation makes variants), or nil for null.
func compileValue(m modifierSet, v value, s *Schema) ([]valueMatcher, error) {
	if v.kind == valNull {
		if m.contains || m.startswith || m.endswith || m.re || m.cidr || m.cmp != "" || m.fieldref || len(m.transforms) > 0 {
			return nil, fmt.Errorf("null takes no modifier")
		}
		return nil, nil
	}
	switch {
	case m.fieldref:
		f, ok := s.Field(v.text)
		if !ok {
			return nil, fmt.Errorf("fieldref names %q, which is not a field (%s)", v.text, fieldList(s))
		}
		return []valueMatcher{&fieldRef{field: f, cased: m.cased, lead: m.contains || m.endswith, trail: m.contains || m.startswith}}, nil
	case m.re:
		flags := ""
		for _, f := range m.reFlags {
			flags += string(f)
		}
		expr := v.text
		if flags != "" {
			expr = "(?" + flags + ")" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("regular expression: %w", err)
		}
		return []valueMatcher{reMatcher{re}}, nil
	case m.cidr:
		p, err := netip.ParsePrefix(v.text)
		if err != nil {
			return nil, fmt.Errorf("cidr: %q is not an address range like 10.0.0.0/8", v.text)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("cidr: %q has host bits set (the range is %s)", v.text, p.Masked())
		}
		return []valueMatcher{cidrMatcher{p}}, nil
	case m.cmp != "":
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", m.cmp, v.text)
		}
		var vm valueMatcher = numCmp{op: m.cmp, v: n}
		if m.timePart != "" {
			vm = timePart{part: m.timePart, inner: numCmp{op: m.cmp, v: n}}
		}
		return []valueMatcher{vm}, nil
	case m.timePart != "":
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", m.timePart, v.text)
		}
		return []valueMatcher{timePart{part: m.timePart, inner: numCmp{op: "eq", v: n}}}, nil
	}
	if v.kind == valNumber && len(m.transforms) == 0 && !m.contains && !m.startswith && !m.endswith {
		n, _ := strconv.ParseFloat(v.text, 64)
		return []valueMatcher{numEq{text: v.text, v: n}}, nil
	}
	// A string (numbers and booleans compare as their text): apply the
	// transformations, then the wildcard shape.
	variants := []string{v.text}
	plain := false // transformations produce bytes without wildcards
	for _, t := range m.transforms {
		var err error
		if variants, err = transform(t, variants); err != nil {
			return nil, err
		}
		if t != "windash" {
			plain = true
		}
	}
	var out []valueMatcher
	for _, x := range variants {
		var p *pattern
		if plain || v.kind != valString {
			p = literal(x, m.cased)
		} else {
			p = parsePattern(x, m.cased)
		}
		if m.contains || m.startswith || m.endswith {
			p = p.wrap(m.contains || m.endswith, m.contains || m.startswith)
		}
		out = append(out, p)
	}
	return out, nil
}

// transform applies one value transformation modifier to each variant.
func transform(t string, in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		switch t {
		case "utf16le", "wide":
			out = append(out, string(utf16Bytes(s, false, false)))
		case "utf16be":
			out = append(out, string(utf16Bytes(s, true, false)))
		case "utf16":
			out = append(out, string(utf16Bytes(s, false, true)))
		case "base64":
			out = append(out, base64.StdEncoding.EncodeToString([]byte(s)))
		case "base64offset":
			// The value at each of the three offsets a base64 encoding can
			// put it, with the characters that depend on its neighbours
			// cut off (as Sigma defines it).
			for i := 0; i < 3; i++ {
				enc := base64.StdEncoding.EncodeToString(append(make([]byte, i), s...))
				start := []int{0, 2, 3}[i]
				end := len(enc) - []int{0, 3, 2}[(len(s)+i)%3]
				if start < end {
					out = append(out, enc[start:end])
				}
			}
		case "windash":
			w, err := windash(s)
			if err != nil {
				return nil, err
			}
			out = append(out, w...)
		}
	}
	return out, nil
}

// windashRE finds option characters as pySigma does: a - or / not after
// a word character and before one.
var windashRE = regexp.MustCompile(`(^|[^\w])([-/])\w`)

// windash returns every spelling of s with each option character as -, /,
// en dash, em dash or horizontal bar (all combinations).
func windash(s string) ([]string, error) {
	var pos []int
	for _, m := range windashRE.FindAllStringSubmatchIndex(s, -1) {
		pos = append(pos, m[4])
	}
	if len(pos) > 4 {
		return nil, fmt.Errorf("windash: %d option characters make %d spellings; split the value", len(pos), pow5(len(pos)))
	}
	alts := []string{"-", "/", "\u2013", "\u2014", "\u2015"}
	out := []string{""}
	last := 0
	for _, p := range pos {
		var next []string
		for _, prefix := range out {
			for _, a := range alts {
				next = append(next, prefix+s[last:p]+a)
			}
		}
		out, last = next, p+1
	}
	for i := range out {
		out[i] += s[last:]
	}
	return out, nil
}

func pow5(n int) int {
	r := 1
	for ; n > 0; n-- {
		r *= 5
	}
	return r
}

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	u := utf16.Encode([]rune(s))
	var out []byte
	if bom {
		out = append(out, 0xff, 0xfe)
	}
	for _, c := range u {
		if bigEndian {
			out = append(out, byte(c>>8), byte(c))
		} else {
			out = append(out, byte(c), byte(c>>8))
		}
	}
	return out
}

// expand replaces %name% placeholders with each configured value.
func expand(v value, placeholders map[string][]string) ([]value, error) {
	out := []value{v}
	for {
		var next []value
		changed := false
		for _, x := range out {
			i := strings.IndexByte(x.text, '%')
			j := -1
			if i >= 0 {
				j = strings.IndexByte(x.text[i+1:], '%')
			}
			if i < 0 || j < 0 {
				next = append(next, x)
				continue
			}
			name := x.text[i+1 : i+1+j]
			vals, ok := placeholders[name]
			if !ok {
				return nil, lineErr{v.line, fmt.Errorf("expand: no values are configured for placeholder %%%s%%", name)}
			}
			changed = true
			for _, pv := range vals {
				next = append(next, value{text: x.text[:i] + pv + x.text[i+2+j:], kind: valString, line: v.line})
			}
		}
		out = next
		if !changed {
			return out, nil
		}
	}
}

func fieldList(s *Schema) string {
	return strings.Join(s.Fields(), ", ")
}

type reMatcher struct{ re *regexp.Regexp }

func (r reMatcher) match(_ *Doc, raw, _ string) bool { return r.re.MatchString(raw) }

type cidrMatcher struct{ p netip.Prefix }

func (c cidrMatcher) match(d *Doc, raw, _ string) bool {
	a, ok := d.addr(raw)
	return ok && c.p.Contains(a)
}

// numEq matches a number: numerically when the value parses, else as text.
type numEq struct {
	text string
	v    float64
}

func (n numEq) match(_ *Doc, raw, _ string) bool {
	if raw == n.text {
		return true
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	return err == nil && f == n.v
}

type numCmp struct {
	op string
	v  float64
}

func (n numCmp) match(_ *Doc, raw, _ string) bool {
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil {
		return false
	}
	return n.test(f)
}

func (n numCmp) test(f float64) bool {
	switch n.op {
	case "lt":
		return f < n.v
	case "lte":
		return f <= n.v
	case "gt":
		return f > n.v
	case "gte":
		return f >= n.v
	}
	return f == n.v
}

// timePart takes a part (hour, weekday...) of an RFC 3339 time value.
type timePart struct {
	part  string
	inner numCmp
}

func (t timePart) match(_ *Doc, raw, _ string) bool {
	ts, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return false
	}
	var n int
	switch t.part {
	case "minute":
		n = ts.Minute()
	case "hour":
		n = ts.Hour()
	case "day":
		n = ts.Day()
	case "week":
		_, n = ts.ISOWeek()
	case "month":
		n = int(ts.Month())
	case "year":
		n = ts.Year()
	}
	return t.inner.test(float64(n))
}

// fieldRef compares a value with another field's values.
type fieldRef struct {
	field       int
	cased       bool
	lead, trail bool // contains / endswith / startswith
}

func (f *fieldRef) match(d *Doc, raw, low string) bool {
	v, others := low, d.low[f.field]
	if f.cased {
		v, others = raw, d.vals[f.field]
	}
	for _, o := range others {
		switch {
		case f.lead && f.trail && strings.Contains(v, o),
			f.lead && !f.trail && strings.HasSuffix(v, o),
			!f.lead && f.trail && strings.HasPrefix(v, o),
			!f.lead && !f.trail && v == o:
			return true
		}
	}
	return false
}
