package breach

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	ics "github.com/arran4/golang-ical"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/ledger"
	"golang.org/x/mod/sumdb/note"
)

func TestObjectElements(t *testing.T) {
	dcmExport := labtrust.Code{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110106", Display: "Export"}
	for _, c := range []struct {
		name string
		ev   labtrust.Event
		want []Element
		not  []Element
	}{
		{"a read of a report", labtrust.Event{Action: labtrust.ActionRead, Objects: []labtrust.Object{{Type: "DiagnosticReport"}}},
			[]Element{ElementName, ElementMRN, ElementResults}, []Element{ElementAddress, ElementOrders}},
		{"an order carries its diagnosis", labtrust.Event{Action: labtrust.ActionRead, Objects: []labtrust.Object{{Type: "ServiceRequest"}}},
			[]Element{ElementOrders, ElementDiagnoses}, []Element{ElementResults}},
		{"a bulk export of patients and reports", labtrust.Event{Type: dcmExport, Action: labtrust.ActionRead,
			Objects: []labtrust.Object{{Type: "Query", Query: "Patient/$export?_type=Patient,DiagnosticReport&_count=25"}}},
			[]Element{ElementAddress, ElementDOB, ElementResults}, []Element{ElementHealthInsurance, ElementOrders}},
		{"an export naming nothing exposes everything", labtrust.Event{Type: dcmExport},
			[]Element{ElementAddress, ElementResults, ElementOrders, ElementDiagnoses, ElementHealthInsurance}, nil},
		{"an execute without objects exposes everything", labtrust.Event{Action: labtrust.ActionExecute},
			[]Element{ElementResults, ElementHealthInsurance}, nil},
		{"insurance", labtrust.Event{Objects: []labtrust.Object{{Type: "Coverage"}}}, []Element{ElementHealthInsurance}, []Element{ElementResults}},
	} {
		got := ObjectElements(&c.ev)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %v lacks %s", c.name, got, w)
			}
		}
		for _, n := range c.not {
			if slices.Contains(got, n) {
				t.Errorf("%s: %v has %s", c.name, got, n)
			}
		}
	}
}

// TestHIPAAObligations checks the federal rules the engine applies
// beyond the state files: media notice above 500 residents of a state,
// HHS at once from 500, substitute notice by web posting from 10 without
// contact, a business associate's notice to the covered entity, and an
// oral law-enforcement delay capped at 30 days.
func TestHIPAAObligations(t *testing.T) {
	laws, err := BuiltinLaws()
	if err != nil {
		t.Fatal(err)
	}
	d := mustDate("2026-03-02")
	var ps []Affected
	for range 501 {
		ps = append(ps, Affected{State: "TX", Elements: []Element{ElementName, ElementResults}, HasAddress: true})
	}
	for range 12 {
		ps = append(ps, Affected{State: "CA", Elements: []Element{ElementName, ElementResults}})
	}
	obs := Obligations(Situation{Discovered: d, Entity: EntityCoveredEntity, Patients: ps}, laws)
	by := map[string]Obligation{}
	for _, o := range obs {
		by[o.Key] = o
	}
	if o := by["hipaa/media/TX"]; o.Count != 501 || o.Citation != "45 CFR 164.406" || !o.Due.Equal(d.AddDate(0, 0, 60)) {
		t.Errorf("media notice (164.406): %+v", o)
	}
	if _, ok := by["hipaa/media/CA"]; ok {
		t.Error("media notice for 12 Californians")
	}
	if o := by["hipaa/hhs"]; o.Citation != "45 CFR 164.408(b)" || !o.Due.Equal(d.AddDate(0, 0, 60)) {
		t.Errorf("HHS at once for 513 (164.408(b)): %+v", o)
	}
	if o := by["hipaa/substitute"]; o.Count != 12 || o.Citation != "45 CFR 164.404(d)(2)(ii)" {
		t.Errorf("substitute notice (164.404(d)(2)(ii)): %+v", o)
	}
	// Calendar: grouped by due date, owed only.
	if cal := Calendar(obs); len(cal) == 0 || cal[0][0].Due.After(cal[len(cal)-1][0].Due) {
		t.Errorf("calendar %v", cal)
	}
	ba := Obligations(Situation{Discovered: d, Entity: EntityBusinessAssociate, CoveredEntityName: "Valley Clinic", Patients: ps[:3]}, laws)
	if ba[0].Key != "hipaa/covered-entity" || ba[0].Party != "Valley Clinic" || ba[0].Citation != "45 CFR 164.410" {
		t.Errorf("business associate (164.410): %+v", ba[0])
	}
	for _, o := range ba {
		if o.Key == "hipaa/individuals" || o.Key == "hipaa/hhs" {
			t.Errorf("a business associate owes %s itself", o.Key)
		}
	}
	oral := &Delay{Agency: "FBI", Oral: true, From: d.AddDate(0, 0, 50)}
	if !oral.End().Equal(d.AddDate(0, 0, 80)) {
		t.Errorf("oral delay ends %v, want 30 days after the statement (164.412(b))", oral.End())
	}
	del := Obligations(Situation{Discovered: d, Entity: EntityCoveredEntity, Patients: ps[:3], Delay: oral}, laws)
	for _, o := range del {
		if o.Key == "hipaa/individuals" && (!o.Due.Equal(oral.End()) || !o.Delayed) {
			t.Errorf("delayed individual notice %+v", o)
		}
	}
}

func TestAssessmentDecide(t *testing.T) {
	all := func(r Rating) Assessment {
		a := Assessment{By: "priya", Ratings: map[string]Rating{}, Rationale: map[string]string{}}
		for _, f := range Factors {
			a.Ratings[f.Key], a.Rationale[f.Key] = r, "because"
		}
		return a
	}
	a := all(RatingLow)
	if err := a.Decide(); err != nil || a.Outcome.Breach {
		t.Fatalf("all low: %v %+v", err, a.Outcome)
	}
	a = all(RatingLow)
	a.Ransomware = true
	if a.Decide(); !a.Outcome.Breach || a.Outcome.Probability != "presumed" {
		t.Fatalf("ransomware without evidence must stay a breach: %+v", a.Outcome)
	}
	a.Evidence = []int64{1}
	if a.Decide(); a.Outcome.Breach {
		t.Fatalf("ransomware rebutted with forensic evidence: %+v", a.Outcome)
	}
	a = all(RatingLow)
	a.Ratings["acquired"] = RatingMedium
	if a.Decide(); !a.Outcome.Breach {
		t.Fatal("one factor not low must leave the presumption standing")
	}
	a = all(RatingHigh)
	delete(a.Rationale, "nature")
	if err := a.Decide(); err == nil {
		t.Fatal("a rating without its rationale was accepted")
	}
	a = Assessment{By: "priya", Secured: true}
	if err := a.Decide(); err != nil || a.Outcome.Breach {
		t.Fatalf("secured PHI: %v %+v", err, a.Outcome)
	}
	a = Assessment{By: "priya", Exception: "good-faith-workforce"}
	if err := a.Decide(); err != nil || a.Outcome.Breach || a.Outcome.Citation != "45 CFR 164.402(1)(i)" {
		t.Fatalf("exception: %v %+v", err, a.Outcome)
	}
}

// TestICS reads the deadline calendar back with the same library: one
// event per owed, dated obligation, on its due date, without PHI.
func TestICS(t *testing.T) {
	d := mustDate("2026-03-02")
	obs := []Obligation{
		{Key: "hipaa/individuals", Jurisdiction: "US", Party: "affected individuals", Count: 3, Status: StatusOwed, Due: d.AddDate(0, 0, 60), Citation: "45 CFR 164.404(b)"},
		{Key: "state/TX/regulator", Jurisdiction: "TX", Party: "Texas Attorney General", Count: 3, Status: StatusOwed, Due: d.AddDate(0, 0, 30), Citation: "x"},
		{Key: "state/AZ/individuals-hipaa", Status: StatusDeemed},
		{Key: "state/NY/individuals", Status: StatusOwed}, // no fixed date
	}
	b := ICS(7, obs, d)
	cal, err := ics.ParseCalendar(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	evs := cal.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	start, err := evs[1].GetAllDayStartAt()
	if err != nil || !start.Equal(d.AddDate(0, 0, 30)) || evs[1].Id() != "incident-7-state-TX-regulator@labtrust" {
		t.Fatalf("event %s at %v %v", evs[1].Id(), start, err)
	}
	if len(evs[0].Alarms()) != 2 {
		t.Fatal("no reminders")
	}
}

// TestObligationsFromGroups: the obligations computed from a scope's
// groups (what an incident keeps) equal those from its people, over
// random scopes around the thresholds, for every kind of entity.
func TestObligationsFromGroups(t *testing.T) {
	laws, err := BuiltinLaws()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	states := []string{"TX", "CA", "NY", "FL", "MA", "OK", "LA", ""}
	sets := [][]Element{{ElementName}, {ElementName, ElementResults}, {ElementName, ElementSSN, ElementAddress}, {ElementHealthInsurance, ElementName}, {ElementDOB, ElementName, ElementDiagnoses}}
	media := 0
	for round := range 40 {
		sc := &Scope{}
		for range 200 + rng.IntN(1500) {
			st := states[rng.IntN(len(states))]
			if round%3 == 0 { // over 500 residents of a state: media notice
				st = states[rng.IntN(2)]
			}
			sc.Patients = append(sc.Patients, Affected{State: st, Elements: sets[rng.IntN(len(sets))],
				HasAddress: rng.IntN(10) > 0, HasEmail: rng.IntN(3) == 0, Registered: rng.IntN(20) > 0})
		}
		groups := sc.Groups()
		n := 0
		for _, g := range groups {
			n += g.Count
		}
		if n != len(sc.Patients) || (len(sc.Patients) > 50 && len(groups) >= len(sc.Patients)) {
			t.Fatalf("round %d: %d groups for %d people (counting %d)", round, len(groups), len(sc.Patients), n)
		}
		for _, sit := range []Situation{
			{Discovered: mustDate("2026-03-02"), Entity: EntityCoveredEntity},
			{Discovered: mustDate("2026-03-02"), Entity: EntityBusinessAssociate, CoveredEntityName: "Valley Clinic", Assessed: true, NoticeOwed: true},
			{Discovered: mustDate("2026-03-02"), Entity: EntityCoveredEntity, Assessed: true, Unreachable: 7},
			{Discovered: mustDate("2026-03-02"), Entity: EntityOther},
		} {
			sit.Patients = sc.Patients
			want := Obligations(sit, laws)
			sit.Patients = groups
			got := Obligations(sit, laws)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, entity %s: groups give\n%+v\npeople give\n%+v", round, sit.Entity, got, want)
			}
			for _, o := range got {
				if strings.HasPrefix(o.Key, "hipaa/media/") {
					media++
				}
			}
		}
	}
	if media == 0 {
		t.Fatal("no round reached the media-notice threshold")
	}
}

// TestManifestBytes: the manifest assembled a person at a time is byte for
// byte what json.Marshal gives for the whole Manifest, and verifies.
func TestManifestBytes(t *testing.T) {
	skey, _, _ := ledger.NewKey("lab.example/log")
	signer, _ := note.NewSigner(skey)
	s := &Scope{Incident: 7, TreeSize: 0, Checkpoint: "", Computed: mustDate("2026-03-02"),
		Indicators: []Indicator{{Kind: IndicatorRecords, MRNs: []string{"A", "B"}, Elements: []Element{ElementName}}}}
	for i := range 3 {
		s.Patients = append(s.Patients, Affected{MRN: fmt.Sprint(i), Blind: []byte{byte(i), 1, 2}, State: "TX", Elements: []Element{ElementName, ElementResults}, Accesses: i})
	}
	b, err := SignManifest(s, signer)
	if err != nil {
		t.Fatal(err)
	}
	var sm signedManifest
	if err := json.Unmarshal(b, &sm); err != nil {
		t.Fatal(err)
	}
	m := Manifest{Format: ManifestFormat, Incident: 7, Computed: s.Computed, Summary: s.Summarize(),
		Indicators: []ManifestIndicator{{Kind: IndicatorRecords, Records: 2, Elements: []Element{ElementName}}}}
	for _, p := range s.Patients {
		m.Patients = append(m.Patients, ManifestPatient{Blind: hex.EncodeToString(p.Blind), State: p.State, Elements: p.Elements, Accesses: p.Accesses})
	}
	want, _ := json.Marshal(m)
	if !bytes.Equal(sm.Manifest, want) {
		t.Fatalf("manifest bytes:\n%s\nwant\n%s", sm.Manifest, want)
	}
	// An empty scope too.
	b, err = SignManifest(&Scope{Incident: 8}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sm); err != nil {
		t.Fatal(err)
	}
	want, _ = json.Marshal(Manifest{Format: ManifestFormat, Incident: 8, Patients: []ManifestPatient{}, Summary: (&Scope{}).Summarize()})
	if !bytes.Equal(sm.Manifest, want) {
		t.Fatalf("an empty scope's manifest:\n%s\nwant\n%s", sm.Manifest, want)
	}
}
