package detect

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/explain"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/geo"
	"github.com/labtrust/labtrust/roster"
	"github.com/labtrust/labtrust/sigma"
	"github.com/labtrust/labtrust/stix"
)

//go:embed rules/*.yml
var builtin embed.FS

// Engine evaluates the built-in rule pack and a directory of the lab's own
// rules over entries, and turns matches into alerts. Reload picks up
// changed rule files; a set that does not load leaves the running rules in
// place and reports every problem.
type Engine struct {
	dir  string
	opts sigma.Options

	mu    sync.Mutex
	rs    *sigma.Ruleset
	stamp string
	doc   *sigma.Doc
	intel *stix.Set
	// explainer, if set, explains every access (Explain).
	explainer     *explain.Explainer
	volume        *explain.Volume
	roster        *roster.Roster
	onUnexplained func(explain.Unexplained)
	geo           *geo.DB
	seen          map[string]sighting // account -> where it was last seen (travel)
}

// Open loads the built-in pack and the .yml/.yaml files under dir (which
// may be empty or missing).
func Open(dir string, o sigma.Options) (*Engine, error) {
	e := &Engine{dir: dir, opts: o, doc: Schema.NewDoc()}
	if _, err := e.Reload(); err != nil {
		return nil, err
	}
	return e, nil
}

// Load reads and checks the built-in pack and dir's rules.
func Load(dir string, o sigma.Options) (*sigma.Ruleset, error) {
	var rules []*sigma.Rule
	var errs sigma.Errors
	add := func(name string, b []byte) error {
		rs, err := sigma.Parse(name, b, Schema, o)
		rules = append(rules, rs...)
		var es sigma.Errors
		if errors.As(err, &es) {
			errs = append(errs, es...)
		} else if err != nil {
			return err
		}
		return nil
	}
	names, _ := fs.Glob(builtin, "rules/*.yml")
	for _, n := range names {
		b, _ := builtin.ReadFile(n)
		if err := add("builtin:"+strings.TrimPrefix(n, "rules/"), b); err != nil {
			return nil, err
		}
	}
	files, err := ruleFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("detect: %w", err)
		}
		if err := add(f, b); err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return sigma.New(rules, Schema)
}

func ruleFiles(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detect: read rules in %s: %w", dir, err)
	}
	sort.Strings(files)
	return files, nil
}

// fingerprint says whether the rule files changed: names, sizes, times.
func fingerprint(dir string) string {
	files, _ := ruleFiles(dir)
	h := sha256.New()
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			fmt.Fprintf(h, "%s\x00%d\x00%d\n", f, st.Size(), st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Reload loads the rules again if their files changed. On an error the
// rules in use stay.
func (e *Engine) Reload() (bool, error) {
	stamp := fingerprint(e.dir)
	e.mu.Lock()
	same := e.rs != nil && stamp == e.stamp
	e.mu.Unlock()
	if same {
		return false, nil
	}
	rs, err := Load(e.dir, e.opts)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stamp = stamp // a broken set is reported once, not at every poll
	if err != nil {
		return false, err
	}
	e.rs = rs
	return true, nil
}

// Rules returns the rules in use.
func (e *Engine) Rules() []*sigma.Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rs.Rules()
}

// Eval runs the rules on one entry and calls raise for each alert.
// Entries should come in ledger order.
func (e *Engine) Eval(en *labtrust.Entry, raise func(labtrust.Alert)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	Fill(e.doc, en)
	e.rs.Eval(e.doc, func(m sigma.Match) { raise(alertOf(m, e.doc)) })
	if ind := intelMatch(e.intel, e.doc); ind != nil {
		raise(intelAlert(ind, e.doc))
	}
	if offShift(e.roster, e.doc) {
		raise(offShiftAlert(e.roster, e.doc))
	}
	if sg := sight(e.geo, e.doc); sg != nil {
		if a, ok := travel(e.seen, *sg); ok {
			raise(a)
		}
	}
	if x := e.explainer; x != nil {
		if acc, ok := x.Summarize(en); ok {
			for _, u := range x.Observe(acc) {
				if e.onUnexplained != nil {
					e.onUnexplained(u)
				}
				raise(unexplainedAlert(u))
			}
			if b := e.volume.Observe(acc); b != nil {
				raise(volumeAlert(b))
			}
		}
	}
}

// phiFields are fields whose values never go into an alert's text or key
// in clear.
var phiFields = map[string]bool{"patient.id": true, "patient.system": true, "object.id": true, "object.query": true, "sourceRef": true}

func alertOf(m sigma.Match, d *sigma.Doc) labtrust.Alert {
	r := m.Rule
	a := labtrust.Alert{Rule: ruleKey(r), Title: r.Title, Severity: r.Level, First: m.First, Last: m.Time, Count: 1}
	if a.Severity == "" {
		a.Severity = "medium"
	}
	var b strings.Builder
	b.WriteString(r.Title)
	if r.Description != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(r.Description))
	}
	keyParts := []string{a.Rule}
	if c := r.Correlation(); c != nil {
		a.Entries, a.Count = m.Refs, len(m.Refs)
		var groups []string
		for _, g := range c.GroupBy {
			v := m.Group[g]
			if g == "actor.id" || g == "User" {
				a.Actor = v
			}
			keyParts = append(keyParts, g+"="+v)
			if phiFields[g] {
				v = "(withheld)"
			}
			groups = append(groups, g+" "+v)
		}
		fmt.Fprintf(&b, " Seen: %d matching events within %s", len(m.Refs), span(c.Timespan))
		if len(groups) > 0 {
			fmt.Fprintf(&b, " for %s", strings.Join(groups, ", "))
		}
		fmt.Fprintf(&b, ", from %s to %s.", m.First.UTC().Format(time.RFC3339), m.Time.UTC().Format(time.RFC3339))
	} else {
		a.Entries = []uint64{m.Ref}
		if v := d.Values(fActorID); len(v) > 0 {
			a.Actor = v[0]
		}
		keyParts = append(keyParts, "actor="+a.Actor)
		fmt.Fprintf(&b, " Seen: a %s event", first(d, fKind))
		if a.Actor != "" {
			fmt.Fprintf(&b, " by %s", a.Actor)
			if role := first(d, fActorRole); role != "" {
				fmt.Fprintf(&b, " (%s)", role)
			}
		}
		if src := first(d, fSource); src != "" {
			fmt.Fprintf(&b, " from source %s", src)
		}
		if n := first(d, fNetwork); n != "" {
			fmt.Fprintf(&b, " at %s", n)
		}
		fmt.Fprintf(&b, " on %s.", m.Time.UTC().Format(time.RFC3339))
	}
	a.Explanation = b.String()
	sum := sha256.Sum256([]byte(strings.Join(keyParts, "\x00")))
	a.Key = hex.EncodeToString(sum[:16])
	return a
}

func first(d *sigma.Doc, f int) string {
	if v := d.Values(f); len(v) > 0 {
		return v[0]
	}
	return ""
}

func ruleKey(r *sigma.Rule) string {
	switch {
	case r.Name != "":
		return r.Name
	case r.ID != "":
		return r.ID
	}
	return r.Title
}

// span writes a timespan as a rule would ("10m", "1h30m").
func span(d time.Duration) string {
	s := d.String() // "10m0s", "1h0m0s", "1h30m0s", "30s"
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// evaluation is one entry's detection-rule matches (and threat-intel
// indicator), found by a worker.
type evaluation struct {
	doc     *sigma.Doc // nil when only the access summary is kept
	matched []*sigma.Rule
	intel   *stix.Indicator
	off     bool // off shift by the roster
	sight   *sighting
	access  *explain.Access
}

func (ev evaluation) finish(rs *sigma.Ruleset, x *explain.Explainer, vol *explain.Volume, ro *roster.Roster, where map[string]sighting, seen func(explain.Unexplained), raise func(labtrust.Alert)) {
	if ev.sight != nil {
		if a, ok := travel(where, *ev.sight); ok {
			raise(a)
		}
	}
	if ev.doc != nil {
		rs.Observe(ev.doc, ev.matched, func(m sigma.Match) { raise(alertOf(m, ev.doc)) })
		if ev.intel != nil {
			raise(intelAlert(ev.intel, ev.doc))
		}
		if ev.off {
			raise(offShiftAlert(ro, ev.doc))
		}
	}
	if ev.access != nil {
		for _, u := range x.Observe(*ev.access) {
			if seen != nil {
				seen(u)
			}
			raise(unexplainedAlert(u))
		}
		if b := vol.Observe(*ev.access); b != nil {
			raise(volumeAlert(b))
		}
	}
}

// evaluate is a worker's part for one entry: rule matches, the intel
// check and the access summary. It reports whether anything needs the
// ordered phase; doc is kept by the evaluation when it does.
func evaluate(m *sigma.Matcher, intel *stix.Set, ro *roster.Roster, g *geo.DB, summarize func(*labtrust.Entry) (explain.Access, bool), doc *sigma.Doc, en *labtrust.Entry) (evaluation, bool) {
	Fill(doc, en)
	var ev evaluation
	ev.matched = m.Match(doc, nil)
	ev.intel = intelMatch(intel, doc)
	ev.off = offShift(ro, doc)
	ev.sight = sight(g, doc)
	if len(ev.matched) > 0 || ev.intel != nil || ev.off {
		ev.doc = doc
	}
	if summarize != nil {
		if acc, ok := summarize(en); ok {
			ev.access = &acc
		}
	}
	return ev, ev.doc != nil || ev.access != nil || ev.sight != nil
}

// Process evaluates the stored entries from <= index < to: workers on
// every core read, decode and match them against the detection rules, and
// the matches go, in ledger order, through the correlations; raise gets
// each alert. It returns how many entries it read.
func (e *Engine) Process(ctx context.Context, st Reader, keys frame.Opener, from, to uint64, raise func(labtrust.Alert)) (int, error) {
	e.mu.Lock()
	rs, intel, x, vol, ro, seen, g, where := e.rs, e.intel, e.explainer, e.volume, e.roster, e.onUnexplained, e.geo, e.seen
	e.mu.Unlock()
	var n atomic.Int64
	err := scan(ctx, st, keys, from, to, func() func(*labtrust.Entry) (evaluation, bool) {
		m := rs.NewMatcher()
		doc := Schema.NewDoc()
		var summarize func(*labtrust.Entry) (explain.Access, bool)
		if x != nil {
			summarize = x.Summarizer()
		}
		return func(en *labtrust.Entry) (evaluation, bool) {
			n.Add(1)
			ev, keep := evaluate(m, intel, ro, g, summarize, doc, en)
			if ev.doc != nil {
				doc = Schema.NewDoc() // the kept one now belongs to ev
			}
			return ev, keep
		}
	}, func(ev evaluation) error {
		ev.finish(rs, x, vol, ro, where, seen, raise)
		return nil
	})
	return int(n.Load()), err
}

// ProcessEntries evaluates entries already in memory (a batch the
// pipeline just committed): matching on every core, correlations in
// order.
func (e *Engine) ProcessEntries(entries []labtrust.Entry, raise func(labtrust.Alert)) {
	e.mu.Lock()
	rs, intel, x, vol, ro, seen, g, where := e.rs, e.intel, e.explainer, e.volume, e.roster, e.onUnexplained, e.geo, e.seen
	e.mu.Unlock()
	evals := make([]evaluation, len(entries))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(entries)/256))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			m := rs.NewMatcher()
			doc := Schema.NewDoc()
			var summarize func(*labtrust.Entry) (explain.Access, bool)
			if x != nil {
				summarize = x.Summarizer()
			}
			for i := w; i < len(entries); i += workers {
				if ev, keep := evaluate(m, intel, ro, g, summarize, doc, &entries[i]); keep {
					evals[i] = ev
					if ev.doc != nil {
						doc = Schema.NewDoc()
					}
				}
			}
		}(w)
	}
	wg.Wait()
	for _, ev := range evals {
		ev.finish(rs, x, vol, ro, where, seen, raise)
	}
}
