package registry_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/registry"
)

type sink struct {
	recs    []labtrust.PatientRecord
	rejects []labtrust.Reject
}

func (s *sink) Patient(_ context.Context, r labtrust.PatientRecord) error {
	s.recs = append(s.recs, r)
	return nil
}
func (s *sink) Reject(_ context.Context, r labtrust.Reject) error {
	s.rejects = append(s.rejects, r)
	return nil
}

func TestParseCSVDemoPatients(t *testing.T) {
	lab := demo.NewLab(demo.Config{Seed: 3, Patients: 50})
	var b bytes.Buffer
	if err := lab.WritePatients(&b); err != nil {
		t.Fatal(err)
	}
	b.WriteString(",Nobody,,,,,,,,,,,,,,,,,,,\n")
	var s sink
	if err := registry.ParseCSV(context.Background(), "csv", &b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.recs) != 50 || len(s.rejects) != 1 || s.rejects[0].Position != "line 52" || !strings.Contains(s.rejects[0].Reason, "patient.id") {
		t.Fatalf("%d records, rejects %+v", len(s.recs), s.rejects)
	}
	want := lab.Patient(7).Record()
	got := s.recs[7].Patient
	if got.ID.ID != want.ID.ID || got.Name.Family != want.Name.Family || got.BirthDate != want.BirthDate ||
		got.Addresses[0].State != want.Addresses[0].State || got.Emails[0] != want.Emails[0] || got.Language != want.Language {
		t.Fatalf("row 7:\n got %+v\nwant %+v", got, want)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("mrn,given,family\nM1,Ana,Ruiz\n"))
	f.Add([]byte("MRN,birth_date\n\"M2\",1999-02-30\n"))
	f.Add([]byte("a,b\n1,2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s sink
		if err := registry.ParseCSV(context.Background(), "f", bytes.NewReader(b), &s); err != nil {
			return
		}
		for _, r := range s.recs {
			if err := r.Validate(); err != nil {
				t.Fatalf("an invalid record got through: %v", err)
			}
		}
	})
}
