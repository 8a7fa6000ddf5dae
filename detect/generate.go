package detect

import (
	"fmt"
	"strings"
)

// GenerateRules returns n rules shaped like a lab's, for benchmarks (the built-in pack makes 12
// more): equality selections on codes, roles and sources, long contains
// lists (Aho-Corasick), regular expressions, address ranges, keyword
// searches and event_count correlations, in about the proportions a
// SigmaHQ-style set has.
func GenerateRules(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, "title: generated %d\nname: gen_%d\nlogsource: {product: labtrust}\nlevel: low\ndetection:\n", i, i)
		switch i % 10 {
		case 0, 1, 2:
			fmt.Fprintf(&b, "  sel:\n    type.code: '1101%02d'\n    action: [C, U, D]\n    actor.role|startswith: role%d\n  filter:\n    source: trusted%d\n  condition: sel and not filter\n", i%20, i, i)
		case 3:
			b.WriteString("  sel:\n    object.query|contains:\n")
			for k := 0; k < 50; k++ {
				fmt.Fprintf(&b, "      - 'needle-%d-%d'\n", i, k)
			}
			b.WriteString("  condition: sel\n")
		case 4:
			fmt.Fprintf(&b, "  sel:\n    actor.id|re: '^svc-%d-[0-9]+$'\n  condition: sel\n", i)
		case 5:
			fmt.Fprintf(&b, "  sel:\n    network|cidr:\n      - '198.18.%d.0/24'\n      - '2001:db8:%x::/48'\n  condition: sel\n", i%250, i)
		case 6:
			fmt.Fprintf(&b, "  kw:\n    - 'mimikatz-%d'\n    - 'psexec-%d'\n  condition: kw\n", i, i)
		case 7:
			fmt.Fprintf(&b, "  sel:\n    outcome|gte: 8\n    actor.site: site-%d\n  condition: sel\n", i)
		case 8:
			fmt.Fprintf(&b, "  a:\n    subtype.code: read\n    purpose.code: 'HMARKT%d'\n  b:\n    actor.type: system\n  condition: a or (b and not a)\n", i)
		case 9:
			fmt.Fprintf(&b, "  sel:\n    type.code: '110114'\n    outcome: [4, 8, 12]\n    actor.role: role-%d\n  condition: sel\n---\ntitle: generated burst %d\ncorrelation:\n  type: event_count\n  rules: [gen_%d]\n  group-by: [actor.id]\n  timespan: 10m\n  condition: {gte: 3}\n", i, i, i)
		}
	}
	return b.String()
}
