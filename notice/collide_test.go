package notice

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/vault"
)

// TestPrepareCodeTaken: a code made for a new notice that an earlier
// notice already holds is replaced, and preparing goes on.
func TestPrepareCodeTaken(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kek, _ := vault.LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	keys, err := vault.Open(ctx, kek, db)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(db, keys)
	var recs []labtrust.PatientRecord
	for _, mrn := range []string{"A", "B", "C"} {
		recs = append(recs, labtrust.PatientRecord{Source: "adt", Time: time.Now(), Patient: labtrust.Patient{ID: labtrust.PatientRef{ID: mrn},
			Name: labtrust.HumanName{Family: "Lee", Given: []string{mrn}}, BirthDate: "1980-01-02"}})
	}
	if err := reg.Import(ctx, recs); err != nil {
		t.Fatal(err)
	}
	s := NewService(db, keys, keys.Blind, reg, nil)
	aff := func(mrn string) breach.Affected {
		return breach.Affected{MRN: mrn, Blind: keys.Blind(mrn), Elements: []breach.Element{breach.ElementName}}
	}
	if _, err := s.Prepare(ctx, 1, &breach.Scope{Incident: 1, Patients: []breach.Affected{aff("A")}}, nil); err != nil {
		t.Fatal(err)
	}
	var taken string
	db.Notices(ctx, 1, func(r store.NoticeRow) error {
		rec, err := s.Open(r)
		if err == nil {
			taken = rec.Code
		}
		return err
	})
	// The next codes made: A's first, then random ones.
	calls := 0
	s.newCodes = func(cs []noticeCode) error {
		calls++
		if err := newCodes(cs); err != nil {
			return err
		}
		if calls == 1 {
			copy(cs[0].code[:], taken[:4]+taken[5:9]+taken[10:])
		}
		return nil
	}
	p, err := s.Prepare(ctx, 2, &breach.Scope{Incident: 2, Patients: []breach.Affected{aff("B"), aff("C")}}, nil)
	if err != nil || p.Added != 2 {
		t.Fatalf("prepare beside a taken code: %+v %v", p, err)
	}
	seen := map[string]bool{taken: true}
	db.Notices(ctx, 2, func(r store.NoticeRow) error {
		rec, err := s.Open(r)
		if err != nil {
			return err
		}
		if seen[rec.Code] {
			t.Fatalf("code %s given twice", rec.Code)
		}
		seen[rec.Code] = true
		if _, back, err := s.Lookup(ctx, rec.Code); err != nil || back.MRN != rec.MRN {
			t.Fatalf("%s does not look up its notice: %v", rec.Code, err)
		}
		return nil
	})
	if len(seen) != 3 || calls < 2 {
		t.Fatalf("%d codes, %d times made", len(seen), calls)
	}
}
