package breach

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzParseLaw: any bytes either parse into a law that passes its own
// checks or give an error; never a panic.
func FuzzParseLaw(f *testing.F) {
	for _, c := range []string{"TX", "FL", "CA"} {
		b, err := os.ReadFile(filepath.Join("laws", c+".yaml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("code: tx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLaw(b)
		if err != nil {
			return
		}
		if err := l.check(); err != nil {
			t.Fatalf("parsed a law that fails its checks: %v", err)
		}
		if len(l.Covered) == 0 || l.Individuals.Citation == "" {
			t.Fatal("parsed a law without coverage or citation")
		}
	})
}

// FuzzVerifyManifest: arbitrary input never verifies against a key that
// did not sign it, and never panics.
func FuzzVerifyManifest(f *testing.F) {
	skey, vkey, _ := note.GenerateKey(nil, "fuzz.example/log")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	good, err := SignManifest(&Scope{Incident: 1, Patients: []Affected{{Blind: []byte{1}, State: "TX", Elements: []Element{ElementName}, Entries: []uint64{0}}}}, signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"manifest":{},"signature":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := VerifyManifest(b, verifier, nil)
		if err == nil && m == nil {
			t.Fatal("no error and no manifest")
		}
		// The seed's checkpoint is empty, so nothing may verify.
		if err == nil {
			t.Fatal("a manifest without a signed checkpoint verified")
		}
	})
}
