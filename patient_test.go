package labtrust

import (
	"testing"
	"time"
)

func TestPatientRecordValidate(t *testing.T) {
	ok := PatientRecord{Patient: Patient{ID: PatientRef{System: "LAB", ID: "M1"}, BirthDate: "1990-02"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]PatientRecord{
		"no id":       {Patient: Patient{ID: PatientRef{ID: " "}}},
		"self merge":  {Patient: Patient{ID: PatientRef{ID: "M1"}}, MergedFrom: &PatientRef{ID: "M1"}},
		"empty merge": {Patient: Patient{ID: PatientRef{ID: "M1"}}, MergedFrom: &PatientRef{}},
		"bad date":    {Patient: Patient{ID: PatientRef{ID: "M1"}, BirthDate: "1990-13-01"}},
		"odd date":    {Patient: Patient{ID: PatientRef{ID: "M1"}, BirthDate: "19900201"}},
	}
	for name, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAgeOn(t *testing.T) {
	p := Patient{BirthDate: "2010-03-15"}
	for day, want := range map[string]int{"2026-03-14": 15, "2026-03-15": 16, "2026-12-31": 16} {
		d, _ := time.Parse("2006-01-02", day)
		if got, ok := p.AgeOn(d); !ok || got != want {
			t.Errorf("age on %s = %d %v, want %d", day, got, ok, want)
		}
	}
	if _, ok := (&Patient{BirthDate: "2010"}).AgeOn(time.Now()); ok {
		t.Error("a year alone gave an age")
	}
}

func TestNamesAndStates(t *testing.T) {
	n := HumanName{Prefix: "Dr.", Given: []string{"Ana", "María"}, Family: "Peña", Suffix: "Jr."}
	if n.String() != "Dr. Ana María Peña Jr." {
		t.Fatal(n.String())
	}
	if !IsUSState("ny") || !IsUSState("PR") || IsUSState("XX") || IsUSState("") {
		t.Fatal("state codes")
	}
}
