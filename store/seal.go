package store

import (
	"context"
	"fmt"
)

// sealPending says complete blocks may lack their per-actor frame lists
// (true after Open, and after a batch crossed into a new block).
func (d *DB) maybeSeal(ctx context.Context, frames []Frame) {
	crossed := frames[0].First>>BlockShift != (frames[len(frames)-1].Next()-1)>>BlockShift ||
		frames[len(frames)-1].Next()&(1<<BlockShift-1) == 0
	if !crossed && !d.sealPending.Load() {
		return
	}
	// At most a few blocks per append, so an upgraded store catches up
	// without holding one commit for long. A failure leaves the block
	// unsealed, which searches handle (they decode it whole); the next
	// append tries again.
	n, err := d.SealBlocks(ctx, 2)
	if err == nil && n < 2 {
		d.sealPending.Store(false)
	} else {
		d.sealPending.Store(true)
	}
}

// SealBlocks writes the per-actor frame lists of up to max complete
// blocks that lack them, oldest first, and returns how many it sealed.
func (d *DB) SealBlocks(ctx context.Context, max int) (int, error) {
	next, err := d.NextIndex(ctx)
	if err != nil {
		return 0, err
	}
	complete := int64(next >> BlockShift) // blocks below are full
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT block FROM event_blocks WHERE sealed = 0 AND block < ? ORDER BY block LIMIT ?`), complete, max)
	if err != nil {
		return 0, fmt.Errorf("store: blocks to seal: %w", mapErr(err))
	}
	var blocks []int64
	for rows.Next() {
		var b int64
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return 0, err
		}
		blocks = append(blocks, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, mapErr(err)
	}
	for i, b := range blocks {
		if err := d.sealBlock(ctx, b); err != nil {
			return i, err
		}
	}
	return len(blocks), nil
}

func (d *DB) sealBlock(ctx context.Context, b int64) error {
	lo, hi := uint64(b)<<BlockShift, uint64(b+1)<<BlockShift
	lists := map[string][]uint64{}
	seen := map[string]bool{}
	err := d.frameIndex(ctx, lo, hi, func(f *Frame) error {
		clear(seen)
		for i := range f.Rows {
			r := &f.Rows[i]
			if r.Index < lo || r.Index >= hi || seen[r.Actor] {
				continue
			}
			seen[r.Actor] = true
			lists[r.Actor] = append(lists[r.Actor], f.First)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: seal block %d: %w", b, err)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: seal block %d: %w", b, mapErr(err))
	}
	defer tx.Rollback()
	args := make([]any, 0, 3*len(lists))
	for actor, firsts := range lists {
		args = append(args, actor, b, packIndices(firsts))
	}
	if err := d.execValues(ctx, tx, `INSERT INTO actor_frames (actor, block, frames) VALUES `, 3, args, ` ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("store: seal block %d: %w", b, err)
	}
	if _, err := tx.ExecContext(ctx, d.q(`UPDATE event_blocks SET sealed = 1 WHERE block = ?`), b); err != nil {
		return fmt.Errorf("store: seal block %d: %w", b, mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: seal block %d: %w", b, mapErr(err))
	}
	return nil
}

// actorFrames returns, for each sealed block in which actor has entries,
// the first index of each frame holding them.
func (d *DB) actorFrames(ctx context.Context, actor string) (map[uint64][]uint64, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT block, frames FROM actor_frames WHERE actor = ?`), actor)
	if err != nil {
		return nil, fmt.Errorf("store: actor frames: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[uint64][]uint64{}
	for rows.Next() {
		var b int64
		var packed []byte
		if err := rows.Scan(&b, &packed); err != nil {
			return nil, err
		}
		out[uint64(b)] = unpackIndices(packed)
	}
	return out, mapErr(rows.Err())
}

// sealedBlocks reports which of blocks are sealed.
func (d *DB) sealedBlocks(ctx context.Context, lo, hi uint64) (map[uint64]bool, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT block FROM event_blocks WHERE sealed = 1 AND block >= ? AND block <= ?`), int64(lo), int64(hi))
	if err != nil {
		return nil, fmt.Errorf("store: sealed blocks: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[uint64]bool{}
	for rows.Next() {
		var b int64
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out[uint64(b)] = true
	}
	return out, mapErr(rows.Err())
}

// frameAt reads the index columns of the frame starting at first.
func (d *DB) frameAt(ctx context.Context, first uint64, fn func(*Frame) error) error {
	st, err := d.stmt(ctx, d.q(`SELECT first, count, commitments, meta FROM event_frames WHERE first = ?`))
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, int64(first))
	if err != nil {
		return fmt.Errorf("store: read frame %d: %w", first, mapErr(err))
	}
	defer rows.Close()
	return scanFrames(rows, false, fn)
}

// frameBodyAt reads the frame starting at first, body included.
func (d *DB) frameBodyAt(ctx context.Context, first uint64, fn func(*Frame) error) error {
	st, err := d.stmt(ctx, d.q(`SELECT first, count, commitments, meta, body FROM event_frames WHERE first = ?`))
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, int64(first))
	if err != nil {
		return fmt.Errorf("store: read frame %d: %w", first, mapErr(err))
	}
	defer rows.Close()
	return scanFrames(rows, true, fn)
}
