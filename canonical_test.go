package labtrust_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/canonical")

func hash32(b byte) [32]byte {
	var h [32]byte
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

// richEntry sets every field the canonical form carries, with text that
// exercises escaping: HTML-ish characters, quotes, backslashes, control
// characters, non-ASCII and astral-plane runes.
func richEntry() *labtrust.Entry {
	return &labtrust.Entry{
		Index: 4711,
		Event: labtrust.Event{
			Time:    time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC),
			Source:  "lis-north",
			Kind:    labtrust.KindAccess,
			Type:    labtrust.Code{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110110", Display: "Patient Record"},
			Subtype: []labtrust.Code{{System: "http://hl7.org/fhir/restful-interaction", Code: "read"}, {Display: "only a display"}},
			Action:  labtrust.ActionRead,
			Outcome: labtrust.OutcomeMinorFailure,
			Actor: labtrust.Actor{ID: "u<42>&co", Name: "Zoë Ærøskøbing-Łukasiewicz 李 🧪", Role: "lab-tech",
				Site: "north \"wing\"", AltID: `dom\user`, UserType: "person"},
			Patients: []labtrust.PatientRef{{System: "urn:oid:2.16.840.1.113883.19.5", ID: "MRN-0001"}, {ID: "MRN\t2"}},
			Objects: []labtrust.Object{{Type: "DiagnosticReport", ID: "DiagnosticReport/77", Role: "report"},
				{Type: "Query", Role: "query", Query: "name=Doe&birthdate=lt2000-01-01"}},
			Network:   "10.1.2.3",
			Purpose:   []labtrust.Code{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: "TREAT"}},
			SourceRef: "AuditEvent/abc-123",
		},
		Links: []labtrust.Link{
			{Patient: 0, HasPrev: true, PrevIndex: 4700, PrevHash: hash32(0xa0)},
			{Patient: 1},
		},
	}
}

// minimalEntry is a security event with only the required fields.
func minimalEntry() *labtrust.Entry {
	return &labtrust.Entry{Event: labtrust.Event{
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Source: "s", Kind: labtrust.KindSecurity,
		Actor: labtrust.Actor{ID: "u"},
	}}
}

// golden compares got with testdata/canonical/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "canonical", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s changed: the committed format must not change.\n got: %s\nwant: %s", name, got, want)
	}
}

func mustMarshal(t testing.TB, en *labtrust.Entry) []byte {
	t.Helper()
	b, err := en.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCanonicalGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		en   *labtrust.Entry
	}{
		{"rich.json", richEntry()},
		{"minimal.json", minimalEntry()},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b := mustMarshal(t, tc.en)
			golden(t, tc.file, b)
			if j, err := jcs(b); err != nil || !bytes.Equal(j, b) {
				t.Fatalf("not in RFC 8785 form (%v):\n got: %s\n jcs: %s", err, b, j)
			}
		})
	}
}

// TestCommitGolden pins the commitment: SHA-256(nonce || canonical).
func TestCommitGolden(t *testing.T) {
	nonce := make([]byte, labtrust.NonceSize)
	for i := range nonce {
		nonce[i] = byte(i)
	}
	canon, err := os.ReadFile(filepath.Join("testdata", "canonical", "rich.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := labtrust.Commit(nonce, canon)
	got := hex.EncodeToString(c[:]) + "\n"
	golden(t, "rich.commit.hex", []byte(got))

	// The commitment binds the nonce and every byte.
	if c2 := labtrust.Commit(nonce[1:], canon); c2 == c {
		t.Fatal("commitment ignores the nonce")
	}
	flipped := bytes.Clone(canon)
	flipped[len(flipped)/2] ^= 1
	if labtrust.Commit(nonce, flipped) == c {
		t.Fatal("commitment ignores the canonical bytes")
	}
	// Commit is over the concatenation: moving bytes across the boundary
	// is the same commitment, which is why the nonce has a fixed size.
	if labtrust.Commit(append(bytes.Clone(nonce), canon[0]), canon[1:]) != c {
		t.Fatal("commit is not over nonce||canonical")
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	cases := map[string]*labtrust.Entry{
		"rich":    richEntry(),
		"minimal": minimalEntry(),
	}
	// Other zones become UTC, sub-microsecond digits are dropped (not rounded).
	zoned := richEntry()
	zoned.Event.Time = time.Date(2026, 3, 14, 10, 9, 26, 999999999, est)
	cases["zoned"] = zoned
	// A link whose previous hash is all zeros is still written.
	zeroPrev := minimalEntry()
	zeroPrev.Event.Kind = labtrust.KindAccess
	zeroPrev.Event.Patients = []labtrust.PatientRef{{ID: "p"}}
	zeroPrev.Links = []labtrust.Link{{Patient: 0, HasPrev: true, PrevIndex: 0}}
	cases["zero prev hash"] = zeroPrev
	big := minimalEntry()
	big.Index = 1<<53 - 1 // the largest index an RFC 8785 (IEEE double) number holds exactly
	cases["large index"] = big
	lineSep := minimalEntry()
	lineSep.Event.Actor.Name = "a\u2028b\u2029c \\u2028 \x01\x7f"
	cases["line separators"] = lineSep

	for name, en := range cases {
		t.Run(name, func(t *testing.T) {
			b := mustMarshal(t, en)
			if j, err := jcs(b); err != nil || !bytes.Equal(j, b) {
				t.Fatalf("not in RFC 8785 form (%v):\n got: %s\n jcs: %s", err, b, j)
			}
			back, err := labtrust.UnmarshalCanonical(b)
			if err != nil {
				t.Fatalf("UnmarshalCanonical(MarshalCanonical(e)): %v\n%s", err, b)
			}
			want := *en
			want.Event.Time = en.Event.Time.UTC().Truncate(time.Microsecond)
			if !reflect.DeepEqual(back, &want) {
				t.Fatalf("round trip changed the entry:\n got: %+v\nwant: %+v", back, &want)
			}
			if again := mustMarshal(t, back); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs:\n%s\n%s", again, b)
			}
		})
	}

	t.Run("html characters are not escaped", func(t *testing.T) {
		b := mustMarshal(t, richEntry())
		for _, s := range []string{`"u<42>&co"`, `"name=Doe&birthdate=lt2000-01-01"`} {
			if !bytes.Contains(b, []byte(s)) {
				t.Errorf("%s not written verbatim in %s", s, b)
			}
		}
		if bytes.Contains(b, []byte(`\u003c`)) || bytes.Contains(b, []byte(`\u0026`)) {
			t.Errorf("HTML escapes in %s", b)
		}
	})
	t.Run("times", func(t *testing.T) {
		b := mustMarshal(t, zoned)
		if !bytes.Contains(b, []byte(`"time":"2026-03-14T15:09:26.999999Z"`)) {
			t.Fatalf("time not UTC microseconds: %s", b)
		}
		b = mustMarshal(t, minimalEntry())
		if !bytes.Contains(b, []byte(`"time":"2026-01-02T03:04:05.000000Z"`)) {
			t.Fatalf("time does not always have six digits: %s", b)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		a := mustMarshal(t, richEntry())
		for range 20 {
			if b := mustMarshal(t, richEntry()); !bytes.Equal(a, b) {
				t.Fatal("two encodings of equal entries differ")
			}
		}
		// Equal instants in different zones encode the same.
		e1, e2 := minimalEntry(), minimalEntry()
		e2.Event.Time = e1.Event.Time.In(est)
		if !bytes.Equal(mustMarshal(t, e1), mustMarshal(t, e2)) {
			t.Fatal("the zone of a time changes its encoding")
		}
	})
	t.Run("links without prev carry no hash", func(t *testing.T) {
		en := minimalEntry()
		en.Links = []labtrust.Link{{Patient: 0, PrevIndex: 0, PrevHash: hash32(1)}} // HasPrev false: hash ignored
		b := mustMarshal(t, en)
		if !bytes.Contains(b, []byte(`"links":[{"hasPrev":false,"patient":0,"prevIndex":0}]`)) {
			t.Fatalf("%s", b)
		}
	})
}

// TestCanonicalInvalidUTF8 shows why every text field is checked: the JSON
// encoder would otherwise turn different bytes into the same U+FFFD, so
// two different patient identifiers would commit to the same bytes.
func TestCanonicalInvalidUTF8(t *testing.T) {
	set := map[string]func(e *labtrust.Event){
		"source":           func(e *labtrust.Event) { e.Source = "s\xff" },
		"actor.role":       func(e *labtrust.Event) { e.Actor.Role = "r\xfe" },
		"patients[1].id":   func(e *labtrust.Event) { e.Patients[1].ID = "MRN\xff1" },
		"objects[0].query": func(e *labtrust.Event) { e.Objects[0].Query = "q\xc3" },
		"type.display":     func(e *labtrust.Event) { e.Type.Display = "\xed\xa0\x80" }, // an encoded surrogate
		"purpose[0].code":  func(e *labtrust.Event) { e.Purpose[0].Code = "\x80" },
	}
	for field, f := range set {
		en := richEntry()
		f(&en.Event)
		_, err := en.MarshalCanonical()
		var ve *labtrust.ValidationError
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s: MarshalCanonical error %v, want a ValidationError for %s", field, err, field)
		}
		// Validate rejects what MarshalCanonical cannot encode, so ingest
		// turns it into a reject instead of failing a batch.
		if err := en.Event.Validate(); !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s: Validate error %v", field, err)
		}
	}
}

func TestUnmarshalCanonicalRejects(t *testing.T) {
	good := string(mustMarshal(t, richEntry()))
	if _, err := labtrust.UnmarshalCanonical([]byte(good)); err != nil {
		t.Fatal(err)
	}
	minimal := string(mustMarshal(t, minimalEntry()))
	prev := hex.EncodeToString(func() []byte { h := hash32(0xa0); return h[:] }())
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "canonical entry"},
		{"not json", "nope", "canonical entry"},
		{"array", "[]", "canonical entry"},
		{"unknown field", strings.Replace(minimal, `"v":1}`, `"v":1,"x":1}`, 1), "unknown field"},
		{"unknown nested field", strings.Replace(minimal, `"actor":{"id":"u"}`, `"actor":{"id":"u","mrn":"1"}`, 1), "unknown field"},
		{"version 2", strings.Replace(minimal, `"v":1}`, `"v":2}`, 1), "unknown version 2"},
		{"version 0", strings.Replace(minimal, `,"v":1}`, `}`, 1), "unknown version 0"},
		{"reordered keys", strings.Replace(minimal, `{"actor":{"id":"u"},"index":0,`, `{"index":0,"actor":{"id":"u"},`, 1), "not in canonical form"},
		{"space after colon", strings.Replace(minimal, `"index":0`, `"index": 0`, 1), "not in canonical form"},
		{"leading space", " " + minimal, "not in canonical form"},
		{"trailing newline", minimal + "\n", "not in canonical form"},
		{"indented", indent(t, minimal), "not in canonical form"},
		{"escaped letter", strings.Replace(minimal, `"source":"s"`, `"source":"\u0073"`, 1), "not in canonical form"},
		{"escaped line separator", strings.Replace(minimal, `"source":"s"`, `"source":"\u2028"`, 1), "not in canonical form"},
		{"html escape", strings.Replace(good, `u<42>`, `u\u003c42>`, 1), "not in canonical form"},
		{"explicit empty omitempty field", strings.Replace(minimal, `"actor":{"id":"u"}`, `"actor":{"id":"u","name":""}`, 1), "not in canonical form"},
		{"number with exponent", strings.Replace(minimal, `"index":0`, `"index":0e0`, 1), "canonical entry"},
		{"number with leading zero", strings.Replace(good, `"index":4711`, `"index":04711`, 1), "canonical entry"},
		{"negative index", strings.Replace(minimal, `"index":0`, `"index":-1`, 1), "canonical entry"},
		{"two objects", minimal + minimal, "not in canonical form"},
		{"bad prevHash: short", strings.Replace(good, prev, prev[:62], 1), "prevHash is not 64 hex digits"},
		{"bad prevHash: not hex", strings.Replace(good, prev, "zz"+prev[2:], 1), "prevHash is not 64 hex digits"},
		{"bad prevHash: upper case", strings.Replace(good, prev, strings.ToUpper(prev), 1), "not in canonical form"},
		{"bad prevHash: missing", strings.Replace(good, `"prevHash":"`+prev+`",`, ``, 1), "prevHash is not 64 hex digits"},
		{"prevHash without hasPrev", strings.Replace(good, `"hasPrev":false,"patient":1,`, `"hasPrev":false,"patient":1,"prevHash":"`+prev+`",`, 1), "not in canonical form"},
		{"bad time: no fraction", strings.Replace(minimal, `05.000000Z`, `05Z`, 1), "time"},
		{"bad time: millis", strings.Replace(minimal, `05.000000Z`, `05.000Z`, 1), "time"},
		{"bad time: nanos", strings.Replace(minimal, `05.000000Z`, `05.000000000Z`, 1), "time"},
		{"bad time: offset", strings.Replace(minimal, `05.000000Z`, `05.000000+00:00`, 1), "time"},
		{"bad time: date", strings.Replace(minimal, `2026-01-02`, `2026-13-02`, 1), "time"},
		{"bad time: empty", strings.Replace(minimal, `"2026-01-02T03:04:05.000000Z"`, `""`, 1), "time"},
		{"bad time: number", strings.Replace(minimal, `"2026-01-02T03:04:05.000000Z"`, `1`, 1), "canonical entry"},
		{"invalid utf-8", strings.Replace(minimal, `"source":"s"`, "\"source\":\"s\xff\"", 1), "canonical entry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == good || tc.in == minimal {
				t.Fatal("test case did not change the input")
			}
			en, err := labtrust.UnmarshalCanonical([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted %q as %+v", tc.in, en)
			}
			if en != nil {
				t.Errorf("returned an entry with the error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			// Error messages name fields, never values (the canonical text
			// is PHI).
			for _, phi := range []string{"MRN-0001", "Doe", "Zoë"} {
				if strings.Contains(err.Error(), phi) {
					t.Fatalf("error %q contains the value %q", err, phi)
				}
			}
		})
	}
}

func indent(t *testing.T, s string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestValidate(t *testing.T) {
	valid := func() labtrust.Event { return richEntry().Event }
	if e := valid(); e.Validate() != nil {
		t.Fatal(e.Validate())
	}
	sec := minimalEntry().Event
	if err := sec.Validate(); err != nil {
		t.Fatalf("security event without patients: %v", err)
	}
	for _, o := range []labtrust.Outcome{0, 4, 8, 12} {
		e := valid()
		e.Outcome = o
		if err := e.Validate(); err != nil {
			t.Errorf("outcome %d: %v", o, err)
		}
	}
	for _, a := range []labtrust.Actor{{ID: "x"}, {Name: "x"}, {AltID: "x"}} {
		e := valid()
		e.Actor = a
		if err := e.Validate(); err != nil {
			t.Errorf("actor %+v: %v", a, err)
		}
	}

	const secret = "SECRET-VALUE-4711"
	cases := []struct {
		field string
		mod   func(e *labtrust.Event)
	}{
		{"time", func(e *labtrust.Event) { e.Time = time.Time{} }},
		{"time", func(e *labtrust.Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"time", func(e *labtrust.Event) { e.Time = time.Unix(-62135596801, 0) }}, // a second before year 1
		{"source", func(e *labtrust.Event) { e.Source = "" }},
		{"kind", func(e *labtrust.Event) { e.Kind = "" }},
		{"outcome", func(e *labtrust.Event) { e.Outcome = 1 }},
		{"outcome", func(e *labtrust.Event) { e.Outcome = -4 }},
		{"outcome", func(e *labtrust.Event) { e.Outcome = 16 }},
		{"actor", func(e *labtrust.Event) { e.Actor = labtrust.Actor{Role: secret, Site: secret, UserType: "person"} }},
		{"patients", func(e *labtrust.Event) { e.Patients = nil }},
		{"patients[0]", func(e *labtrust.Event) { e.Patients[0].ID = "" }},
		{"patients[1]", func(e *labtrust.Event) { e.Patients[1] = labtrust.PatientRef{System: secret, ID: " \t\n"} }},
		{"actor.name", func(e *labtrust.Event) { e.Actor.Name = secret + "\xff" }},
		{"patients[0].id", func(e *labtrust.Event) { e.Patients[0].ID = secret + "\xff" }},
		{"network", func(e *labtrust.Event) { e.Network = secret + "\xff" }},
		{"subtype[1].display", func(e *labtrust.Event) { e.Subtype[1].Display = secret + "\xff" }},
		{"objects[1].query", func(e *labtrust.Event) { e.Objects[1].Query = secret + "\xff" }},
	}
	for _, tc := range cases {
		e := valid()
		tc.mod(&e)
		err := e.Validate()
		var ve *labtrust.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: got %v, want a *ValidationError", tc.field, err)
			continue
		}
		if ve.Field != tc.field || ve.Reason == "" {
			t.Errorf("got field %q reason %q, want field %q", ve.Field, ve.Reason, tc.field)
		}
		if !strings.HasPrefix(err.Error(), tc.field+": ") {
			t.Errorf("message %q does not start with the field", err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "MRN") {
			t.Errorf("message %q contains the field's value", err)
		}
	}
	// Non-access events need no patient, but a named patient must be valid.
	e := sec
	e.Patients = []labtrust.PatientRef{{ID: ""}}
	if err := e.Validate(); err == nil {
		t.Error("security event with an empty patient id accepted")
	}
}

func BenchmarkMarshalCanonical(b *testing.B) {
	en := richEntry()
	n := len(mustMarshal(b, en))
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := en.MarshalCanonical(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkUnmarshalCanonical(b *testing.B) {
	c := mustMarshal(b, richEntry())
	b.SetBytes(int64(len(c)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := labtrust.UnmarshalCanonical(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkCommit(b *testing.B) {
	c := mustMarshal(b, richEntry())
	nonce := make([]byte, labtrust.NonceSize)
	b.SetBytes(int64(len(c) + len(nonce)))
	for b.Loop() {
		labtrust.Commit(nonce, c)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDecodeStored(b *testing.B) {
	en := richEntry()
	canon, err := en.MarshalCanonical()
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, labtrust.NonceSize)
	nonce[0] = 1
	b.SetBytes(int64(len(canon)))
	for i := 0; i < b.N; i++ {
		if _, err := labtrust.DecodeStored(nonce, canon); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
