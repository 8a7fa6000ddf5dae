package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/r4/*.json")
	more, _ := filepath.Glob("testdata/balp/*.json")
	files = append(files, more...)
	files = append(files, "testdata/bundle.json", "testdata/mixed.ndjson")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Big seeds make the fuzzer spend its time minimizing; the
		// compact form keeps the structure at a third of the size.
		var c bytes.Buffer
		if json.Compact(&c, b) == nil && c.Len() < 4096 {
			b = c.Bytes()
		}
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	for _, s := range []string{"", "{", "[]", `{"a":1,"a":2}`, `"\ud800\udc00"`, `{"resourceType":"Bundle","entry":[{"resource":{}}]}`, "1e5", "-0.5E-3", `"\u0000"`} {
		f.Add([]byte(s))
	}
}

// FuzzParse runs arbitrary bytes through Parse. Parse must not fail (the
// input is in memory) or panic, every reject must be well formed, and, when
// the input is framed as NDJSON, every non-blank line must give exactly one
// record.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	good, err := Encode(sampleEvent(1))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &collector{}
		if err := Parse(context.Background(), "fz", bytes.NewReader(data), c); err != nil {
			t.Fatalf("Parse failed on in-memory input: %v", err)
		}
		checkRecords(t, c)

		// NDJSON framing: a known-good first line and at least one more
		// non-blank line force NDJSON mode.
		framed := append(append(append([]byte(nil), good...), '\n'), data...)
		framed = append(framed, "\n"+string(good)...)
		c = &collector{}
		if err := Parse(context.Background(), "fz", bytes.NewReader(framed), c); err != nil {
			t.Fatalf("Parse failed on in-memory input: %v", err)
		}
		checkRecords(t, c)
		want := 0
		for _, l := range bytes.Split(framed, []byte("\n")) {
			if !isBlank(l) {
				want++
			}
		}
		if got := len(c.events) + len(c.rejects); got != want {
			t.Fatalf("%d non-blank lines gave %d events + %d rejects", want, len(c.events), len(c.rejects))
		}
	})
}

func checkRecords(t *testing.T, c *collector) {
	t.Helper()
	for _, r := range c.rejects {
		if r.Format != Format || r.Source != "fz" || r.Position == "" || r.Reason == "" {
			t.Fatalf("malformed reject %+v", r)
		}
		if !utf8.ValidString(r.Reason) {
			t.Fatalf("reason is not UTF-8: %q", r.Reason)
		}
	}
	for _, e := range c.events {
		if err := e.Validate(); err != nil {
			t.Fatalf("event does not validate: %v", err)
		}
		en := labtrust.Entry{Event: e}
		b, err := en.MarshalCanonical()
		if err != nil {
			t.Fatalf("event has no canonical form: %v", err)
		}
		if _, err := labtrust.UnmarshalCanonical(b); err != nil {
			t.Fatalf("canonical form does not round-trip: %v", err)
		}
	}
}

// FuzzJSON checks the JSON parser against encoding/json: on valid UTF-8
// input without duplicate names or deep nesting both must agree on
// validity, and string values must decode the same.
func FuzzJSON(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p jsonParser
		err := p.parse(data)
		if !utf8.Valid(data) {
			return // encoding/json does not validate UTF-8; we do
		}
		if err != nil && (strings.Contains(err.Error(), "duplicate member name") || strings.Contains(err.Error(), "nesting too deep")) {
			return
		}
		if (err == nil) != json.Valid(data) {
			t.Fatalf("validity differs: ours %v, encoding/json %v", err, json.Valid(data))
		}
		if err != nil {
			return
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // grammar-valid numbers may overflow float64
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		// Compare every string value in document order.
		var ours []string
		for _, n := range p.nodes {
			if n.kind == kString {
				ours = append(ours, string(n.val))
			}
		}
		var theirs []string
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				theirs = append(theirs, x)
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
		if _, isObj := v.(map[string]any); !isObj && len(ours) == len(theirs) {
			for i := range ours {
				if ours[i] != theirs[i] {
					t.Fatalf("string %d: ours %q, encoding/json %q", i, ours[i], theirs[i])
				}
			}
		}
	})
}
