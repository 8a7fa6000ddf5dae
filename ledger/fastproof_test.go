package ledger

import (
	"context"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The memoized proof path must give exactly the authenticated path's proofs,
// and must not hand out a proof built from a tampered tile.
func TestInclusionFastMatchesAuthenticated(t *testing.T) {
	k := newTestKey(t, testOrigin)
	for _, size := range []uint64{1, 2, 255, 256, 257, 70003} {
		dir := buildLog(t, k, size)
		r, err := OpenReader(dir, testOrigin, k.verifier)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []uint64{0, size / 3, size / 2, size - 1} {
			fast, ok := r.inclusionFast(i)
			if !ok {
				t.Fatalf("size %d index %d: fast path refused a good ledger", size, i)
			}
			slow, err := tlog.ProveRecord(int64(size), int64(i), r.hashReader())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fast, slow) {
				t.Fatalf("size %d index %d: fast proof differs", size, i)
			}
		}
	}
	dir := buildLog(t, k, 70003)
	b := mustRead(t, dir, "tile/0/001")
	b[5*HashSize] ^= 1 // the leaf hash of entry 261
	mustWrite(t, dir, "tile/0/001", b)
	r, err := OpenReader(dir, testOrigin, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.inclusionFast(261); ok {
		t.Fatal("fast path accepted a tampered tile")
	}
	if _, err := r.InclusionProof(context.Background(), 261, 70003); err == nil {
		t.Fatal("InclusionProof returned a proof from a tampered tile")
	}
}
