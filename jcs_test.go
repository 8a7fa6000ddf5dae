package labtrust_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

// jcs re-serializes JSON text in the RFC 8785 JSON Canonicalization Scheme:
// object members sorted by the UTF-16 code units of their names, no
// insignificant whitespace, strings escaped as ECMAScript's JSON.stringify
// does. It is an independent oracle for MarshalCanonical; numbers are
// limited to integers of at most 2^53, where the ECMAScript form is the
// plain decimal.
func jcs(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	var out bytes.Buffer
	if err := jcsValue(&out, v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func jcsValue(w *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		w.WriteString("null")
	case bool:
		w.WriteString(strconv.FormatBool(v))
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		// Past 2^53 a JSON integer has no exact IEEE double, so its JCS
		// form is not its own text: outside what this oracle handles.
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return fmt.Errorf("number %s is outside what this oracle handles", v)
		}
		if f == 0 {
			f = 0 // -0 is written 0
		}
		w.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
	case string:
		jcsString(w, v)
	case []any:
		w.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := jcsValue(w, x); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		})
		w.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				w.WriteByte(',')
			}
			jcsString(w, k)
			w.WriteByte(':')
			if err := jcsValue(w, v[k]); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

func jcsString(w *bytes.Buffer, s string) {
	w.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			w.WriteString(`\"`)
		case '\\':
			w.WriteString(`\\`)
		case '\b':
			w.WriteString(`\b`)
		case '\f':
			w.WriteString(`\f`)
		case '\n':
			w.WriteString(`\n`)
		case '\r':
			w.WriteString(`\r`)
		case '\t':
			w.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(w, `\u%04x`, r)
			} else {
				w.WriteRune(r)
			}
		}
	}
	w.WriteByte('"')
}

// TestJCSOracle checks the oracle itself against the published JCS test
// vectors (testdata/jcs, see its README.md).
func TestJCSOracle(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join("testdata", "jcs", "*.input.json"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.Replace(in, ".input.", ".output.", 1))
			if err != nil {
				t.Fatal(err)
			}
			got, err := jcs(src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("\n got: %q\nwant: %q", got, want)
			}
		})
	}
}
