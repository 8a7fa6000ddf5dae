package registry

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/internal/jsonread"
)

// randomRecord is a sealed record with every field of Patient set or left
// empty at random, nil and empty lists both, and text that needs escapes.
func randomRecord(r *rand.Rand) sealedRecord {
	texts := []string{"", "García", "Nguyễn Thị", "O'Brien \"Jr\"", "a\\b", "line\nbreak", "<tag>&amp;", "\u2028sep", "tab\there", "😀"}
	str := func() string { return texts[r.IntN(len(texts))] + fmt.Sprint(r.IntN(3)) }
	strs := func() []string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+r.IntN(3))
		for i := range out {
			out[i] = str()
		}
		return out
	}
	ref := func() labtrust.PatientRef {
		if r.IntN(2) == 0 {
			return labtrust.PatientRef{ID: str()}
		}
		return labtrust.PatientRef{System: str(), ID: str()}
	}
	refs := func() []labtrust.PatientRef {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []labtrust.PatientRef{}
		}
		return []labtrust.PatientRef{ref(), ref()}
	}
	addr := func() labtrust.Address {
		return labtrust.Address{Use: str(), Lines: strs(), City: str(), State: str(), PostalCode: str(), Country: str()}
	}
	name := func() labtrust.HumanName {
		return labtrust.HumanName{Family: str(), Given: strs(), Prefix: str(), Suffix: str()}
	}
	p := labtrust.Patient{ID: ref(), OtherIDs: refs(), SSN: str(), Name: name(), BirthDate: str(), Sex: str(),
		Phones: strs(), Emails: strs(), Language: str(), Deceased: r.IntN(2) == 0, DeceasedAt: str(), VIP: r.IntN(2) == 0}
	switch r.IntN(3) {
	case 1:
		p.Addresses = []labtrust.Address{}
	case 2:
		p.Addresses = []labtrust.Address{addr(), addr()}
	}
	if r.IntN(2) == 0 {
		p.Guardian = &labtrust.Contact{Name: name(), Relationship: str(), Phones: strs()}
		if r.IntN(2) == 0 {
			a := addr()
			p.Guardian.Address = &a
		}
	}
	sr := sealedRecord{Patient: p}
	if r.IntN(2) == 0 {
		sr.Merged = refs()
	}
	return sr
}

// The fast reader reads every record json.Marshal writes, to the same
// value encoding/json reads: a field added to Patient without a case here
// makes the fast reader refuse the record, and this test fail.
func TestDecodeRecordMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		sr := randomRecord(r)
		b, err := json.Marshal(sr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := jsonread.Whole(b, readRecord)
		if err != nil {
			t.Fatalf("record %d: fast reader refused what json.Marshal wrote: %v\n%s", i, err, b)
		}
		var want sealedRecord
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d differs:\nfast %#v\njson %#v", i, got, want)
		}
	}
}

// Records in another shape (older, hand-edited, differently cased) are
// still read, by encoding/json; damaged ones are refused.
func TestDecodeRecordFallsBack(t *testing.T) {
	sr, err := decodeRecord([]byte(`{"patient":{"id":{"id":"MRN1"},"name":{"family":"Smith"},"Extra":1}}`))
	if err != nil || sr.Patient.ID.ID != "MRN1" || sr.Patient.Name.Family != "Smith" {
		t.Fatalf("decodeRecord = %+v, %v", sr, err)
	}
	if _, err := jsonread.Whole([]byte(`{"patient":{"id":{"id":"MRN1"}}}`), readRecord); err == nil {
		t.Fatal("the fast reader accepted a shape json.Marshal does not write")
	}
	for _, bad := range []string{``, `{`, `{"patient":{"ID":{"id":"MRN1"}}`, `{"patient":{"VIP":"yes"}}`, `[]`, `{"patient":{}} x`} {
		if _, err := decodeRecord([]byte(bad)); err == nil {
			t.Errorf("decodeRecord(%q) accepted damaged input", bad)
		}
	}
}

// Whatever the fast reader accepts, encoding/json reads to the same value.
func FuzzDecodeRecord(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		b, _ := json.Marshal(randomRecord(r))
		f.Add(b)
	}
	f.Add([]byte(`{"patient":{"Guardian":{"Relationship":"a"},"Guardian":{"Phones":[]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := jsonread.Whole(b, readRecord)
		if err != nil || !utf8.Valid(b) { // encoding/json replaces invalid UTF-8; the records it writes never hold any
			return
		}
		var want sealedRecord
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast reader accepted what encoding/json refuses (%v): %q", err, b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("differs on %q:\nfast %#v\njson %#v", b, got, want)
		}
	})
}

func BenchmarkDecodeRecord(b *testing.B) {
	p := labtrust.Patient{ID: labtrust.PatientRef{ID: "MRN00012345"}, Name: labtrust.HumanName{Family: "García", Given: []string{"Ana", "Li"}},
		BirthDate: "1970-01-02", Language: "es", Phones: []string{"555-0100"}, Emails: []string{"ana@example.org"},
		Addresses: []labtrust.Address{{Lines: []string{"12 Oak Ave"}, City: "Springfield", State: "TX", PostalCode: "75001"}}}
	rec, _ := json.Marshal(sealedRecord{Patient: p})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var sr sealedRecord
			if err := json.Unmarshal(rec, &sr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeRecord(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
