package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"
)

// ErrCorrupt means the files of a ledger directory disagree with its signed
// checkpoint, so the writer refuses to continue from them. Run Verify to
// learn which file is wrong.
var ErrCorrupt = errors.New("ledger: stored tiles do not match the signed checkpoint")

// Log is the single writer of a ledger directory.
//
// Contracts:
//   - Only one Log MAY be open on a directory at a time; Open takes an
//     exclusive lock and fails with labtrust.ErrLocked otherwise.
//   - Callers MUST serialize calls: a Log is not safe for concurrent use.
//   - Entries passed to Append are NOT durable and NOT covered by a signed
//     checkpoint until a later Checkpoint returns without error. Callers MUST
//     keep them in their own store until then, and after a crash MUST
//     re-Append, in order, every entry at index Checkpointed() and beyond.
//   - After any error from Append or Checkpoint the Log is broken: every
//     later call returns that error, and the caller MUST Close it and Open
//     the directory again, which resumes from the last signed checkpoint.
type Log struct {
	dir    string
	origin string
	signer note.Signer
	lock   *os.File

	size uint64
	// edge[L] holds the hashes of the partial tile at level L for size; it
	// never reaches 256 hashes, because a full tile is written out and its
	// root pushed one level up as soon as it completes.
	edge   [][]byte
	bundle []byte // the partial entry bundle for size

	cp     Checkpoint
	cpNote []byte
	// cpPartial[L] is the (index, width) of the partial tile at level L at
	// the last checkpoint: unchanged partial tiles need not be written again,
	// and rewriting them in place could tear a file a checkpoint depends on.
	cpPartial []tileID

	flush    *flusher            // writes and fsyncs tile files in the background
	newDirs  []string            // directories created since the last checkpoint
	madeDirs map[string]struct{} // directories known to exist
	err      error
}

type tileID struct {
	n uint64
	w int
}

// Open opens the ledger in dir, creating it if needed, to append entries
// signed by signer under origin.
//
// A new directory gets a signed checkpoint of the empty tree (size 0) right
// away, so a ledger directory always has a checkpoint and readers need no
// special case. An existing directory is resumed at its latest checkpoint:
// Open reads the partial tiles and entry bundle for that size, checks that
// they hash to the checkpoint's root (ErrCorrupt otherwise), and repairs the
// tail of checkpoints.log left by a crash between publishing the checkpoint
// and appending it there. Files beyond the checkpoint are ignored; they are
// overwritten as entries are appended again.
//
// The existing checkpoint must be signed by signer, with a deterministic
// signature scheme such as Ed25519: Open re-signs the checkpoint text and
// compares.
func Open(ctx context.Context, dir, origin string, signer note.Signer) (*Log, error) {
	if origin == "" {
		return nil, errors.New("ledger: empty origin")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ledger: create directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, origin: origin, signer: signer, lock: lock, madeDirs: map[string]struct{}{}, flush: newFlusher()}
	if err := l.load(ctx); err != nil {
		l.flush.close()
		lock.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) load(ctx context.Context) error {
	msg, err := os.ReadFile(filepath.Join(l.dir, checkpointFile))
	if errors.Is(err, fs.ErrNotExist) {
		return l.create(ctx)
	}
	if err != nil {
		return fmt.Errorf("ledger: read checkpoint: %w", err)
	}
	text, err := noteText(msg)
	if err != nil {
		return fmt.Errorf("ledger: checkpoint: %w", err)
	}
	again, err := note.Sign(&note.Note{Text: string(text)}, l.signer)
	if err != nil {
		return fmt.Errorf("ledger: sign: %w", err)
	}
	if !bytes.Equal(again, msg) {
		return fmt.Errorf("ledger: checkpoint is not signed (only) by key %s", l.signer.Name())
	}
	cp, err := ParseCheckpoint(text)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if cp.Origin != l.origin {
		return fmt.Errorf("ledger: checkpoint origin %q, want %q", cp.Origin, l.origin)
	}
	l.size, l.cp, l.cpNote = cp.Size, cp, msg
	levels := max(levelsFor(cp.Size), 1)
	l.edge = make([][]byte, levels)
	l.cpPartial = make([]tileID, levels)
	for lv := 0; lv < levels; lv++ {
		n, w := partialAt(cp.Size, lv)
		l.cpPartial[lv] = tileID{n, w}
		l.edge[lv] = make([]byte, 0, TileWidth*HashSize)
		if w == 0 {
			continue
		}
		p := TilePath(lv, n, w)
		b, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, p, err)
		}
		if len(b) != w*HashSize {
			return fmt.Errorf("%w: %s is %d bytes, want %d", ErrCorrupt, p, len(b), w*HashSize)
		}
		l.edge[lv] = append(l.edge[lv], b...)
	}
	if got := edgeRoot(l.edge); got != cp.Root {
		return fmt.Errorf("%w: partial tiles for size %d hash to %x, checkpoint root is %x", ErrCorrupt, cp.Size, got, cp.Root)
	}
	l.bundle = make([]byte, 0, 64<<10)
	if n, w := partialAt(cp.Size, 0); w > 0 {
		p := BundlePath(n, w)
		b, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, p, err)
		}
		var bad error
		k, err := walkBundle(b, func(i int, e []byte) {
			if i < w && bad == nil {
				if h := LeafHash(e); !bytes.Equal(h[:], l.edge[0][i*HashSize:(i+1)*HashSize]) {
					bad = fmt.Errorf("%w: %s entry %d does not match its leaf hash", ErrCorrupt, p, n*TileWidth+uint64(i))
				}
			}
		})
		switch {
		case err != nil:
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, p, err)
		case k != w:
			return fmt.Errorf("%w: %s holds %d entries, want %d", ErrCorrupt, p, k, w)
		case bad != nil:
			return bad
		}
		l.bundle = append(l.bundle, b...)
	}
	return l.repairHistory(ctx)
}

// repairHistory makes checkpoints.log end with the current checkpoint: a
// crash can leave a torn record at its end, or stop after the checkpoint was
// published but before it was appended.
func (l *Log) repairHistory(ctx context.Context) error {
	p := filepath.Join(l.dir, historyFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("ledger: open %s: %w", historyFile, err)
	}
	defer f.Close()
	var last []byte
	end, herr := readHistory(f, func(rec historyRecord) error {
		last = rec.Note
		return ctx.Err()
	})
	if herr != nil {
		var he *HistoryError
		if !errors.As(herr, &he) {
			return fmt.Errorf("ledger: read %s: %w", historyFile, herr)
		}
		// Only the tail can be torn by a crash; the torn record is
		// rewritten below if it was the current checkpoint.
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("ledger: truncate torn %s: %w", historyFile, err)
		}
	}
	if bytes.Equal(last, l.cpNote) {
		return nil
	}
	if last != nil {
		if t, err := noteText(last); err == nil {
			if c, err := ParseCheckpoint(t); err == nil && c.Size > l.cp.Size {
				return fmt.Errorf("%w: %s ends at size %d, beyond the checkpoint at size %d", ErrCorrupt, historyFile, c.Size, l.cp.Size)
			}
		}
	}
	if _, err := f.WriteAt(appendHistoryRecord(nil, l.cpNote), end); err != nil {
		return fmt.Errorf("ledger: append to %s: %w", historyFile, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("ledger: sync %s: %w", historyFile, err)
	}
	return nil
}

func (l *Log) create(ctx context.Context) error {
	if fi, err := os.Stat(filepath.Join(l.dir, historyFile)); err == nil && fi.Size() > 0 {
		return fmt.Errorf("%w: %s exists but the checkpoint file is missing", ErrCorrupt, historyFile)
	}
	l.bundle = make([]byte, 0, 64<<10)
	l.edge = [][]byte{make([]byte, 0, TileWidth*HashSize)}
	l.cpPartial = []tileID{{}}
	l.cp = Checkpoint{Origin: l.origin, Root: emptyRoot}
	if err := os.WriteFile(filepath.Join(l.dir, historyFile), nil, 0o644); err != nil {
		return fmt.Errorf("ledger: create %s: %w", historyFile, err)
	}
	return l.publish(ctx, l.cp)
}

// Size returns the number of entries appended so far, durable or not.
func (l *Log) Size() uint64 { return l.size }

// Checkpointed returns the size of the latest signed checkpoint: entries
// below it are durable; entries at and above it are not.
func (l *Log) Checkpointed() uint64 { return l.cp.Size }

// Root returns the RFC 6962 root hash of the first Size() entries, computed
// from the in-memory right edge of the tree.
func (l *Log) Root() ([32]byte, error) {
	if l.err != nil {
		return [32]byte{}, l.err
	}
	return edgeRoot(l.edge), nil
}

// Append appends entries in order and returns the index of the first. Each
// entry MUST be at most MaxEntrySize bytes (labtrust entries are 32-byte
// commitments); Append checks all of them before changing anything.
//
// Append writes full tiles and full entry bundles as they complete, with
// plain writes that overwrite whatever a crash left at those paths and
// without fsync: nothing is durable until Checkpoint.
func (l *Log) Append(entries [][]byte) (first uint64, err error) {
	if l.err != nil {
		return 0, l.err
	}
	for i, e := range entries {
		if len(e) > MaxEntrySize {
			return 0, fmt.Errorf("ledger: entry %d of the batch is %d bytes, more than %d", i, len(e), MaxEntrySize)
		}
	}
	first = l.size
	for _, e := range entries {
		h := LeafHash(e)
		l.edge[0] = append(l.edge[0], h[:]...)
		l.bundle = appendBundleEntry(l.bundle, e)
		l.size++
		if l.size%TileWidth == 0 {
			if err := l.completeTiles(); err != nil {
				l.err = fmt.Errorf("ledger: append: %w (the log must be reopened)", err)
				return 0, l.err
			}
		}
	}
	return first, nil
}

// completeTiles writes the entry bundle and every tile that the last append
// completed, pushing each full tile's root into the level above.
func (l *Log) completeTiles() error {
	n := l.size/TileWidth - 1
	if err := l.write(BundlePath(n, TileWidth), l.bundle); err != nil {
		return err
	}
	l.bundle = l.bundle[:0]
	for lv := 0; ; lv++ {
		if len(l.edge[lv]) < TileWidth*HashSize {
			return nil
		}
		tn := (l.size >> (TileHeight * uint(lv+1))) - 1
		if err := l.write(TilePath(lv, tn, TileWidth), l.edge[lv]); err != nil {
			return err
		}
		root := tileRoot(l.edge[lv])
		l.edge[lv] = l.edge[lv][:0]
		if lv+1 == len(l.edge) {
			l.edge = append(l.edge, make([]byte, 0, TileWidth*HashSize))
		}
		l.edge[lv+1] = append(l.edge[lv+1], root[:]...)
	}
}

func (l *Log) write(rel string, data []byte) error {
	p := filepath.Join(l.dir, filepath.FromSlash(rel))
	d := filepath.Dir(p)
	if _, ok := l.madeDirs[d]; !ok {
		for x := d; len(x) > len(l.dir); x = filepath.Dir(x) {
			if _, err := os.Stat(x); err == nil {
				break
			}
			l.newDirs = append(l.newDirs, x, filepath.Dir(x))
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		l.madeDirs[d] = struct{}{}
	}
	// The caller keeps mutating its buffers; the flusher gets a copy.
	l.flush.submit(p, append([]byte(nil), data...))
	return nil
}

// Checkpoint makes every entry appended so far durable and covered by a new
// signed checkpoint, which it returns. If nothing was appended since the
// last checkpoint it returns that one unchanged.
//
// It writes the partial tiles and entry bundle for the current size, waits
// until every tile file written since the last checkpoint is fsynced (they
// are written and fsynced in the background as they complete) along with
// any new directories, then writes
// the signed checkpoint atomically (temporary file, fsync, rename, fsync of
// the directory) and appends it to checkpoints.log (fsync). Only after
// Checkpoint returns are those entries covered by a signed checkpoint; if it
// fails, a reopened Log resumes from the previous one.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	if l.err != nil {
		return nil, l.err
	}
	if l.size == l.cp.Size {
		return l.cpNote, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	partial := make([]tileID, len(l.edge))
	for lv := range l.edge {
		n, w := partialAt(l.size, lv)
		partial[lv] = tileID{n, w}
		if w == 0 || (lv < len(l.cpPartial) && l.cpPartial[lv] == partial[lv]) {
			continue
		}
		if err := l.write(TilePath(lv, n, w), l.edge[lv]); err != nil {
			return nil, l.fail(err)
		}
	}
	if n, w := partialAt(l.size, 0); w > 0 {
		if err := l.write(BundlePath(n, w), l.bundle); err != nil {
			return nil, l.fail(err)
		}
	}
	if err := l.syncTiles(); err != nil {
		return nil, l.fail(err)
	}
	cp := Checkpoint{Origin: l.origin, Size: l.size, Root: edgeRoot(l.edge)}
	if err := l.publish(ctx, cp); err != nil {
		return nil, l.fail(err)
	}
	l.cpPartial = partial
	return l.cpNote, nil
}

func (l *Log) fail(err error) error {
	l.err = fmt.Errorf("ledger: checkpoint: %w (the log must be reopened)", err)
	return l.err
}

// syncTiles waits until every tile file written since the last checkpoint
// is on disk, then makes new directory entries durable.
func (l *Log) syncTiles() error {
	if err := l.flush.wait(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, d := range l.newDirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := fsyncPath(d); err != nil {
			return err
		}
	}
	l.newDirs = l.newDirs[:0]
	return nil
}

func fsyncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	return nil
}

// publish signs cp, replaces the checkpoint file atomically and appends the
// note to checkpoints.log.
func (l *Log) publish(ctx context.Context, cp Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, l.signer)
	if err != nil {
		return fmt.Errorf("sign checkpoint: %w", err)
	}
	tmp := filepath.Join(l.dir, checkpointFile+".tmp")
	if err := writeSync(tmp, msg, os.O_WRONLY|os.O_CREATE|os.O_TRUNC); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, checkpointFile)); err != nil {
		return fmt.Errorf("publish checkpoint: %w", err)
	}
	if err := fsyncPath(l.dir); err != nil {
		return err
	}
	// From here the checkpoint is published; a crash before the history
	// append is repaired by Open.
	l.cp, l.cpNote = cp, msg
	return writeSync(filepath.Join(l.dir, historyFile), appendHistoryRecord(nil, msg), os.O_WRONLY|os.O_CREATE|os.O_APPEND)
}

func writeSync(p string, data []byte, flag int) error {
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(p), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", filepath.Base(p), err)
	}
	return f.Close()
}

// Close releases the directory lock. Entries appended since the last
// Checkpoint are not made durable by Close.
func (l *Log) Close() error {
	if l.lock == nil {
		return nil
	}
	l.flush.wait() // leave no write running behind the lock
	l.flush.close()
	err := l.lock.Close()
	l.lock = nil
	if l.err == nil {
		l.err = errors.New("ledger: log is closed")
	}
	return err
}

var _ io.Closer = (*Log)(nil)
