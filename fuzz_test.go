package labtrust_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

// FuzzUnmarshalCanonical checks that UnmarshalCanonical accepts only bytes
// that MarshalCanonical would write: whatever it accepts re-encodes to the
// identical bytes, parses again to an equal entry, and is in RFC 8785 form.
func FuzzUnmarshalCanonical(f *testing.F) {
	for _, en := range []*labtrust.Entry{richEntry(), minimalEntry()} {
		b, err := en.MarshalCanonical()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(bytes.Replace(b, []byte(`"v":1`), []byte(`"v":2`), 1))
		f.Add(append([]byte(" "), b...))
	}
	ls := minimalEntry()
	ls.Event.Actor.Name = "\u2028\\u2028\u2029"
	b, _ := ls.MarshalCanonical()
	f.Add(b)
	if gs, _ := filepath.Glob(filepath.Join("testdata", "canonical", "*.json")); len(gs) > 0 {
		for _, g := range gs {
			b, err := os.ReadFile(g)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		en, err := labtrust.UnmarshalCanonical(b)
		if err != nil {
			if en != nil {
				t.Fatal("entry returned with an error")
			}
			return
		}
		again, err := en.MarshalCanonical()
		if err != nil {
			t.Fatalf("accepted bytes do not re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted bytes re-encode differently:\n in: %q\nout: %q", b, again)
		}
		en2, err := labtrust.UnmarshalCanonical(again)
		if err != nil || !reflect.DeepEqual(en, en2) {
			t.Fatalf("second parse differs: %v", err)
		}
		if j, err := jcs(b); err == nil && !bytes.Equal(j, b) {
			t.Fatalf("accepted bytes are not RFC 8785:\n in: %q\njcs: %q", b, j)
		}
	})
}

// FuzzUnmarshalStored reads erasure records: whatever it accepts names no
// patient and no object.
func FuzzUnmarshalStored(f *testing.F) {
	for _, en := range []*labtrust.Entry{richEntry(), minimalEntry()} {
		b, err := labtrust.Erase(en, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(bytes.Replace(b, []byte(`"erasedAt"`), []byte(`"erasedat"`), 1))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		en, err := labtrust.UnmarshalStored(labtrust.ErasedNonce(), b)
		if err != nil {
			return
		}
		if en.Erased.IsZero() || len(en.Event.Patients)+len(en.Event.Objects)+len(en.Links) != 0 || en.Event.SourceRef != "" {
			t.Fatalf("accepted an erasure that names data: %+v", en)
		}
		again, err := labtrust.Erase(en, en.Erased)
		if err != nil {
			t.Fatalf("accepted erasure does not re-encode: %v", err)
		}
		if en2, err := labtrust.UnmarshalStored(labtrust.ErasedNonce(), again); err != nil || !reflect.DeepEqual(en, en2) {
			t.Fatalf("re-encoded erasure reads back differently: %v", err)
		}
	})
}
