package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rule is one loaded Sigma rule: a detection rule, or a correlation rule
// over others.
type Rule struct {
	ID             string    `json:"id,omitempty"`
	Name           string    `json:"name,omitempty"` // how correlation rules refer to it
	Title          string    `json:"title"`
	Status         string    `json:"status,omitempty"`
	Level          string    `json:"level,omitempty"`
	Description    string    `json:"description,omitempty"`
	Author         string    `json:"author,omitempty"`
	Date           string    `json:"date,omitempty"`
	Modified       string    `json:"modified,omitempty"`
	References     []string  `json:"references,omitempty"`
	Tags           []string  `json:"tags,omitempty"`
	FalsePositives []string  `json:"falsepositives,omitempty"`
	Fields         []string  `json:"fields,omitempty"`
	Logsource      Logsource `json:"logsource"`
	File           string    `json:"file"`
	Line           int       `json:"line"`

	searches []*search
	names    []string // search identifiers, in file order
	cond     cond
	corr     *Correlation
}

// Correlation returns the rule's correlation part, or nil for a detection
// rule.
func (r *Rule) Correlation() *Correlation { return r.corr }

// search is a named search identifier: an OR of alternatives, each an AND
// of field matches.
type search struct {
	name string
	alts [][]*fieldMatch
}

func (s *search) match(d *Doc) bool {
	for _, alt := range s.alts {
		ok := true
		for _, fm := range alt {
			if !fm.match(d) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Error is a rule that does not load, with where and why.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	if e.Line > 0 && e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in a set of rules.
type Errors []*Error

func (e Errors) Error() string {
	var b strings.Builder
	for i, x := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(x.Error())
	}
	return b.String()
}

// Options configure loading.
type Options struct {
	// Placeholders are the values of %name% for the expand modifier.
	Placeholders map[string][]string
}

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	levels   = map[string]bool{"informational": true, "low": true, "medium": true, "high": true, "critical": true}
	statuses = map[string]bool{"stable": true, "test": true, "experimental": true, "deprecated": true, "unsupported": true}
)

// Parse reads the rules in one YAML file (one rule per document). It
// returns the rules that load and, as Errors, every problem with its line.
func Parse(file string, data []byte, s *Schema, o Options) ([]*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var rules []*Rule
	var errs Errors
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, &Error{File: file, Line: yamlErrLine(err), Msg: "YAML: " + yamlLinePrefixRE.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")})
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		r, err := parseRule(file, doc.Content[0], s, o)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				errs = append(errs, e)
				continue
			}
			errs = append(errs, &Error{File: file, Line: doc.Content[0].Line, Msg: err.Error()})
			continue
		}
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return rules, errs
	}
	return rules, nil
}

var (
	yamlLineRE       = regexp.MustCompile(`line (\d+)`)
	yamlLinePrefixRE = regexp.MustCompile(`line \d+: ?`)
)

func yamlErrLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}
	return 0
}

// at makes an Error pointing at node n.
func at(file string, n *yaml.Node, format string, a ...any) *Error {
	return &Error{File: file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, a...)}
}

func parseRule(file string, root *yaml.Node, s *Schema, o Options) (*Rule, error) {
	if root.Kind != yaml.MappingNode {
		return nil, at(file, root, "a rule is a mapping of fields (title, logsource, detection...)")
	}
	r := &Rule{File: file, Line: root.Line}
	var detection, correlation, logsource *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var err error
		switch k.Value {
		case "title":
			r.Title, err = scalar(file, v, "title")
		case "id":
			r.ID, err = scalar(file, v, "id")
			if err == nil && !uuidRE.MatchString(r.ID) {
				err = at(file, v, "id %q is not a UUID", r.ID)
			}
		case "name":
			r.Name, err = scalar(file, v, "name")
		case "action":
			err = at(file, k, "action documents (Sigma v1 rule collections) are not supported: write each rule in full")
		case "status":
			r.Status, err = scalar(file, v, "status")
			r.Status = strings.ToLower(r.Status)
			if err == nil && !statuses[r.Status] {
				err = at(file, v, "status %q is not one of stable, test, experimental, deprecated, unsupported", r.Status)
			}
		case "level":
			r.Level, err = scalar(file, v, "level")
			r.Level = strings.ToLower(r.Level)
			if err == nil && !levels[r.Level] {
				err = at(file, v, "level %q is not one of informational, low, medium, high, critical", r.Level)
			}
		case "description":
			r.Description, err = scalar(file, v, "description")
		case "author":
			r.Author, err = scalar(file, v, "author")
		case "date":
			r.Date, err = scalar(file, v, "date")
		case "modified":
			r.Modified, err = scalar(file, v, "modified")
		case "references":
			r.References, err = stringList(file, v, "references")
		case "tags":
			r.Tags, err = stringList(file, v, "tags")
		case "falsepositives":
			r.FalsePositives, err = stringList(file, v, "falsepositives")
		case "fields":
			r.Fields, err = stringList(file, v, "fields")
		case "logsource":
			logsource = v
		case "detection":
			detection = v
		case "correlation":
			correlation = v
		case "license", "related", "taxonomy", "scope", "generate", "schema", "regression_tests_path", "simulation":
			// Known, and not needed to evaluate the rule.
		default:
			if !strings.HasPrefix(k.Value, "x-") && !strings.HasPrefix(k.Value, "x_") {
				// Custom attributes are allowed by the specification; a
				// typo of a known one is the likelier cause, so say so.
				if near := nearest(k.Value, []string{"title", "detection", "logsource", "condition", "level", "status", "description", "correlation", "falsepositives", "references", "tags"}); near != "" {
					err = at(file, k, "unknown field %q (did you mean %q?)", k.Value, near)
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if r.Title == "" {
		return nil, at(file, root, "the rule has no title")
	}
	switch {
	case correlation != nil && detection != nil:
		return nil, at(file, correlation, "a rule has either detection or correlation, not both")
	case correlation != nil:
		c, err := parseCorrelation(file, correlation, s)
		if err != nil {
			return nil, err
		}
		r.corr = c
		return r, nil
	case detection == nil:
		return nil, at(file, root, "the rule has no detection")
	}
	if logsource == nil {
		return nil, at(file, root, "the rule has no logsource")
	}
	if err := parseLogsource(file, logsource, &r.Logsource); err != nil {
		return nil, err
	}
	if err := parseDetection(file, detection, r, s, o); err != nil {
		return nil, err
	}
	return r, nil
}

func parseLogsource(file string, n *yaml.Node, ls *Logsource) error {
	if n.Kind != yaml.MappingNode {
		return at(file, n, "logsource is a mapping (category, product, service)")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		val, err := scalar(file, v, "logsource."+k.Value)
		if err != nil {
			return err
		}
		switch k.Value {
		case "category":
			ls.Category = val
		case "product":
			ls.Product = val
		case "service":
			ls.Service = val
		case "definition":
		default:
			return at(file, k, "logsource has category, product, service and definition, not %q", k.Value)
		}
	}
	if *ls == (Logsource{}) {
		return at(file, n, "logsource names no category, product or service")
	}
	return nil
}

func parseDetection(file string, n *yaml.Node, r *Rule, s *Schema, o Options) error {
	if n.Kind != yaml.MappingNode {
		return at(file, n, "detection is a mapping of search identifiers and a condition")
	}
	var condNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "condition":
			condNode = v
			continue
		case "timeframe":
			return at(file, k, "timeframe is Sigma v1 aggregation syntax: write a correlation rule instead")
		}
		if !validIdent(k.Value) {
			return at(file, k, "search identifier %q may hold only letters, digits and _", k.Value)
		}
		sr, err := parseSearch(file, k.Value, v, s, o)
		if err != nil {
			return err
		}
		r.searches = append(r.searches, sr)
		r.names = append(r.names, k.Value)
	}
	if condNode == nil {
		return at(file, n, "detection has no condition")
	}
	var conds []string
	var condLines []*yaml.Node
	switch condNode.Kind {
	case yaml.ScalarNode:
		conds, condLines = []string{condNode.Value}, []*yaml.Node{condNode}
	case yaml.SequenceNode:
		// A list of conditions (allowed, though discouraged): any matches.
		for _, c := range condNode.Content {
			if c.Kind != yaml.ScalarNode {
				return at(file, c, "a condition is a string")
			}
			conds, condLines = append(conds, c.Value), append(condLines, c)
		}
	default:
		return at(file, condNode, "condition is a string")
	}
	var all condOr
	for i, text := range conds {
		c, _, err := parseCondition(text, r.names)
		if err != nil {
			return at(file, condLines[i], "condition: %v", err)
		}
		all = append(all, c)
	}
	if len(all) == 1 {
		r.cond = all[0]
	} else {
		r.cond = all
	}
	return nil
}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func parseSearch(file, name string, n *yaml.Node, s *Schema, o Options) (*search, error) {
	sr := &search{name: name}
	switch n.Kind {
	case yaml.MappingNode:
		alt, err := parseMap(file, n, s, o)
		if err != nil {
			return nil, err
		}
		sr.alts = [][]*fieldMatch{alt}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, at(file, n, "search %q is an empty list", name)
		}
		var keywords []value
		for _, item := range n.Content {
			switch item.Kind {
			case yaml.MappingNode:
				alt, err := parseMap(file, item, s, o)
				if err != nil {
					return nil, err
				}
				sr.alts = append(sr.alts, alt)
			case yaml.ScalarNode:
				keywords = append(keywords, scalarValue(item))
			default:
				return nil, at(file, item, "search %q: a list holds field mappings or keywords", name)
			}
		}
		if len(keywords) > 0 {
			fm, err := compileField(-1, modifierSet{}, keywords, s, o.Placeholders)
			if err != nil {
				return nil, at(file, n, "search %q: %v", name, err)
			}
			sr.alts = append(sr.alts, []*fieldMatch{fm})
		}
	case yaml.ScalarNode:
		fm, err := compileField(-1, modifierSet{}, []value{scalarValue(n)}, s, o.Placeholders)
		if err != nil {
			return nil, at(file, n, "search %q: %v", name, err)
		}
		sr.alts = [][]*fieldMatch{{fm}}
	default:
		return nil, at(file, n, "search %q is a mapping, a list or a keyword", name)
	}
	return sr, nil
}

// parseMap reads one mapping of "field|modifiers: values": all must match.
func parseMap(file string, n *yaml.Node, s *Schema, o Options) ([]*fieldMatch, error) {
	var out []*fieldMatch
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		parts := strings.Split(k.Value, "|")
		field := -1
		if parts[0] != "" {
			f, ok := s.Field(parts[0])
			if !ok {
				msg := fmt.Sprintf("unknown field %q", parts[0])
				if near := nearest(parts[0], s.Fields()); near != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", near)
				}
				return nil, at(file, k, "%s; the fields are: %s", msg, fieldList(s))
			}
			field = f
		}
		mods, err := parseModifiers(parts[1:])
		if err != nil {
			return nil, at(file, k, "%s: %v", k.Value, err)
		}
		var vals []value
		switch v.Kind {
		case yaml.ScalarNode:
			vals = []value{scalarValue(v)}
		case yaml.SequenceNode:
			if len(v.Content) == 0 {
				return nil, at(file, v, "%s: an empty list of values matches nothing", k.Value)
			}
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return nil, at(file, item, "%s: values are strings, numbers, booleans or null", k.Value)
				}
				vals = append(vals, scalarValue(item))
			}
		default:
			return nil, at(file, v, "%s: values are a scalar or a list of them", k.Value)
		}
		if mods.all && len(vals) < 2 && !mods.exists {
			return nil, at(file, k, "%s: all needs a list of at least two values", k.Value)
		}
		fm, err := compileField(field, mods, vals, s, o.Placeholders)
		if err != nil {
			e := at(file, v, "%s: %v", k.Value, err)
			var le lineErr
			if errors.As(err, &le) && le.line != v.Line {
				e.Line, e.Column = le.line, 0
			}
			return nil, e
		}
		out = append(out, fm)
	}
	if len(out) == 0 {
		return nil, at(file, n, "an empty mapping matches nothing")
	}
	return out, nil
}

func scalarValue(n *yaml.Node) value {
	v := value{text: n.Value, line: n.Line}
	switch n.ShortTag() {
	case "!!int", "!!float":
		v.kind = valNumber
	case "!!bool":
		v.kind = valBool
		v.text = strings.ToLower(n.Value)
	case "!!null":
		v.kind = valNull
	}
	return v
}

func scalar(file string, n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", at(file, n, "%s is a single value", what)
	}
	return n.Value, nil
}

func stringList(file string, n *yaml.Node, what string) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, at(file, c, "%s is a list of strings", what)
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, at(file, n, "%s is a list of strings", what)
}

// nearest returns the candidate within edit distance 2 of s, if one is.
func nearest(s string, candidates []string) string {
	best, bestD := "", 3
	ls := strings.ToLower(s)
	for _, c := range candidates {
		if d := editDistance(ls, strings.ToLower(c)); d < bestD && d > 0 {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
