package ledger

import (
	"errors"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// tileTrees memoizes, per tile, every perfect-subtree hash inside it, so
// that proving many entries hashes each tile once rather than once per
// requested hash. Its hashes are not authenticated: inclusionFast checks
// each proof it builds against the signed root before trusting it.
type tileTrees struct {
	mu    sync.Mutex
	trees map[tlog.Tile][][]tlog.Hash
}

// maxTileTrees bounds the memo (a full tile's tree is ~16 KiB).
const maxTileTrees = 4096

// tree returns the subtree hashes of tile t: levels[l][k] is the hash of
// the k-th perfect subtree of 2^l of the tile's hashes.
func (r *Reader) tileTree(t tlog.Tile) ([][]tlog.Hash, error) {
	r.trees.mu.Lock()
	lv, ok := r.trees.trees[t]
	r.trees.mu.Unlock()
	if ok {
		return lv, nil
	}
	data, err := (*tileReader)(r).ReadTiles([]tlog.Tile{t})
	if err != nil {
		return nil, err
	}
	base := make([]tlog.Hash, t.W)
	for i := range base {
		copy(base[i][:], data[0][i*HashSize:])
	}
	lv = [][]tlog.Hash{base}
	for cur := base; len(cur) > 1; {
		next := make([]tlog.Hash, len(cur)/2)
		for i := range next {
			next[i] = tlog.NodeHash(cur[2*i], cur[2*i+1])
		}
		lv = append(lv, next)
		cur = next
	}
	r.trees.mu.Lock()
	if r.trees.trees == nil || len(r.trees.trees) >= maxTileTrees {
		r.trees.trees = map[tlog.Tile][][]tlog.Hash{}
	}
	r.trees.trees[t] = lv
	r.trees.mu.Unlock()
	return lv, nil
}

// storedHash returns the stored hash with the given index (tlog's
// numbering) from the memoized tile trees of the Reader's tree.
func (r *Reader) storedHash(index int64) (tlog.Hash, error) {
	level, n := tlog.SplitStoredHashIndex(index)
	tl := level / TileHeight
	l := level % TileHeight
	// The subtree covers hashes [n<<l, (n+1)<<l) at tile level tl.
	first := n << uint(l)
	tn := first / TileWidth
	count := int64(r.cp.Size >> (TileHeight * uint(tl)))
	w := min(int64(TileWidth), count-tn*TileWidth)
	lv, err := r.tileTree(tlog.Tile{H: TileHeight, L: tl, N: tn, W: int(w)})
	if err != nil {
		return tlog.Hash{}, err
	}
	k := n - tn*(TileWidth>>uint(l))
	if l >= len(lv) || k >= int64(len(lv[l])) {
		return tlog.Hash{}, errBadStoredHash
	}
	return lv[l][k], nil
}

// inclusionFast builds the inclusion proof of index in the checkpoint's
// tree from memoized tiles and checks it against the signed root; ok is
// false if anything does not add up, and the caller then takes the
// authenticated path, which names what is wrong.
func (r *Reader) inclusionFast(index uint64) (tlog.RecordProof, bool) {
	hr := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			h, err := r.storedHash(x)
			if err != nil {
				return nil, err
			}
			out[i] = h
		}
		return out, nil
	})
	n := int64(r.cp.Size)
	p, err := tlog.ProveRecord(n, int64(index), hr)
	if err != nil {
		return nil, false
	}
	leaf, err := r.storedHash(tlog.StoredHashIndex(0, int64(index)))
	if err != nil {
		return nil, false
	}
	if tlog.CheckRecord(p, n, tlog.Hash(r.cp.Root), int64(index), leaf) != nil {
		return nil, false
	}
	return p, true
}

var errBadStoredHash = errors.New("ledger: stored hash outside its tile")
