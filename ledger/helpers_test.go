package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "labtrust.test/ledger"

type testKey struct {
	signer   note.Signer
	verifier note.Verifier
}

func newTestKey(t testing.TB, name string) testKey {
	t.Helper()
	skey, vkey, err := NewKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{s, v}
}

// entry returns the deterministic test entry i: a 32-byte value standing in
// for a labtrust commitment.
func entry(i uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	h := sha256.Sum256(b[:])
	return h[:]
}

func entries(from, to uint64) [][]byte {
	out := make([][]byte, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, entry(i))
	}
	return out
}

// refRoot computes the RFC 6962 root of entries [0, n) with
// transparency-dev/merkle's compact range, independently of this package.
func refRoot(t testing.TB, n uint64) [32]byte {
	t.Helper()
	f := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := f.NewEmptyRange(0)
	for i := uint64(0); i < n; i++ {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(entry(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		return [32]byte(rfc6962.DefaultHasher.EmptyRoot())
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(root)
}

// buildLog creates a ledger in a new directory, appending entries and
// publishing a checkpoint at each of the given sizes (ascending).
func buildLog(t testing.TB, k testKey, sizes ...uint64) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	l, err := Open(ctx, dir, testOrigin, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, s := range sizes {
		if _, err := l.Append(entries(l.Size(), s)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func mustRead(t testing.TB, dir, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWrite(t testing.TB, dir, rel string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustVerify(t testing.TB, dir string, k testKey, opts ...VerifyOption) *Report {
	t.Helper()
	rep, err := Verify(context.Background(), dir, testOrigin, k.verifier, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func noteSigner(skey string) (note.Signer, error)     { return note.NewSigner(skey) }
func noteVerifier(vkey string) (note.Verifier, error) { return note.NewVerifier(vkey) }
