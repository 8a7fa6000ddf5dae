package vault

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type memKeys struct{ keys []WrappedKey }

func (m *memKeys) LoadKeys(context.Context) ([]WrappedKey, error) { return m.keys, nil }
func (m *memKeys) SaveKey(_ context.Context, k WrappedKey) error {
	m.keys = append(m.keys, k)
	return nil
}

func TestKeyringSealOpenRotateReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek, err := LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	ks := &memKeys{}
	kr, err := Open(ctx, kek, ks)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.keys) != 2 {
		t.Fatalf("first open stored %d keys, want a blind key and a data key", len(ks.keys))
	}
	for _, k := range ks.keys {
		if bytes.Contains(k.Wrapped, kr.blind) {
			t.Fatal("wrapped key contains the raw blind key")
		}
	}
	msg := []byte("patient MRN-1 viewed")
	c1, err := kr.Seal(ctx, nil, msg, []byte("aad-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(c1, msg) {
		t.Fatal("ciphertext contains plaintext")
	}
	if err := kr.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	c2, _ := kr.Seal(ctx, nil, msg, []byte("aad-2"))
	if bytes.Equal(c1[:4], c2[:4]) {
		t.Fatal("rotation did not change the key id")
	}
	// A fresh keyring from the same store and KEK opens both.
	kek2, err := LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	kr2, err := Open(ctx, kek2, ks)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range [][]byte{c1, c2} {
		got, err := kr2.Open(nil, c, []byte("aad-"+string(rune('1'+i))))
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("open %d: %q %v", i, got, err)
		}
	}
	if !bytes.Equal(kr.Blind("MRN-1"), kr2.Blind(" MRN-1 ")) {
		t.Fatal("blind index differs across reopen or for surrounding spaces")
	}
	if bytes.Equal(kr.Blind("MRN-1"), kr.Blind("MRN-2")) {
		t.Fatal("distinct identifiers share a blind index")
	}
	// Tampering, wrong aad and unknown keys all fail authentication.
	bad := append([]byte(nil), c1...)
	bad[len(bad)-1] ^= 1
	for name, tc := range map[string]struct{ c, aad []byte }{
		"flipped": {bad, []byte("aad-1")},
		"aad":     {c1, []byte("aad-2")},
		"short":   {c1[:10], []byte("aad-1")},
		"unknown": {append([]byte{0xff, 0xff, 0xff, 0xff}, c1[4:]...), []byte("aad-1")},
	} {
		if _, err := kr2.Open(nil, tc.c, tc.aad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: got %v, want ErrDecrypt", name, err)
		}
	}
}

func TestFileKEKRefusesLooseMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kek.key")
	if _, err := LoadOrCreateFileKEK(p); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateFileKEK(p); err == nil {
		t.Fatal("accepted a world-readable key file")
	}
}

func TestWrongKEKCannotOpen(t *testing.T) {
	ctx := context.Background()
	k1, _ := LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "a"))
	k2, _ := LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "b"))
	ks := &memKeys{}
	if _, err := Open(ctx, k1, ks); err != nil {
		t.Fatal(err)
	}
	var wrong *WrongKEKError
	if _, err := Open(ctx, k2, ks); !errors.As(err, &wrong) || wrong.WrappedBy != k1.ID() {
		t.Fatalf("foreign KEK: got %v", err)
	}
	// A stored key that claims the right KEK but was wrapped by another
	// does not unwrap either.
	ks.keys[0].KEKID = k2.ID()
	ks.keys[1].KEKID = k2.ID()
	if _, err := Open(ctx, k2, ks); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("mislabelled key: got %v", err)
	}
}

func TestRewrapMovesKeysToAnotherKEK(t *testing.T) {
	ctx := context.Background()
	k1, _ := LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "a"))
	k2, _ := LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "b"))
	ks := &memKeys{}
	kr, err := Open(ctx, k1, ks)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := kr.Seal(ctx, nil, []byte("phi"), []byte("aad"))
	blind := kr.Blind("MRN1")
	if _, err := Rewrap(ctx, k2, k1, ks); err == nil {
		t.Fatal("rewrap from the wrong KEK")
	}
	re, err := Rewrap(ctx, k1, k2, ks)
	if err != nil {
		t.Fatal(err)
	}
	if len(re) != len(ks.keys) {
		t.Fatalf("%d rewrapped of %d", len(re), len(ks.keys))
	}
	ks.keys = re
	kr2, err := Open(ctx, k2, ks)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr2.Open(nil, sealed, []byte("aad")); err != nil || string(pt) != "phi" {
		t.Fatalf("after rewrap: %q %v", pt, err)
	}
	if string(kr2.Blind("MRN1")) != string(blind) {
		t.Fatal("blind index changed across a rewrap")
	}
}

func BenchmarkSeal(b *testing.B) {
	ctx := context.Background()
	kek, _ := LoadOrCreateFileKEK(filepath.Join(b.TempDir(), "k"))
	kr, _ := Open(ctx, kek, &memKeys{})
	msg := make([]byte, 600)
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		buf, _ = kr.Seal(ctx, buf[:0], msg, []byte("12345678"))
	}
}
