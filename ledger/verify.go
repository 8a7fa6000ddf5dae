package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ProblemKind is the machine-readable class of a Problem.
type ProblemKind string

// The problems Verify reports. Each names the file it is about.
const (
	// ProblemCheckpoint: the checkpoint file is missing, unparsable, not
	// signed by the verifier's key, or carries another origin.
	ProblemCheckpoint ProblemKind = "checkpoint"
	// ProblemHistory: a record of checkpoints.log is malformed or its note
	// does not verify (Record says which).
	ProblemHistory ProblemKind = "history"
	// ProblemHistoryOrder: checkpoints.log goes back in size, or holds two
	// different roots for one size.
	ProblemHistoryOrder ProblemKind = "history-order"
	// ProblemHistoryLatest: the checkpoint file is not the last record of
	// checkpoints.log.
	ProblemHistoryLatest ProblemKind = "history-latest"
	// ProblemCheckpointRoot: the root recomputed from the entries at a
	// historical checkpoint's size differs from that checkpoint's root.
	ProblemCheckpointRoot ProblemKind = "checkpoint-root"
	// ProblemConsistency: the consistency proof between two successive
	// checkpoints, built from the tiles, does not verify.
	ProblemConsistency ProblemKind = "consistency"
	// ProblemRoot: the root recomputed from the entry bundles differs from
	// the latest checkpoint's root.
	ProblemRoot ProblemKind = "root"
	// ProblemBundleMissing: an entry bundle the checkpoint needs is absent
	// or unreadable.
	ProblemBundleMissing ProblemKind = "bundle-missing"
	// ProblemBundleMalformed: an entry bundle is truncated or holds fewer
	// entries than its width.
	ProblemBundleMalformed ProblemKind = "bundle-malformed"
	// ProblemBundleExtra: an entry bundle holds more entries than its width
	// (for example, appended garbage).
	ProblemBundleExtra ProblemKind = "bundle-extra"
	// ProblemEntryMismatch: an entry's leaf hash differs from the
	// authenticated hash in its level-0 tile: the entry was changed, moved,
	// inserted or removed.
	ProblemEntryMismatch ProblemKind = "entry-mismatch"
	// ProblemEntryCheck: the caller's EntryCheck rejected an entry.
	ProblemEntryCheck ProblemKind = "entry-check"
	// ProblemTileMissing: a hash tile the checkpoint needs is absent or
	// unreadable.
	ProblemTileMissing ProblemKind = "tile-missing"
	// ProblemTileSize: a hash tile has the wrong length.
	ProblemTileSize ProblemKind = "tile-size"
	// ProblemTileMismatch: a hash tile differs from the one recomputed from
	// the entries, and it does not hash to its authenticated parent.
	ProblemTileMismatch ProblemKind = "tile-mismatch"
)

// Problem is one thing Verify found wrong, with its evidence. Fields that do
// not apply are -1 (Index, Level, Record) or empty.
type Problem struct {
	Kind     ProblemKind
	Path     string // file, relative to the ledger directory
	Index    int64  // entry index (for a tile hash: the first entry it covers)
	Level    int    // tile level
	Record   int    // record number in checkpoints.log
	Size     uint64 // checkpoint size the problem concerns, if any
	Expected string // expected hash (hex) or value
	Actual   string // actual hash (hex) or value
	Detail   string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(string(p.Kind))
	if p.Path != "" {
		b.WriteString(" " + p.Path)
	}
	if p.Index >= 0 {
		fmt.Fprintf(&b, " entry %d", p.Index)
	}
	if p.Level >= 0 {
		fmt.Fprintf(&b, " level %d", p.Level)
	}
	if p.Record >= 0 {
		fmt.Fprintf(&b, " record %d", p.Record)
	}
	if p.Size > 0 {
		fmt.Fprintf(&b, " size %d", p.Size)
	}
	if p.Expected != "" || p.Actual != "" {
		fmt.Fprintf(&b, ": expected %s, actual %s", p.Expected, p.Actual)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	return b.String()
}

// Report is the outcome of Verify.
type Report struct {
	Checkpoint  Checkpoint // the latest checkpoint verified against
	Checkpoints int        // records of checkpoints.log checked
	Entries     uint64     // entries recomputed
	Tiles       int        // tile files compared
	Problems    []Problem
	// Truncated is set when more problems were found than WithMaxProblems
	// allows; Dropped counts those not listed.
	Truncated bool
	Dropped   int
}

// OK reports whether Verify found no problem.
func (r *Report) OK() bool { return len(r.Problems) == 0 && !r.Truncated }

// VerifyOption configures Verify.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	entryCheck  func(i uint64, entry []byte) error
	maxProblems int
	workers     int
}

// WithEntryCheck makes Verify call fn for every entry, in index order, from
// one goroutine, so the caller can compare the ledger with its own store. A
// non-nil error becomes a ProblemEntryCheck carrying err.Error(), which
// therefore MUST NOT contain PHI.
func WithEntryCheck(fn func(i uint64, entry []byte) error) VerifyOption {
	return func(c *verifyConfig) { c.entryCheck = fn }
}

// WithMaxProblems bounds the problems listed (default 1000).
func WithMaxProblems(n int) VerifyOption {
	return func(c *verifyConfig) { c.maxProblems = n }
}

// Verify rechecks the ledger directory dir against verifier's key and
// origin. It checks every checkpoint in checkpoints.log (signature, origin,
// non-decreasing size, the root recomputed from the entries at that size,
// and a consistency proof from the tiles between successive checkpoints,
// checked with tlog.CheckTree); recomputes every hash tile of the latest
// checkpoint from the entry bundles and compares it byte for byte with the
// stored tile, full and partial; and compares the recomputed root with the
// latest checkpoint. Files beyond the latest checkpoint are ignored: the
// crash contract allows them to be stale.
//
// Every problem is listed with its evidence, blamed on the file that is
// wrong where the signed tree can tell: a tile that does not hash to its
// authenticated parent is itself wrong (ProblemTileMismatch), while entries
// that disagree with an authenticated tile are wrong (ProblemEntryMismatch).
//
// progress, if not nil, is called from time to time with the number of
// entries checked and the total. Verify returns an error only if it could
// not run (ctx canceled); everything it finds is in the Report.
func Verify(ctx context.Context, dir, origin string, verifier note.Verifier, progress func(done, total uint64), opts ...VerifyOption) (*Report, error) {
	return VerifyFS(ctx, os.DirFS(dir), origin, verifier, progress, opts...)
}

// VerifyFS is Verify over an fs.FS.
func VerifyFS(ctx context.Context, fsys fs.FS, origin string, verifier note.Verifier, progress func(done, total uint64), opts ...VerifyOption) (*Report, error) {
	cfg := verifyConfig{maxProblems: 1000, workers: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		o(&cfg)
	}
	v := &verification{fsys: fsys, origin: origin, verifier: verifier, cfg: cfg, rep: &Report{}, progress: progress}
	if err := v.run(ctx); err != nil {
		return nil, err
	}
	return v.rep, nil
}

type verification struct {
	fsys     fs.FS
	origin   string
	verifier note.Verifier
	cfg      verifyConfig
	rep      *Report
	progress func(done, total uint64)

	anchor     Checkpoint
	anchorNote []byte
	history    []histCP // valid records, in file order

	// comp[L] (L >= 1) holds every level-L hash recomputed from the entries.
	comp      [][]byte
	snapshots map[uint64][32]byte // size -> recomputed root
	mism      []*bundleResult     // level-0 tiles that disagree with their bundle
	lastLeaf  []byte              // level-0 hashes of the last, partial bundle
	stored0   []byte              // stored partial level-0 tile (nil if bad)
	firstBad  int64               // lowest entry index with a data problem, or -1
	tileBad   bool                // some tile is missing, short or mismatched
}

type histCP struct {
	record int
	cp     Checkpoint
	text   []byte
}

func (v *verification) add(p Problem) {
	if len(v.rep.Problems) >= v.cfg.maxProblems {
		v.rep.Truncated = true
		v.rep.Dropped++
		return
	}
	v.rep.Problems = append(v.rep.Problems, p)
}

func problem(kind ProblemKind, path string) Problem {
	return Problem{Kind: kind, Path: path, Index: -1, Level: -1, Record: -1}
}

func hexh(h []byte) string { return hex.EncodeToString(h) }

func (v *verification) run(ctx context.Context) error {
	var latestText []byte
	msg, err := fs.ReadFile(v.fsys, checkpointFile)
	if err != nil {
		p := problem(ProblemCheckpoint, checkpointFile)
		p.Detail = "cannot read: " + errors.Unwrap(err).Error()
		v.add(p)
	} else if cp, err := OpenCheckpoint(msg, v.origin, v.verifier); err != nil {
		p := problem(ProblemCheckpoint, checkpointFile)
		p.Detail = err.Error()
		v.add(p)
		latestText, _ = noteText(msg)
	} else {
		v.anchor, v.anchorNote = cp, msg
		latestText, _ = noteText(msg)
	}
	if err := v.readHistory(ctx, latestText); err != nil {
		return err
	}
	if v.anchorNote == nil {
		if len(v.history) == 0 {
			return nil
		}
		// Fall back to the newest checkpoint that verifies, so the data
		// is still checked.
		h := v.history[len(v.history)-1]
		v.anchor = h.cp
		v.anchorNote = h.text
	}
	v.rep.Checkpoint = v.anchor
	v.firstBad = -1
	if err := v.stream(ctx); err != nil {
		return err
	}
	v.checkUpperTiles()
	v.checkRoots()
	return v.checkConsistency(ctx)
}

// readHistory checks every record of checkpoints.log on its own and in
// sequence.
func (v *verification) readHistory(ctx context.Context, latestText []byte) error {
	f, err := v.fsys.Open(historyFile)
	if err != nil {
		p := problem(ProblemHistoryLatest, historyFile)
		p.Detail = "cannot read checkpoints.log: " + errors.Unwrap(err).Error()
		v.add(p)
		return nil
	}
	defer f.Close()
	k := 0
	var prev *histCP
	_, herr := readHistory(f, func(rec historyRecord) error {
		defer func() { k++ }()
		v.rep.Checkpoints++
		cp, err := OpenCheckpoint(rec.Note, v.origin, v.verifier)
		if err != nil {
			p := problem(ProblemHistory, historyFile)
			p.Record = k
			p.Detail = fmt.Sprintf("byte %d: %v", rec.Offset, err)
			v.add(p)
			return ctx.Err()
		}
		text, _ := noteText(rec.Note)
		h := histCP{record: k, cp: cp, text: text}
		if prev != nil {
			switch {
			case cp.Size < prev.cp.Size:
				p := problem(ProblemHistoryOrder, historyFile)
				p.Record, p.Size = k, cp.Size
				p.Detail = fmt.Sprintf("size %d follows size %d (record %d)", cp.Size, prev.cp.Size, prev.record)
				v.add(p)
				return ctx.Err()
			case cp.Size == prev.cp.Size && cp.Root != prev.cp.Root:
				p := problem(ProblemHistoryOrder, historyFile)
				p.Record, p.Size = k, cp.Size
				p.Expected, p.Actual = hexh(prev.cp.Root[:]), hexh(cp.Root[:])
				p.Detail = fmt.Sprintf("two roots for one size (records %d and %d)", prev.record, k)
				v.add(p)
				return ctx.Err()
			}
		}
		v.history = append(v.history, h)
		prev = &v.history[len(v.history)-1]
		return ctx.Err()
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	var he *HistoryError
	if herr != nil && !(errors.As(herr, &he) && v.crashTail(he)) {
		p := problem(ProblemHistory, historyFile)
		if he != nil {
			p.Record = he.Record
			p.Detail = fmt.Sprintf("byte %d: %s", he.Offset, he.Reason)
		} else {
			p.Detail = herr.Error()
		}
		v.add(p)
	}
	if latestText == nil {
		return nil
	}
	p := problem(ProblemHistoryLatest, historyFile)
	switch {
	case len(v.history) == 0:
		p.Detail = "no verifiable checkpoint in checkpoints.log"
		v.add(p)
	case !bytes.Equal(v.history[len(v.history)-1].text, latestText):
		last := v.history[len(v.history)-1]
		p.Record, p.Size = last.record, last.cp.Size
		c, err := ParseCheckpoint(latestText)
		switch {
		case err == nil && c.Size < last.cp.Size:
			p.Detail = fmt.Sprintf("the checkpoint file (size %d) is older than the last record (size %d)", c.Size, last.cp.Size)
		case err == nil && c.Size > last.cp.Size && v.anchorNote != nil:
			// A crash between publishing the checkpoint and appending it
			// to the history leaves exactly this, and the next Open
			// repairs it. It is not tampering: the signed checkpoint is
			// checked like a history record (root and consistency with the
			// last record), so the ledger still verifies after kill -9.
			v.history = append(v.history, histCP{record: last.record + 1, cp: v.anchor, text: latestText})
			return nil
		case err == nil && c.Size > last.cp.Size:
			p.Detail = fmt.Sprintf("the checkpoint at size %d is missing from checkpoints.log, which ends at size %d", c.Size, last.cp.Size)
		default:
			p.Detail = "the checkpoint file is not the last record of checkpoints.log"
		}
		v.add(p)
	}
	return nil
}

// crashTail reports whether a torn last history record is exactly the
// beginning of the current checkpoint's record: what kill -9 during the
// history append leaves. Such a tail is not a problem; the checkpoint is then
// checked like a missing last record (root and consistency).
func (v *verification) crashTail(he *HistoryError) bool {
	if !he.Torn || v.anchorNote == nil || len(v.history) == 0 || v.anchor.Size <= v.history[len(v.history)-1].cp.Size {
		return false
	}
	b, err := fs.ReadFile(v.fsys, historyFile)
	if err != nil || he.Offset > int64(len(b)) {
		return false
	}
	return bytes.HasPrefix(appendHistoryRecord(nil, v.anchorNote), b[he.Offset:])
}

// bundleJob and bundleResult carry one entry bundle and its level-0 tile
// through the pipeline: a reader goroutine loads files, workers hash, and
// one merger consumes results in order.
type bundleJob struct {
	n      uint64
	width  int
	bundle []byte
	bErr   error
	tile   []byte
	tErr   error
	res    chan *bundleResult
}

type bundleResult struct {
	n          uint64
	width      int
	leaves     []byte   // recomputed level-0 hashes (stored ones where the bundle is unusable)
	entries    [][]byte // parsed entries, up to width
	tile       []byte   // stored tile, nil if missing or wrong size
	root       [32]byte // root of leaves, if full
	storedRoot [32]byte // root of tile, if full, stored and mismatched
	mismatch   bool
	known      int // leaves recomputed from the bundle (a prefix)
	problems   []Problem
}

func (v *verification) stream(ctx context.Context) error {
	size := v.anchor.Size
	nb := (size + TileWidth - 1) / TileWidth
	sizes := v.snapshotSizes()
	v.snapshots = make(map[uint64][32]byte, len(sizes))
	v.comp = make([][]byte, max(levelsFor(size), 1))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *bundleJob, 16)
	order := make(chan *bundleJob, 64)
	go func() {
		defer close(jobs)
		defer close(order)
		for n := uint64(0); n < nb; n++ {
			w := TileWidth
			if n == nb-1 && size%TileWidth != 0 {
				w = int(size % TileWidth)
			}
			j := &bundleJob{n: n, width: w, res: make(chan *bundleResult, 1)}
			j.bundle, j.bErr = fs.ReadFile(v.fsys, BundlePath(n, w))
			j.tile, j.tErr = fs.ReadFile(v.fsys, TilePath(0, n, w))
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range max(v.cfg.workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.res <- hashBundle(j)
			}
		}()
	}
	defer wg.Wait()

	hi := 0
	for hi < len(sizes) && sizes[hi] == 0 {
		v.snapshots[0] = emptyRoot
		hi++
	}
	for j := range order {
		var r *bundleResult
		select {
		case r = <-j.res:
		case <-ctx.Done():
			return ctx.Err()
		}
		v.consume(r)
		base := r.n * TileWidth
		for hi < len(sizes) && sizes[hi] < base+uint64(r.width) && sizes[hi] < base+TileWidth {
			s := sizes[hi]
			v.snapshots[s] = v.rootAt(s, r.leaves[:(s-base)*HashSize])
			hi++
		}
		if r.width == TileWidth {
			v.push(1, r.root)
		} else {
			v.lastLeaf = r.leaves
			v.stored0 = r.tile
		}
		for hi < len(sizes) && sizes[hi] == base+uint64(r.width) {
			s := sizes[hi]
			if r.width == TileWidth {
				v.snapshots[s] = v.rootAt(s, nil)
			} else {
				v.snapshots[s] = v.rootAt(s, r.leaves)
			}
			hi++
		}
		v.rep.Entries = base + uint64(r.width)
		if v.progress != nil && (r.n%64 == 63 || r.n == nb-1) {
			v.progress(v.rep.Entries, size)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, ok := v.snapshots[size]; !ok {
		v.snapshots[size] = v.rootAt(size, v.lastLeaf)
	}
	return nil
}

// snapshotSizes are the sizes whose roots must be recomputed: every
// historical checkpoint's and the latest's.
func (v *verification) snapshotSizes() []uint64 {
	seen := map[uint64]bool{v.anchor.Size: true}
	out := []uint64{v.anchor.Size}
	for _, h := range v.history {
		if h.cp.Size <= v.anchor.Size && !seen[h.cp.Size] {
			seen[h.cp.Size] = true
			out = append(out, h.cp.Size)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// push appends a recomputed hash to level l, completing tiles upward.
func (v *verification) push(l int, h [32]byte) {
	for {
		if l == len(v.comp) {
			v.comp = append(v.comp, nil)
		}
		v.comp[l] = append(v.comp[l], h[:]...)
		n := len(v.comp[l]) / HashSize
		if n%TileWidth != 0 {
			return
		}
		h = tileRoot(v.comp[l][(n-TileWidth)*HashSize:])
		l++
	}
}

// rootAt computes the recomputed root at size s from the recomputed levels
// and the level-0 hashes of s's partial bundle.
func (v *verification) rootAt(s uint64, leaf0 []byte) [32]byte {
	edge := [][]byte{leaf0}
	for l := 1; s>>(TileHeight*uint(l)) > 0; l++ {
		c := s >> (TileHeight * uint(l))
		start := c &^ (TileWidth - 1)
		edge = append(edge, v.comp[l][start*HashSize:c*HashSize])
	}
	return edgeRoot(edge)
}

func hashBundle(j *bundleJob) *bundleResult {
	r := &bundleResult{n: j.n, width: j.width, leaves: make([]byte, j.width*HashSize)}
	base := int64(j.n * TileWidth)
	bpath := BundlePath(j.n, j.width)
	tpath := TilePath(0, j.n, j.width)
	if j.bErr != nil {
		p := problem(ProblemBundleMissing, bpath)
		p.Index = base
		p.Detail = fmt.Sprintf("entries %d to %d: %v", base, base+int64(j.width)-1, rootCause(j.bErr))
		r.problems = append(r.problems, p)
	} else {
		r.entries = make([][]byte, 0, j.width)
		count, err := walkBundle(j.bundle, func(i int, e []byte) {
			if i < j.width {
				h := LeafHash(e)
				copy(r.leaves[i*HashSize:], h[:])
				r.entries = append(r.entries, e)
			}
		})
		r.known = min(count, j.width)
		if err != nil {
			var be *BundleError
			errors.As(err, &be)
			p := problem(ProblemBundleMalformed, bpath)
			p.Index = base + int64(be.Entry)
			p.Detail = fmt.Sprintf("byte %d: %s", be.Offset, be.Reason)
			if be.Entry >= j.width {
				p.Kind = ProblemBundleExtra
			}
			r.problems = append(r.problems, p)
		} else if count < j.width {
			p := problem(ProblemBundleMalformed, bpath)
			p.Index = base + int64(count)
			p.Expected, p.Actual = fmt.Sprint(j.width), fmt.Sprint(count)
			p.Detail = "bundle holds too few entries"
			r.problems = append(r.problems, p)
		}
		if count > j.width {
			p := problem(ProblemBundleExtra, bpath)
			p.Index = base + int64(j.width)
			p.Expected, p.Actual = fmt.Sprint(j.width), fmt.Sprint(count)
			p.Detail = fmt.Sprintf("%d entries past the end, from byte %d", count-j.width, bundleOffset(j.bundle, j.width))
			r.problems = append(r.problems, p)
		}
	}
	switch {
	case j.tErr != nil:
		p := problem(ProblemTileMissing, tpath)
		p.Level, p.Index = 0, base
		p.Detail = rootCause(j.tErr).Error()
		r.problems = append(r.problems, p)
	case len(j.tile) != j.width*HashSize:
		p := problem(ProblemTileSize, tpath)
		p.Level, p.Index = 0, base
		p.Expected, p.Actual = fmt.Sprint(j.width*HashSize), fmt.Sprint(len(j.tile))
		p.Detail = "bytes"
		r.problems = append(r.problems, p)
	default:
		r.tile = j.tile
		// Where the bundle is unusable, carry on with the stored hashes so
		// one bad bundle does not make every tile above it mismatch.
		copy(r.leaves[r.known*HashSize:], j.tile[r.known*HashSize:])
		r.mismatch = !bytes.Equal(r.leaves, j.tile)
	}
	if j.width == TileWidth {
		r.root = tileRoot(r.leaves)
		if r.mismatch {
			r.storedRoot = tileRoot(r.tile)
		}
	}
	return r
}

func rootCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// consume takes one bundle's result in index order.
func (v *verification) consume(r *bundleResult) {
	v.rep.Tiles++
	for _, p := range r.problems {
		switch p.Kind {
		case ProblemTileMissing, ProblemTileSize:
			v.tileBad = true
		default:
			v.dataBad(p.Index)
		}
		v.add(p)
	}
	if v.cfg.entryCheck != nil {
		base := r.n * TileWidth
		for i, e := range r.entries {
			if err := v.cfg.entryCheck(base+uint64(i), e); err != nil {
				p := problem(ProblemEntryCheck, BundlePath(r.n, r.width))
				p.Index = int64(base) + int64(i)
				p.Detail = err.Error()
				v.add(p)
			}
		}
	}
	if r.mismatch {
		r.entries = nil
		if len(v.mism) < maxMismatchedBundles {
			v.mism = append(v.mism, r)
		} else {
			// Bound memory when everything is wrong; the first ones
			// are evidence enough.
			v.tileBad = true
			v.dataBad(int64(r.n * TileWidth))
			p := problem(ProblemTileMismatch, TilePath(0, r.n, r.width))
			p.Level, p.Index = 0, int64(r.n*TileWidth)
			p.Detail = "tile and entry bundle disagree (not analysed further: too many mismatched bundles)"
			v.add(p)
		}
	}
}

// maxMismatchedBundles bounds the bundles kept for blame analysis.
const maxMismatchedBundles = 4096

func (v *verification) dataBad(i int64) {
	if i >= 0 && (v.firstBad < 0 || i < v.firstBad) {
		v.firstBad = i
	}
}

// storedLevels loads the stored tiles of levels >= 1 for the anchor's size.
// bad[l][n] marks a tile that is missing or has the wrong size.
func (v *verification) storedLevels() (stored [][]byte, bad []map[uint64]bool) {
	size := v.anchor.Size
	levels := levelsFor(size)
	stored = make([][]byte, levels)
	bad = make([]map[uint64]bool, levels)
	for l := 1; l < levels; l++ {
		c := size >> (TileHeight * uint(l))
		stored[l] = make([]byte, c*HashSize)
		bad[l] = map[uint64]bool{}
		for n := uint64(0); n*TileWidth < c; n++ {
			w := int(min(c-n*TileWidth, TileWidth))
			p := TilePath(l, n, w)
			b, err := fs.ReadFile(v.fsys, p)
			v.rep.Tiles++
			switch {
			case err != nil:
				pr := problem(ProblemTileMissing, p)
				pr.Level, pr.Index = l, int64(n<<(TileHeight*uint(l+1)))
				pr.Detail = rootCause(err).Error()
				v.add(pr)
				bad[l][n] = true
				v.tileBad = true
			case len(b) != w*HashSize:
				pr := problem(ProblemTileSize, p)
				pr.Level, pr.Index = l, int64(n<<(TileHeight*uint(l+1)))
				pr.Expected, pr.Actual = fmt.Sprint(w*HashSize), fmt.Sprint(len(b))
				pr.Detail = "bytes"
				v.add(pr)
				bad[l][n] = true
				v.tileBad = true
			default:
				copy(stored[l][n*TileWidth*HashSize:], b)
			}
		}
	}
	return stored, bad
}

// checkUpperTiles compares stored tiles with recomputed ones and decides,
// for each disagreement, whether the tile or the entries are to blame.
func (v *verification) checkUpperTiles() {
	size := v.anchor.Size
	stored, bad := v.storedLevels()
	levels := levelsFor(size)

	// The right edge (every partial tile) is authentic if it hashes to the
	// signed root.
	edgeOK := true
	edge := make([][]byte, levels)
	for l := 0; l < levels; l++ {
		n, w := partialAt(size, l)
		if w == 0 {
			continue
		}
		if l == 0 {
			if v.stored0 == nil {
				edgeOK = false
			}
			edge[0] = v.stored0
			continue
		}
		if bad[l][n] {
			edgeOK = false
		}
		edge[l] = stored[l][n*TileWidth*HashSize : (n*TileWidth+uint64(w))*HashSize]
	}
	edgeAuth := edgeOK && edgeRoot(edge) == v.anchor.Root

	memo := map[[2]uint64]bool{}
	// auth reports whether the full tile (l, n), whose root is root, hashes
	// to an authenticated hash in its parent.
	var auth func(l int, n uint64, root [32]byte) bool
	auth = func(l int, n uint64, root [32]byte) bool {
		pl, pn := l+1, n/TileWidth
		if pl >= levels || bad[pl][pn] || !bytes.Equal(stored[pl][n*HashSize:(n+1)*HashSize], root[:]) {
			return false
		}
		if cn, w := partialAt(size, pl); pn == cn && w > 0 {
			return edgeAuth
		}
		key := [2]uint64{uint64(pl), pn}
		ok, seen := memo[key]
		if !seen {
			ok = auth(pl, pn, tileRoot(stored[pl][pn*TileWidth*HashSize:(pn+1)*TileWidth*HashSize]))
			memo[key] = ok
		}
		return ok
	}

	// Level 0: bundles that disagree with their tile.
	for _, r := range v.mism {
		var ok bool
		if r.width == TileWidth {
			ok = auth(0, r.n, r.storedRoot)
		} else {
			ok = edgeAuth
		}
		base := int64(r.n * TileWidth)
		if ok {
			reported := 0
			for i := 0; i < r.width; i++ {
				want, got := r.tile[i*HashSize:(i+1)*HashSize], r.leaves[i*HashSize:(i+1)*HashSize]
				if bytes.Equal(want, got) {
					continue
				}
				v.dataBad(base + int64(i))
				if reported++; reported > 16 {
					continue
				}
				p := problem(ProblemEntryMismatch, BundlePath(r.n, r.width))
				p.Index, p.Level = base+int64(i), 0
				p.Expected, p.Actual = hexh(want), hexh(got)
				p.Detail = "entry does not hash to its authenticated leaf hash in " + TilePath(0, r.n, r.width)
				v.add(p)
			}
			if reported > 16 {
				p := problem(ProblemEntryMismatch, BundlePath(r.n, r.width))
				p.Index, p.Level = base, 0
				p.Detail = fmt.Sprintf("%d more entries of this bundle do not match", reported-16)
				v.add(p)
			}
			continue
		}
		v.tileBad = true
		i := firstDiff(r.tile, r.leaves)
		p := problem(ProblemTileMismatch, TilePath(0, r.n, r.width))
		p.Index, p.Level = base+int64(i), 0
		p.Expected, p.Actual = hexh(r.leaves[i*HashSize:(i+1)*HashSize]), hexh(r.tile[i*HashSize:(i+1)*HashSize])
		p.Detail = fmt.Sprintf("hash %d of the tile differs from the entries, and the tile does not hash to its signed parent", i)
		v.add(p)
	}

	// Levels >= 1.
	for l := 1; l < levels; l++ {
		c := size >> (TileHeight * uint(l))
		for n := uint64(0); n*TileWidth < c; n++ {
			if bad[l][n] {
				continue
			}
			w := min(c-n*TileWidth, TileWidth)
			lo, hi := n*TileWidth*HashSize, (n*TileWidth+w)*HashSize
			s, cm := stored[l][lo:hi], v.comp[l][lo:hi]
			if bytes.Equal(s, cm) {
				continue
			}
			var ok bool
			if w == TileWidth {
				ok = auth(l, n, tileRoot(s))
			} else {
				ok = edgeAuth
			}
			if ok && v.firstBad >= 0 {
				// The tile is authentic: the entries below it are wrong,
				// and that is already reported.
				continue
			}
			v.tileBad = true
			i := firstDiff(s, cm)
			p := problem(ProblemTileMismatch, TilePath(l, n, int(w)))
			p.Level = l
			p.Index = int64((n*TileWidth + uint64(i)) << (TileHeight * uint(l)))
			p.Expected, p.Actual = hexh(cm[i*HashSize:(i+1)*HashSize]), hexh(s[i*HashSize:(i+1)*HashSize])
			if ok {
				p.Detail = fmt.Sprintf("hash %d differs from the entries, yet the tile hashes to the signed root", i)
			} else {
				p.Detail = fmt.Sprintf("hash %d differs from the entries, and the tile does not hash to its signed parent", i)
			}
			v.add(p)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i*HashSize < len(a) && i*HashSize < len(b); i++ {
		if !bytes.Equal(a[i*HashSize:(i+1)*HashSize], b[i*HashSize:(i+1)*HashSize]) {
			return i
		}
	}
	return 0
}

// checkRoots compares the recomputed roots with the latest checkpoint and
// every historical one. A checkpoint beyond an entry already reported wrong
// is not reported again: its mismatch follows from that entry.
func (v *verification) checkRoots() {
	explained := 0
	for i := range v.history {
		h := &v.history[i]
		if h.cp.Size > v.anchor.Size {
			continue // reported as ProblemHistoryLatest
		}
		r := v.snapshots[h.cp.Size]
		if r == h.cp.Root || bytes.Equal(h.text, v.anchor.Marshal()) {
			continue
		}
		if v.firstBad >= 0 && uint64(v.firstBad) < h.cp.Size {
			explained++
			continue
		}
		p := problem(ProblemCheckpointRoot, historyFile)
		p.Record, p.Size = h.record, h.cp.Size
		p.Expected, p.Actual = hexh(h.cp.Root[:]), hexh(r[:])
		p.Detail = "root recomputed from the entries at this checkpoint's size differs"
		v.add(p)
	}
	if got := v.snapshots[v.anchor.Size]; got != v.anchor.Root {
		p := problem(ProblemRoot, checkpointFile)
		p.Size = v.anchor.Size
		p.Expected, p.Actual = hexh(v.anchor.Root[:]), hexh(got[:])
		p.Detail = "root recomputed from the entry bundles differs from the signed checkpoint"
		if explained > 0 {
			p.Detail += fmt.Sprintf(" (so do %d earlier checkpoints in checkpoints.log, after the first bad entry %d)", explained, v.firstBad)
		}
		v.add(p)
	}
}

// checkConsistency proves, from the tiles, that each checkpoint in
// checkpoints.log is a prefix of the next, and checks each proof with
// tlog.CheckTree. It is skipped when tiles are already known bad: every proof
// through them would fail for the reason already reported.
func (v *verification) checkConsistency(ctx context.Context) error {
	if v.tileBad || v.anchor.Size == 0 {
		return nil
	}
	r := newReaderAt(v.fsys, v.anchor, v.anchorNote)
	hr := r.hashReader()
	var prev *histCP
	for i := range v.history {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := &v.history[i]
		if h.cp.Size > v.anchor.Size {
			break
		}
		if prev != nil && prev.cp.Size > 0 && prev.cp.Size < h.cp.Size {
			pf, err := tlog.ProveTree(int64(h.cp.Size), int64(prev.cp.Size), hr)
			if err == nil {
				err = tlog.CheckTree(pf, int64(h.cp.Size), tlog.Hash(h.cp.Root), int64(prev.cp.Size), tlog.Hash(prev.cp.Root))
			}
			if err != nil {
				p := problem(ProblemConsistency, historyFile)
				p.Record, p.Size = h.record, h.cp.Size
				p.Detail = fmt.Sprintf("from size %d (record %d): %v", prev.cp.Size, prev.record, err)
				v.add(p)
			}
		}
		prev = h
	}
	return nil
}
