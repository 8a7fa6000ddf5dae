// Package breach turns an incident's indicators into the exact breach
// scope (which patients, which of their data), the HIPAA four-factor risk
// assessment, and the notice obligations HIPAA and each state's law impose,
// each with its deadline and the provision behind it.
package breach

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
)

// Report-level elements: what the breach touched, in the words a notice
// uses. Law files match them through LawElements.
const (
	ElementOrders    Element = "orders"
	ElementResults   Element = "results"
	ElementDiagnoses Element = "diagnoses"
)

func init() { knownElements = append(knownElements, ElementOrders, ElementResults, ElementDiagnoses) }

// LawElements maps report elements to the statutes' categories: orders,
// results and diagnoses are medical information.
func LawElements(es []Element) []Element {
	out := make([]Element, 0, len(es)+1)
	for _, e := range es {
		switch e {
		case ElementOrders, ElementResults, ElementDiagnoses:
			e = ElementMedical
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// IndicatorKind is what an indicator names.
type IndicatorKind string

const (
	// IndicatorAccount: every successful access by this account.
	IndicatorAccount IndicatorKind = "account"
	// IndicatorAddress: every successful access from this source address
	// (an IP address or a CIDR prefix).
	IndicatorAddress IndicatorKind = "address"
	// IndicatorSystem: every patient whose data passed through this
	// source system (a compromised LIS interface, a ransomed server).
	IndicatorSystem IndicatorKind = "system"
	// IndicatorFeed: a business associate's data feed, by source name.
	IndicatorFeed IndicatorKind = "feed"
	// IndicatorRecords: a known record set (a lost laptop's export, a
	// misdirected batch): the MRNs listed, with the elements it held.
	IndicatorRecords IndicatorKind = "records"
	// IndicatorRegistry: the patient database itself was taken (ransomware
	// that exfiltrated it): everyone the registry holds, with the elements
	// it held.
	IndicatorRegistry IndicatorKind = "registry"
)

// Indicator is one thing the investigation says the breach touched, with
// the window it touched it in (zero bounds: unbounded).
type Indicator struct {
	Kind  IndicatorKind `json:"kind"`
	Value string        `json:"value,omitempty"` // account, address, CIDR or source name
	From  time.Time     `json:"from,omitzero"`
	To    time.Time     `json:"to,omitzero"`
	// MRNs and Elements describe a record set; MRNs are PHI and never
	// leave the sealed incident.
	MRNs     []string  `json:"mrns,omitempty"`
	Elements []Element `json:"elements,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// Check reports the first problem with the indicator.
func (in Indicator) Check() error {
	switch in.Kind {
	case IndicatorAccount, IndicatorSystem, IndicatorFeed:
		if in.Value == "" {
			return fmt.Errorf("breach: a %s indicator needs a value", in.Kind)
		}
	case IndicatorAddress:
		if _, err := parseAddress(in.Value); err != nil {
			return err
		}
	case IndicatorRecords, IndicatorRegistry:
		if in.Kind == IndicatorRecords && len(in.MRNs) == 0 {
			return errors.New("breach: a record set needs its MRNs and the elements it held")
		}
		if in.Kind == IndicatorRegistry && len(in.MRNs) > 0 {
			return errors.New("breach: a registry indicator covers everyone the registry holds; list MRNs as a record set instead")
		}
		if len(in.Elements) == 0 {
			return fmt.Errorf("breach: a %s indicator needs the data elements it held", in.Kind)
		}
		for _, e := range in.Elements {
			if !e.Known() {
				return fmt.Errorf("breach: unknown element %q", e)
			}
		}
	default:
		return fmt.Errorf("breach: unknown indicator kind %q (account, address, system, feed, records, registry)", in.Kind)
	}
	if !in.From.IsZero() && !in.To.IsZero() && in.To.Before(in.From) {
		return errors.New("breach: an indicator's window ends before it starts")
	}
	return nil
}

func parseAddress(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("breach: address indicator %q: want an IP address or CIDR prefix", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Affected is one patient in a scope. MRN, State, Language and the
// contact flags come from the registry; they are PHI and stay sealed.
type Affected struct {
	MRN      string    `json:"mrn"`
	Blind    []byte    `json:"blind"` // the patient's blind index: names them without PHI
	State    string    `json:"state,omitempty"`
	Language string    `json:"language,omitempty"`
	Elements []Element `json:"elements"`
	// HasAddress and HasEmail say whether the registry can reach them;
	// without either, substitute notice counts them.
	HasAddress bool      `json:"hasAddress"`
	HasEmail   bool      `json:"hasEmail"`
	Minor      bool      `json:"minor,omitempty"`
	Deceased   bool      `json:"deceased,omitempty"`
	Registered bool      `json:"registered"`
	Accesses   int       `json:"accesses"`
	Entries    []uint64  `json:"entries"` // ledger entries behind it (the first MaxEntries)
	First      time.Time `json:"first,omitzero"`
	Last       time.Time `json:"last,omitzero"`
	// Count, in a group (Scope.Groups), is how many people the row stands
	// for; 0 is one person.
	Count int `json:"count,omitempty"`
	// Registry is the person's registry row, when the registry indicator
	// read them: notices read the person's current record by it (a row
	// look-up, not a blind-index one).
	Registry int64 `json:"registry,omitempty"`
}

func (a *Affected) weight() int { return max(a.Count, 1) }

// Groups counts the scope's people by what the obligations turn on: state,
// data elements and whether they can be reached. A few hundred rows stand
// for any number of people, so an incident keeps them and computes its
// obligations without reading the scope.
func (s *Scope) Groups() []Affected {
	var t Tally
	t.Add(s.Patients)
	return t.Groups()
}

// Tally counts a scope handed over a part at a time (Scoper.Stream): its
// summary and groups, without holding anyone.
type Tally struct {
	sum    Summary
	idx    map[groupKey]int
	groups []Affected
}

type groupKey struct {
	state, elements     string
	address, email, reg bool
}

// Add counts people.
func (t *Tally) Add(people []Affected) {
	if t.idx == nil {
		t.idx = map[groupKey]int{}
		t.sum.ByElement, t.sum.ByState = map[Element]int{}, map[string]int{}
	}
	var es []string
	for i := range people {
		p := &people[i]
		t.sum.Patients++
		for _, e := range p.Elements {
			t.sum.ByElement[e]++
		}
		st := p.State
		if st == "" {
			st = "unknown"
		}
		t.sum.ByState[st]++
		if !p.HasAddress && !p.HasEmail {
			t.sum.NoContact++
		}
		if !p.Registered {
			t.sum.Unregistered++
		}
		es = es[:0]
		for _, e := range p.Elements {
			es = append(es, string(e))
		}
		slices.Sort(es)
		k := groupKey{p.State, strings.Join(es, ","), p.HasAddress, p.HasEmail, p.Registered}
		g, ok := t.idx[k]
		if !ok {
			g = len(t.groups)
			t.idx[k] = g
			els := append([]Element(nil), p.Elements...)
			sortElements(els)
			t.groups = append(t.groups, Affected{State: p.State, Elements: els, HasAddress: p.HasAddress, HasEmail: p.HasEmail, Registered: p.Registered})
		}
		t.groups[g].Count += p.weight()
	}
}

// Summary is the counts so far, with events matched.
func (t *Tally) Summary(events int) Summary {
	sum := t.sum
	sum.Events = events
	if sum.ByElement == nil {
		sum.ByElement, sum.ByState = map[Element]int{}, map[string]int{}
	}
	return sum
}

// Groups is the people so far by what the obligations turn on.
func (t *Tally) Groups() []Affected { return t.groups }

// MaxEntries bounds the ledger entries a scope keeps per patient.
const MaxEntries = 64

// Scope is the computed breach scope.
type Scope struct {
	Incident   int64       `json:"incident"`
	Indicators []Indicator `json:"indicators"`
	Computed   time.Time   `json:"computed"`
	// TreeSize is the ledger size the computation read up to, and
	// Checkpoint the signed checkpoint it cites (covering TreeSize).
	TreeSize   uint64     `json:"treeSize"`
	Checkpoint string     `json:"checkpoint"`
	Events     int        `json:"events"` // matching ledger entries read
	Patients   []Affected `json:"patients"`
	// Chunks, when stored, says the patients are kept apart from the
	// scope in that many sealed parts (Patients is then empty in the
	// stored header).
	Chunks int `json:"chunks,omitempty"`
}

// Summary counts a scope without naming anyone.
type Summary struct {
	Patients     int             `json:"patients"`
	Events       int             `json:"events"`
	ByElement    map[Element]int `json:"byElement"`
	ByState      map[string]int  `json:"byState"`
	NoContact    int             `json:"noContact"`
	Unregistered int             `json:"unregistered"`
}

// Summarize counts the scope.
func (s *Scope) Summarize() Summary {
	var t Tally
	t.Add(s.Patients)
	return t.Summary(s.Events)
}

// Events is what scoping reads: the store's frames, selected by their
// clear index columns.
type Events interface {
	ScanFrames(ctx context.Context, f store.Filter, workers int, fn func(fr *store.Frame, rows []int) error) error
}

// Patients resolves an MRN to the registry's record (following merges).
type Patients interface {
	Get(ctx context.Context, mrn string) (*registry.Entry, error)
}

// Scoper computes scopes.
type Scoper struct {
	Events   Events
	Keys     frame.Opener
	Blind    func(id string) []byte // safe for concurrent use: the keyring's Blind
	Patients Patients               // nil: no registry; residence unknown
	Now      func() time.Time
}

// Compute returns the scope of the indicators among the entries below
// size (the checkpointed tree size the caller cites), everyone in it held
// in memory: Stream hands a large scope over a part at a time instead.
func (sc *Scoper) Compute(ctx context.Context, indicators []Indicator, size uint64) (*Scope, error) {
	s := &Scope{Indicators: indicators, TreeSize: size}
	var people []Affected
	if err := sc.Stream(ctx, s, func(part []Affected) error {
		people = append(people, part...)
		return nil
	}); err != nil {
		return nil, err
	}
	s.Patients = people
	return s, nil
}

// StreamPart is how many people Stream hands over at a time (at most).
const StreamPart = 4096

// Stream computes the scope of s.Indicators among the entries below
// s.TreeSize and calls fn with its people a part at a time, each once, in
// blind-index order; fn must not keep the slice. It sets s.Computed
// before it starts and s.Events before the first call.
//
// People found in the ledger (and record sets) are held in memory, as
// accesses to them are gathered from every matching entry. A registry
// indicator's people, who can be everyone the lab ever served, are not:
// the registry is read once in blind-index order, each person filled from
// their record as it is read, joined with what the ledger found of them,
// and handed on.
func (sc *Scoper) Stream(ctx context.Context, s *Scope, fn func(part []Affected) error) error {
	indicators := s.Indicators
	size := s.TreeSize
	if len(indicators) == 0 {
		return errors.New("breach: a scope needs at least one indicator")
	}
	for _, in := range indicators {
		if err := in.Check(); err != nil {
			return err
		}
	}
	now := time.Now
	if sc.Now != nil {
		now = sc.Now
	}
	s.Computed = now().UTC()
	// Each person once, in the order first seen: an index by MRN into the
	// scope's list (a map to pointers of a separate struct per person was
	// most of a large scope's memory).
	idx := map[string]int{}
	var people []Affected
	add := func(mrn string, els []Element, i uint64, at time.Time, counted bool) {
		k, ok := idx[mrn]
		if !ok {
			k = len(people)
			idx[mrn] = k
			people = append(people, Affected{MRN: mrn})
		}
		h := &people[k]
		for _, e := range els {
			if !slices.Contains(h.Elements, e) {
				h.Elements = append(h.Elements, e)
			}
		}
		if counted {
			h.Accesses++
			if len(h.Entries) < MaxEntries {
				h.Entries = append(h.Entries, i)
			}
			if h.First.IsZero() || at.Before(h.First) {
				h.First = at
			}
			if at.After(h.Last) {
				h.Last = at
			}
		}
	}
	// Each indicator scans the frames its clear index columns select (an
	// account reads only the frames listing it); addresses are only in
	// the sealed bodies, so their frames are every frame of their window
	// and they match after opening. Frames are read and opened on a few
	// workers; an entry several indicators select counts once.
	type matched struct {
		idx      uint64
		at       time.Time
		patients []string
		els      []Element
	}
	var (
		mu    sync.Mutex
		found []matched
		seen  = map[uint64]bool{}
	)
	readers := sync.Pool{New: func() any { return new(frame.Reader) }}
	var registryIndicators []Indicator
	for _, in := range indicators {
		if in.Kind == IndicatorRecords {
			for _, m := range in.MRNs {
				add(strings.TrimSpace(m), in.Elements, 0, time.Time{}, false)
			}
			continue
		}
		if in.Kind == IndicatorRegistry {
			registryIndicators = append(registryIndicators, in)
			continue // read last, below, once every other indicator is in
		}
		f := store.Filter{From: in.From, To: in.To, Kind: string(labtrust.KindAccess)}
		var addr netip.Prefix
		switch in.Kind {
		case IndicatorAccount:
			f.Actor = in.Value
		case IndicatorSystem, IndicatorFeed:
			f.Source = in.Value
		case IndicatorAddress:
			addr, _ = parseAddress(in.Value)
		}
		err := sc.Events.ScanFrames(ctx, f, scanWorkers, func(fr *store.Frame, rows []int) error {
			var recs []frame.Record
			rd := readers.Get().(*frame.Reader)
			defer readers.Put(rd)
			for _, r := range rows {
				row := &fr.Rows[r]
				if row.Index >= size || row.Outcome != int(labtrust.OutcomeSuccess) {
					continue
				}
				if recs == nil {
					var err error
					if recs, err = rd.Open(sc.Keys, fr.First, len(fr.Rows), fr.Body); err != nil {
						return err
					}
				}
				en, err := labtrust.DecodeStored(recs[r].Nonce, recs[r].Canonical)
				if err != nil {
					return fmt.Errorf("entry %d: %w", row.Index, err)
				}
				if !en.Erased.IsZero() || (addr.IsValid() && !inPrefix(addr, en.Event.Network)) {
					continue // a forgotten patient's residue, or another address
				}
				m := matched{idx: row.Index, at: en.Event.Time, els: ObjectElements(&en.Event)}
				for _, p := range en.Event.Patients {
					m.patients = append(m.patients, p.ID)
				}
				mu.Lock()
				if !seen[m.idx] {
					seen[m.idx] = true
					found = append(found, m)
				}
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("breach: scan for %s indicator: %w", in.Kind, err)
		}
	}
	slices.SortFunc(found, func(a, b matched) int { return cmp.Compare(a.idx, b.idx) })
	s.Events = len(found)
	for _, m := range found {
		for _, p := range m.patients {
			add(p, m.els, m.idx, m.at, true)
		}
	}
	found, seen = nil, nil
	idx = nil
	// The people found so far, resolved against the registry a few
	// batches at once and put in blind-index order.
	for i := range people {
		people[i].Blind = sc.Blind(people[i].MRN)
	}
	const resolveBatch = 256
	const workers = scanWorkers
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(workers, len(people)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(resolveBatch) - resolveBatch)
				if k >= len(people) || ctx.Err() != nil {
					return
				}
				part := people[k:min(k+resolveBatch, len(people))]
				if err := sc.resolveAll(ctx, part); err != nil {
					errs[w] = err
					return
				}
				for i := range part {
					sortElements(part[i].Elements)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	slices.SortFunc(people, func(a, b Affected) int { return bytes.Compare(a.Blind, b.Blind) })
	out := &parts{fn: fn, part: make([]Affected, 0, min(StreamPart, max(len(people), 64)))}
	if len(registryIndicators) > 0 {
		if err := sc.streamRegistry(ctx, registryIndicators, people, out); err != nil {
			return err
		}
	} else {
		for i := range people {
			if err := out.add(people[i]); err != nil {
				return err
			}
		}
	}
	return out.flush()
}

// parts hands people on StreamPart at a time.
type parts struct {
	fn   func([]Affected) error
	part []Affected
}

func (p *parts) add(a Affected) error {
	p.part = append(p.part, a)
	if len(p.part) < StreamPart {
		return nil
	}
	return p.flush()
}

func (p *parts) flush() error {
	if len(p.part) == 0 {
		return nil
	}
	err := p.fn(p.part)
	p.part = p.part[:0]
	return err
}

// streamRegistry hands on everyone the registry holds now with the
// elements of the registry indicators, merged in blind-index order with
// the people the ledger and record sets found (people, in that order):
// one found and in the registry is handed on once, with both.
func (sc *Scoper) streamRegistry(ctx context.Context, indicators []Indicator, people []Affected, out *parts) error {
	all, ok := sc.Patients.(AllPatients)
	if !ok {
		return errors.New("breach: a registry indicator needs the patient registry")
	}
	var els []Element
	for _, in := range indicators {
		for _, e := range in.Elements {
			if !slices.Contains(els, e) {
				els = append(els, e)
			}
		}
	}
	j := 0
	err := all.Each(ctx, func(es []*registry.Entry) error {
		for _, e := range es {
			blind := e.Blind
			if blind == nil {
				blind = sc.Blind(e.Patient.ID.ID)
			}
			for j < len(people) && bytes.Compare(people[j].Blind, blind) < 0 {
				if err := out.add(people[j]); err != nil {
					return err
				}
				j++
			}
			a := Affected{MRN: e.Patient.ID.ID, Blind: blind}
			if j < len(people) && bytes.Equal(people[j].Blind, blind) {
				a = people[j]
				j++
			}
			for _, el := range els {
				if !slices.Contains(a.Elements, el) {
					a.Elements = append(a.Elements, el)
				}
			}
			sc.fill(&a, e)
			a.Registry = e.ID
			sortElements(a.Elements)
			if err := out.add(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("breach: read the registry: %w", err)
	}
	for ; j < len(people); j++ {
		if err := out.add(people[j]); err != nil {
			return err
		}
	}
	return nil
}

// scanWorkers is how many frames a scope reads and opens at once: cold
// frames wait on the disk, warm ones on the CPU.
const scanWorkers = 8

func inPrefix(p netip.Prefix, host string) bool {
	if h, _, ok := strings.Cut(host, "%"); ok {
		host = h
	}
	a, err := netip.ParseAddr(host)
	return err == nil && p.Contains(a.Unmap())
}

// ObjectElements says which data elements an access exposed, from the
// types of the objects it touched. Naming the patient exposes their name
// and record number. An export (DICOM 110106, or a FHIR $export query)
// exposes the resource types it names, or everything when it names none,
// because scoping must not undercount.
func ObjectElements(e *labtrust.Event) []Element {
	els := []Element{ElementName, ElementMRN}
	addAll := func(es ...Element) {
		for _, x := range es {
			if !slices.Contains(els, x) {
				els = append(els, x)
			}
		}
	}
	export := e.Type.Code == "110106" && (e.Type.System == "" || strings.Contains(e.Type.System, "DCM"))
	if export || (e.Action == labtrust.ActionExecute && len(e.Objects) == 0) {
		types := exportTypes(e)
		if len(types) == 0 {
			addAll(everything...)
		}
		for _, t := range types {
			addAll(typeElements(t)...)
		}
		return els
	}
	for _, o := range e.Objects {
		addAll(typeElements(o.Type)...)
		if o.Role == "job" || o.Role == "export" {
			addAll(everything...)
		}
	}
	return els
}

var (
	demographics = []Element{ElementAddress, ElementDOB, ElementContact}
	everything   = []Element{ElementAddress, ElementDOB, ElementContact, ElementOrders, ElementResults, ElementDiagnoses, ElementHealthInsurance}
)

// typeElements maps a FHIR resource type (or a source's object type) to
// the elements it holds.
func typeElements(t string) []Element {
	switch t {
	case "Patient", "Person", "Query", "RelatedPerson":
		return demographics
	case "ServiceRequest", "Task":
		// Lab orders carry the ordering diagnosis (ICD-10) for medical
		// necessity.
		return []Element{ElementOrders, ElementDiagnoses}
	case "Specimen":
		return []Element{ElementOrders}
	case "DiagnosticReport", "Observation":
		return []Element{ElementResults}
	case "Condition":
		return []Element{ElementDiagnoses}
	case "Coverage", "Claim", "ExplanationOfBenefit", "Account":
		return []Element{ElementHealthInsurance}
	case "DocumentReference", "Binary", "Bundle", "Composition":
		return everything
	}
	return nil
}

// exportTypes reads the resource types a FHIR bulk export asked for
// (_type=Patient,DiagnosticReport) from the event's query objects.
func exportTypes(e *labtrust.Event) []string {
	var out []string
	for _, o := range e.Objects {
		q := o.Query
		i := strings.Index(q, "_type=")
		if i < 0 {
			continue
		}
		v := q[i+len("_type="):]
		if j := strings.IndexAny(v, "&# "); j >= 0 {
			v = v[:j]
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

var elementOrder = []Element{ElementName, ElementAddress, ElementDOB, ElementSSN, ElementContact, ElementMRN,
	ElementHealthInsurance, ElementOrders, ElementResults, ElementDiagnoses, ElementMedical, ElementDriversLicense,
	ElementFinancialAccount, ElementBiometric, ElementCredentials, ElementPassport, ElementTaxID}

func sortElements(es []Element) {
	slices.SortFunc(es, func(a, b Element) int {
		ia, ib := slices.Index(elementOrder, a), slices.Index(elementOrder, b)
		if ia < 0 {
			ia = len(elementOrder)
		}
		if ib < 0 {
			ib = len(elementOrder)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(string(a), string(b))
	})
}

// ManyPatients is a registry that reads many patients in one go
// (registry.Registry); the scope uses it when it can.
type ManyPatients interface {
	GetMany(ctx context.Context, mrns []string) (map[string]*registry.Entry, error)
}

// CoversRegistry says whether a scope of these indicators holds everyone
// the registry holds (it has a registry indicator).
func CoversRegistry(indicators []Indicator) bool {
	for _, in := range indicators {
		if in.Kind == IndicatorRegistry {
			return true
		}
	}
	return false
}

// AllPatients is a registry that reads everyone it holds
// (registry.Registry), for the registry indicator.
type AllPatients interface {
	Each(ctx context.Context, fn func([]*registry.Entry) error) error
}

// resolveAll fills what the registry knows for part of the scope (people
// the registry indicator filled already are left as they are).
func (sc *Scoper) resolveAll(ctx context.Context, part []Affected) error {
	if sc.Patients == nil {
		return nil
	}
	if filledAll(part) {
		return nil
	}
	many, ok := sc.Patients.(ManyPatients)
	if !ok {
		for i := range part {
			if part[i].Registered {
				continue
			}
			if err := sc.resolve(ctx, &part[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var mrns []string
	for i := range part {
		if !part[i].Registered {
			mrns = append(mrns, part[i].MRN)
		}
	}
	found, err := many.GetMany(ctx, mrns)
	if err != nil {
		return fmt.Errorf("breach: registry: %w", err)
	}
	for i := range part {
		if en := found[part[i].MRN]; en != nil && !part[i].Registered {
			sc.fill(&part[i], en)
		}
	}
	return nil
}

func filledAll(part []Affected) bool {
	for i := range part {
		if !part[i].Registered {
			return false
		}
	}
	return true
}

// resolve fills what the registry knows: residence, language, contact,
// and the SSN when the demographics it exposed hold one.
func (sc *Scoper) resolve(ctx context.Context, a *Affected) error {
	if sc.Patients == nil {
		return nil
	}
	en, err := sc.Patients.Get(ctx, a.MRN)
	switch {
	case errors.Is(err, labtrust.ErrNotFound), errors.Is(err, registry.ErrForgotten):
		return nil
	case err != nil:
		return fmt.Errorf("breach: registry: %w", err)
	}
	sc.fill(a, en)
	return nil
}

func (sc *Scoper) fill(a *Affected, en *registry.Entry) {
	p := &en.Patient
	a.Registered = true
	a.Language = p.Language
	a.Deceased = p.Deceased
	a.HasEmail = len(p.Emails) > 0
	for _, ad := range p.Addresses {
		if len(ad.Lines) > 0 && (ad.PostalCode != "" || ad.City != "") {
			a.HasAddress = true
			if a.State == "" {
				a.State = strings.ToUpper(strings.TrimSpace(ad.State))
			}
		}
	}
	if a.State == "" && len(p.Addresses) > 0 {
		a.State = strings.ToUpper(strings.TrimSpace(p.Addresses[0].State))
	}
	if p.SSN != "" && slices.Contains(a.Elements, ElementAddress) && !slices.Contains(a.Elements, ElementSSN) {
		a.Elements = append(a.Elements, ElementSSN)
	}
	if bd, err := time.Parse(time.DateOnly, p.BirthDate); err == nil {
		now := time.Now()
		if sc.Now != nil {
			now = sc.Now()
		}
		a.Minor = bd.AddDate(18, 0, 0).After(now)
	}
}
