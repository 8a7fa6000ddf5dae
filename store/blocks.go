package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

type blockRange struct{ min, max int64 }

type actorKey struct {
	actor string
	block int64
}

type kindKey struct {
	source, kind string
	block        int64
}

type blockRows struct {
	blocks map[int64]blockRange
	actors map[actorKey]struct{}
	kinds  map[kindKey]struct{}
}

// indexed remembers which block index rows of the newest block are already
// stored, so each batch writes only the actors and sources new to the
// block instead of re-inserting (and conflicting on) all of them.
type indexed struct {
	mu     sync.Mutex
	block  int64
	actors map[actorKey]struct{}
	kinds  map[kindKey]struct{}
}

// aggregate collects one batch's block-level index rows, leaving out those
// already stored: a batch of 4k entries touches one or two blocks, and only
// the first batches of a block meet most of its actors.
func (d *DB) aggregate(frames []Frame) blockRows {
	br := blockRows{blocks: map[int64]blockRange{}, actors: map[actorKey]struct{}{}, kinds: map[kindKey]struct{}{}}
	d.idx.mu.Lock()
	defer d.idx.mu.Unlock()
	for fi := range frames {
		for i := range frames[fi].Rows {
			r := &frames[fi].Rows[i]
			b := int64(r.Index >> BlockShift)
			ts := r.Time.UnixMicro()
			if x, ok := br.blocks[b]; !ok {
				br.blocks[b] = blockRange{ts, ts}
			} else {
				br.blocks[b] = blockRange{min(x.min, ts), max(x.max, ts)}
			}
			ak, kk := actorKey{r.Actor, b}, kindKey{r.Source, r.Kind, b}
			if _, ok := d.idx.actors[ak]; !ok {
				br.actors[ak] = struct{}{}
			}
			if _, ok := d.idx.kinds[kk]; !ok {
				br.kinds[kk] = struct{}{}
			}
		}
	}
	return br
}

// committed records br's rows as stored, once their transaction committed.
func (d *DB) committed(br blockRows) {
	d.idx.mu.Lock()
	defer d.idx.mu.Unlock()
	for b := range br.blocks {
		if b > d.idx.block || d.idx.actors == nil {
			d.idx.block, d.idx.actors, d.idx.kinds = b, map[actorKey]struct{}{}, map[kindKey]struct{}{}
		}
	}
	for k := range br.actors {
		if k.block == d.idx.block {
			d.idx.actors[k] = struct{}{}
		}
	}
	for k := range br.kinds {
		if k.block == d.idx.block {
			d.idx.kinds[k] = struct{}{}
		}
	}
}

func (d *DB) insertBlocks(ctx context.Context, tx *sql.Tx, br blockRows) error {
	var args []any
	for b, x := range br.blocks {
		args = append(args, b, x.min, x.max)
	}
	if err := d.execValues(ctx, tx, `INSERT INTO event_blocks (block, min_ts, max_ts) VALUES `, 3, args,
		` ON CONFLICT (block) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts), max_ts = max(max_ts, excluded.max_ts)`); err != nil {
		return fmt.Errorf("store: block index: %w", err)
	}
	args = args[:0]
	for k := range br.actors {
		args = append(args, k.actor, k.block)
	}
	if err := d.execValues(ctx, tx, `INSERT INTO block_actors (actor, block) VALUES `, 2, args, ` ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("store: actor index: %w", err)
	}
	args = args[:0]
	for k := range br.kinds {
		args = append(args, k.source, k.kind, k.block)
	}
	if err := d.execValues(ctx, tx, `INSERT INTO block_kinds (source, kind, block) VALUES `, 3, args, ` ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("store: source index: %w", err)
	}
	return nil
}

// execValues runs head + "(?,…),(?,…)…" + tail over args in statements of
// at most 200 rows: one statement per few hundred rows instead of one each.
// Statements are prepared once per shape and kept, because compiling SQL
// costs as much as running it.
func (d *DB) execValues(ctx context.Context, tx *sql.Tx, head string, width int, args []any, tail string) error {
	const perStmt = 200
	tuple := "(?" + strings.Repeat(",?", width-1) + ")"
	for start := 0; start < len(args); start += perStmt * width {
		part := args[start:min(start+perStmt*width, len(args))]
		var q strings.Builder
		q.WriteString(head)
		for i := 0; i < len(part)/width; i++ {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(tuple)
		}
		q.WriteString(tail)
		st, err := d.stmt(ctx, d.q(q.String()))
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, part...); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// txStmt returns the kept prepared statement for query (written with ?
// placeholders) bound to tx.
func (d *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	q := d.q(query)
	d.stmtMu.Lock()
	st, ok := d.stmts[q]
	d.stmtMu.Unlock()
	if ok {
		return tx.StmtContext(ctx, st), nil
	}
	// Not kept yet: keep it if a connection is free soon. Waiting longer
	// for one from the pool while holding this one waits forever once
	// every connection is held by a transaction doing the same (concurrent
	// code allocations did); then it is prepared on the transaction's own
	// connection, for this transaction only.
	pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	st, err := d.stmt(pctx, q)
	cancel()
	if err == nil {
		return tx.StmtContext(ctx, st), nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if st, err = tx.PrepareContext(ctx, q); err != nil {
		return nil, mapErr(err)
	}
	return st, nil
}

// stmt returns the prepared statement for query, preparing it on first use.
// queryRow runs a one-row query through a cached prepared statement:
// point look-ups (a registry read, a notice code) are run millions of
// times, and compiling the SQL each time was a third of their cost.
func (d *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.stmt(ctx, query)
	if err != nil {
		return d.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (d *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	if st, ok := d.stmts[query]; ok {
		return st, nil
	}
	st, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, mapErr(err)
	}
	if d.stmts == nil {
		d.stmts = map[string]*sql.Stmt{}
	}
	d.stmts[query] = st
	return st, nil
}

func (d *DB) pgBlocks(ctx context.Context, tx pgx.Tx, br blockRows) error {
	var batch pgx.Batch
	for b, x := range br.blocks {
		batch.Queue(`INSERT INTO event_blocks (block, min_ts, max_ts) VALUES ($1, $2, $3)
			ON CONFLICT (block) DO UPDATE SET min_ts = LEAST(event_blocks.min_ts, excluded.min_ts), max_ts = GREATEST(event_blocks.max_ts, excluded.max_ts)`, b, x.min, x.max)
	}
	for k := range br.actors {
		batch.Queue(`INSERT INTO block_actors (actor, block) VALUES ($1, $2) ON CONFLICT DO NOTHING`, k.actor, k.block)
	}
	for k := range br.kinds {
		batch.Queue(`INSERT INTO block_kinds (source, kind, block) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, k.source, k.kind, k.block)
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("store: block indexes: %w", mapErr(err))
	}
	return nil
}

// Filter selects events by their clear index columns; zero fields match
// everything. Patients are found with PatientEvents (blind index) instead.
type Filter struct {
	From, To time.Time // inclusive bounds on the event time
	Actor    string
	Source   string
	Kind     string
}

// candidateBlocks returns, in order, the blocks whose time range, actors
// and sources can match f, and f's time bounds in microseconds.
func (d *DB) candidateBlocks(ctx context.Context, f Filter) (blocks []uint64, from, to int64, err error) {
	from, to = int64(-1<<62), int64(1<<62)
	if !f.From.IsZero() {
		from = f.From.UnixMicro()
	}
	if !f.To.IsZero() {
		to = f.To.UnixMicro()
	}
	var cand strings.Builder
	cand.WriteString(`SELECT block FROM event_blocks WHERE max_ts >= ? AND min_ts <= ?`)
	args := []any{from, to}
	if f.Actor != "" {
		cand.WriteString(` AND block IN (SELECT block FROM block_actors WHERE actor = ?)`)
		args = append(args, f.Actor)
	}
	if f.Source != "" || f.Kind != "" {
		cand.WriteString(` AND block IN (SELECT block FROM block_kinds WHERE 1=1`)
		if f.Source != "" {
			cand.WriteString(` AND source = ?`)
			args = append(args, f.Source)
		}
		if f.Kind != "" {
			cand.WriteString(` AND kind = ?`)
			args = append(args, f.Kind)
		}
		cand.WriteString(`)`)
	}
	cand.WriteString(` ORDER BY block`)
	rows, err := d.db.QueryContext(ctx, d.q(cand.String()), args...)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("store: search: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var b int64
		if err := rows.Scan(&b); err != nil {
			return nil, 0, 0, fmt.Errorf("store: search: %w", err)
		}
		blocks = append(blocks, uint64(b))
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("store: search: %w", mapErr(err))
	}
	return blocks, from, to, nil
}

// matches reports whether r passes f (time bounds in microseconds).
func (f *Filter) matches(r *EventRow, from, to int64) bool {
	ts := r.Time.UnixMicro()
	return ts >= from && ts <= to && (f.Actor == "" || r.Actor == f.Actor) &&
		(f.Source == "" || r.Source == f.Source) && (f.Kind == "" || r.Kind == f.Kind)
}

// Search calls fn with the index columns of each entry matching f, in
// index order. It narrows to the blocks whose time range, actors and
// sources can match, then filters those blocks' entries exactly. The row
// is only valid during the call.
func (d *DB) Search(ctx context.Context, f Filter, fn func(*EventRow) error) error {
	blocks, from, to, err := d.candidateBlocks(ctx, f)
	if err != nil {
		return err
	}
	match := func(r *EventRow) error {
		if !f.matches(r, from, to) {
			return nil
		}
		return fn(r)
	}
	// For one account, sealed blocks list the frames holding its entries:
	// only those are read.
	var lists map[uint64][]uint64
	var sealed map[uint64]bool
	if f.Actor != "" && len(blocks) > 0 {
		if lists, err = d.actorFrames(ctx, f.Actor); err != nil {
			return err
		}
		if sealed, err = d.sealedBlocks(ctx, blocks[0], blocks[len(blocks)-1]); err != nil {
			return err
		}
	}
	for i := 0; i < len(blocks); {
		if sealed[blocks[i]] {
			// A run of sealed blocks: their listed frames, read on a few
			// connections at once (they are scattered over the file, so
			// cold reads wait on the disk), and matched in index order.
			var want []blockFrame
			for ; i < len(blocks) && sealed[blocks[i]]; i++ {
				for _, first := range lists[blocks[i]] {
					want = append(want, blockFrame{block: blocks[i], first: first})
				}
			}
			if err := d.readListed(ctx, want, f.Actor, match); err != nil {
				return err
			}
			continue
		}
		// Adjacent unsealed candidate blocks are read as one range.
		j := i + 1
		for j < len(blocks) && blocks[j] == blocks[j-1]+1 && !sealed[blocks[j]] {
			j++
		}
		lo, hi := blocks[i]<<BlockShift, (blocks[j-1]+1)<<BlockShift
		if err := d.Events(ctx, lo, hi, match); err != nil {
			return err
		}
		i = j
	}
	return nil
}

type blockFrame struct {
	block, first uint64
}

// readListed reads the listed frames' index columns with searchReaders
// connections and calls match with each of actor's rows in the frame's
// block, in list order.
func (d *DB) readListed(ctx context.Context, want []blockFrame, actor string, match func(*EventRow) error) error {
	const searchReaders = 3
	rows := make([][]EventRow, len(want))
	errs := make([]error, searchReaders)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(searchReaders, len(want)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(want) || ctx.Err() != nil {
					return
				}
				lo, hi := want[k].block<<BlockShift, (want[k].block+1)<<BlockShift
				if err := d.frameAt(ctx, want[k].first, func(fr *Frame) error {
					for j := range fr.Rows {
						if idx := fr.Rows[j].Index; idx >= lo && idx < hi && fr.Rows[j].Actor == actor {
							rows[k] = append(rows[k], fr.Rows[j])
						}
					}
					return nil
				}); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for k := range rows {
		for j := range rows[k] {
			if err := match(&rows[k][j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ScanFrames calls fn, from workers goroutines at once and in no
// particular order, with each stored frame (body included) holding
// entries that match f, and the positions of those rows in it. For one
// account it reads only the frames its sealed blocks list, one read each
// (their bodies are what a caller opens); otherwise the candidate blocks'
// frames. fn must be safe for concurrent use; the frame is only valid
// during its call.
func (d *DB) ScanFrames(ctx context.Context, f Filter, workers int, fn func(fr *Frame, rows []int) error) error {
	blocks, from, to, err := d.candidateBlocks(ctx, f)
	if err != nil || len(blocks) == 0 {
		return err
	}
	var lists map[uint64][]uint64
	var sealed map[uint64]bool
	if f.Actor != "" {
		if lists, err = d.actorFrames(ctx, f.Actor); err != nil {
			return err
		}
		if sealed, err = d.sealedBlocks(ctx, blocks[0], blocks[len(blocks)-1]); err != nil {
			return err
		}
	}
	// A task is one listed frame (first set) or one whole block.
	type task struct {
		block, first uint64
		listed       bool
	}
	var tasks []task
	for _, b := range blocks {
		if !sealed[b] {
			tasks = append(tasks, task{block: b})
			continue
		}
		for _, first := range lists[b] {
			tasks = append(tasks, task{block: b, first: first, listed: true})
		}
	}
	workers = max(1, min(workers, len(tasks)))
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pos []int
			visit := func(lo, hi uint64) func(fr *Frame) error {
				return func(fr *Frame) error {
					pos = pos[:0]
					for k := range fr.Rows {
						if idx := fr.Rows[k].Index; idx >= lo && idx < hi && f.matches(&fr.Rows[k], from, to) {
							pos = append(pos, k)
						}
					}
					if len(pos) == 0 {
						return nil
					}
					return fn(fr, pos)
				}
			}
			for {
				k := int(next.Add(1) - 1)
				if k >= len(tasks) || ctx.Err() != nil {
					return
				}
				t := tasks[k]
				lo, hi := t.block<<BlockShift, (t.block+1)<<BlockShift
				var err error
				if t.listed {
					err = d.frameBodyAt(ctx, t.first, visit(lo, hi))
				} else {
					err = d.Frames(ctx, lo, hi, visit(lo, hi))
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}
