package notice_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
)

// TestPrepare makes notices from a scope on both databases: language and
// address from the registry, substitute notice without an address, codes
// that look up their notice however they are typed, records sealed, and
// preparing again adds only new people.
func TestPrepare(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, keys, reg := openLab(t, dsn, t.TempDir())
		pt := func(mrn, family, lang string, addr bool) labtrust.PatientRecord {
			p := labtrust.Patient{ID: labtrust.PatientRef{ID: mrn}, Name: labtrust.HumanName{Family: family, Given: []string{"Ana"}}, BirthDate: "1980-02-03", Language: lang}
			if addr {
				p.Addresses = []labtrust.Address{{Lines: []string{"5 Oak Ave"}, City: "El Paso", State: "TX", PostalCode: "79901"}}
			}
			return labtrust.PatientRecord{Source: "adt", Time: time.Now(), Patient: p}
		}
		if err := reg.Import(ctx, []labtrust.PatientRecord{pt("A1", "Peña", "es", true), pt("A2", "Smith", "en", true), pt("A3", "Nowak", "", false)}); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 10, 5, 2, 0, 0, 0, time.UTC)
		aff := func(mrn string) breach.Affected {
			return breach.Affected{MRN: mrn, Blind: keys.Blind(mrn), Elements: []breach.Element{breach.ElementName, breach.ElementResults}, First: at, Last: at}
		}
		sc := &breach.Scope{Incident: 3, Patients: []breach.Affected{aff("A1"), aff("A2"), aff("A3")}}
		s := notice.NewService(db, keys, keys.Blind, reg, nil)
		p, err := s.Prepare(ctx, 3, sc, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Added != 3 || p.Mail != 2 || p.Substitute != 1 || p.Spanish != 1 {
			t.Fatalf("prepared %+v", p)
		}
		var codes []string
		if err := db.Notices(ctx, 3, func(r store.NoticeRow) error {
			if bytes.Contains(r.Body, []byte("Peña")) || bytes.Contains(r.Body, []byte("5 Oak Ave")) {
				t.Fatal("notice stored in clear")
			}
			rec, err := s.Open(r)
			if err != nil {
				return err
			}
			codes = append(codes, rec.Code)
			switch rec.MRN {
			case "A1":
				if rec.Language != "es" || r.Language != "es" || r.Channel != notice.ChannelMail || rec.Address[1] != "El Paso, TX 79901" || r.State != "TX" {
					t.Errorf("A1: %+v %+v", rec, r)
				}
			case "A3":
				if r.Channel != notice.ChannelSubstitute || len(rec.Address) != 0 {
					t.Errorf("A3: %+v", r)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// The code as a person would type it from the letter.
		typed := strings.ToLower(strings.ReplaceAll(codes[0], "-", " "))
		if _, rec, err := s.Lookup(ctx, typed); err != nil || rec.Code != codes[0] {
			t.Fatalf("lookup %q: %v", typed, err)
		}
		if _, _, err := s.Lookup(ctx, "0000-0000-0000"); !errors.Is(err, labtrust.ErrNotFound) {
			t.Fatalf("unknown code: %v", err)
		}
		if _, _, err := s.Lookup(ctx, "not a code"); !errors.Is(err, notice.ErrBadCode) {
			t.Fatalf("malformed code: %v", err)
		}
		// The scope grows: only the new person gets a notice.
		if err := reg.Import(ctx, []labtrust.PatientRecord{pt("A4", "Lee", "en", true)}); err != nil {
			t.Fatal(err)
		}
		sc.Patients = append(sc.Patients, aff("A4"))
		if p, err := s.Prepare(ctx, 3, sc, nil); err != nil || p.Added != 1 || p.Existing != 3 {
			t.Fatalf("second prepare %+v %v", p, err)
		}
		// A registry scope's person is read by their registry row: here the
		// row says Lee of A4, whatever the MRN beside it.
		a4, err := reg.Get(ctx, "A4")
		if err != nil {
			t.Fatal(err)
		}
		byRow := aff("R1")
		byRow.Registry = a4.ID
		if p, err := s.Prepare(ctx, 4, &breach.Scope{Incident: 4, Patients: []breach.Affected{byRow}}, nil); err != nil || p.Added != 1 || p.Mail != 1 || p.Unregistered != 0 {
			t.Fatalf("prepare by registry row: %+v %v", p, err)
		}
		if err := db.Notices(ctx, 4, func(r store.NoticeRow) error {
			rec, err := s.Open(r)
			if err == nil && (rec.Name != "Ana Lee" || len(rec.Address) != 2) {
				t.Errorf("by registry row: %+v", rec)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// The Spanish letter when the lab wrote the Spanish text, else English.
		_, rec, _ := s.Lookup(ctx, codes[0])
		texts := map[string]notice.Text{"en": {What: "What happened.", Doing: "What we do."}}
		if l := rec.Letter(notice.Lab{Name: "Lab"}, texts, at, at); rec.Language == "es" && l.Language != "en" {
			t.Fatalf("Spanish letter without Spanish text: %s", l.Language)
		}
		texts["es"] = notice.Text{What: "Qué pasó.", Doing: "Qué hacemos."}
		for _, c := range codes {
			_, rec, _ := s.Lookup(ctx, c)
			if l := rec.Letter(notice.Lab{Name: "Lab"}, texts, at, at); l.Language != rec.Language || (rec.Language == "es" && l.What != "Qué pasó.") {
				t.Fatalf("letter language %s for %s", l.Language, rec.Language)
			}
		}
		if err := db.SetNoticeStatus(ctx, 1, notice.StatusReturned, time.Now()); err != nil {
			t.Fatal(err)
		}
		cs, err := db.NoticeCounts(ctx, 3)
		if err != nil || len(cs) == 0 {
			t.Fatalf("counts %v %v", cs, err)
		}
	})
}
