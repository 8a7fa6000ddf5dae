package sigma

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var testSchema = NewSchema([]string{"field", "field1", "field2", "field3", "CommandLine", "Image", "src_ip", "count", "time", "User", "TargetUser", "patient", "EventID"},
	map[string]string{"SourceIp": "src_ip"})

// ev builds a Doc from field -> values; "_t" sets the time (RFC 3339).
func ev(t *testing.T, kv map[string]any) *Doc {
	t.Helper()
	d := testSchema.NewDoc()
	d.Logsource = Logsource{Product: "labtrust", Category: "access"}
	for k, v := range kv {
		if k == "_t" {
			ts, err := time.Parse(time.RFC3339, v.(string))
			if err != nil {
				t.Fatal(err)
			}
			d.Time = ts
			continue
		}
		f, ok := testSchema.Field(k)
		if !ok {
			t.Fatalf("no field %s", k)
		}
		switch x := v.(type) {
		case []string:
			for _, s := range x {
				d.Add(f, s)
			}
		default:
			d.Add(f, fmt.Sprint(x))
		}
	}
	return d
}

// rule wraps a detection block into a rule.
func rule(detection string) string {
	return "title: t\nlogsource:\n  product: labtrust\ndetection:\n" + detection
}

func load(t *testing.T, src string) *Ruleset {
	t.Helper()
	rules, err := Parse("r.yml", []byte(src), testSchema, Options{Placeholders: map[string][]string{"Admins": {"root", "admin"}}})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	rs, err := New(rules, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func matches(rs *Ruleset, d *Doc) bool {
	n := 0
	rs.Eval(d, func(Match) { n++ })
	return n > 0
}

type vec struct {
	ev   map[string]any
	want bool
}

func check(t *testing.T, detection string, vecs ...vec) {
	t.Helper()
	rs := load(t, rule(detection))
	for _, v := range vecs {
		if got := matches(rs, ev(t, v.ev)); got != v.want {
			t.Errorf("%s\n  on %v: got %v, want %v", strings.TrimSpace(detection), v.ev, got, v.want)
		}
	}
}

// The pySigma matcher's vectors (tests/test_matching.py) and the
// specification's examples.
func TestSpecVectors(t *testing.T) {
	check(t, "  sel:\n    field: value\n  condition: sel",
		vec{map[string]any{"field": "value"}, true}, vec{map[string]any{"field": "VALUE"}, true}, vec{map[string]any{"field": "other"}, false})
	check(t, "  sel:\n    field|contains: test\n  condition: sel",
		vec{map[string]any{"field": "this is a test string"}, true}, vec{map[string]any{"field": "no match here"}, false})
	check(t, "  sel:\n    field: 42\n  condition: sel",
		vec{map[string]any{"field": "42"}, true}, vec{map[string]any{"field": "43"}, false}, vec{map[string]any{"field": "42.0"}, true})
	check(t, "  sel:\n    field: true\n  condition: sel",
		vec{map[string]any{"field": "true"}, true}, vec{map[string]any{"field": "False"}, false})
	check(t, "  sel:\n    field: null\n  condition: sel",
		vec{map[string]any{"field": ""}, true}, vec{map[string]any{"field1": "val"}, true}, vec{map[string]any{"field": "something"}, false})
	check(t, "  sel:\n    field: ''\n  condition: sel",
		vec{map[string]any{"field": ""}, true}, vec{map[string]any{"field1": "x"}, false}, vec{map[string]any{"field": "x"}, false})
	check(t, "  sel:\n    field|re: '^test\\d+'\n  condition: sel",
		vec{map[string]any{"field": "test123"}, true}, vec{map[string]any{"field": "notest"}, false}, vec{map[string]any{"field": "TEST1"}, false})
	check(t, "  sel:\n    field|re|i: '^test\\d+'\n  condition: sel", vec{map[string]any{"field": "TEST1"}, true})
	check(t, "  sel:\n    field|cidr: 192.168.1.0/24\n  condition: sel",
		vec{map[string]any{"field": "192.168.1.50"}, true}, vec{map[string]any{"field": "10.0.0.1"}, false}, vec{map[string]any{"field": "nonsense"}, false})
	check(t, "  sel:\n    field|gt: 10\n  condition: sel",
		vec{map[string]any{"field": "15"}, true}, vec{map[string]any{"field": "5"}, false}, vec{map[string]any{"field": "ten"}, false})
	two := "  sel1:\n    field1: a\n  sel2:\n    field2: b\n"
	check(t, two+"  condition: sel1 and sel2",
		vec{map[string]any{"field1": "a", "field2": "b"}, true}, vec{map[string]any{"field1": "a", "field2": "c"}, false})
	check(t, two+"  condition: sel1 or sel2",
		vec{map[string]any{"field1": "a"}, true}, vec{map[string]any{"field2": "b"}, true}, vec{map[string]any{"field3": "c"}, false})
	check(t, "  sel:\n    field: a\n  condition: not sel",
		vec{map[string]any{"field": "b"}, true}, vec{map[string]any{"field": "a"}, false})
	check(t, "  keywords:\n    - suspicious\n  condition: keywords",
		vec{map[string]any{"field3": "this is suspicious activity"}, true}, vec{map[string]any{"field3": "normal activity"}, false})
	// The specification's whoami example: backslashes are literal.
	check(t, "  sel:\n    Image: 'C:\\Windows\\System32\\whoami.exe'\n  condition: sel",
		vec{map[string]any{"Image": `c:\windows\system32\WHOAMI.EXE`}, true}, vec{map[string]any{"Image": `C:\Windows\System32\whoami.exe.bak`}, false})
	// Keywords with |all: every keyword somewhere in the event.
	check(t, "  kw:\n    '|all':\n      - OabVirtualDirectory\n      - ' -ExternalUrl '\n  condition: kw",
		vec{map[string]any{"CommandLine": "Set-OabVirtualDirectory -ExternalUrl x"}, true}, vec{map[string]any{"CommandLine": "Set-OabVirtualDirectory"}, false})
}

func TestWildcardsAndEscapes(t *testing.T) {
	cases := []struct {
		pat, v string
		want   bool
	}{
		{"a*c", "abbbc", true}, {"a*c", "ac", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"a?c", "añc", true},
		{"*.exe", "x.EXE", true}, {`c:\\*\x`, `c:\a\b\x`, true}, {`c:\*\x`, `c:*\x`, true},
		{"*a*b*a*", "xxaxxbxxaxx", true}, {"*a*b*a*", "xxaxxbxx", false},
		{"a*b?d", "aXXbcd", true}, {"a*b?d", "abbcd", true}, {"a*b?d", "abd", false},
		{`esc\*`, "esc*", true}, {`esc\*`, "escX", false},
		{`q\?`, "q?", true}, {`q\?`, "qx", false},
		{`back\\*`, `back\slash`, true}, // \\ then a wildcard
		{`three\\\*`, `three\*`, true}, {`three\\\*`, `three\x`, false},
		{`plain\nothing`, `plain\nothing`, true},
		{`final\`, `final\`, true},
		{"*", "", true}, {"?", "", false},
	}
	for _, c := range cases {
		p := parsePattern(c.pat, false)
		if got := p.match(nil, c.v, strings.ToLower(c.v)); got != c.want {
			t.Errorf("%q on %q: got %v, want %v", c.pat, c.v, got, c.want)
		}
	}
}

func TestModifiers(t *testing.T) {
	check(t, "  sel:\n    CommandLine|contains|all:\n      - -enc\n      - hidden\n  condition: sel",
		vec{map[string]any{"CommandLine": "ps -Enc X -w HIDDEN"}, true}, vec{map[string]any{"CommandLine": "ps -enc X"}, false})
	check(t, "  sel:\n    Image|endswith: \\cmd.exe\n  condition: sel",
		vec{map[string]any{"Image": `C:\x\CMD.exe`}, true}, vec{map[string]any{"Image": `C:\x\cmd.exe2`}, false})
	check(t, "  sel:\n    Image|startswith|cased: C:\\Temp\n  condition: sel",
		vec{map[string]any{"Image": `C:\Temp\a`}, true}, vec{map[string]any{"Image": `c:\temp\a`}, false})
	check(t, "  sel:\n    User|exists: true\n  condition: sel",
		vec{map[string]any{"User": "x"}, true}, vec{map[string]any{"field": "x"}, false})
	check(t, "  sel:\n    User|exists: false\n  condition: sel",
		vec{map[string]any{"User": "x"}, false}, vec{map[string]any{"field": "x"}, true})
	check(t, "  sel:\n    User|fieldref: TargetUser\n  condition: sel",
		vec{map[string]any{"User": "Ana", "TargetUser": "ana"}, true}, vec{map[string]any{"User": "ana", "TargetUser": "bob"}, false})
	check(t, "  sel:\n    CommandLine|fieldref|contains: User\n  condition: sel",
		vec{map[string]any{"CommandLine": "net user ana /add", "User": "ana"}, true})
	check(t, "  sel:\n    time|hour|gte: 20\n  condition: sel",
		vec{map[string]any{"time": "2026-11-29T21:05:00Z"}, true}, vec{map[string]any{"time": "2026-11-29T09:05:00Z"}, false})
	check(t, "  sel:\n    time|month: 11\n  condition: sel", vec{map[string]any{"time": "2026-11-29T21:05:00Z"}, true})
	check(t, "  sel:\n    count|lte: 3\n  condition: sel", vec{map[string]any{"count": "3"}, true}, vec{map[string]any{"count": "4"}, false})
	check(t, "  sel:\n    CommandLine|base64offset|contains: /bin/bash\n  condition: sel",
		vec{map[string]any{"CommandLine": "echo L2Jpbi9iYXNo | b64"}, true}, vec{map[string]any{"CommandLine": "x 9iaW4vYmFza y"}, true},
		vec{map[string]any{"CommandLine": "x vYmluL2Jhc2 y"}, true}, vec{map[string]any{"CommandLine": "nothing"}, false})
	check(t, "  sel:\n    CommandLine|wide|base64offset|contains: cmd\n  condition: sel",
		vec{map[string]any{"CommandLine": "..YwBtAGQA.."}, true}, vec{map[string]any{"CommandLine": "jAG0AZA"}, true})
	check(t, "  sel:\n    CommandLine|utf16|base64: cmd\n  condition: sel", vec{map[string]any{"CommandLine": "//5jAG0AZAA="}, true})
	check(t, "  sel:\n    CommandLine|utf16be|base64: cmd\n  condition: sel", vec{map[string]any{"CommandLine": "AGMAbQBk"}, true})
	check(t, "  sel:\n    CommandLine|windash|contains: ' -exec '\n  condition: sel",
		vec{map[string]any{"CommandLine": "x /exec y"}, true}, vec{map[string]any{"CommandLine": "x \u2013exec y"}, true}, vec{map[string]any{"CommandLine": "x exec y"}, false})
	check(t, "  sel:\n    User|expand: '%Admins%'\n  condition: sel",
		vec{map[string]any{"User": "ROOT"}, true}, vec{map[string]any{"User": "admin"}, true}, vec{map[string]any{"User": "ana"}, false})
	check(t, "  sel:\n    User|neq: root\n  condition: sel",
		vec{map[string]any{"User": "ana"}, true}, vec{map[string]any{"User": "root"}, false})
	check(t, "  sel:\n    SourceIp|cidr: 'fd00::/8'\n  condition: sel", vec{map[string]any{"src_ip": "fd12::1"}, true})
	// A value list is OR; a multi-valued field matches if any value does.
	check(t, "  sel:\n    patient:\n      - P1\n      - P2\n  condition: sel",
		vec{map[string]any{"patient": []string{"P9", "p2"}}, true}, vec{map[string]any{"patient": []string{"P9"}}, false})
}

func TestBase64Offsets(t *testing.T) {
	got, _ := transform("base64offset", []string{"foobar"})
	want := []string{"Zm9vYmFy", "Zvb2Jhc", "mb29iYX"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("base64offset foobar = %v, want %v", got, want)
	}
	got, _ = transform("base64offset", []string{"/bin/bash"})
	want = []string{"L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("base64offset /bin/bash = %v, want %v", got, want)
	}
	w, _ := windash("-param-1 -param2")
	if len(w) != 25 || w[0] != "-param-1 -param2" || w[6] != "/param-1 /param2" {
		t.Fatalf("windash: %d variants, %q", len(w), w[:7])
	}
}

func TestConditions(t *testing.T) {
	three := "  selection_a:\n    field1: a\n  selection_b:\n    field2: b\n  _filter:\n    field3: c\n"
	check(t, three+"  condition: 1 of selection_*",
		vec{map[string]any{"field2": "b"}, true}, vec{map[string]any{"field3": "c"}, false})
	check(t, three+"  condition: all of selection_* and not _filter",
		vec{map[string]any{"field1": "a", "field2": "b"}, true}, vec{map[string]any{"field1": "a", "field2": "b", "field3": "c"}, false})
	// "them" leaves out _filter: all of them holds without it.
	check(t, three+"  condition: all of them or _filter",
		vec{map[string]any{"field1": "a", "field2": "b"}, true}, vec{map[string]any{"field3": "c"}, true}, vec{map[string]any{"field1": "a"}, false})
	// Precedence: not > and > or.
	check(t, three+"  condition: selection_a or selection_b and not _filter",
		vec{map[string]any{"field1": "a", "field3": "c"}, true}, vec{map[string]any{"field2": "b", "field3": "c"}, false})
	check(t, three+"  condition: (selection_a or selection_b) and not _filter",
		vec{map[string]any{"field1": "a", "field3": "c"}, false})
	check(t, three+"  condition: any of selection_* and not 1 of _filter*", vec{map[string]any{"field1": "a"}, true})
	// A list of conditions: any of them.
	check(t, three+"  condition:\n    - selection_a and _filter\n    - selection_b", vec{map[string]any{"field2": "b"}, true}, vec{map[string]any{"field1": "a"}, false})
	// A list of maps is OR; a map is AND.
	check(t, "  sel:\n    - field1: a\n      field2: b\n    - field3: c\n  condition: sel",
		vec{map[string]any{"field1": "a", "field2": "b"}, true}, vec{map[string]any{"field1": "a"}, false}, vec{map[string]any{"field3": "C"}, true})
}

// TestErrors: a bad rule says where and what.
func TestErrors(t *testing.T) {
	cases := []struct {
		src, want string
	}{
		{rule("  sel:\n    Usr: x\n  condition: sel"), `r.yml:6:5: unknown field "Usr" (did you mean "User"?)`},
		{rule("  sel:\n    User|contans: x\n  condition: sel"), `r.yml:6:5: User|contans: unknown modifier "contans"`},
		{rule("  sel:\n    User: x\n  condition: sel and filter"), `r.yml:7:14: condition: unknown search identifier "filter" at column 9`},
		{rule("  sel:\n    User: x\n  condition: sel | count() > 5"), `aggregations after | (column 5) are Sigma v1 syntax`},
		{rule("  sel:\n    User: x\n  condition: (sel"), `missing ) for the ( at column 1`},
		{rule("  sel:\n    User|re: '(unclosed'\n  condition: sel"), `r.yml:6:14: User|re: regular expression`},
		{rule("  sel:\n    src_ip|cidr: 10.0.0.1/8\n  condition: sel"), `has host bits set`},
		{rule("  sel:\n    User|contains|all: x\n  condition: sel"), `all needs a list of at least two values`},
		{rule("  sel:\n    User|expand: '%Nobody%'\n  condition: sel"), `no values are configured for placeholder %Nobody%`},
		{"title: t\nlevel: severe\nlogsource:\n  product: x\ndetection:\n  sel:\n    User: x\n  condition: sel", `r.yml:2:8: level "severe" is not one of`},
		{"title: t\nlogsource:\n  product: x\ndetecton:\n  sel: x\n", `unknown field "detecton" (did you mean "detection"?)`},
		{"title: t\nlogsource:\n  product: x\ndetection:\n  sel: [x\n", `r.yml:4: YAML: did not find expected`},
		{"logsource:\n  product: x\ndetection:\n  sel: x\n  condition: sel\n", `the rule has no title`},
	}
	for _, c := range cases {
		_, err := Parse("r.yml", []byte(c.src), testSchema, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n  error %v\n  want %q", c.src, err, c.want)
		}
		var es Errors
		if err != nil && !errors.As(err, &es) {
			t.Errorf("error is %T, not Errors", err)
		}
	}
}

func TestAhoCorasick(t *testing.T) {
	var pats []string
	for i := 0; i < 500; i++ {
		pats = append(pats, fmt.Sprintf("bad-%03d.example", i))
	}
	pats = append(pats, "he", "she", "his", "hers")
	ac := newAhoCorasick(pats)
	for _, c := range []struct {
		s    string
		want bool
	}{{"visit bad-042.example now", true}, {"bad-500.example", false}, {"ushers", true}, {"hi", false}, {"", false}, {"bad-499.exampl", false}} {
		if got := ac.match(c.s); got != c.want {
			t.Errorf("%q: got %v", c.s, got)
		}
	}
	// A rule with a long contains list uses the automaton and agrees with
	// the plain matcher.
	var b strings.Builder
	b.WriteString("  sel:\n    CommandLine|contains:\n")
	for _, p := range pats[:100] {
		b.WriteString("      - " + p + "\n")
	}
	b.WriteString("  condition: sel")
	rs := load(t, rule(b.String()))
	if rs.rules[0].searches[0].alts[0][0].ac == nil {
		t.Fatal("no automaton for 100 contains values")
	}
	check(t, b.String(), vec{map[string]any{"CommandLine": "curl BAD-077.EXAMPLE"}, true}, vec{map[string]any{"CommandLine": "curl bad-177.example"}, false})
}

func TestCorrelations(t *testing.T) {
	base := `title: failed login
name: failed_login
logsource: {product: labtrust}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: success
name: successful_login
logsource: {product: labtrust}
detection:
  sel: {EventID: 4624}
  condition: sel
---
`
	at := func(min int) string { return time.Date(2026, 11, 29, 10, min, 0, 0, time.UTC).Format(time.RFC3339) }
	run := func(src string, evs []map[string]any) []Match {
		rs := load(t, src)
		var out []Match
		for _, e := range evs {
			rs.Eval(ev(t, e), func(m Match) { out = append(out, m) })
		}
		return out
	}
	count := base + `title: brute force
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [User]
  timespan: 5m
  condition: {gte: 3}
`
	var evs []map[string]any
	for i := 0; i < 3; i++ {
		evs = append(evs, map[string]any{"EventID": "4625", "User": "ana", "_t": at(i)}, map[string]any{"EventID": "4625", "User": "bob", "_t": at(i * 3)})
	}
	got := run(count, evs)
	// ana: 3 in 2 minutes fires; bob: at 0, 3, 6 never 3 within 5m. The
	// base rule does not alert on its own (generate: false).
	if len(got) != 1 || got[0].Rule.Title != "brute force" || got[0].Group["User"] != "ana" || len(got[0].Refs) != 3 {
		t.Fatalf("event_count: %+v", got)
	}
	spray := base + `title: spraying
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [src_ip]
  timespan: 10m
  condition: {field: User, gte: 3}
  generate: true
`
	evs = nil
	for i, u := range []string{"ana", "ana", "bob", "cy"} {
		evs = append(evs, map[string]any{"EventID": "4625", "User": u, "src_ip": "10.0.0.9", "_t": at(i)})
	}
	got = run(spray, evs)
	if len(got) != 5 || got[4].Rule.Title != "spraying" || got[4].Group["src_ip"] != "10.0.0.9" {
		t.Fatalf("value_count with generate: %d matches %+v", len(got), got)
	}
	temporal := func(kind string) string {
		return base + `title: failed then success
correlation:
  type: ` + kind + `
  rules: [failed_login, successful_login]
  group-by: [User]
  timespan: 10m
`
	}
	successFirst := []map[string]any{{"EventID": "4624", "User": "ana", "_t": at(0)}, {"EventID": "4625", "User": "ana", "_t": at(1)}}
	if got := run(temporal("temporal"), successFirst); len(got) != 1 {
		t.Fatalf("temporal: %+v", got)
	}
	if got := run(temporal("temporal_ordered"), successFirst); len(got) != 0 {
		t.Fatalf("temporal_ordered fired out of order: %+v", got)
	}
	inOrder := append(successFirst, map[string]any{"EventID": "4624", "User": "ana", "_t": at(2)})
	if got := run(temporal("temporal_ordered"), inOrder); len(got) != 1 {
		t.Fatalf("temporal_ordered in order: %+v", got)
	}
	late := []map[string]any{{"EventID": "4625", "User": "ana", "_t": at(0)}, {"EventID": "4624", "User": "ana", "_t": at(30)}}
	if got := run(temporal("temporal_ordered"), late); len(got) != 0 {
		t.Fatalf("outside the timespan: %+v", got)
	}
	// A correlation naming a rule that is not loaded.
	rules, err := Parse("c.yml", []byte("title: x\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 5m\n  condition: {gte: 2}\n"), testSchema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(rules, testSchema); err == nil || !strings.Contains(err.Error(), `refers to rule "nope", which is not loaded`) {
		t.Fatalf("dangling reference: %v", err)
	}
}
