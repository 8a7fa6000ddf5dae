package ledger

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	fproof "github.com/transparency-dev/formats/proof"
)

func TestProofRoundTripAndVerify(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := buildLog(t, k, 100, 1000)
	r, err := OpenReader(dir, testOrigin, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, i := range []uint64{0, 1, 255, 256, 999} {
		p, err := r.Proof(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyProof(p, entry(i), k.verifier, testOrigin); err != nil {
			t.Fatalf("proof of %d: %v", i, err)
		}
		parsed, err := ParseProof(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(FormatProof(parsed), p) {
			t.Fatal("proof does not round-trip")
		}
		// transparency-dev/formats reads the same fields.
		var tp fproof.TLogProof
		if err := tp.Unmarshal(p); err != nil {
			t.Fatal(err)
		}
		if tp.Index != i || len(tp.Hashes) != len(parsed.Hashes) || !bytes.Equal(tp.Checkpoint, parsed.Checkpoint) {
			t.Fatalf("formats reads index %d, %d hashes", tp.Index, len(tp.Hashes))
		}
		if !bytes.Equal(tp.Marshal(), p) {
			t.Fatalf("formats encodes differently:\n%s\nvs\n%s", tp.Marshal(), p)
		}
	}

	p, _ := r.Proof(ctx, 42)
	other := newTestKey(t, testOrigin)
	for name, err := range map[string]error{
		"wrong entry":  VerifyProof(p, entry(43), k.verifier, testOrigin),
		"wrong key":    VerifyProof(p, entry(42), other.verifier, testOrigin),
		"wrong origin": VerifyProof(p, entry(42), k.verifier, "another.log"),
		"wrong index":  VerifyProof(bytes.Replace(p, []byte("index 42\n"), []byte("index 43\n"), 1), entry(42), k.verifier, testOrigin),
		"flipped hash": VerifyProof(flipLine(p, 2), entry(42), k.verifier, testOrigin),
		"dropped hash": VerifyProof(dropLine(p, 2), entry(42), k.verifier, testOrigin),
		"not a proof":  VerifyProof([]byte("hello"), entry(42), k.verifier, testOrigin),
	} {
		if err == nil {
			t.Errorf("%s: VerifyProof succeeded", name)
		}
	}
}

func flipLine(p []byte, n int) []byte {
	lines := strings.Split(string(p), "\n")
	b := []byte(lines[n])
	b[0] = flipBase64(b[0])
	lines[n] = string(b)
	return []byte(strings.Join(lines, "\n"))
}

func dropLine(p []byte, n int) []byte {
	lines := strings.Split(string(p), "\n")
	return []byte(strings.Join(append(lines[:n:n], lines[n+1:]...), "\n"))
}

func TestParseProofStrict(t *testing.T) {
	cp := "labtrust.test/ledger\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— labtrust.test/ledger abc=\n"
	h := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	good := fmt.Sprintf("%s\nextra aGk=\nindex 7\n%s\n\n%s", ProofHeader, h, cp)
	p, err := ParseProof([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Index != 7 || len(p.Hashes) != 1 || string(p.Extra) != "hi" || string(p.Checkpoint) != cp {
		t.Fatalf("parsed %+v", p)
	}
	for name, bad := range map[string]string{
		"no header":        strings.TrimPrefix(good, ProofHeader+"\n"),
		"leading zero":     strings.Replace(good, "index 7", "index 07", 1),
		"negative index":   strings.Replace(good, "index 7", "index -7", 1),
		"short hash":       strings.Replace(good, h, h[:40], 1),
		"non-canonical":    strings.Replace(good, h, h[:42]+"V=", 1),
		"carriage return":  strings.Replace(good, h, h+"\r", 1),
		"no checkpoint":    fmt.Sprintf("%s\nindex 7\n%s\n\n", ProofHeader, h),
		"no blank line":    fmt.Sprintf("%s\nindex 7\n%s\n", ProofHeader, h),
		"bad extra":        strings.Replace(good, "aGk=", "a$k=", 1),
		"index overflow":   strings.Replace(good, "index 7", "index 18446744073709551616", 1),
		"missing index":    fmt.Sprintf("%s\n%s\n\n%s", ProofHeader, h, cp),
		"too many hashes":  fmt.Sprintf("%s\nindex 7\n%s\n%s", ProofHeader, strings.Repeat(h+"\n", 65), cp),
		"index is garbage": strings.Replace(good, "index 7", "index seven", 1),
	} {
		if _, err := ParseProof([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseProof(f *testing.F) {
	h := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	cp := "labtrust.test/ledger\n1\n" + h + "\n\n— labtrust.test/ledger abc=\n"
	f.Add([]byte(ProofHeader + "\nindex 0\n\n" + cp))
	f.Add([]byte(ProofHeader + "\nextra aGk=\nindex 5\n" + h + "\n" + h + "\n\n" + cp))
	f.Add([]byte(ProofHeader + "\nindex 01\n\nx"))
	f.Add([]byte("c2sp.org/tlog-proof@v1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		if again := FormatProof(p); !bytes.Equal(again, b) {
			t.Fatalf("round trip:\n%q\n%q", b, again)
		}
		// transparency-dev/formats, more lenient, must read the same proof.
		var tp fproof.TLogProof
		if err := tp.Unmarshal(b); err != nil {
			t.Fatalf("formats rejects a proof we accept: %v", err)
		}
		if tp.Index != p.Index || len(tp.Hashes) != len(p.Hashes) {
			t.Fatalf("formats reads index %d with %d hashes, we %d with %d", tp.Index, len(tp.Hashes), p.Index, len(p.Hashes))
		}
	})
}
