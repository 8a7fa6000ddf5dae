package sigma

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Correlation is the correlation part of a rule: it fires when the rules
// it refers to match in a pattern within a timespan, per group.
type Correlation struct {
	Type     string        `json:"type"` // event_count, value_count, temporal, temporal_ordered
	Rules    []string      `json:"rules"`
	GroupBy  []string      `json:"groupBy,omitempty"`
	Timespan time.Duration `json:"timespan"`
	Generate bool          `json:"generate,omitempty"` // the referred rules alert too
	// Condition, for the count types.
	Op    string  `json:"op,omitempty"` // gt, gte, eq
	N     float64 `json:"n,omitempty"`
	Field string  `json:"field,omitempty"` // value_count: whose distinct values are counted

	aliases map[string]map[string]string // alias -> rule name/id -> field
	line    int
}

var corrTypes = map[string]bool{"event_count": true, "value_count": true, "temporal": true, "temporal_ordered": true}

func parseCorrelation(file string, n *yaml.Node, s *Schema) (*Correlation, error) {
	if n.Kind != yaml.MappingNode {
		return nil, at(file, n, "correlation is a mapping (type, rules, group-by, timespan, condition)")
	}
	c := &Correlation{line: n.Line}
	var condNode, spanNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "type":
			c.Type, err = scalar(file, v, "correlation.type")
			if err == nil && !corrTypes[c.Type] {
				err = at(file, v, "correlation type %q is not one of event_count, value_count, temporal, temporal_ordered", c.Type)
			}
		case "rules":
			c.Rules, err = stringList(file, v, "correlation.rules")
		case "group-by":
			c.GroupBy, err = stringList(file, v, "correlation.group-by")
		case "timespan":
			spanNode = v
		case "condition":
			condNode = v
		case "generate":
			c.Generate = v.Value == "true"
		case "aliases":
			c.aliases, err = parseAliases(file, v)
		default:
			err = at(file, k, "correlation has type, rules, group-by, timespan, condition, aliases and generate, not %q", k.Value)
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case c.Type == "":
		return nil, at(file, n, "correlation has no type")
	case len(c.Rules) == 0:
		return nil, at(file, n, "correlation names no rules")
	case spanNode == nil:
		return nil, at(file, n, "correlation has no timespan")
	case (c.Type == "temporal" || c.Type == "temporal_ordered") && len(c.Rules) < 2:
		return nil, at(file, n, "a %s correlation needs at least two rules", c.Type)
	}
	span, err := parseTimespan(spanNode.Value)
	if err != nil {
		return nil, at(file, spanNode, "timespan: %v", err)
	}
	c.Timespan = span
	for _, g := range c.GroupBy {
		if _, ok := c.aliases[g]; ok {
			continue
		}
		if _, ok := s.Field(g); !ok {
			return nil, at(file, n, "group-by names %q, which is neither a field nor an alias; the fields are: %s", g, fieldList(s))
		}
	}
	if c.Type == "event_count" || c.Type == "value_count" {
		if condNode == nil || condNode.Kind != yaml.MappingNode {
			return nil, at(file, n, "a %s correlation needs a condition such as {gte: 10}", c.Type)
		}
		for i := 0; i+1 < len(condNode.Content); i += 2 {
			k, v := condNode.Content[i], condNode.Content[i+1]
			switch k.Value {
			case "gt", "gte", "eq":
				if c.Op != "" {
					return nil, at(file, k, "condition: one comparison, please (have %s)", c.Op)
				}
				f, err := strconv.ParseFloat(v.Value, 64)
				if err != nil {
					return nil, at(file, v, "condition: %q is not a number", v.Value)
				}
				c.Op, c.N = k.Value, f
			case "lt", "lte", "neq":
				return nil, at(file, k, "condition %q can only be decided when a window closes; streaming evaluation supports gt, gte and eq", k.Value)
			case "field":
				c.Field = v.Value
				if _, ok := s.Field(c.Field); !ok {
					if _, alias := c.aliases[c.Field]; !alias {
						return nil, at(file, v, "condition field %q is not a field; the fields are: %s", c.Field, fieldList(s))
					}
				}
			default:
				return nil, at(file, k, "condition has gt, gte, eq and field, not %q", k.Value)
			}
		}
		if c.Op == "" {
			return nil, at(file, condNode, "condition has no comparison (gt, gte or eq)")
		}
		if c.Type == "value_count" && c.Field == "" {
			return nil, at(file, condNode, "a value_count condition names the field whose values it counts")
		}
	}
	return c, nil
}

func parseAliases(file string, n *yaml.Node) (map[string]map[string]string, error) {
	if n.Kind != yaml.MappingNode {
		return nil, at(file, n, "aliases map an alias to {rule: field}")
	}
	out := map[string]map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.MappingNode {
			return nil, at(file, v, "alias %q maps rule names to fields", k.Value)
		}
		m := map[string]string{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			m[v.Content[j].Value] = v.Content[j+1].Value
		}
		out[k.Value] = m
	}
	return out, nil
}

// parseTimespan reads "30s", "5m", "1h", "2d", "1w".
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, fmt.Errorf("%q is not a number and a unit (s, m, h, d, w)", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive number and a unit (s, m, h, d, w)", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("unit %q is not one of s, m, h, d, w", s[len(s)-1:])
	}
	return time.Duration(n) * unit, nil
}

// corrState is a correlation's windows, per group.
type corrState struct {
	rule   *Rule
	refs   []*Rule // the referred rules, in the correlation's order
	group  [][]int // per referred rule, the field of each group-by entry
	field  []int   // value_count: per referred rule, the counted field
	groups map[string]*window
	key    []byte // scratch
}

type hit struct {
	t    time.Time
	rule int // index in refs
	val  string
	ref  uint64
}

type window struct {
	hits     []hit
	last     time.Time
	distinct map[string]int // value_count: values in the window, with their counts
}

// observe records that referred rule k matched d, and returns a match if
// the correlation now holds for d's group.
func (c *corrState) observe(k int, d *Doc) (Match, bool) {
	corr := c.rule.corr
	key := c.key[:0]
	for gi, f := range c.group[k] {
		if gi > 0 {
			key = append(key, 0)
		}
		if f >= 0 && len(d.vals[f]) > 0 {
			key = append(key, d.vals[f][0]...)
		}
	}
	c.key = key
	w := c.groups[string(key)] // no allocation for the lookup
	if w == nil {
		w = &window{}
		if corr.Type == "value_count" {
			w.distinct = map[string]int{}
		}
		c.groups[string(key)] = w
	}
	h := hit{t: d.Time, rule: k, ref: d.Ref}
	if c.field != nil && c.field[k] >= 0 && len(d.vals[c.field[k]]) > 0 {
		h.val = d.low[c.field[k]][0]
	}
	w.hits = append(w.hits, h)
	w.add(h, 1)
	w.last = d.Time
	// Drop what fell out of the window (events arrive about in order; a
	// late one is kept if it is still inside).
	cut := 0
	for cut < len(w.hits) && d.Time.Sub(w.hits[cut].t) > corr.Timespan {
		w.add(w.hits[cut], -1)
		cut++
	}
	if cut > 0 {
		w.hits = append(w.hits[:0], w.hits[cut:]...)
	}
	fired := false
	switch corr.Type {
	case "event_count":
		fired = compare(corr.Op, float64(len(w.hits)), corr.N)
	case "value_count":
		fired = compare(corr.Op, float64(len(w.distinct)), corr.N)
	case "temporal":
		seen := make([]bool, len(c.refs))
		n := 0
		for _, x := range w.hits {
			if !seen[x.rule] {
				seen[x.rule], n = true, n+1
			}
		}
		fired = n == len(c.refs)
	case "temporal_ordered":
		next := 0
		for _, x := range w.hits {
			if x.rule == next {
				next++
				if next == len(c.refs) {
					break
				}
			}
		}
		fired = next == len(c.refs)
	}
	if !fired {
		return Match{}, false
	}
	group := map[string]string{}
	for gi, f := range c.group[k] {
		v := ""
		if f >= 0 && len(d.vals[f]) > 0 {
			v = d.vals[f][0]
		}
		group[corr.GroupBy[gi]] = v
	}
	m := Match{Rule: c.rule, Time: d.Time, First: w.hits[0].t, Group: group}
	for _, x := range w.hits {
		m.Refs = append(m.Refs, x.ref)
	}
	// The window starts again: the next alert needs a new set of events.
	w.hits = w.hits[:0]
	if w.distinct != nil {
		clear(w.distinct)
	}
	return m, true
}

// add counts a hit's value in or out of the window's distinct values.
func (w *window) add(h hit, n int) {
	if w.distinct == nil || h.val == "" {
		return
	}
	if w.distinct[h.val] += n; w.distinct[h.val] <= 0 {
		delete(w.distinct, h.val)
	}
}

func compare(op string, got, want float64) bool {
	switch op {
	case "gt":
		return got > want
	case "gte":
		return got >= want
	}
	return got == want
}

// expire forgets groups idle for longer than the timespan before now.
func (c *corrState) expire(now time.Time) {
	for k, w := range c.groups {
		if now.Sub(w.last) > c.rule.corr.Timespan {
			delete(c.groups, k)
		}
	}
}
