package notice

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/internal/jsonread"
)

func randomNoticeRecord(r *rand.Rand) Record {
	texts := []string{"", "García", "Nguyễn Thị", "O'Brien \"Jr\"", "a\\b", "line\nbreak", "<b>&", "\u2028", "😀"}
	str := func() string { return texts[r.IntN(len(texts))] }
	rec := Record{Code: str(), MRN: str(), Name: str(), State: str(), Email: str(), Language: str(), BirthDate: str(),
		Minor: r.IntN(2) == 0, Deceased: r.IntN(2) == 0, Monitoring: str()}
	switch r.IntN(3) {
	case 1:
		rec.Address = []string{}
	case 2:
		rec.Address = []string{str(), str()}
	}
	switch r.IntN(3) {
	case 1:
		rec.Elements = []breach.Element{}
	case 2:
		rec.Elements = []breach.Element{breach.ElementName, breach.Element(str())}
	}
	if r.IntN(2) == 0 {
		rec.First = time.Date(2026, 3, 4, 5, 6, 7, r.IntN(1e9), time.UTC)
		rec.Last = rec.First.Add(time.Duration(r.IntN(1e6)) * time.Second).In(time.FixedZone("", -5*3600))
	}
	return rec
}

// The fast reader reads every record json.Marshal writes, to what
// encoding/json reads: a field added to Record without a case here makes
// it refuse the record, and this test fail.
func TestDecodeRecordMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		b, err := json.Marshal(randomNoticeRecord(r))
		if err != nil {
			t.Fatal(err)
		}
		got, err := jsonread.Whole(b, readRecord)
		if err != nil {
			t.Fatalf("record %d: fast reader refused what json.Marshal wrote: %v\n%s", i, err, b)
		}
		var want Record
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d differs:\nfast %#v\njson %#v", i, got, want)
		}
	}
	if rec, err := decodeRecord([]byte(`{"Code":"AB","NAME":"Ana"}`)); err != nil || rec.Code != "AB" || rec.Name != "Ana" {
		t.Fatalf("another shape is read by encoding/json: %+v %v", rec, err)
	}
	for _, bad := range []string{``, `{"code":`, `{"first":"yesterday"}`, `{"minor":1}`, `{} {}`} {
		if _, err := decodeRecord([]byte(bad)); err == nil {
			t.Errorf("decodeRecord(%q) accepted damaged input", bad)
		}
	}
}

// Whatever the fast reader accepts, encoding/json reads to the same value.
func FuzzDecodeRecord(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 8 {
		b, _ := json.Marshal(randomNoticeRecord(r))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := jsonread.Whole(b, readRecord)
		if err != nil || !utf8.Valid(b) {
			return
		}
		var want Record
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast reader accepted what encoding/json refuses (%v): %q", err, b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("differs on %q:\nfast %#v\njson %#v", b, got, want)
		}
	})
}

func BenchmarkDecodeRecord(b *testing.B) {
	rec := Record{Code: "7K3D-9QMX-2HF4", MRN: "MRN00012345", Name: "Ana Li García", Address: []string{"12 Oak Ave", "Springfield, TX 75001"},
		State: "TX", Language: "es", BirthDate: "1970-01-02", Elements: []breach.Element{breach.ElementName, breach.ElementAddress, breach.ElementDOB, breach.ElementResults},
		First: time.Now().UTC(), Last: time.Now().UTC(), Monitoring: "CW-00001234"}
	raw, _ := json.Marshal(rec)
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var r Record
			if err := json.Unmarshal(raw, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeRecord(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
