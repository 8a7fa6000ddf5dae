package demo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

// collect runs the whole stream of l into memory.
func collect(t testing.TB, l *Lab) []labtrust.Event {
	t.Helper()
	evs := make([]labtrust.Event, 0, l.Config().Events)
	if err := l.Stream(context.Background(), func(ev labtrust.Event) error {
		evs = append(evs, ev)
		return nil
	}, nil); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	return evs
}

var defaultOnce = sync.OnceValues(func() (*Lab, []labtrust.Event) {
	l := NewLab(Config{})
	var evs []labtrust.Event
	err := l.Stream(context.Background(), func(ev labtrust.Event) error {
		evs = append(evs, ev)
		return nil
	}, nil)
	if err != nil {
		panic(err)
	}
	return l, evs
})

// streamHash hashes the canonical bytes of every event, in order.
func streamHash(t testing.TB, l *Lab) ([32]byte, int64) {
	t.Helper()
	h, n, err := hashStream(l)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	return h, n
}

func hashStream(l *Lab) ([32]byte, int64, error) {
	h := sha256.New()
	var n int64
	var lenBuf [8]byte
	err := l.Stream(context.Background(), func(ev labtrust.Event) error {
		en := labtrust.Entry{Index: uint64(n), Event: ev}
		b, err := en.MarshalCanonical()
		if err != nil {
			return err
		}
		binary.BigEndian.PutUint64(lenBuf[:], uint64(len(b)))
		h.Write(lenBuf[:])
		h.Write(b)
		n++
		return nil
	}, nil)
	var out [32]byte
	h.Sum(out[:0])
	return out, n, err
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 42, Patients: 3000, Events: 20000, Days: 10}
	a, na := streamHash(t, NewLab(cfg))
	b, nb := streamHash(t, NewLab(cfg))
	if a != b || na != nb {
		t.Fatalf("same config gave different streams: %x (%d) vs %x (%d)", a, na, b, nb)
	}
	// A second Stream on the same Lab replays the same events.
	l := NewLab(cfg)
	c1, _ := streamHash(t, l)
	c2, _ := streamHash(t, l)
	if c1 != a || c2 != a {
		t.Fatalf("replaying a lab changed the stream")
	}
	// Concurrent streams of one lab do not disturb each other.
	var wg sync.WaitGroup
	hashes := make([][32]byte, 3)
	errs := make([]error, 3)
	for i := range hashes {
		wg.Go(func() { hashes[i], _, errs[i] = hashStream(l) })
	}
	wg.Wait()
	for i, h := range hashes {
		if errs[i] != nil || h != a {
			t.Fatalf("concurrent stream %d differs (%v)", i, errs[i])
		}
	}
	cfg.Seed = 43
	d, _ := streamHash(t, NewLab(cfg))
	if d == a {
		t.Fatalf("different seeds gave the same stream")
	}
	if NewLab(cfg).Patient(17) == NewLab(Config{Seed: 42, Patients: 3000}).Patient(17) {
		t.Fatalf("different seeds gave the same patient")
	}
}

// checkStream asserts the invariants every stream must hold and returns the
// events by SourceRef.
func checkStream(t *testing.T, l *Lab, evs []labtrust.Event) map[string]*labtrust.Event {
	t.Helper()
	cfg := l.Config()
	if int64(len(evs)) != cfg.Events {
		t.Fatalf("got %d events, want exactly %d", len(evs), cfg.Events)
	}
	byRef := make(map[string]*labtrust.Event, len(evs))
	for i := range evs {
		ev := &evs[i]
		if err := ev.Validate(); err != nil {
			t.Fatalf("event %d invalid: %v", i, err)
		}
		if i > 0 && ev.Time.Before(evs[i-1].Time) {
			t.Fatalf("event %d at %v is before event %d at %v", i, ev.Time, i-1, evs[i-1].Time)
		}
		if ev.Time.Location() != time.UTC {
			t.Fatalf("event %d time is not UTC", i)
		}
		if !strings.HasPrefix(ev.SourceRef, "ev-") || len(ev.SourceRef) != 19 {
			t.Fatalf("event %d source ref %q", i, ev.SourceRef)
		}
		if byRef[ev.SourceRef] != nil {
			t.Fatalf("event %d repeats source ref %s", i, ev.SourceRef)
		}
		byRef[ev.SourceRef] = ev
		if ev.Actor.UserType != "person" {
			t.Fatalf("event %d actor type %q", i, ev.Actor.UserType)
		}
		for _, p := range ev.Patients {
			if p.System != MRNSystem {
				t.Fatalf("event %d patient system %q", i, p.System)
			}
			if _, err := l.PatientIndex(p.ID); err != nil {
				t.Fatalf("event %d names unknown patient: %v", i, err)
			}
		}
		if ev.Kind == labtrust.KindAccess && (ev.Type.Code == "" || len(ev.Subtype) != 1 || len(ev.Purpose) != 1) {
			t.Fatalf("event %d lacks type, subtype or purpose", i)
		}
		en := labtrust.Entry{Index: uint64(i), Event: *ev}
		if _, err := en.MarshalCanonical(); err != nil {
			t.Fatalf("event %d: canonical: %v", i, err)
		}
	}
	return byRef
}

func TestStreamDefault(t *testing.T) {
	l, evs := defaultOnce()
	checkStream(t, l, evs)
	cfg := l.Config()
	if first, last := evs[0].Time, evs[len(evs)-1].Time; first.Before(cfg.Start) || !last.Before(cfg.End()) {
		t.Fatalf("events span %v..%v, outside the period %v..%v", first, last, cfg.Start, cfg.End())
	}
	// The stream fills the period: it stops less than a day before its end.
	if gap := cfg.End().Sub(evs[len(evs)-1].Time); gap > 24*time.Hour {
		t.Fatalf("stream ends %v before the end of the period", gap)
	}
	kinds := map[labtrust.Kind]int{}
	sources := map[string]int{}
	actions := map[labtrust.Action]int{}
	failed := 0
	for _, ev := range evs {
		kinds[ev.Kind]++
		sources[ev.Source]++
		actions[ev.Action]++
		if ev.Kind == labtrust.KindSecurity && ev.Outcome != labtrust.OutcomeSuccess {
			failed++
		}
	}
	t.Logf("kinds %v sources %v actions %v failed logins %d", kinds, sources, actions, failed)
	if kinds[labtrust.KindAccess] < len(evs)*9/10 || kinds[labtrust.KindSecurity] == 0 {
		t.Errorf("unexpected kind mix %v", kinds)
	}
	for _, s := range []string{"lis", "ehr", "portal"} {
		if sources[s] == 0 {
			t.Errorf("no events from source %s", s)
		}
	}
	for _, a := range []labtrust.Action{labtrust.ActionCreate, labtrust.ActionRead, labtrust.ActionExecute} {
		if actions[a] == 0 {
			t.Errorf("no events with action %s", a)
		}
	}
	if failed < 60 {
		t.Errorf("only %d failed logins", failed)
	}
}

func anomalousRefs(m Manifest) map[string]*Anomaly {
	out := map[string]*Anomaly{}
	for i := range m.Anomalies {
		for _, r := range m.Anomalies[i].SourceRefs {
			out[r] = &m.Anomalies[i]
		}
	}
	return out
}

func staffIndex(t *testing.T, l *Lab, id string) int {
	t.Helper()
	s, err := l.StaffByID(id)
	if err != nil {
		t.Fatalf("actor %q is not a staff member: %v", id, err)
	}
	return s.Index
}

func TestShiftAdherence(t *testing.T) {
	l, evs := defaultOnce()
	anom := anomalousRefs(l.Manifest())
	in, total := 0, 0
	byRole := map[string][2]int{}
	for _, ev := range evs {
		if ev.Kind != labtrust.KindAccess || anom[ev.SourceRef] != nil {
			continue
		}
		k := staffIndex(t, l, ev.Actor.ID)
		total++
		r := byRole[ev.Actor.Role]
		r[1]++
		if l.OnShift(k, ev.Time) {
			in++
			r[0]++
		}
		byRole[ev.Actor.Role] = r
	}
	share := float64(in) / float64(total)
	t.Logf("%d of %d access events inside the actor's shift (%.2f%%); by role %v", in, total, 100*share, byRole)
	if share < 0.9 {
		t.Fatalf("only %.1f%% of access events inside the actor's shift", 100*share)
	}
	// Hours of the day: the front desk works days, the bench works nights too.
	var night, day int
	for _, ev := range evs {
		h := ev.Time.Add(LabZoneOffset).Hour()
		if ev.Kind != labtrust.KindAccess || ev.Actor.Role != string(RoleFrontDesk) || anom[ev.SourceRef] != nil {
			continue
		}
		if h < 6 || h >= 20 {
			night++
		} else {
			day++
		}
	}
	if night != 0 || day == 0 {
		t.Errorf("front desk: %d events at night, %d by day", night, day)
	}
}

func TestManifestMatchesStream(t *testing.T) {
	l, evs := defaultOnce()
	byRef := checkStream(t, l, evs)
	m := l.Manifest()
	kinds := map[string]bool{}
	for _, a := range m.Anomalies {
		kinds[a.Kind] = true
		if len(a.SourceRefs) == 0 || len(a.Actors) == 0 || a.Description == "" {
			t.Errorf("%s: incomplete %+v", a.ID, a)
		}
		mrns := map[string]bool{}
		for _, r := range a.SourceRefs {
			ev := byRef[r]
			if ev == nil {
				t.Fatalf("%s: source ref %s not in stream", a.ID, r)
			}
			if !slices.Contains(a.Actors, ev.Actor.ID) {
				t.Errorf("%s: event %s actor %s not among %v", a.ID, r, ev.Actor.ID, a.Actors)
			}
			if ev.Time.Before(a.From) || ev.Time.After(a.To) {
				t.Errorf("%s: event %s at %v outside %v..%v", a.ID, r, ev.Time, a.From, a.To)
			}
			if a.Network != "" && ev.Network != a.Network && ev.Kind == labtrust.KindSecurity {
				t.Errorf("%s: event %s network %s, want %s", a.ID, r, ev.Network, a.Network)
			}
			for _, p := range ev.Patients {
				mrns[p.ID] = true
				if !slices.Contains(a.MRNs, p.ID) {
					t.Errorf("%s: event %s names %s, not in the manifest", a.ID, r, p.ID)
				}
			}
		}
		if len(mrns) != len(a.MRNs) {
			t.Errorf("%s: manifest lists %d MRNs, events name %d", a.ID, len(a.MRNs), len(mrns))
		}
	}
	for _, k := range []string{KindCoworkerRecord, KindAfterHoursExport, KindPasswordSpraying, KindVIPAccess,
		KindNoOrderAccess, KindBulkReadBurst, KindImpossibleTravel} {
		if !kinds[k] {
			t.Errorf("default lab lacks a %s anomaly", k)
		}
	}
	// Specific properties of the planted incidents.
	for _, a := range m.Anomalies {
		switch a.Kind {
		case KindBulkReadBurst:
			if len(a.MRNs) < 200 || a.To.Sub(a.From) > time.Hour {
				t.Errorf("burst: %d records in %v", len(a.MRNs), a.To.Sub(a.From))
			}
		case KindAfterHoursExport:
			k := staffIndex(t, l, a.Actors[0])
			for _, r := range a.SourceRefs {
				if l.OnShift(k, byRef[r].Time) {
					t.Errorf("export event %s is inside the actor's shift", r)
				}
			}
		case KindPasswordSpraying:
			for _, r := range a.SourceRefs {
				if ev := byRef[r]; ev.Outcome == labtrust.OutcomeSuccess || ev.Kind != labtrust.KindSecurity {
					t.Errorf("spraying event %s succeeded or is not a security event", r)
				}
			}
		case KindCoworkerRecord:
			p, err := l.PatientIndex(a.MRNs[0])
			if err != nil || l.Patient(p).StaffID == "" || l.Patient(p).StaffID == a.Actors[0] {
				t.Errorf("coworker record: patient %s is not another staff member", a.MRNs[0])
			}
		case KindNoOrderAccess:
			for _, mrn := range a.MRNs {
				p, _ := l.PatientIndex(mrn)
				if pt := l.Patient(p); !pt.Dormant && !pt.Deceased {
					t.Errorf("no-order access names a patient who can have orders")
				}
			}
		case KindVIPAccess:
			p, _ := l.PatientIndex(a.MRNs[0])
			if !l.Patient(p).VIP {
				t.Errorf("VIP anomaly names a patient who is not VIP")
			}
		}
	}
	// Nothing outside the manifest lacks an order.
	anom := anomalousRefs(m)
	for _, ev := range evs {
		if ev.Kind == labtrust.KindAccess && anom[ev.SourceRef] == nil && orderOf(ev) == "" {
			t.Fatalf("background access event %s has no order", ev.SourceRef)
		}
	}
}

func orderOf(ev labtrust.Event) string {
	for _, o := range ev.Objects {
		if o.Type == "ServiceRequest" {
			return o.ID
		}
	}
	return ""
}

func TestOrdersExplainAccess(t *testing.T) {
	l, evs := defaultOnce()
	anom := anomalousRefs(l.Manifest())
	seen := map[string]bool{}
	checked := 0
	for _, ev := range evs {
		if ev.Kind != labtrust.KindAccess || anom[ev.SourceRef] != nil {
			continue
		}
		id := orderOf(ev)
		i, err := l.OrderIndex(id)
		if err != nil {
			t.Fatalf("event %s: order %s: %v", ev.SourceRef, id, err)
		}
		o, err := l.Order(i)
		if err != nil {
			t.Fatal(err)
		}
		if o.ID != id || o.MRN != ev.Patients[0].ID {
			t.Fatalf("event %s: order %s is for another patient", ev.SourceRef, id)
		}
		var step *Step
		for k := range o.Steps {
			if o.Steps[k].SourceRef == ev.SourceRef {
				step = &o.Steps[k]
			}
		}
		if step == nil || step.Actor != ev.Actor.ID || !step.Time.Equal(ev.Time) || string(step.Role) != ev.Actor.Role {
			t.Fatalf("event %s is not a step of order %s: %+v", ev.SourceRef, id, o.Steps)
		}
		if ev.Actor.Site != l.Sites()[o.Site].ID && l.Config().Sites > 1 {
			t.Fatalf("event %s: actor from site %s handles an order of site %d", ev.SourceRef, ev.Actor.Site, o.Site)
		}
		if !seen[id] {
			seen[id] = true
			checked++
			if o.Created.After(o.Steps[0].Time) || len(o.Tests) == 0 || len(o.Specimens) == 0 {
				t.Fatalf("order %s malformed: %+v", id, o)
			}
			for k := 1; k < len(o.Steps); k++ {
				if o.Steps[k].Time.Before(o.Steps[k-1].Time) {
					t.Fatalf("order %s steps out of order", id)
				}
			}
			if p, _ := l.PatientIndex(o.MRN); l.Patient(p).Dormant || l.Patient(p).Deceased {
				t.Fatalf("order %s is for a dormant or deceased patient", id)
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d orders seen", checked)
	}
	if _, err := l.Order(-1); !errors.Is(err, labtrust.ErrNotFound) {
		t.Errorf("Order(-1): %v", err)
	}
	if _, err := l.OrderIndex("XYZ"); !errors.Is(err, labtrust.ErrNotFound) {
		t.Errorf("OrderIndex(XYZ): %v", err)
	}
	// Workflow order within one order: create < collect < result < review.
	o, _ := l.Order(100)
	pos := map[string]int{}
	for k, s := range o.Steps {
		pos[s.Name] = k
	}
	if !(pos["search"] < pos["create"] && pos["create"] < pos["collect"] && pos["collect"] < pos["result"]) {
		t.Errorf("order 100 workflow out of sequence: %+v", o.Steps)
	}
}

func TestStaffAndSites(t *testing.T) {
	l := NewLab(Config{})
	staff := l.Staff()
	if len(staff) != 50 || len(l.Sites()) != 3 {
		t.Fatalf("%d staff, %d sites", len(staff), len(l.Sites()))
	}
	roles := map[Role]int{}
	night := false
	patients := 0
	for i, s := range staff {
		if s.Index != i || s.ID != fmt.Sprintf("u%04d", i+1) || s.Name == "" || len(s.Schedule) == 0 {
			t.Fatalf("staff %d malformed: %+v", i, s)
		}
		roles[s.Role]++
		for _, sh := range s.Schedule {
			if sh.Start+sh.Hours > 24 {
				night = true
			}
		}
		if s.MRN != "" {
			patients++
			p := l.Patient(s.Patient)
			if p.MRN != s.MRN || p.StaffID != s.ID || p.Given+" "+p.Family != s.Name || p.Minor {
				t.Fatalf("staff %s and patient %s disagree", s.ID, s.MRN)
			}
		}
		if got, err := l.StaffByID(s.ID); err != nil || got.Index != i {
			t.Fatalf("StaffByID(%s): %v", s.ID, err)
		}
	}
	if len(roles) != numRoles || !night || patients == 0 {
		t.Fatalf("roles %v, night shifts %v, staff who are patients %d", roles, night, patients)
	}
	if _, err := l.StaffByID("u9999"); !errors.Is(err, labtrust.ErrNotFound) {
		t.Errorf("StaffByID(u9999): %v", err)
	}
	// The minimum lab still has every role.
	small := NewLab(Config{Patients: 100, Staff: 1, Sites: 9})
	roles = map[Role]int{}
	for _, s := range small.Staff() {
		roles[s.Role]++
	}
	if len(small.Staff()) != MinStaff || len(roles) != numRoles {
		t.Fatalf("minimum lab: %d staff, roles %v", len(small.Staff()), roles)
	}
}

func TestPatients(t *testing.T) {
	l := NewLab(Config{Patients: 20000})
	siteStates := map[string]bool{}
	for _, s := range l.Sites() {
		siteStates[s.State] = true
	}
	var nonASCII, minors, deceased, vip, dormant, es, inSiteStates int
	for i := range 20000 {
		p := l.Patient(i)
		if p != l.Patient(i) && p.Guardian == nil {
			t.Fatalf("patient %d not deterministic", i)
		}
		if p.MRN != MRN(i) || p.Index != i {
			t.Fatalf("patient %d: MRN %s", i, p.MRN)
		}
		if j, err := l.PatientIndex(p.MRN); err != nil || j != i {
			t.Fatalf("PatientIndex(%s) = %d, %v", p.MRN, j, err)
		}
		for _, s := range []string{p.Given, p.Family, p.Address.Line, p.Address.City, p.Email, p.Phone} {
			if s == "" || !utf8.ValidString(s) {
				t.Fatalf("patient %d has an empty or invalid field", i)
			}
		}
		if !strings.HasSuffix(p.Email, "example.com") && !strings.HasSuffix(p.Email, "example.org") &&
			!strings.HasSuffix(p.Email, "example.net") {
			t.Fatalf("patient %d e-mail outside the reserved domains", i)
		}
		if !strings.Contains(p.Phone, ") 555-") {
			t.Fatalf("patient %d phone is not a 555 number", i)
		}
		if len(p.Given+p.Family) != utf8.RuneCountInString(p.Given+p.Family) {
			nonASCII++
		}
		if p.Minor {
			minors++
			if p.Guardian == nil || p.Guardian.Name == "" {
				t.Fatalf("minor %d without guardian", i)
			}
		}
		if p.Deceased {
			deceased++
			if p.DeceasedDate == "" || p.DeceasedDate <= p.BirthDate || p.DeceasedDate >= "2026-10-01" {
				t.Fatalf("patient %d deceased %s born %s", i, p.DeceasedDate, p.BirthDate)
			}
		}
		if p.VIP {
			vip++
		}
		if p.Dormant {
			dormant++
		}
		if p.Language == "es" {
			es++
		}
		if siteStates[p.Address.State] {
			inSiteStates++
		}
	}
	t.Logf("non-ASCII %d minors %d deceased %d vip %d dormant %d es %d in site states %d",
		nonASCII, minors, deceased, vip, dormant, es, inSiteStates)
	if nonASCII < 2000 || minors < 1500 || deceased < 40 || vip < 10 || dormant < 200 || es < 2000 ||
		inSiteStates < 16000 {
		t.Fatalf("implausible patient mix")
	}
	if _, err := l.PatientIndex("MRN99999999"); !errors.Is(err, labtrust.ErrNotFound) {
		t.Errorf("PatientIndex beyond the lab: %v", err)
	}
}

func TestSmallConfigs(t *testing.T) {
	for _, cfg := range []Config{
		{Events: 1},
		{Events: 7, Patients: 1, Staff: 12, Sites: 1},
		{Events: 1999, Days: 1},
		{Events: 3000, Patients: 150, Days: 2, Seed: 9},
		{Events: 5000, Sites: 9, Staff: 40, Days: 3, Start: time.Date(2027, 2, 27, 13, 17, 5, 123456789, time.UTC)},
		{Events: 20000, Days: 1, Patients: 300},
		{Events: 4000, Days: 60, Patients: 500},
	} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			l := NewLab(cfg)
			evs := collect(t, l)
			byRef := checkStream(t, l, evs)
			for _, a := range l.Manifest().Anomalies {
				for _, r := range a.SourceRefs {
					if byRef[r] == nil {
						t.Fatalf("%s: %s missing", a.ID, r)
					}
				}
			}
			if evs[0].Time.Before(l.Config().Start) {
				t.Fatalf("first event before the start")
			}
		})
	}
}

func TestManifestIndependentOfLength(t *testing.T) {
	// The anomalies are planted whether the period is full or not.
	a := NewLab(Config{Events: 50000}).Manifest()
	b := NewLab(Config{Events: 60000}).Manifest()
	if len(a.Anomalies) != len(b.Anomalies) {
		t.Fatalf("%d vs %d anomalies", len(a.Anomalies), len(b.Anomalies))
	}
	for i := range a.Anomalies {
		if a.Anomalies[i].Kind != b.Anomalies[i].Kind || a.Anomalies[i].ID != b.Anomalies[i].ID {
			t.Fatalf("anomaly %d differs", i)
		}
	}
	if len(NewLab(Config{Events: 1000}).Manifest().Anomalies) != 0 {
		t.Fatalf("a 1000-event lab has anomalies")
	}
}

func TestLargeLabIsCheap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	l := NewLab(Config{Patients: 1_000_000, Events: 100_000_000})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("NewLab(1M patients, 100M events): %v, %d MB allocated, %d staff", took, alloc>>20, len(l.Staff()))
	// Staff and per-hour tables only: a per-patient allocation would be
	// at least 1M objects.
	if alloc > 64<<20 || after.Mallocs-before.Mallocs > 500_000 {
		t.Fatalf("NewLab allocated %d bytes in %d objects", alloc, after.Mallocs-before.Mallocs)
	}
	if took > 5*time.Second {
		t.Fatalf("NewLab took %v", took)
	}
	if p := l.Patient(999_999); p.MRN != "MRN01000000" {
		t.Fatalf("last patient MRN %s", p.MRN)
	}

	// Streaming does not accumulate: the live heap after 300k events of a
	// 100M-event stream is small.
	stop := errors.New("stop")
	n := 0
	var base, mid runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	err := l.Stream(context.Background(), func(ev labtrust.Event) error {
		n++
		if n == 300_000 {
			runtime.GC()
			runtime.ReadMemStats(&mid)
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) {
		t.Fatalf("Stream: %v", err)
	}
	grown := int64(mid.HeapAlloc) - int64(base.HeapAlloc)
	t.Logf("live heap grew by %d KB over 300k events", grown>>10)
	if grown > 16<<20 {
		t.Fatalf("live heap grew by %d MB while streaming", grown>>20)
	}
}

func TestContextAndProgress(t *testing.T) {
	l := NewLab(Config{Events: 200_000})
	var calls []int64
	err := l.Stream(context.Background(), func(labtrust.Event) error { return nil }, func(done, total int64) {
		if total != 200_000 {
			t.Errorf("progress total %d", total)
		}
		calls = append(calls, done)
	})
	if err != nil || len(calls) < 3 || calls[len(calls)-1] != 200_000 || !slices.IsSorted(calls) {
		t.Fatalf("err %v, progress calls %v", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = l.Stream(ctx, func(labtrust.Event) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	}, nil)
	if !errors.Is(err, context.Canceled) || n > 10000 {
		t.Fatalf("after cancel: %v after %d events", err, n)
	}
}
