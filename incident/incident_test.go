package incident_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
	"golang.org/x/mod/sumdb/note"
)

type fixture struct {
	db     *store.DB
	keys   *vault.Keyring
	pipe   *ingest.Pipeline
	reg    *registry.Registry
	signer note.Signer
	vkey   note.Verifier
	dir    string
	rec    *recorder
	svc    *incident.Service
}

// recorder keeps the staff events and also submits them to the ledger.
type recorder struct {
	mu   sync.Mutex
	pipe *ingest.Pipeline
	evs  []labtrust.Event
}

func (r *recorder) Record(ctx context.Context, e labtrust.Event) error {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	_, err := r.pipe.Submit(ctx, []labtrust.Event{e})
	return err
}

func (r *recorder) find(code, ref string) []labtrust.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []labtrust.Event
	for _, e := range r.evs {
		if e.Type.Code == code && (ref == "" || e.SourceRef == ref) {
			out = append(out, e)
		}
	}
	return out
}

var t0 = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

func open(t *testing.T, dsn string) *fixture {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := vault.LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vault.Open(ctx, kek, db)
	if err != nil {
		t.Fatal(err)
	}
	skey, vk, _ := ledger.NewKey("lab.example/log")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vk)
	lg, err := ledger.Open(ctx, filepath.Join(dir, "ledger"), "lab.example/log", signer)
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := ingest.New(ctx, ingest.Config{CheckpointInterval: 10 * time.Millisecond}, db, lg, keys)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pipe.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done; lg.Close(); db.Close() })
	rec := &recorder{pipe: pipe}
	now := t0.Add(10 * 24 * time.Hour)
	svc, err := incident.New(db, keys, rec, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, keys: keys, pipe: pipe, reg: registry.New(db, keys), signer: signer, vkey: verifier, dir: dir, rec: rec, svc: svc}
}

func access(at time.Time, actor, addr, mrn string, outcome labtrust.Outcome, objType string) labtrust.Event {
	return labtrust.Event{Time: at, Source: "lis", Kind: labtrust.KindAccess, Action: labtrust.ActionRead, Outcome: outcome,
		Actor: labtrust.Actor{ID: actor}, Network: addr, Patients: []labtrust.PatientRef{{ID: mrn}},
		Objects: []labtrust.Object{{Type: objType, ID: objType + "/1"}}}
}

func patient(mrn, state string, ssn string, email bool) labtrust.PatientRecord {
	p := labtrust.Patient{ID: labtrust.PatientRef{ID: mrn}, Name: labtrust.HumanName{Family: "Doe" + mrn, Given: []string{"Pat"}},
		BirthDate: "1970-01-01", SSN: ssn}
	if state != "" {
		p.Addresses = []labtrust.Address{{Lines: []string{"1 Main St"}, City: "Town", State: state, PostalCode: "00001"}}
	}
	if email {
		p.Emails = []string{mrn + "@example.org"}
	}
	return labtrust.PatientRecord{Source: "adt", Time: t0, Patient: p}
}

// waitCheckpoint returns a signed checkpoint covering at least n entries.
func waitCheckpoint(t *testing.T, f *fixture, n uint64) []byte {
	t.Helper()
	for range 500 {
		if cp := f.pipe.LatestCheckpoint(); cp != nil {
			text, _, _ := bytes.Cut(cp, []byte("\n\n"))
			c, err := ledger.ParseCheckpoint(append(text, '\n'))
			if err == nil && c.Size >= n {
				return cp
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no checkpoint")
	return nil
}

func TestIncidentLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		in, err := f.svc.Create(ctx, "priya", incident.NewIncident{Title: "Ransomware on the LIS server", Severity: "critical",
			Playbook: "insider", Alerts: []int64{7}, Discovered: t0.Add(9 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(in.Tasks) == 0 || in.Tasks[0].Due.IsZero() || in.Tasks[0].Role == "" || in.Status != incident.StatusOpen {
			t.Fatalf("playbook tasks: %+v", in.Tasks)
		}
		if _, err := f.svc.ApplyPlaybook(ctx, "priya", in.ID, "insider"); err == nil {
			t.Fatal("a playbook applied twice")
		}
		if _, err := f.svc.Create(ctx, "priya", incident.NewIncident{Title: "x", Discovered: t0.Add(30 * 24 * time.Hour)}); err == nil {
			t.Fatal("a discovery date in the future was accepted")
		}
		if _, err := f.svc.SetTask(ctx, "sam", in.ID, 1, true, "sam"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AddNote(ctx, "sam", in.ID, "Patient Jane Roe called the helpline"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetStatus(ctx, "sam", in.ID, incident.StatusClosed, ""); err == nil {
			t.Fatal("closed without lessons learned")
		}
		got, err := f.svc.SetStatus(ctx, "sam", in.ID, incident.StatusContained, "LIS isolated")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Tasks[0].Done || got.Tasks[0].DoneBy != "sam" || got.Tasks[0].Owner != "sam" || got.Status != incident.StatusContained {
			t.Fatalf("task or status not kept: %+v %s", got.Tasks[0], got.Status)
		}
		actions := []string{}
		for _, e := range got.Timeline {
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, ",") != "opened,playbook,task,note,status" {
			t.Fatalf("timeline %v", actions)
		}
		// Notes may hold PHI: the stored document is sealed.
		row, _ := f.db.GetIncident(ctx, in.ID)
		if bytes.Contains(row.Doc, []byte("Jane Roe")) || bytes.Contains(row.Doc, []byte("Ransomware")) {
			t.Fatal("incident document stored in clear")
		}
		// Every action is a staff event in the ledger, without the note.
		evs := f.rec.find("incident-note", "incident/1")
		if len(evs) != 1 || strings.Contains(evs[0].Subtype[0].Code, "Jane") {
			t.Fatalf("note events %+v", evs)
		}
		if len(f.rec.find("incident-open", "")) != 1 || len(f.rec.find("incident-status", "")) != 1 {
			t.Fatal("lifecycle actions not recorded")
		}
		// Concurrent edits both land.
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.svc.AddNote(ctx, "sam", in.ID, "note "+string(rune('a'+i))); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got, _ = f.svc.Get(ctx, in.ID)
		if n := len(got.Timeline); n != 9 {
			t.Fatalf("concurrent notes: timeline has %d entries, want 9", n)
		}
		list, err := f.svc.List(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("list %d %v", len(list), err)
		}
	})
}

func TestEvidenceCustody(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		in, err := f.svc.Create(ctx, "priya", incident.NewIncident{Title: "Lost laptop"})
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("disk image: MRN 123 Jane Roe")
		ev, err := f.svc.AddEvidence(ctx, "priya", in.ID, "laptop.img", "imaged by IT", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if ev.SHA256 != "6f8bd4fe1f2beb0b8ed6a2a3ef77bf7fc1d5ba0b0b8b1aa3b65db1e8bce9b2c5" && len(ev.SHA256) != 64 {
			t.Fatal(ev.SHA256)
		}
		row, _ := f.db.Evidence(ctx, ev.ID)
		if bytes.Contains(row.Body, []byte("Jane Roe")) {
			t.Fatal("evidence stored in clear")
		}
		if _, _, err := f.svc.OpenEvidence(ctx, "forensics", in.ID, ev.ID, ""); err == nil {
			t.Fatal("opened without a purpose")
		}
		got, b, err := f.svc.OpenEvidence(ctx, "forensics", in.ID, ev.ID, "timeline analysis")
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("open: %v", err)
		}
		if _, err := f.svc.TransferEvidence(ctx, "priya", in.ID, ev.ID, "FBI field office", "criminal investigation"); err != nil {
			t.Fatal(err)
		}
		in, _ = f.svc.Get(ctx, in.ID)
		c := in.Evidence[0].Custody
		if len(got.Custody) != 2 || len(c) != 3 || c[0].Action != "collected" || c[1].By != "forensics" || c[1].Purpose != "timeline analysis" || c[2].To != "FBI field office" {
			t.Fatalf("custody %+v", c)
		}
		ref := "incident/1/evidence/1"
		if len(f.rec.find("evidence-collected", ref)) != 1 || len(f.rec.find("evidence-accessed", ref)) != 1 || len(f.rec.find("evidence-transferred", ref)) != 1 {
			t.Fatal("custody not in the ledger")
		}
		if e := f.rec.find("evidence-collected", ref)[0]; e.Subtype[0].Code != "sha256 "+ev.SHA256 {
			t.Fatalf("custody event does not carry the hash: %+v", e.Subtype)
		}
		// Evidence of another incident is not reachable through this one.
		other, _ := f.svc.Create(ctx, "priya", incident.NewIncident{Title: "Other"})
		if _, _, err := f.svc.OpenEvidence(ctx, "x", other.ID, ev.ID, "look"); !errors.Is(err, labtrust.ErrNotFound) {
			t.Fatalf("cross-incident evidence: %v", err)
		}
		// Evidence swapped under it fails to open.
		if _, err := f.db.SQL().ExecContext(ctx, `UPDATE incident_evidence SET sha256 = `+hexLit(f.db, make([]byte, 32))+` WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.OpenEvidence(ctx, "x", in.ID, ev.ID, "look"); err == nil {
			t.Fatal("tampered evidence opened")
		}
	})
}

func hexLit(db *store.DB, b []byte) string {
	const digits = "0123456789abcdef"
	h := make([]byte, 0, 2*len(b))
	for _, c := range b {
		h = append(h, digits[c>>4], digits[c&15])
	}
	if db.Dialect() == store.Postgres {
		return `'\x` + string(h) + `'::bytea`
	}
	return `X'` + string(h) + `'`
}

// TestScopeToObligations plants accesses, scopes them by account and by
// address, checks the per-patient elements and residence, verifies the
// signed manifest with inclusion proofs, and follows the assessment to
// the obligations and their deadlines.
func TestScopeToObligations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		if err := f.reg.Import(ctx, []labtrust.PatientRecord{
			patient("M1", "TX", "123-45-6789", false), patient("M2", "CA", "", true), patient("M3", "TX", "", false),
			patient("M4", "NY", "", false), patient("M5", "", "", false),
		}); err != nil {
			t.Fatal(err)
		}
		day := 24 * time.Hour
		evs := []labtrust.Event{
			access(t0, "mallory", "10.0.0.9", "M1", labtrust.OutcomeSuccess, "Patient"),
			access(t0.Add(time.Hour), "mallory", "10.0.0.9", "M2", labtrust.OutcomeSuccess, "DiagnosticReport"),
			access(t0.Add(2*time.Hour), "mallory", "10.0.0.9", "M4", labtrust.OutcomeSeriousFailure, "DiagnosticReport"), // refused: nothing exposed
			access(t0.Add(40*day), "mallory", "10.0.0.9", "M4", labtrust.OutcomeSuccess, "DiagnosticReport"),             // outside the window
			access(t0.Add(3*time.Hour), "bob", "192.0.2.44", "M3", labtrust.OutcomeSuccess, "ServiceRequest"),
			access(t0.Add(4*time.Hour), "bob", "10.0.0.7", "M4", labtrust.OutcomeSuccess, "ServiceRequest"),
		}
		if _, err := f.pipe.Submit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		in, err := f.svc.Create(ctx, "priya", incident.NewIncident{Title: "Snooping", Discovered: t0.Add(5 * day)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetIndicators(ctx, "priya", in.ID, []breach.Indicator{
			{Kind: breach.IndicatorAccount, Value: "mallory", From: t0.Add(-day), To: t0.Add(30 * day)},
			{Kind: breach.IndicatorAddress, Value: "192.0.2.0/24", From: t0.Add(-day), To: t0.Add(30 * day)},
			{Kind: breach.IndicatorRecords, MRNs: []string{"M5"}, Elements: []breach.Element{breach.ElementName, breach.ElementHealthInsurance}},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetIndicators(ctx, "priya", in.ID, []breach.Indicator{{Kind: breach.IndicatorAddress, Value: "not-an-ip"}}); err == nil {
			t.Fatal("a bad address indicator was accepted")
		}
		cp := waitCheckpoint(t, f, uint64(len(evs)))
		sc := &breach.Scoper{Events: f.db, Keys: f.keys, Blind: f.keys.Blinder(), Patients: f.reg}
		ref, err := f.svc.ComputeScope(ctx, "priya", in.ID, sc, cp, f.signer)
		if err != nil {
			t.Fatal(err)
		}
		scope, err := f.svc.Scope(ctx, in.ID)
		if err != nil || ref.Summary.Patients != len(scope.Patients) {
			t.Fatalf("scope read back: %v, %d people, summary %d", err, len(scope.Patients), ref.Summary.Patients)
		}
		var mb bytes.Buffer
		if err := f.svc.WriteManifest(ctx, in.ID, &mb); err != nil {
			t.Fatal(err)
		}
		manifest := mb.Bytes()
		by := map[string]breach.Affected{}
		for _, p := range scope.Patients {
			by[p.MRN] = p
		}
		if len(by) != 4 || by["M4"].MRN != "" {
			t.Fatalf("scope patients %v", scope.Patients)
		}
		if m1 := by["M1"]; m1.State != "TX" || !hasAll(m1.Elements, breach.ElementName, breach.ElementAddress, breach.ElementDOB, breach.ElementSSN) || m1.Accesses != 1 || m1.HasEmail {
			t.Fatalf("M1 %+v", m1)
		}
		if m2 := by["M2"]; m2.State != "CA" || !hasAll(m2.Elements, breach.ElementResults) || hasAll(m2.Elements, breach.ElementSSN) || !m2.HasEmail {
			t.Fatalf("M2 %+v", m2)
		}
		if m3 := by["M3"]; !hasAll(m3.Elements, breach.ElementOrders, breach.ElementDiagnoses) || hasAll(m3.Elements, breach.ElementResults) {
			t.Fatalf("M3 %+v", m3)
		}
		if m5 := by["M5"]; !hasAll(m5.Elements, breach.ElementHealthInsurance) || m5.State != "" || m5.Accesses != 0 {
			t.Fatalf("M5 %+v", m5)
		}
		// The manifest names nobody, and verifies with inclusion proofs.
		// (Quoted: a bare "M1" can occur in the signatures' base64.)
		for _, mrn := range []string{`"M1"`, `"M2"`, "123-45-6789", "DoeM1"} {
			if bytes.Contains(manifest, []byte(mrn)) {
				t.Fatalf("manifest holds %q", mrn)
			}
		}
		rd, err := ledger.OpenReader(filepath.Join(f.dir, "ledger"), "lab.example/log", f.vkey)
		if err != nil {
			t.Fatal(err)
		}
		m, err := breach.VerifyManifest(manifest, f.vkey, breach.LedgerProver(ctx, rd))
		if err != nil {
			t.Fatal(err)
		}
		if m.Summary.Patients != 4 || m.Summary.ByState["TX"] != 2 || m.Incident != in.ID {
			t.Fatalf("manifest summary %+v", m.Summary)
		}
		bad := bytes.Replace(manifest, []byte(`\"TX\"`), []byte(`\"NM\"`), 1)
		if bytes.Equal(bad, manifest) {
			bad = bytes.Replace(manifest, []byte(`"TX"`), []byte(`"NM"`), 1)
		}
		if _, err := breach.VerifyManifest(bad, f.vkey, nil); err == nil {
			t.Fatal("an altered manifest verified")
		}
		// Read as a stream, a patient at a time, and re-indented by a
		// reader's tool: it still verifies, and hands over each patient.
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, manifest, "", "    "); err != nil {
			t.Fatal(err)
		}
		seen := 0
		sm, err := breach.VerifyManifestStream(&pretty, f.vkey, breach.LedgerProver(ctx, rd), func(p breach.ManifestPatient) error {
			seen++
			return nil
		})
		if err != nil || seen != 4 || sm.Summary.Patients != 4 || sm.Patients != nil {
			t.Fatalf("streamed: %d patients, %v", seen, err)
		}
		if _, err := breach.VerifyManifestStream(bytes.NewReader(bad), f.vkey, nil, nil); err == nil {
			t.Fatal("an altered manifest verified as a stream")
		}
		// The stored scope is sealed and reads back.
		row, _ := f.db.LatestScope(ctx, in.ID)
		if bytes.Contains(row.Body, []byte(`"mrn":"M`)) {
			t.Fatal("scope stored in clear")
		}
		back, err := f.svc.Scope(ctx, in.ID)
		if err != nil || len(back.Patients) != 4 {
			t.Fatalf("scope back: %v", err)
		}
		// Without an assessment a breach is presumed.
		laws, err := breach.BuiltinLaws()
		if err != nil {
			t.Fatal(err)
		}
		_, obs, err := f.svc.Obligations(ctx, in.ID, laws)
		if err != nil {
			t.Fatal(err)
		}
		ob := map[string]breach.Obligation{}
		for _, o := range obs {
			ob[o.Key] = o
		}
		disc := t0.Add(5 * day)
		if o := ob["hipaa/individuals"]; o.Status != breach.StatusOwed || o.Count != 4 || !o.Due.Equal(disc.AddDate(0, 0, 60)) {
			t.Fatalf("hipaa individuals %+v", o)
		}
		if o := ob["hipaa/hhs"]; o.Citation != "45 CFR 164.408(c)" || !o.Due.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("hhs annual log %+v", o)
		}
		if _, ok := ob["hipaa/substitute"]; !ok { // M3 and M5 have no address or email
			t.Fatal("no substitute notice for patients without contact")
		}
		if o := ob["state/unknown"]; o.Count != 1 {
			t.Fatalf("unknown residence %+v", o)
		}
		if o := ob["state/TX/individuals"]; o.Status != breach.StatusOwed || o.Count != 2 || !o.Due.Equal(disc.AddDate(0, 0, 60)) {
			t.Fatalf("texas %+v", o)
		}
		// An assessment finding a low probability of compromise: HIPAA
		// notice is not owed; Texas has no risk-of-harm exception.
		a := breach.Assessment{Ratings: map[string]breach.Rating{}, Rationale: map[string]string{}}
		for _, fac := range breach.Factors {
			a.Ratings[fac.Key], a.Rationale[fac.Key] = breach.RatingLow, "documented"
		}
		if _, err := f.svc.Assess(ctx, "priya", in.ID, a); err != nil {
			t.Fatal(err)
		}
		_, obs, _ = f.svc.Obligations(ctx, in.ID, laws)
		ob = map[string]breach.Obligation{}
		for _, o := range obs {
			ob[o.Key] = o
		}
		if ob["hipaa/individuals"].Status != breach.StatusNotOwed || ob["state/TX/individuals"].Status != breach.StatusOwed {
			t.Fatalf("after assessment: hipaa %s, texas %s", ob["hipaa/individuals"].Status, ob["state/TX/individuals"].Status)
		}
		// A written law-enforcement delay moves the owed deadlines.
		until := disc.AddDate(0, 0, 90)
		if _, err := f.svc.RequestDelay(ctx, "priya", in.ID, breach.Delay{Agency: "FBI", From: disc, Until: until}, "SA Smith", "case 1"); err != nil {
			t.Fatal(err)
		}
		_, obs, _ = f.svc.Obligations(ctx, in.ID, laws)
		for _, o := range obs {
			if o.Key == "state/TX/individuals" && (!o.Due.Equal(until) || !o.Delayed) {
				t.Fatalf("delayed texas %+v", o)
			}
		}
		got, _ := f.svc.Get(ctx, in.ID)
		if got.Scope == nil || got.Scope.Summary.Patients != 4 || len(got.Contacts) != 1 || got.Contacts[0].Kind != "law-enforcement" {
			t.Fatalf("incident after scope: %+v %+v", got.Scope, got.Contacts)
		}
	})
}

func hasAll(es []breach.Element, want ...breach.Element) bool {
	for _, w := range want {
		found := false
		for _, e := range es {
			found = found || e == w
		}
		if !found {
			return false
		}
	}
	return true
}

// TestScopeInParts: a scope of 10,000 people is stored in sealed parts of
// ScopeChunk: read whole or a part at a time it holds everyone once, in
// order; membership is one look-up; a part moved to another scope does
// not open; obligations come from the groups the incident keeps.
func TestScopeInParts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		const n = 10_000
		mrns := make([]string, n)
		for i := range mrns {
			mrns[i] = fmt.Sprintf("R%05d", i)
		}
		in, err := f.svc.Create(ctx, "priya", incident.NewIncident{Title: "Stolen laptop", Discovered: t0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetIndicators(ctx, "priya", in.ID, []breach.Indicator{{Kind: breach.IndicatorRecords, MRNs: mrns,
			Elements: []breach.Element{breach.ElementName, breach.ElementResults}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.pipe.Submit(ctx, []labtrust.Event{access(t0, "mallory", "10.0.0.9", "R00001", labtrust.OutcomeSuccess, "Patient")}); err != nil {
			t.Fatal(err)
		}
		cp := waitCheckpoint(t, f, 1)
		sc := &breach.Scoper{Events: f.db, Keys: f.keys, Blind: f.keys.Blind, Patients: f.reg}
		if _, err := f.svc.ComputeScope(ctx, "priya", in.ID, sc, cp, f.signer); err != nil {
			t.Fatalf("scope: %v", err)
		}
		scope, err := f.svc.Scope(ctx, in.ID)
		if err != nil || len(scope.Patients) != n {
			t.Fatalf("scope: %v", err)
		}
		whole, err := f.svc.Scope(ctx, in.ID)
		if err != nil || len(whole.Patients) != n || whole.Chunks != 0 {
			t.Fatalf("read whole: %d patients, %v", len(whole.Patients), err)
		}
		var parts, seen int
		if err := f.svc.ScopePatients(ctx, in.ID, func(part []breach.Affected) error {
			for i, p := range part {
				if !bytes.Equal(p.Blind, scope.Patients[seen+i].Blind) {
					t.Fatalf("part %d: person %d out of order", parts, i)
				}
			}
			parts++
			seen += len(part)
			return nil
		}); err != nil || seen != n || parts != (n+incident.ScopeChunk-1)/incident.ScopeChunk {
			t.Fatalf("parts: %d people in %d parts, %v", seen, parts, err)
		}
		if ok, err := f.svc.InScope(ctx, in.ID, f.keys.Blind("R09999")); !ok || err != nil {
			t.Fatalf("a member is not in the scope: %v", err)
		}
		if ok, _ := f.svc.InScope(ctx, in.ID, f.keys.Blind("R10000")); ok {
			t.Fatal("a stranger is in the scope")
		}
		got, _ := f.svc.Get(ctx, in.ID)
		if len(got.Scope.Groups) != 1 || got.Scope.Groups[0].Count != n {
			t.Fatalf("groups kept with the incident: %+v", got.Scope.Groups)
		}
		_, obs, err := f.svc.Obligations(ctx, in.ID, breach.Laws{})
		if err != nil || len(obs) == 0 || obs[0].Count != n {
			t.Fatalf("obligations from groups: %v %+v", err, obs)
		}
		// Part 1 of this scope swapped in for part 0: the sealed part is
		// bound to its place, so reading fails rather than misleads.
		sid := got.Scope.ID
		if _, err := f.db.SQL().ExecContext(ctx, fmt.Sprintf(`UPDATE breach_scope_chunks SET body = (SELECT body FROM breach_scope_chunks WHERE scope = %d AND seq = 1) WHERE scope = %d AND seq = 0`, sid, sid)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Scope(ctx, in.ID); err == nil || !strings.Contains(err.Error(), "does not authenticate") {
			t.Fatalf("a moved part was read: %v", err)
		}
	})
}

// TestScopeWholeRegistry: "the database was taken" scopes everyone the
// registry holds now (a merged-away MRN counts once, as its survivor; a
// forgotten patient not at all), filled from the registry as it is read,
// and joins what another indicator found for the same person.
func TestScopeWholeRegistry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		merge := patient("P3", "NY", "", false)
		merge.MergedFrom = &labtrust.PatientRef{ID: "P4"}
		if err := f.reg.Import(ctx, []labtrust.PatientRecord{patient("P1", "TX", "123-45-6789", true), patient("P2", "CA", "", false),
			patient("P3", "NY", "", false), patient("P4", "NY", "", false), patient("P5", "FL", "", false), merge}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.reg.Forget(ctx, "P5"); err != nil {
			t.Fatal(err)
		}
		evs := []labtrust.Event{access(t0, "mallory", "10.0.0.9", "P1", labtrust.OutcomeSuccess, "DiagnosticReport"),
			access(t0.Add(time.Minute), "mallory", "10.0.0.9", "PX", labtrust.OutcomeSuccess, "DiagnosticReport")}
		if _, err := f.pipe.Submit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		in, err := f.svc.Create(ctx, "priya", incident.NewIncident{Title: "Ransomware", Discovered: t0.Add(48 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetIndicators(ctx, "priya", in.ID, []breach.Indicator{{Kind: breach.IndicatorRegistry, MRNs: []string{"P1"}, Elements: []breach.Element{breach.ElementName}}}); err == nil {
			t.Fatal("a registry indicator with MRNs was accepted")
		}
		if _, err := f.svc.SetIndicators(ctx, "priya", in.ID, []breach.Indicator{
			{Kind: breach.IndicatorRegistry, Elements: []breach.Element{breach.ElementName, breach.ElementAddress, breach.ElementDOB}},
			{Kind: breach.IndicatorAccount, Value: "mallory"},
		}); err != nil {
			t.Fatal(err)
		}
		cp := waitCheckpoint(t, f, uint64(len(evs)))
		sc := &breach.Scoper{Events: f.db, Keys: f.keys, Blind: f.keys.Blind, Patients: f.reg}
		if _, err := f.svc.ComputeScope(ctx, "priya", in.ID, sc, cp, f.signer); err != nil {
			t.Fatal(err)
		}
		scope, err := f.svc.Scope(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		by := map[string]breach.Affected{}
		for _, p := range scope.Patients {
			if _, dup := by[p.MRN]; dup {
				t.Fatalf("%s twice", p.MRN)
			}
			by[p.MRN] = p
		}
		if len(by) != 4 || by["P4"].MRN != "" || by["P5"].MRN != "" {
			t.Fatalf("people: %v", scope.Patients)
		}
		p1 := by["P1"]
		if !p1.Registered || p1.State != "TX" || !p1.HasEmail || p1.Accesses != 1 || len(p1.Entries) != 1 ||
			!slices.Contains(p1.Elements, breach.ElementResults) || !slices.Contains(p1.Elements, breach.ElementSSN) {
			t.Fatalf("P1, in the registry and accessed: %+v", p1)
		}
		if p3 := by["P3"]; !p3.Registered || p3.State != "NY" || p3.Accesses != 0 {
			t.Fatalf("P3: %+v", p3)
		}
		if px := by["PX"]; px.Registered || px.Accesses != 1 {
			t.Fatalf("PX, accessed but not registered: %+v", px)
		}
		if sum := scope.Summarize(); sum.ByState["CA"] != 1 || sum.Unregistered != 1 {
			t.Fatalf("summary: %+v", sum)
		}
		// A computation that fails part-way leaves nothing behind, and
		// the incident keeps the scope it had.
		before, _ := f.svc.Get(ctx, in.ID)
		failing := &breach.Scoper{Events: f.db, Keys: f.keys, Blind: f.keys.Blind, Patients: failingRegistry{f.reg}}
		if _, err := f.svc.ComputeScope(ctx, "priya", in.ID, failing, cp, f.signer); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("a failing registry: %v", err)
		}
		var scopes, parts, members int
		f.db.SQL().QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM breach_scopes), (SELECT COUNT(*) FROM breach_scope_chunks), (SELECT COUNT(*) FROM breach_scope_members)`).Scan(&scopes, &parts, &members)
		if scopes != 1 || parts != 1 || members != 4 {
			t.Fatalf("left behind: %d scopes, %d parts, %d members", scopes, parts, members)
		}
		if after, _ := f.svc.Get(ctx, in.ID); after.Scope.ID != before.Scope.ID {
			t.Fatal("the incident names the failed scope")
		}
	})
}

// failingRegistry reads the registry and fails after its first page.
type failingRegistry struct{ *registry.Registry }

func (r failingRegistry) Each(ctx context.Context, fn func([]*registry.Entry) error) error {
	return r.Registry.Each(ctx, func(es []*registry.Entry) error {
		if err := fn(es); err != nil {
			return err
		}
		return errors.New("disk on fire")
	})
}
