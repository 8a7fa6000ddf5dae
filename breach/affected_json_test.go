package breach

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labtrust/labtrust/internal/jsonread"
)

func randomAffected(r *rand.Rand) Affected {
	texts := []string{"", "García", "Nguyễn Thị", "O'Brien \"Jr\"", "a\\b", "line\nbreak", "<tag>&amp;", "\u2028sep", "😀"}
	str := func() string { return texts[r.IntN(len(texts))] + fmt.Sprint(r.IntN(3)) }
	a := Affected{MRN: str(), State: str(), Language: str(), HasAddress: r.IntN(2) == 0, HasEmail: r.IntN(2) == 0,
		Minor: r.IntN(2) == 0, Deceased: r.IntN(3) == 0, Registered: r.IntN(2) == 0, Accesses: r.IntN(1000) - 10,
		Count: r.IntN(3) * r.IntN(5000), Registry: r.Int64() >> r.IntN(63)}
	switch r.IntN(3) {
	case 0:
	case 1:
		a.Blind = []byte{}
	default:
		a.Blind = make([]byte, 1+r.IntN(20))
		for i := range a.Blind {
			a.Blind[i] = byte(r.Uint32())
		}
	}
	switch r.IntN(3) {
	case 0:
	case 1:
		a.Elements = []Element{}
	default:
		a.Elements = []Element{ElementName, Element(str()), ElementSSN}
	}
	switch r.IntN(3) {
	case 0:
	case 1:
		a.Entries = []uint64{}
	default:
		a.Entries = []uint64{r.Uint64(), 0, uint64(r.IntN(100))}
	}
	if r.IntN(2) == 0 {
		zone := time.FixedZone("", 3600*(r.IntN(25)-12))
		a.First = time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(zone)
		a.Last = time.Unix(r.Int64N(4e9), 0).UTC()
	}
	return a
}

// TestDecodeAffected: the scope-part reader gives what encoding/json
// gives, for what json.Marshal writes and for the shapes it hands on.
func TestDecodeAffected(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		var part []Affected
		switch i {
		case 0: // nil
		case 1:
			part = []Affected{}
		default:
			for range 1 + r.IntN(5) {
				part = append(part, randomAffected(r))
			}
		}
		b, err := json.Marshal(part)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := jsonread.Whole(b, readPart)
		if err != nil {
			t.Fatalf("fast reader refused %s: %v", b, err)
		}
		var want []Affected
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("differs on %s:\nfast %#v\njson %#v", b, fast, want)
		}
	}
	// Shapes json.Marshal does not write go to encoding/json, whose
	// answer is the answer.
	for _, in := range []string{
		`[{"MRN":"a","Accesses":2}]`,         // keys in another case
		`[{"mrn":"a","accesses":null}]`,      // null for a number
		`[{"mrn":"a","future":{"x":[1,2]}}]`, // a field added later
		`[{"mrn":"a","entries":[1,2],"entries":null}]`,
		` [ { "mrn" : "a" , "blind" : "AQID" } ] `,
	} {
		got, err := DecodeAffected([]byte(in))
		var want []Affected
		werr := json.Unmarshal([]byte(in), &want)
		if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v (%v), encoding/json %#v (%v)", in, got, err, want, werr)
		}
	}
	for _, bad := range []string{`[{"mrn":"a"}] x`, `[{"accesses":01}]`, `[{"blind":"!!"}]`, `{"mrn":"a"}`} {
		if _, err := DecodeAffected([]byte(bad)); err == nil {
			t.Fatalf("%s accepted", bad)
		}
	}
}

func FuzzDecodeAffected(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 8 {
		b, _ := json.Marshal([]Affected{randomAffected(r), randomAffected(r)})
		f.Add(b)
	}
	f.Add([]byte(`[{"accesses":-0,"registry":9223372036854775807,"entries":[18446744073709551615]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := jsonread.Whole(b, readPart)
		if err != nil || !utf8.Valid(b) { // encoding/json replaces invalid UTF-8; json.Marshal never writes any
			return
		}
		var want []Affected
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast reader accepted what encoding/json refuses (%v): %q", err, b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("differs on %q:\nfast %#v\njson %#v", b, got, want)
		}
	})
}

func BenchmarkDecodeAffected(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	var part []Affected
	// A part of a whole-registry scope: people as the registry gave them.
	for i := range 5000 {
		blind := make([]byte, 16)
		for k := range blind {
			blind[k] = byte(r.Uint32())
		}
		part = append(part, Affected{MRN: fmt.Sprintf("MRN%08d", i), Blind: blind, State: "TX", Language: "es",
			Elements: []Element{ElementName, ElementAddress, ElementDOB, ElementResults}, HasAddress: true, HasEmail: i%3 == 0,
			Registered: true, Registry: r.Int64N(1 << 53)})
	}
	raw, _ := json.Marshal(part)
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var out []Affected
			if err := json.Unmarshal(raw, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeAffected(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
