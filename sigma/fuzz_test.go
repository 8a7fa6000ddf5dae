package sigma

import (
	"testing"
)

// FuzzParse feeds arbitrary YAML to the rule loader: it returns rules or
// errors with a position, never panics, and what loads evaluates.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		rule("  sel:\n    User|contains|all: [a, b]\n  condition: sel"),
		rule("  sel:\n    - field1: a\n    - x\n  _f:\n    field2|re|i: '^a.*'\n  condition: 1 of sel* and not _f"),
		rule("  sel:\n    src_ip|cidr: 10.0.0.0/8\n    time|hour|gte: 20\n  condition: all of them"),
		rule("  k:\n    - '*a?b\\\\*'\n  condition: k"),
		rule("  sel:\n    CommandLine|wide|base64offset|contains: cmd\n  condition: sel"),
		"title: c\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b]\n  group-by: [User]\n  timespan: 5m\n",
		"title: c\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 1h\n  condition: {field: User, gte: 3}\n",
		"{",
		"- 1\n- 2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rules, err := Parse("f.yml", b, testSchema, Options{})
		if err != nil {
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error %T without positions: %v", err, err)
			}
		}
		rs, err := New(rules, testSchema)
		if err != nil {
			return
		}
		d := testSchema.NewDoc()
		d.Logsource = Logsource{Product: "labtrust"}
		for i := range testSchema.Fields() {
			d.Add(i, "a")
		}
		rs.Eval(d, func(Match) {})
	})
}
