package sigma

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Match is a rule that fired: a detection rule on one event, or a
// correlation rule on the events its window held.
type Match struct {
	Rule  *Rule
	Time  time.Time         // the (last) event's time
	First time.Time         // a correlation's first event's time (else Time)
	Ref   uint64            // the event's Doc.Ref (detection rules)
	Refs  []uint64          // the events behind a correlation
	Group map[string]string // a correlation's group-by values
}

// Ruleset is a loaded, checked set of rules, ready to evaluate. It is not
// safe for concurrent Eval calls (correlations keep state); one goroutine
// evaluates the stream.
type Ruleset struct {
	rules  []*Rule // detection rules
	corrs  []*corrState
	byLS   map[Logsource]*lsIndex // detection rules that apply, per event logsource
	feeds  map[*Rule][]feed       // detection rule -> correlations it feeds
	silent map[*Rule]bool         // rules that only feed correlations (generate: false)
	all    []*Rule
	// scratch, reused across events
	m       *Matcher
	matched []*Rule
	lastGC  time.Time
	mu      sync.Mutex
	lsMu    sync.RWMutex // guards byLS, which Matchers fill as they meet logsources
}

type feed struct {
	c *corrState
	k int
}

// New checks a set of rules as a whole (unique ids and names, correlation
// references) and indexes them.
func New(rules []*Rule, s *Schema) (*Ruleset, error) {
	rs := &Ruleset{byLS: map[Logsource]*lsIndex{}, feeds: map[*Rule][]feed{}, silent: map[*Rule]bool{}, all: rules}
	var errs Errors
	byRef := map[string]*Rule{}
	for _, r := range rules {
		for _, key := range []string{r.ID, r.Name} {
			if key == "" {
				continue
			}
			if prev, dup := byRef[key]; dup {
				errs = append(errs, &Error{File: r.File, Line: r.Line, Msg: fmt.Sprintf("%q is also the id or name of the rule at %s:%d", key, prev.File, prev.Line)})
				continue
			}
			byRef[key] = r
		}
		if r.corr == nil {
			rs.rules = append(rs.rules, r)
		}
	}
	for _, r := range rules {
		if r.corr == nil {
			continue
		}
		c := &corrState{rule: r, groups: map[string]*window{}}
		ok := true
		for _, ref := range r.corr.Rules {
			target := byRef[ref]
			switch {
			case target == nil:
				errs = append(errs, &Error{File: r.File, Line: r.corr.line, Msg: fmt.Sprintf("correlation refers to rule %q, which is not loaded", ref)})
				ok = false
				continue
			case target.corr != nil:
				errs = append(errs, &Error{File: r.File, Line: r.corr.line, Msg: fmt.Sprintf("correlation refers to %q, another correlation: chains are not supported", ref)})
				ok = false
				continue
			}
			c.refs = append(c.refs, target)
		}
		if !ok {
			continue
		}
		// Each referred rule's fields for the group-by entries (aliases
		// map a name to a different field per rule) and the counted field.
		for k, target := range c.refs {
			ref := r.corr.Rules[k]
			fieldOf := func(name string) (int, error) {
				if al, ok := r.corr.aliases[name]; ok {
					fname, ok := al[ref]
					if !ok {
						fname, ok = al[target.ID]
					}
					if !ok {
						return -1, fmt.Errorf("alias %q has no field for rule %q", name, ref)
					}
					name = fname
				}
				f, ok := s.Field(name)
				if !ok {
					return -1, fmt.Errorf("%q is not a field", name)
				}
				return f, nil
			}
			var gf []int
			for _, g := range r.corr.GroupBy {
				f, err := fieldOf(g)
				if err != nil {
					errs = append(errs, &Error{File: r.File, Line: r.corr.line, Msg: "group-by: " + err.Error()})
					ok = false
				}
				gf = append(gf, f)
			}
			c.group = append(c.group, gf)
			if r.corr.Type == "value_count" {
				f, err := fieldOf(r.corr.Field)
				if err != nil {
					errs = append(errs, &Error{File: r.File, Line: r.corr.line, Msg: "condition field: " + err.Error()})
					ok = false
				}
				c.field = append(c.field, f)
			}
		}
		if !ok {
			continue
		}
		rs.corrs = append(rs.corrs, c)
		for k, target := range c.refs {
			rs.feeds[target] = append(rs.feeds[target], feed{c, k})
			if !r.corr.Generate {
				rs.silent[target] = true
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return rs, nil
}

// Rules returns every rule, detection and correlation.
func (rs *Ruleset) Rules() []*Rule { return rs.all }

// lsIndex is the detection rules that apply to one event logsource,
// indexed: a rule that can only match when a field has one of a few exact
// values is looked up by those values instead of evaluated on every event.
type lsIndex struct {
	rules   []*Rule
	always  []int                    // rules without such a requirement
	byField map[int]map[string][]int // field -> lowercase value -> rules
	fields  []int
}

// applicable returns the index of the detection rules whose logsource
// covers ls, built once per distinct logsource.
func (rs *Ruleset) applicable(ls Logsource) *lsIndex {
	rs.lsMu.RLock()
	ix, ok := rs.byLS[ls]
	rs.lsMu.RUnlock()
	if ok {
		return ix
	}
	rs.lsMu.Lock()
	defer rs.lsMu.Unlock()
	if ix, ok := rs.byLS[ls]; ok {
		return ix
	}
	ix = &lsIndex{byField: map[int]map[string][]int{}}
	for _, r := range rs.rules {
		if !r.Logsource.covers(ls) {
			continue
		}
		k := len(ix.rules)
		ix.rules = append(ix.rules, r)
		f, vals, ok := required(r.cond, r)
		if !ok {
			ix.always = append(ix.always, k)
			continue
		}
		m := ix.byField[f]
		if m == nil {
			m = map[string][]int{}
			ix.byField[f] = m
			ix.fields = append(ix.fields, f)
		}
		for _, v := range vals {
			if l := m[v]; len(l) == 0 || l[len(l)-1] != k {
				m[v] = append(l, k)
			}
		}
	}
	rs.byLS[ls] = ix
	return ix
}

// required finds a field the condition needs to hold one of a few exact
// (case-folded) values: an equality in a search that the condition ANDs
// in. It reports false when there is none to rely on.
func required(c cond, r *Rule) (int, []string, bool) {
	switch c := c.(type) {
	case condIdent:
		s := r.searches[c]
		if len(s.alts) != 1 {
			return 0, nil, false
		}
		for _, fm := range s.alts[0] {
			if vals, ok := exactValues(fm); ok {
				return fm.field, vals, true
			}
		}
	case condAnd:
		for _, x := range c {
			if f, v, ok := required(x, r); ok {
				return f, v, true
			}
		}
	case condOf:
		if c.all {
			for _, i := range c.idents {
				if f, v, ok := required(condIdent(i), r); ok {
					return f, v, true
				}
			}
		}
	}
	return 0, nil, false
}

func exactValues(fm *fieldMatch) ([]string, bool) {
	if fm.field < 0 || fm.all || fm.null || fm.exists != 0 || fm.ac != nil || len(fm.vals) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(fm.vals))
	for _, vm := range fm.vals {
		p, ok := vm.(*pattern)
		if !ok || p.kind != patEq || p.cased {
			return nil, false
		}
		out = append(out, p.lit)
	}
	return out, true
}

// Matcher evaluates detection rules on Docs without touching correlation
// state, so several can run at once (one per goroutine); Observe then
// feeds what they matched, in event order, to the correlations.
type Matcher struct {
	rs      *Ruleset
	s, done []bool
	cand    []int
}

// NewMatcher returns a Matcher for this ruleset.
func (rs *Ruleset) NewMatcher() *Matcher { return &Matcher{rs: rs} }

// Match appends to dst the detection rules that match d, in rule order.
func (m *Matcher) Match(d *Doc, dst []*Rule) []*Rule {
	ix := m.rs.applicable(d.Logsource)
	cand := append(m.cand[:0], ix.always...)
	for _, f := range ix.fields {
		bf := ix.byField[f]
		for _, v := range d.low[f] {
			cand = append(cand, bf[v]...)
		}
	}
	if len(cand) > len(ix.always) {
		slices.Sort(cand)
		cand = slices.Compact(cand)
	}
	m.cand = cand
	for _, k := range cand {
		if r := ix.rules[k]; m.matchRule(r, d) {
			dst = append(dst, r)
		}
	}
	return dst
}

func (m *Matcher) matchRule(r *Rule, d *Doc) bool {
	if r.cond == nil {
		return false
	}
	n := len(r.searches)
	if cap(m.s) < n {
		m.s, m.done = make([]bool, n), make([]bool, n)
	}
	s, done := m.s[:n], m.done[:n]
	clear(done)
	return r.cond.eval(d, s, done, r)
}

// Eval evaluates every applicable rule on d and calls emit for each match,
// correlations included. Docs should come in about time order.
func (rs *Ruleset) Eval(d *Doc, emit func(Match)) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = rs.NewMatcher()
	}
	rs.matched = rs.m.Match(d, rs.matched[:0])
	rs.observe(d, rs.matched, emit)
}

// Observe takes the detection rules a Matcher found on d: it emits the
// ones that alert on their own and feeds the correlations. Calls must come
// in event order, from one goroutine at a time.
func (rs *Ruleset) Observe(d *Doc, matched []*Rule, emit func(Match)) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.observe(d, matched, emit)
}

func (rs *Ruleset) observe(d *Doc, matched []*Rule, emit func(Match)) {
	for _, r := range matched {
		if !rs.silent[r] {
			emit(Match{Rule: r, Time: d.Time, First: d.Time, Ref: d.Ref})
		}
		for _, f := range rs.feeds[r] {
			if m, ok := f.c.observe(f.k, d); ok {
				emit(m)
			}
		}
	}
	// Idle correlation groups are dropped once per simulated minute.
	if len(rs.corrs) > 0 && d.Time.Sub(rs.lastGC) > time.Minute {
		for _, c := range rs.corrs {
			c.expire(d.Time)
		}
		rs.lastGC = d.Time
	}
}

// LoadDir reads every .yml and .yaml file under dir (recursively) and
// checks the whole set. All problems are returned together, each with
// its file and line.
func LoadDir(dir string, s *Schema, o Options) (*Ruleset, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sigma: read rules: %w", err)
	}
	sort.Strings(files)
	var rules []*Rule
	var errs Errors
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("sigma: %w", err)
		}
		rel, _ := filepath.Rel(dir, f)
		rs, err := Parse(rel, b, s, o)
		rules = append(rules, rs...)
		if e, ok := err.(Errors); ok {
			errs = append(errs, e...)
		} else if err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return New(rules, s)
}
