package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/hl7"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
)

type fixture struct {
	db   *store.DB
	keys *vault.Keyring
	reg  *registry.Registry
}

func open(t *testing.T, dsn string) *fixture { return openB(t, dsn) }

func openB(t testing.TB, dsn string) *fixture { return openAt(t, dsn, t.TempDir()) }

// openAt keeps the KEK in dir, so a database can be opened again later.
func openAt(t testing.TB, dsn, dir string) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kek, err := vault.LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vault.Open(ctx, kek, db)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, keys: keys, reg: registry.New(db, keys)}
}

type collect struct{ recs []labtrust.PatientRecord }

func (c *collect) Patient(_ context.Context, r labtrust.PatientRecord) error {
	c.recs = append(c.recs, r)
	return nil
}
func (c *collect) Reject(_ context.Context, r labtrust.Reject) error {
	return errors.New("unexpected reject: " + r.Reason)
}

func adt(t *testing.T, names ...string) []labtrust.PatientRecord {
	t.Helper()
	var c collect
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", "hl7", "testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := hl7.ParseStream(context.Background(), "epic", bytes.NewReader(b), &c); err != nil {
			t.Fatal(err)
		}
	}
	return c.recs
}

func TestRegistry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		if err := f.reg.Import(ctx, adt(t, "a01.hl7", "a04_latin1.hl7")); err != nil {
			t.Fatal(err)
		}
		e, err := f.reg.Get(ctx, "MRN0012345")
		if err != nil {
			t.Fatal(err)
		}
		if e.Patient.Name.Family != "García" || e.Patient.BirthDate != "1984-03-12" || e.Patient.Language != "es" {
			t.Fatalf("entry %+v", e.Patient)
		}
		// Exact lookups through blind indexes.
		for kind, v := range map[string]string{registry.LookupSSN: "123456789", registry.LookupEmail: "MARIA@example.org",
			registry.LookupPhone: "217-555-0100", registry.LookupID: "PI998877"} {
			got, err := f.reg.Find(ctx, kind, v)
			if err != nil || len(got) != 1 || got[0].Patient.ID.ID != "MRN0012345" {
				t.Fatalf("find %s: %d %v", kind, len(got), err)
			}
		}
		if got, _ := f.reg.FindByNameDOB(ctx, "Pena", "lucia", "2015-07-04"); len(got) != 1 || got[0].Patient.Guardian == nil {
			t.Fatalf("find by name and birth date: %+v", got)
		}
		// An update replaces the record and its lookups.
		upd := adt(t, "a01.hl7")[0]
		upd.Patient.Emails = []string{"new@example.org"}
		upd.Patient.Addresses[0].State = "WI"
		if err := f.reg.Import(ctx, []labtrust.PatientRecord{upd}); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.reg.Find(ctx, registry.LookupEmail, "maria@example.org"); len(got) != 0 {
			t.Fatal("an old email still finds the patient")
		}
		if got, _ := f.reg.Find(ctx, registry.LookupEmail, "new@example.org"); len(got) != 1 {
			t.Fatal("the new email does not find the patient")
		}
		states, err := f.db.CountPatientsByState(ctx)
		if err != nil || states["WI"] != 1 || states["TX"] != 1 {
			t.Fatalf("states %v %v", states, err)
		}
		// A merge: MRN0099999 (never seen) folds into MRN0012345; its
		// events follow the survivor.
		if err := f.reg.Import(ctx, adt(t, "a40.hl7")); err != nil {
			t.Fatal(err)
		}
		blinds, err := f.reg.Blinds(ctx, "MRN0012345")
		if err != nil || len(blinds) != 2 || !bytes.Equal(blinds[1], f.keys.Blind("MRN0099999")) {
			t.Fatalf("blinds after merge: %d %v", len(blinds), err)
		}
		if e, err := f.reg.Get(ctx, "MRN0099999"); err != nil || e.Patient.ID.ID != "MRN0012345" || len(e.Merged) != 1 ||
			len(e.Patient.Addresses) != 1 || e.Patient.SSN == "" {
			t.Fatalf("the merged MRN leads to %+v %v", e, err)
		}
		// No identifier is in the clear in the registry's rows.
		row, _ := f.db.PatientByBlind(ctx, f.keys.Blind("MRN0012345"))
		for _, s := range []string{"MRN0012345", "García", "Springfield", "123-45-6789", "new@example.org", "1984"} {
			if bytes.Contains(row.Record, []byte(s)) || bytes.Contains(row.Key, []byte(s)) {
				t.Fatalf("%q in the clear", s)
			}
		}
		// Forgetting shreds the record; the MRN cannot come back silently.
		forgot, err := f.reg.Forget(ctx, "MRN0099999")
		if err != nil || len(forgot) != 2 || !bytes.Equal(forgot[0], f.keys.Blind("MRN0012345")) || !bytes.Equal(forgot[1], f.keys.Blind("MRN0099999")) {
			t.Fatalf("forget: %d blinds, %v", len(forgot), err)
		}
		// The merged record is shredded too, and forgetting again says so.
		if mrow, _ := f.db.PatientByBlind(ctx, f.keys.Blind("MRN0099999")); mrow.Key != nil || mrow.Record != nil || !mrow.Forgotten {
			t.Fatalf("merged record after forget: %+v", mrow)
		}
		if again, err := f.reg.Forget(ctx, "MRN0012345"); !errors.Is(err, registry.ErrForgotten) || len(again) != 2 {
			t.Fatalf("forgetting again: %d %v", len(again), err)
		}
		if _, err := f.reg.Get(ctx, "MRN0012345"); !errors.Is(err, registry.ErrForgotten) {
			t.Fatalf("after forget: %v", err)
		}
		if got, _ := f.reg.Find(ctx, registry.LookupSSN, "123-45-6789"); len(got) != 0 {
			t.Fatal("a forgotten patient is still found")
		}
		row, _ = f.db.PatientByBlind(ctx, f.keys.Blind("MRN0012345"))
		if row.Key != nil || row.Record != nil || !row.Forgotten {
			t.Fatalf("forgotten row %+v", row)
		}
		if err := f.reg.Import(ctx, adt(t, "a01.hl7")); !errors.Is(err, labtrust.ErrConflict) {
			t.Fatalf("re-registering a forgotten MRN: %v", err)
		}
		if _, err := f.reg.Get(ctx, "MRN-UNKNOWN"); !errors.Is(err, labtrust.ErrNotFound) {
			t.Fatalf("unknown MRN: %v", err)
		}
	})
}

// TestMergeBackAndForth: merging A into B, then B into A, leaves A the
// survivor with B merged into it, not a loop.
func TestMergeBackAndForth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		pat := func(id string) labtrust.Patient {
			return labtrust.Patient{ID: labtrust.PatientRef{System: "LAB", ID: id}, Name: labtrust.HumanName{Family: "X" + id}}
		}
		merge := func(into, from string) labtrust.PatientRecord {
			return labtrust.PatientRecord{Source: "t", Patient: pat(into), MergedFrom: &labtrust.PatientRef{System: "LAB", ID: from}}
		}
		if err := f.reg.Import(ctx, []labtrust.PatientRecord{{Source: "t", Patient: pat("A")}, {Source: "t", Patient: pat("B")}, merge("B", "A"), merge("A", "B")}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"A", "B"} {
			e, err := f.reg.Get(ctx, id)
			if err != nil || e.Patient.ID.ID != "A" {
				t.Fatalf("Get(%s) = %+v %v", id, e, err)
			}
		}
		blinds, err := f.reg.Blinds(ctx, "B")
		if err != nil || len(blinds) != 2 || !bytes.Equal(blinds[0], f.keys.Blind("A")) {
			t.Fatalf("Blinds(B) = %d %v", len(blinds), err)
		}
		if _, err := f.reg.Forget(ctx, "B"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"A", "B"} {
			if row, _ := f.db.PatientByBlind(ctx, f.keys.Blind(id)); row.Record != nil || !row.Forgotten {
				t.Fatalf("%s after forgetting the merged patient: %+v", id, row)
			}
		}
	})
}

// TestRetry: a quarantined ADT message that reads now is imported; a
// record the registry refused stays refused while the reason holds.
func TestRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		raw, err := os.ReadFile(filepath.Join("..", "hl7", "testdata", "a01.hl7"))
		if err != nil {
			t.Fatal(err)
		}
		n, reason, err := f.reg.Retry(ctx, "adt", hl7.Format, raw, hl7.ParseStream)
		if err != nil || n != 1 || reason != "" {
			t.Fatalf("retry of a good message: %d %q %v", n, reason, err)
		}
		if e, err := f.reg.Get(ctx, "MRN0012345"); err != nil || e.Patient.Name.Family == "" {
			t.Fatalf("not imported: %v", err)
		}
		_, reason, err = f.reg.Retry(ctx, "adt", hl7.Format, []byte("MSH|^~\\&|A|B|C|D|202610011200||ADT^A08|CTL2|P|2.5\rPID|1||^^^LAB^MR\r"), hl7.ParseStream)
		if err != nil || !strings.HasPrefix(reason, "on retry: ") || !strings.Contains(reason, "PID-3") {
			t.Fatalf("a message without an MRN: %q %v", reason, err)
		}
		if _, err := f.reg.Forget(ctx, "MRN0012345"); err != nil {
			t.Fatal(err)
		}
		recs := adt(t, "a01.hl7")
		refused, _ := json.Marshal(recs[0])
		_, reason, err = f.reg.Retry(ctx, "adt", registry.RefusedFormat, refused, nil)
		if err != nil || !strings.Contains(reason, "forgotten") {
			t.Fatalf("a forgotten MRN coming back: %q %v", reason, err)
		}
	})
}

// TestFlags: VIP and deceased patients are listed by blind index for
// detection; a forgotten one is not.
func TestFlags(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		pat := func(id string, vip, dead bool) labtrust.PatientRecord {
			return labtrust.PatientRecord{Source: "t", Patient: labtrust.Patient{ID: labtrust.PatientRef{ID: id}, Name: labtrust.HumanName{Family: "X"}, VIP: vip, Deceased: dead}}
		}
		if err := f.reg.Import(ctx, []labtrust.PatientRecord{pat("V", true, false), pat("D", false, true), pat("P", false, false), pat("G", true, false)}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.reg.Forget(ctx, "G"); err != nil {
			t.Fatal(err)
		}
		got := map[string]store.Flags{}
		if err := f.db.FlaggedPatients(ctx, func(b []byte, fl store.Flags) error { got[string(b)] = fl; return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[string(f.keys.Blind("V"))].VIP || !got[string(f.keys.Blind("D"))].Deceased {
			t.Fatalf("flagged %d: %+v", len(got), got)
		}
	})
}

// TestRelated: patients who share a family name (however it is written)
// or a home address are found by blind index.
func TestRelated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		home := labtrust.Address{Use: "home", Lines: []string{"12 Elm St."}, City: "Austin", State: "TX", PostalCode: "78701-1234"}
		pat := func(id, family string, addr labtrust.Address) labtrust.PatientRecord {
			return labtrust.PatientRecord{Source: "t", Patient: labtrust.Patient{ID: labtrust.PatientRef{ID: id}, Name: labtrust.HumanName{Family: family}, Addresses: []labtrust.Address{addr}}}
		}
		other := labtrust.Address{Use: "home", Lines: []string{"9 Oak Ave"}, PostalCode: "78702"}
		if err := f.reg.Import(ctx, []labtrust.PatientRecord{pat("A", "Núñez", home), pat("B", "NUNEZ", other), pat("C", "Smith", labtrust.Address{Use: "home", Lines: []string{"12 ELM ST"}, PostalCode: "78701"}), pat("D", "Jones", other)}); err != nil {
			t.Fatal(err)
		}
		surname, household, err := f.reg.Related(ctx, "nunez", &home)
		if err != nil {
			t.Fatal(err)
		}
		has := func(bs [][]byte, ids ...string) bool {
			if len(bs) != len(ids) {
				return false
			}
			for _, id := range ids {
				found := false
				for _, b := range bs {
					found = found || bytes.Equal(b, f.keys.Blind(id))
				}
				if !found {
					return false
				}
			}
			return true
		}
		if !has(surname, "A", "B") || !has(household, "A", "C") {
			t.Fatalf("surname %d, household %d", len(surname), len(household))
		}
	})
}

// TestGetMany: reading many MRNs at once gives what Get gives for each,
// across batches: merged MRNs resolve to their survivor; unknown and
// forgotten ones are absent.
func TestGetMany(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		pat := func(id string) labtrust.Patient {
			return labtrust.Patient{ID: labtrust.PatientRef{System: "LAB", ID: id}, Name: labtrust.HumanName{Family: "X" + id}, BirthDate: "1970-01-02"}
		}
		var recs []labtrust.PatientRecord
		var mrns []string
		for i := range 700 {
			id := fmt.Sprintf("P%04d", i)
			recs = append(recs, labtrust.PatientRecord{Source: "t", Patient: pat(id)})
			mrns = append(mrns, id)
		}
		recs = append(recs, labtrust.PatientRecord{Source: "t", Patient: pat("P0001"), MergedFrom: &labtrust.PatientRef{System: "LAB", ID: "P0002"}})
		if err := f.reg.Import(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if _, err := f.reg.Forget(ctx, "P0003"); err != nil {
			t.Fatal(err)
		}
		mrns = append(mrns, "NOPE", "P0002")
		got, err := f.reg.GetMany(ctx, mrns)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mrns {
			want, err := f.reg.Get(ctx, m)
			e, ok := got[m]
			switch {
			case err != nil && ok:
				t.Fatalf("%s: Get fails (%v) but GetMany has it", m, err)
			case err == nil && (!ok || e.ID != want.ID || e.Patient.Name.Family != want.Patient.Name.Family):
				t.Fatalf("%s: GetMany %+v, Get %+v", m, e, want)
			}
		}
		if _, ok := got["P0003"]; ok {
			t.Fatal("a forgotten patient was returned")
		}
		if got["P0002"] == nil || got["P0002"].Patient.ID.ID != "P0001" {
			t.Fatalf("a merged MRN: %+v", got["P0002"])
		}
		if len(got) != 699 {
			t.Fatalf("%d entries", len(got))
		}
	})
}
