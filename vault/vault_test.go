package vault

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/tink-crypto/tink-go/v2/prf"
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
	if len(ks.keys) != 2 || ks.keys[0].Purpose != PurposeAEADKeyset || ks.keys[1].Purpose != PurposePRFKeyset {
		t.Fatalf("first open stored %+v, want an AEAD keyset and a PRF keyset", ks.keys)
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
	if c1[0] != 1 || bytes.Equal(c1[1:5], c2[1:5]) {
		t.Fatal("rotation did not change the key id")
	}
	if id, primary := kr.KeyOf(c1); primary || id != binary.BigEndian.Uint32(c1[1:5]) {
		t.Fatalf("KeyOf(old) = %d %v", id, primary)
	}
	if _, primary := kr.KeyOf(c2); !primary {
		t.Fatal("KeyOf(new) is not the primary")
	}
	info := kr.Info()
	if len(info) != 3 || !info[1].Primary || info[1].Status != "enabled" || info[2].Purpose != PurposePRFKeyset {
		t.Fatalf("Info = %+v", info)
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
	// The blind index is Tink's HMAC-SHA-256 PRF of the PRF keyset.
	h, err := kr.readKeyset(ctx, &ks.keys[1])
	if err != nil {
		t.Fatal(err)
	}
	ps, err := prf.NewPRFSet(h)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := ps.ComputePrimaryPRF([]byte("MRN-1"), BlindSize); !bytes.Equal(kr.Blind("MRN-1"), want) {
		t.Fatal("blind index is not the PRF keyset's output")
	}
	// From many goroutines at once (Blind keeps HMAC states in a pool):
	// each the PRF's output for its own identifier.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("MRN-%d-%d", g, i)
				if want, _ := ps.ComputePrimaryPRF([]byte(id), BlindSize); !bytes.Equal(kr.Blind(id), want) {
					t.Errorf("blind index of %s is not the PRF's output", id)
					return
				}
			}
		})
	}
	wg.Wait()
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
		"unknown": {append([]byte{1, 0xff, 0xff, 0xff, 0xff}, c1[5:]...), []byte("aad-1")},
		"legacy":  {append([]byte{0, 0, 0, 9}, c1[5:]...), []byte("aad-1")},
	} {
		if _, err := kr2.Open(nil, tc.c, tc.aad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: got %v, want ErrDecrypt", name, err)
		}
	}
}

// TestPreTinkKeysStillWork: a data directory from before the move to Tink
// keeps opening what its raw data key sealed and keeps its blind indexes.
func TestPreTinkKeysStillWork(t *testing.T) {
	ctx := context.Background()
	kek, _ := LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "kek.key"))
	dataKey, blindKey := make([]byte, 32), make([]byte, 32)
	rand.Read(dataKey)
	rand.Read(blindKey)
	ks := &memKeys{}
	for i, raw := range [][]byte{blindKey, dataKey} {
		w, _ := kek.Wrap(ctx, raw)
		ks.keys = append(ks.keys, WrappedKey{ID: uint32(i + 1), Purpose: []Purpose{PurposeBlind, PurposeData}[i], KEKID: kek.ID(), Wrapped: w})
	}
	// A ciphertext in the pre-Tink layout: key row, nonce, sealed.
	b, _ := aes.NewCipher(dataKey)
	g, _ := cipher.NewGCM(b)
	old := []byte{0, 0, 0, 2}
	nonce := make([]byte, 12)
	rand.Read(nonce)
	old = g.Seal(append(old, nonce...), nonce, []byte("old body"), []byte("aad"))

	kr, err := Open(ctx, kek, ks)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr.Open(nil, old, []byte("aad")); err != nil || string(pt) != "old body" {
		t.Fatalf("pre-Tink ciphertext: %q %v", pt, err)
	}
	m := hmac.New(sha256.New, blindKey)
	m.Write([]byte("MRN-7"))
	if !bytes.Equal(kr.Blind("MRN-7"), m.Sum(nil)[:BlindSize]) {
		t.Fatal("blind index changed with the move to Tink")
	}
	c, _ := kr.Seal(ctx, nil, []byte("new body"), []byte("aad"))
	if c[0] != 1 {
		t.Fatal("new sealing is not Tink's")
	}
	if len(ks.keys) != 3 || ks.keys[2].Purpose != PurposeAEADKeyset {
		t.Fatalf("keys after opening: %+v", ks.keys)
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
	for i := range ks.keys {
		ks.keys[i].KEKID = k2.ID()
	}
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

func BenchmarkBlinder(b *testing.B) {
	ctx := context.Background()
	kek, _ := LoadOrCreateFileKEK(filepath.Join(b.TempDir(), "k"))
	kr, _ := Open(ctx, kek, &memKeys{})
	blind := kr.Blinder()
	for i := 0; i < b.N; i++ {
		blind("MRN00012345")
	}
}

// uniqueKeys refuses a second row with the same ID, as the database does.
type uniqueKeys struct{ memKeys }

func (u *uniqueKeys) SaveKey(ctx context.Context, k WrappedKey) error {
	for _, x := range u.keys {
		if x.ID == k.ID {
			return labtrust.ErrConflict
		}
	}
	return u.memKeys.SaveKey(ctx, k)
}

func TestRotationFromTwoProcessesKeepsEveryKey(t *testing.T) {
	ctx := context.Background()
	kek, _ := LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "k"))
	ks := &uniqueKeys{}
	server, err := Open(ctx, kek, ks)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Open(ctx, kek, ks)
	if err != nil {
		t.Fatal(err)
	}
	c0, _ := server.Seal(ctx, nil, []byte("0"), nil)
	if err := cli.Rotate(ctx); err != nil { // the CLI rotates while the server runs
		t.Fatal(err)
	}
	c1, _ := cli.Seal(ctx, nil, []byte("1"), nil)
	// The server's copy is stale; its next change must build on the CLI's.
	if err := server.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	c2, _ := server.Seal(ctx, nil, []byte("2"), nil)
	fresh, err := Open(ctx, kek, ks)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range [][]byte{c0, c1, c2} {
		if pt, err := fresh.Open(nil, c, nil); err != nil || string(pt) != string(rune('0'+i)) {
			t.Fatalf("ciphertext %d: %q %v", i, pt, err)
		}
	}
	if n := len(fresh.Info()); n != 4 {
		t.Fatalf("%d keys, want 3 AEAD keys and the PRF key", n)
	}
	// Reload picks up a rotation made elsewhere.
	if err := cli.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	c3, _ := server.Seal(ctx, nil, []byte("3"), nil)
	if _, primary := cli.KeyOf(c3); !primary {
		t.Fatal("after Reload the server does not seal with the newest primary")
	}
	// Retiring: never the primary; a retired key's ciphertexts stop opening.
	oldID, _ := fresh.KeyOf(c0)
	pid, _ := cli.KeyOf(c3)
	if err := cli.Retire(ctx, pid); err == nil {
		t.Fatal("retired the primary key")
	}
	if err := cli.Retire(ctx, oldID); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Open(nil, c0, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a retired key still opens: %v", err)
	}
	if pt, err := cli.Open(nil, c1, nil); err != nil || string(pt) != "1" {
		t.Fatalf("retiring one key broke another: %v", err)
	}
}
