package accessreport_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/labtrust/labtrust/accessreport"
)

// FuzzRead: whatever Read accepts has the right format and survives
// Write and Read unchanged.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"format":"labtrust-access-report/v1","origin":"o","patient":{"id":"p"},"checkpoint":"","entries":[]}`))
	f.Add([]byte(`{"format":"labtrust-access-report/v1","entries":[{"index":1,"nonce":"AA==","canonical":"{}","proof":"x"}],"pending":2}`))
	f.Add([]byte(`{"format":"labtrust-access-report/v2"}`))
	f.Add([]byte(`{"format":"labtrust-access-report/v1"} {}`))
	f.Add([]byte(`{"format":"labtrust-access-report/v1","x":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := accessreport.Read(bytes.NewReader(b))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "access report: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if r.Format != accessreport.Format {
			t.Fatalf("accepted format %q", r.Format)
		}
		var out bytes.Buffer
		if err := r.Write(&out); err != nil {
			t.Fatal(err)
		}
		r2, err := accessreport.Read(&out)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !jsonEqual(t, r, r2) {
			t.Fatal("Write/Read changed an accepted report")
		}
	})
}

// FuzzVerify replaces the nonce, canonical bytes and proof of one entry of
// a real report: Verify must not panic, and must accept the report only if
// the entry's commitment is unchanged, which for a fuzzer means unchanged
// bytes (anything else would be a SHA-256 second preimage).
func FuzzVerify(f *testing.F) {
	s := standard(f)
	s.f.Stop(f)
	orig := s.report(f)
	e := orig.Entries[2]
	f.Add(e.Nonce, e.Canonical, e.Proof, e.Index)
	f.Add(orig.Entries[3].Nonce, orig.Entries[3].Canonical, orig.Entries[3].Proof, orig.Entries[3].Index)
	f.Add(e.Nonce, strings.Replace(e.Canonical, `"v":1`, `"v":2`, 1), e.Proof, e.Index)
	f.Add(e.Nonce, e.Canonical, strings.Replace(e.Proof, "index ", "index 1", 1), e.Index)
	f.Add("", "", "", uint64(0))
	f.Fuzz(func(t *testing.T, nonce, canonical, proof string, index uint64) {
		r := *orig
		r.Entries = slices.Clone(orig.Entries)
		r.Entries[2] = accessreport.Entry{Index: index, Nonce: nonce, Canonical: canonical, Proof: proof}
		_, err := accessreport.Verify(&r, s.f.Verifier)
		if err == nil && (canonical != e.Canonical || index != e.Index) {
			t.Fatalf("a changed entry verifies: index %d canonical %q", index, canonical)
		}
	})
}
