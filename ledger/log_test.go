package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

func TestTilePath(t *testing.T) {
	for _, c := range []struct {
		l    int
		n    uint64
		w    int
		want string
	}{
		{0, 0, 256, "tile/0/000"},
		{0, 0, 5, "tile/0/000.p/5"},
		{3, 1234067, 256, "tile/3/x001/x234/067"},
		{3, 1234067, 1, "tile/3/x001/x234/067.p/1"},
		{1, 1000, 256, "tile/1/x001/000"},
		{0, 999, 255, "tile/0/999.p/255"},
	} {
		if got := TilePath(c.l, c.n, c.w); got != c.want {
			t.Errorf("TilePath(%d, %d, %d) = %q, want %q", c.l, c.n, c.w, got, c.want)
		}
	}
	if got := BundlePath(1234067, 7); got != "tile/entries/x001/x234/067.p/7" {
		t.Errorf("BundlePath = %q", got)
	}
	// Cross-check with the Go checksum database's encoding, which differs
	// only in naming the height and calling the entry level "data".
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		n := r.Uint64N(1 << uint(r.IntN(50)+1))
		w := r.IntN(256) + 1
		l := r.IntN(6)
		want := strings.Replace(tlog.Tile{H: 8, L: l, N: int64(n), W: w}.Path(), "tile/8/", "tile/", 1)
		if got := TilePath(l, n, w); got != want {
			t.Fatalf("TilePath(%d, %d, %d) = %q, tlog says %q", l, n, w, got, want)
		}
		want = strings.Replace(tlog.Tile{H: 8, L: -1, N: int64(n), W: w}.Path(), "tile/8/data/", "tile/entries/", 1)
		if got := BundlePath(n, w); got != want {
			t.Fatalf("BundlePath(%d, %d) = %q, tlog says %q", n, w, got, want)
		}
	}
}

func TestNewLogHasEmptyCheckpoint(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := t.TempDir()
	l, err := Open(context.Background(), dir, testOrigin, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msg := mustRead(t, dir, "checkpoint")
	cp, err := OpenCheckpoint(msg, testOrigin, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 0 || cp.Root != emptyRoot {
		t.Fatalf("initial checkpoint = %+v", cp)
	}
	if l.Size() != 0 || l.Checkpointed() != 0 {
		t.Fatalf("Size %d, Checkpointed %d", l.Size(), l.Checkpointed())
	}
	again, err := l.Checkpoint(context.Background())
	if err != nil || !bytes.Equal(again, msg) {
		t.Fatalf("Checkpoint with nothing new = %q, %v; want the existing note", again, err)
	}
	if rep := mustVerify(t, dir, k); !rep.OK() {
		t.Fatalf("problems: %v", rep.Problems)
	}
}

func TestLockedDirectory(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := t.TempDir()
	l, err := Open(context.Background(), dir, testOrigin, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), dir, testOrigin, k.signer); !errors.Is(err, labtrust.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	l.Close()
	l2, err := Open(context.Background(), dir, testOrigin, k.signer)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	l2.Close()
}

func TestOpenRejectsWrongKeyAndOrigin(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := buildLog(t, k, 10)
	other := newTestKey(t, testOrigin)
	if _, err := Open(context.Background(), dir, testOrigin, other.signer); err == nil {
		t.Fatal("Open with another key succeeded")
	}
	if _, err := Open(context.Background(), dir, "other.origin", k.signer); err == nil {
		t.Fatal("Open with another origin succeeded")
	}
}

func TestAppendRejectsOversizedEntry(t *testing.T) {
	k := newTestKey(t, testOrigin)
	l, err := Open(context.Background(), t.TempDir(), testOrigin, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append([][]byte{entry(0), make([]byte, MaxEntrySize+1)}); err == nil {
		t.Fatal("oversized entry accepted")
	}
	if l.Size() != 0 {
		t.Fatalf("a rejected batch changed the size to %d", l.Size())
	}
	if _, err := l.Append([][]byte{{}, make([]byte, MaxEntrySize)}); err != nil {
		t.Fatalf("empty and maximal entries: %v", err)
	}
}

// TestSizes checks roots, layout, proofs and Verify at sizes around tile
// boundaries against transparency-dev/merkle and golang.org/x/mod/sumdb/tlog.
func TestSizes(t *testing.T) {
	sizes := []uint64{1, 2, 3, 7, 255, 256, 257, 511, 512, 1000, 65535, 65536, 65536 + 3}
	if testing.Short() {
		sizes = sizes[:9]
	}
	k := newTestKey(t, testOrigin)
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			dir := buildLog(t, k, size)
			ref := refRoot(t, size)
			cp, err := OpenCheckpoint(mustRead(t, dir, "checkpoint"), testOrigin, k.verifier)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Size != size || cp.Root != ref {
				t.Fatalf("checkpoint %d %x, want %d %x", cp.Size, cp.Root, size, ref)
			}
			checkLayout(t, dir, size)

			r, err := OpenReader(dir, testOrigin, k.verifier)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// tlog's own tree hash from our tiles.
			th, err := r.TreeHash(ctx, size)
			if err != nil || th != ref {
				t.Fatalf("TreeHash = %x, %v; want %x", th, err, ref)
			}
			for _, idx := range sample(size) {
				p, err := r.InclusionProof(ctx, idx, size)
				if err != nil {
					t.Fatal(err)
				}
				leaf := rfc6962.DefaultHasher.HashLeaf(entry(idx))
				if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, size, leaf, toSlices(p), ref[:]); err != nil {
					t.Fatalf("merkle rejects inclusion of %d in %d: %v", idx, size, err)
				}
				if err := tlog.CheckRecord(toTlog(p), int64(size), tlog.Hash(ref), int64(idx), tlog.RecordHash(entry(idx))); err != nil {
					t.Fatalf("tlog rejects inclusion of %d in %d: %v", idx, size, err)
				}
				if idx == 0 {
					continue
				}
				c, err := r.ConsistencyProof(ctx, idx, size)
				if err != nil {
					t.Fatal(err)
				}
				old := refRoot(t, idx)
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, idx, size, toSlices(c), old[:], ref[:]); err != nil {
					t.Fatalf("merkle rejects consistency %d -> %d: %v", idx, size, err)
				}
			}
			var got uint64
			err = r.Entries(ctx, 0, size, func(i uint64, e []byte) error {
				if i != got || !bytes.Equal(e, entry(i)) {
					return fmt.Errorf("entry %d wrong", i)
				}
				got++
				return nil
			})
			if err != nil || got != size {
				t.Fatalf("Entries: %d, %v", got, err)
			}
			if rep := mustVerify(t, dir, k); !rep.OK() || rep.Entries != size {
				t.Fatalf("Verify: %d entries, problems %v", rep.Entries, rep.Problems)
			}
		})
	}
}

// checkLayout checks the C2SP files a tree of the given size must have.
func checkLayout(t *testing.T, dir string, size uint64) {
	t.Helper()
	for _, tl := range tlog.NewTiles(TileHeight, 0, int64(size)) {
		p := TilePath(tl.L, uint64(tl.N), tl.W)
		if b := mustRead(t, dir, p); len(b) != tl.W*HashSize {
			t.Errorf("%s is %d bytes", p, len(b))
		}
		if tl.L == 0 {
			b := mustRead(t, dir, BundlePath(uint64(tl.N), tl.W))
			es, err := ParseBundle(b)
			if err != nil || len(es) != tl.W {
				t.Errorf("bundle %d: %d entries, %v", tl.N, len(es), err)
			}
		}
	}
	// A level with no partial tile must have none.
	if size%TileWidth == 0 {
		m, _ := filepath.Glob(filepath.Join(dir, "tile", "0", "*.p"))
		for _, p := range m {
			t.Errorf("unexpected partial tile %s", p)
		}
	}
}

func sample(size uint64) []uint64 {
	s := []uint64{0, size - 1, size / 2}
	for _, x := range []uint64{1, 255, 256, 257, 65535, 65536} {
		if x < size {
			s = append(s, x)
		}
	}
	return s
}

func toSlices(p [][32]byte) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = p[i][:]
	}
	return out
}

func toTlog(p [][32]byte) tlog.RecordProof {
	out := make(tlog.RecordProof, len(p))
	for i := range p {
		out[i] = p[i]
	}
	return out
}

// TestManyCheckpoints publishes checkpoints at irregular sizes and checks
// proofs at every historical size (which use the older partial tiles) and
// the checkpoints.log history.
func TestManyCheckpoints(t *testing.T) {
	k := newTestKey(t, testOrigin)
	sizes := []uint64{1, 5, 255, 256, 300, 511, 512, 513, 700, 768, 800, 1024, 1030}
	dir := buildLog(t, k, sizes...)
	r, err := OpenReader(dir, testOrigin, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range sizes {
		ref := refRoot(t, s)
		if th, err := r.TreeHash(ctx, s); err != nil || th != ref {
			t.Fatalf("TreeHash(%d) = %x, %v", s, th, err)
		}
		p, err := r.InclusionProof(ctx, s-1, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, s-1, s, rfc6962.DefaultHasher.HashLeaf(entry(s-1)), toSlices(p), ref[:]); err != nil {
			t.Fatalf("inclusion %d in %d: %v", s-1, s, err)
		}
	}
	// checkpoints.log holds the empty checkpoint and then one per size.
	f, err := os.Open(filepath.Join(dir, "checkpoints.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []uint64
	if _, err := readHistory(f, func(rec historyRecord) error {
		cp, err := OpenCheckpoint(rec.Note, testOrigin, k.verifier)
		got = append(got, cp.Size)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := append([]uint64{0}, sizes...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history sizes %v, want %v", got, want)
	}
	rep := mustVerify(t, dir, k)
	if !rep.OK() || rep.Checkpoints != len(want) {
		t.Fatalf("Verify: %d checkpoints, %v", rep.Checkpoints, rep.Problems)
	}
}

func TestReopenContinues(t *testing.T) {
	k := newTestKey(t, testOrigin)
	ctx := context.Background()
	dir := t.TempDir()
	steps := []uint64{3, 256, 300, 300, 65536 + 10, 65536 + 300}
	if testing.Short() {
		steps = steps[:4]
	}
	for _, s := range steps {
		l, err := Open(ctx, dir, testOrigin, k.signer)
		if err != nil {
			t.Fatal(err)
		}
		root, err := l.Root()
		if err != nil || root != refRoot(t, l.Size()) {
			t.Fatalf("reopened root at %d = %x, %v", l.Size(), root, err)
		}
		first, err := l.Append(entries(l.Size(), s))
		if err != nil {
			t.Fatal(err)
		}
		if first != l.Checkpointed() {
			t.Fatalf("first = %d, want %d", first, l.Checkpointed())
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if rep := mustVerify(t, dir, k); !rep.OK() {
		t.Fatalf("Verify: %v", rep.Problems)
	}
}

// TestCrashLeftovers simulates what a crash can leave beyond the last
// checkpoint: entries appended but never checkpointed, torn and garbage
// tiles and bundles, a stray temporary checkpoint and a torn record at the
// end of checkpoints.log. Open must resume at the checkpoint, and
// re-appending the same entries must leave a ledger that verifies.
func TestCrashLeftovers(t *testing.T) {
	k := newTestKey(t, testOrigin)
	ctx := context.Background()
	const cpSize = 300
	for name, damage := range map[string]func(t *testing.T, dir string){
		"uncheckpointed appends": func(t *testing.T, dir string) {
			l, err := Open(ctx, dir, testOrigin, k.signer)
			if err != nil {
				t.Fatal(err)
			}
			// Different entries than the ones re-appended later: the
			// store is authoritative, the stale files must be replaced.
			if _, err := l.Append(entries(10000, 10000+800)); err != nil {
				t.Fatal(err)
			}
			l.Close()
		},
		"torn and garbage files": func(t *testing.T, dir string) {
			mustWrite(t, dir, "tile/0/001", []byte("torn"))
			mustWrite(t, dir, "tile/0/002", bytes.Repeat([]byte{0xff}, 8192))
			mustWrite(t, dir, "tile/entries/001", []byte{0, 32, 1, 2})
			mustWrite(t, dir, "tile/entries/002.p/7", []byte("garbage"))
			mustWrite(t, dir, "tile/0/001.p/100", []byte("garbage"))
			mustWrite(t, dir, "tile/1/000.p/2", []byte("garbage"))
			mustWrite(t, dir, "checkpoint.tmp", []byte("half a checkpoint"))
		},
		"torn history tail": func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "checkpoints.log"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("187\nlabtrust.test/ledger\n9")
			f.Close()
		},
		"checkpoint published, not yet in history": func(t *testing.T, dir string) {
			// Drop the last history record, as if the crash came between
			// the rename and the append.
			b := mustRead(t, dir, "checkpoints.log")
			var last int64
			readHistory(bytes.NewReader(b), func(rec historyRecord) error { last = rec.Offset; return nil })
			mustWrite(t, dir, "checkpoints.log", b[:last])
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := buildLog(t, k, 100, cpSize)
			damage(t, dir)
			l, err := Open(ctx, dir, testOrigin, k.signer)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.Checkpointed() != cpSize || l.Size() != cpSize {
				t.Fatalf("reopened at %d/%d, want %d", l.Size(), l.Checkpointed(), cpSize)
			}
			if _, err := l.Append(entries(cpSize, 1000)); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if root, _ := l.Root(); root != refRoot(t, 1000) {
				t.Fatalf("root %x after recovery", root)
			}
			if rep := mustVerify(t, dir, k); !rep.OK() {
				t.Fatalf("Verify after recovery: %v", rep.Problems)
			}
		})
	}
}

func TestOpenDetectsCorruptRightEdge(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := buildLog(t, k, 300)
	b := mustRead(t, dir, "tile/0/001.p/44")
	b[5] ^= 1
	mustWrite(t, dir, "tile/0/001.p/44", b)
	if _, err := Open(context.Background(), dir, testOrigin, k.signer); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
}

func TestFsyncFallback(t *testing.T) {
	k := newTestKey(t, testOrigin)
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(ctx, dir, testOrigin, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// (per-file fsync is now the only path)
	if _, err := l.Append(entries(0, 600)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, dir, k); !rep.OK() {
		t.Fatalf("Verify: %v", rep.Problems)
	}
}

// TestStalePartialTileIgnored: a partial tile left by a checkpoint attempt
// that crashed before publishing must not break proofs at that size later.
func TestStalePartialTileIgnored(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := buildLog(t, k, 300)
	mustWrite(t, dir, TilePath(0, 1, 100), bytes.Repeat([]byte{0xee}, 100*HashSize))
	mustWrite(t, dir, BundlePath(1, 100), []byte("torn"))
	l, err := Open(context.Background(), dir, testOrigin, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(entries(300, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r, err := OpenReader(dir, testOrigin, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.InclusionProof(context.Background(), 10, 356)
	if err != nil {
		t.Fatal(err)
	}
	ref := refRoot(t, 356)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 10, 356, rfc6962.DefaultHasher.HashLeaf(entry(10)), toSlices(p), ref[:]); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, dir, k); !rep.OK() {
		t.Fatalf("Verify: %v", rep.Problems)
	}
}
