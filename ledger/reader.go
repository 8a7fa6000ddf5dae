package ledger

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Reader serves entries and proofs from the files of a ledger directory,
// anchored to the signed checkpoint it was opened with. Every tile it uses is
// authenticated against that checkpoint (by golang.org/x/mod/sumdb/tlog's
// TileHashReader), and every entry against its authenticated leaf hash, so a
// tampered file makes a call fail instead of returning wrong data.
//
// A Reader is safe for concurrent use.
type Reader struct {
	fsys   fs.FS
	cp     Checkpoint
	cpNote []byte
	tiles  *tileCache

	// verified caches stored hashes that tlog.TileHashReader has already
	// authenticated against the checkpoint, keyed by stored-hash index: a
	// Reader's tree never changes, so they stay valid, and proofs for
	// many entries (an access report) share most of their upper hashes
	// instead of re-authenticating the same tiles each time.
	mu       sync.Mutex
	verified map[int64]tlog.Hash
	trees    tileTrees
}

// OpenReader returns a Reader over the ledger directory dir; see NewReader.
func OpenReader(dir, origin string, v note.Verifier) (*Reader, error) {
	return NewReader(os.DirFS(dir), origin, v)
}

// NewReader returns a Reader over the ledger files in fsys, at its current
// checkpoint, which must be signed by v and carry origin.
func NewReader(fsys fs.FS, origin string, v note.Verifier) (*Reader, error) {
	msg, err := fs.ReadFile(fsys, checkpointFile)
	if err != nil {
		return nil, fmt.Errorf("ledger: read checkpoint: %w", err)
	}
	cp, err := OpenCheckpoint(msg, origin, v)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return newReaderAt(fsys, cp, msg), nil
}

func newReaderAt(fsys fs.FS, cp Checkpoint, msg []byte) *Reader {
	return &Reader{fsys: fsys, cp: cp, cpNote: msg, tiles: newTileCache(256), verified: map[int64]tlog.Hash{}}
}

// maxVerified bounds the authenticated-hash cache (40 bytes an entry).
const maxVerified = 1 << 20

// Checkpoint returns the checkpoint the Reader is anchored to and its signed
// note.
func (r *Reader) Checkpoint() (Checkpoint, []byte) { return r.cp, r.cpNote }

func (r *Reader) hashReader() tlog.HashReader {
	inner := tlog.TileHashReader(tlog.Tree{N: int64(r.cp.Size), Hash: tlog.Hash(r.cp.Root)}, (*tileReader)(r))
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		var missing []int64
		r.mu.Lock()
		for i, x := range indexes {
			h, ok := r.verified[x]
			if !ok {
				missing = append(missing, x)
				continue
			}
			out[i] = h
		}
		r.mu.Unlock()
		if len(missing) == 0 {
			return out, nil
		}
		got, err := inner.ReadHashes(missing)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		if len(r.verified)+len(got) > maxVerified {
			clear(r.verified)
		}
		for i, x := range missing {
			r.verified[x] = got[i]
		}
		for i, x := range indexes {
			out[i] = r.verified[x]
		}
		r.mu.Unlock()
		return out, nil
	})
}

// Entries calls fn for each entry with index in [from, to), in order,
// after checking it against the authenticated level-0 tile. to MUST NOT
// exceed the checkpoint's size. The entry slice is only valid during the
// call. An error from fn stops the iteration and is returned.
func (r *Reader) Entries(ctx context.Context, from, to uint64, fn func(i uint64, e []byte) error) error {
	if from > to || to > r.cp.Size {
		return fmt.Errorf("ledger: entries [%d, %d) outside the checkpointed tree of size %d", from, to, r.cp.Size)
	}
	hr := r.hashReader()
	for n := from / TileWidth; n*TileWidth < to; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		w := TileWidth
		if full := r.cp.Size / TileWidth; n == full {
			w = int(r.cp.Size % TileWidth)
		}
		tile, err := tlog.ReadTileData(tlog.Tile{H: TileHeight, L: 0, N: int64(n), W: w}, hr)
		if err != nil {
			return fmt.Errorf("ledger: level-0 tile %d: %w", n, err)
		}
		p := BundlePath(n, w)
		b, err := fs.ReadFile(r.fsys, p)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		var stop error
		k, err := walkBundle(b, func(i int, e []byte) {
			idx := n*TileWidth + uint64(i)
			if stop != nil || i >= w {
				return
			}
			if h := LeafHash(e); !bytes.Equal(h[:], tile[i*HashSize:(i+1)*HashSize]) {
				stop = fmt.Errorf("ledger: %s: entry %d does not match its authenticated leaf hash", p, idx)
				return
			}
			if idx >= from && idx < to {
				stop = fn(idx, e)
			}
		})
		if stop != nil {
			return stop
		}
		if err != nil {
			return fmt.Errorf("ledger: %s: %w", p, err)
		}
		if k != w {
			return fmt.Errorf("ledger: %s holds %d entries, want %d", p, k, w)
		}
	}
	return nil
}

// TreeHash returns the root hash of the tree of the given size, which MUST
// NOT exceed the checkpoint's size, computed from authenticated tiles.
func (r *Reader) TreeHash(ctx context.Context, size uint64) ([32]byte, error) {
	if size > r.cp.Size {
		return [32]byte{}, fmt.Errorf("ledger: tree size %d beyond checkpoint size %d", size, r.cp.Size)
	}
	if err := ctx.Err(); err != nil {
		return [32]byte{}, err
	}
	h, err := tlog.TreeHash(int64(size), r.hashReader())
	if err != nil {
		return [32]byte{}, fmt.Errorf("ledger: tree hash at size %d: %w", size, err)
	}
	return h, nil
}

// InclusionProof returns the RFC 6962 inclusion proof of the entry at index
// in the tree of the given size (index < size <= checkpoint size).
func (r *Reader) InclusionProof(ctx context.Context, index, size uint64) ([][32]byte, error) {
	if index >= size || size > r.cp.Size {
		return nil, fmt.Errorf("ledger: no inclusion proof for index %d in size %d (checkpoint size %d)", index, size, r.cp.Size)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size == r.cp.Size {
		if p, ok := r.inclusionFast(index); ok {
			return hashes(p), nil
		}
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), r.hashReader())
	if err != nil {
		return nil, fmt.Errorf("ledger: inclusion proof for index %d in size %d: %w", index, size, err)
	}
	return hashes(p), nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes old and new (0 < old <= new <= checkpoint size).
func (r *Reader) ConsistencyProof(ctx context.Context, old, new uint64) ([][32]byte, error) {
	if old == 0 || old > new || new > r.cp.Size {
		return nil, fmt.Errorf("ledger: no consistency proof from size %d to %d (checkpoint size %d)", old, new, r.cp.Size)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := tlog.ProveTree(int64(new), int64(old), r.hashReader())
	if err != nil {
		return nil, fmt.Errorf("ledger: consistency proof from size %d to %d: %w", old, new, err)
	}
	return hashes(p), nil
}

// Proof returns the C2SP tlog-proof for the entry at index against the
// Reader's checkpoint: what a patient needs to check, offline, that the
// entry is in the log.
func (r *Reader) Proof(ctx context.Context, index uint64) ([]byte, error) {
	h, err := r.InclusionProof(ctx, index, r.cp.Size)
	if err != nil {
		return nil, err
	}
	return FormatProof(&Proof{Index: index, Hashes: h, Checkpoint: r.cpNote}), nil
}

func hashes[T ~[]tlog.Hash](p T) [][32]byte {
	out := make([][32]byte, len(p))
	for i, h := range p {
		out[i] = h
	}
	return out
}

// tileReader adapts a Reader to tlog.TileReader: it maps tlog's tile
// coordinates to C2SP paths. tlog asks for partial tiles as wide as the tree
// it proves in needs; this reads the full tile, or the partial tile of the
// Reader's checkpoint, and keeps the prefix, as C2SP tlog-tiles allows. Both
// were made durable before that checkpoint was signed, whereas an older
// partial file might be a leftover of a crash that was never published.
type tileReader Reader

func (t *tileReader) Height() int { return TileHeight }

func (t *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tl := range tiles {
		if d, ok := t.tiles.get(tl); ok {
			out[i] = d
			continue
		}
		d, err := t.readTile(tl)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func (t *tileReader) readTile(tl tlog.Tile) ([]byte, error) {
	if tl.L < 0 || tl.H != TileHeight {
		return nil, fmt.Errorf("ledger: unsupported tile %+v", tl)
	}
	n, want := uint64(tl.N), tl.W*HashSize
	read := func(w int) ([]byte, error) {
		p := TilePath(tl.L, n, w)
		b, err := fs.ReadFile(t.fsys, p)
		if err != nil {
			return nil, err
		}
		if len(b) != w*HashSize {
			return nil, fmt.Errorf("ledger: %s is %d bytes, want %d", p, len(b), w*HashSize)
		}
		return b[:want], nil
	}
	cn, cw := partialAt(t.cp.Size, tl.L)
	switch {
	case n < cn:
		return read(TileWidth)
	case n == cn && cw >= tl.W:
		return read(cw)
	}
	return nil, fmt.Errorf("ledger: tile %s is beyond the checkpoint of size %d", TilePath(tl.L, n, tl.W), t.cp.Size)
}

func (t *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, tl := range tiles {
		t.tiles.put(tl, data[i])
	}
}

// tileCache is a small LRU of authenticated tiles.
type tileCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[tlog.Tile]*list.Element
}

type cacheEntry struct {
	t tlog.Tile
	d []byte
}

func newTileCache(max int) *tileCache {
	return &tileCache{max: max, ll: list.New(), m: map[tlog.Tile]*list.Element{}}
}

func (c *tileCache) get(t tlog.Tile) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[t]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).d, true
	}
	return nil, false
}

func (c *tileCache) put(t tlog.Tile, d []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[t]; ok {
		c.ll.MoveToFront(e)
		return
	}
	c.m[t] = c.ll.PushFront(&cacheEntry{t, d})
	if c.ll.Len() > c.max {
		e := c.ll.Back()
		c.ll.Remove(e)
		delete(c.m, e.Value.(*cacheEntry).t)
	}
}
