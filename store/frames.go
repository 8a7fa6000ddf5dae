package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/labtrust/labtrust"
)

// EventRow is one entry's clear index columns, which hold no PHI, its
// commitment, and (when written) its patients' blind indexes.
type EventRow struct {
	Index      uint64
	Time       time.Time
	Source     string
	Kind       string
	Actor      string
	Action     string
	Outcome    int
	Commitment [32]byte
	Patients   [][]byte // blind indexes; set on write, not filled on read
}

// Frame is a run of consecutive entries stored as one row: their index
// columns and one sealed body holding every entry's nonce and canonical
// bytes (package frame).
type Frame struct {
	First uint64
	Rows  []EventRow // Rows[i].Index == First+i
	Body  []byte     // sealed; nil when read without bodies
}

// Next returns the index after the frame's last entry.
func (f *Frame) Next() uint64 { return f.First + uint64(len(f.Rows)) }

// BucketShift sets the patient index's bucket size (2^16 entries): the
// bucket leads the index key so inserts stay local.
const BucketShift = 12

// BlockShift sets the block size (2^16 entries) of the time, actor, source
// and kind indexes: a block has a few hundred distinct actors, so this is
// about one index row per hundred events, and a search decodes at most a
// block's packed index columns (a few milliseconds) beyond what it needs.
const BlockShift = 16

// rowsPerInsert bounds multi-row INSERT statements (SQLite allows 32766
// parameters); batching rows per statement is what makes SQLite inserts fast.
const rowsPerInsert = 400

// AppendFrames stores frames, with their patient and block index rows, in
// one transaction. Frames MUST be non-empty and continue the stored indices
// without a gap, which the single ingest writer guarantees; a repeated
// index fails with labtrust.ErrConflict.
func (d *DB) AppendFrames(ctx context.Context, frames []Frame) error {
	if len(frames) == 0 {
		return nil
	}
	for i := range frames {
		f := &frames[i]
		if len(f.Rows) == 0 || len(f.Body) == 0 {
			return fmt.Errorf("store: frame at %d is empty", f.First)
		}
		for j := range f.Rows {
			if f.Rows[j].Index != f.First+uint64(j) {
				return fmt.Errorf("store: frame at %d: row %d has index %d", f.First, j, f.Rows[j].Index)
			}
		}
		if i > 0 && frames[i-1].Next() != f.First {
			return fmt.Errorf("store: frame at %d does not follow the frame ending at %d", f.First, frames[i-1].Next())
		}
	}
	if d.dialect == Postgres {
		if err := d.copyFrames(ctx, frames); err != nil {
			return err
		}
		d.maybeSeal(ctx, frames)
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin append: %w", mapErr(err))
	}
	defer tx.Rollback()
	next, err := nextTx(ctx, d, tx)
	if err := checkNext(next, err, frames[0].First); err != nil {
		return err
	}
	if err := d.insertFrames(ctx, tx, frames); err != nil {
		return err
	}
	if err := d.insertPatients(ctx, tx, frames); err != nil {
		return err
	}
	br := d.aggregate(frames)
	if err := d.insertBlocks(ctx, tx, br); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit append: %w", mapErr(err))
	}
	d.committed(br)
	d.maybeSeal(ctx, frames)
	return nil
}

// frameColumns are a frame row's values in the order of frameInsert.
func frameColumns(f *Frame) []any {
	lo, hi := f.Rows[0].Time.UnixMicro(), f.Rows[0].Time.UnixMicro()
	cs := make([]byte, 0, 32*len(f.Rows))
	for i := range f.Rows {
		ts := f.Rows[i].Time.UnixMicro()
		lo, hi = min(lo, ts), max(hi, ts)
		cs = append(cs, f.Rows[i].Commitment[:]...)
	}
	return []any{int64(f.First), int64(len(f.Rows)), lo, hi, cs, encodeMeta(nil, f.Rows), f.Body}
}

func (d *DB) insertFrames(ctx context.Context, tx *sql.Tx, frames []Frame) error {
	args := make([]any, 0, 7*len(frames))
	for i := range frames {
		args = append(args, frameColumns(&frames[i])...)
	}
	if err := d.execValues(ctx, tx, `INSERT INTO event_frames (first, count, min_ts, max_ts, commitments, meta, body) VALUES `, 7, args, ``); err != nil {
		return fmt.Errorf("store: insert frames at index %d: %w", frames[0].First, err)
	}
	return nil
}

func (d *DB) insertPatients(ctx context.Context, tx *sql.Tx, frames []Frame) error {
	type prow struct {
		bucket int64
		p      []byte
		r      *EventRow
	}
	var ps []prow
	for i := range frames {
		for j := range frames[i].Rows {
			r := &frames[i].Rows[j]
			for _, p := range r.Patients {
				ps = append(ps, prow{int64(r.Index >> BucketShift), p, r})
			}
		}
	}
	// In key order the B-tree is walked once, left to right, instead of
	// descended at a random leaf per row: about twice as fast.
	slices.SortFunc(ps, func(a, b prow) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		if c := bytes.Compare(a.p, b.p); c != 0 {
			return c
		}
		return cmp.Compare(a.r.Index, b.r.Index)
	})
	args := make([]any, 0, 4*len(ps))
	for _, x := range ps {
		args = append(args, x.bucket, x.p, int64(x.r.Index), x.r.Commitment[:])
	}
	if err := d.execValues(ctx, tx, `INSERT OR IGNORE INTO event_patients (bucket, patient, idx, commitment) VALUES `, 4, args, ``); err != nil {
		return fmt.Errorf("store: insert patient index at %d: %w", frames[0].First, err)
	}
	return nil
}

// copyFrames bulk-loads with COPY, PostgreSQL's fastest path, in one
// transaction.
func (d *DB) copyFrames(ctx context.Context, frames []Frame) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: connection: %w", mapErr(err))
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("store: begin append: %w", mapErr(err))
		}
		defer tx.Rollback(ctx)
		// One writer holds the advisory lock, so the read and the COPY
		// below see the same last frame.
		next, err := d.nextIn(ctx, func(ctx context.Context, q string, args ...any) scanner { return tx.QueryRow(ctx, q, args...) })
		if err := checkNext(next, err, frames[0].First); err != nil {
			return err
		}
		i := 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"event_frames"},
			[]string{"first", "count", "min_ts", "max_ts", "commitments", "meta", "body"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(frames) {
					return nil, nil
				}
				i++
				return frameColumns(&frames[i-1]), nil
			})); err != nil {
			return fmt.Errorf("store: copy frames at index %d: %w", frames[0].First, mapErr(err))
		}
		var pats [][]any
		for i := range frames {
			for j := range frames[i].Rows {
				r := &frames[i].Rows[j]
				for _, p := range r.Patients {
					pats = append(pats, []any{int64(r.Index >> BucketShift), p, int64(r.Index), r.Commitment[:]})
				}
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"event_patients"}, []string{"bucket", "patient", "idx", "commitment"},
			pgx.CopyFromRows(pats)); err != nil {
			return fmt.Errorf("store: copy patient index at %d: %w", frames[0].First, mapErr(err))
		}
		br := d.aggregate(frames)
		if err := d.pgBlocks(ctx, tx, br); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("store: commit append: %w", mapErr(err))
		}
		d.committed(br)
		return nil
	})
}

// NextIndex returns the index the next appended event gets: one past the
// highest stored, or 0 for an empty store.
func (d *DB) NextIndex(ctx context.Context) (uint64, error) {
	return d.nextIn(ctx, func(ctx context.Context, q string, args ...any) scanner { return d.db.QueryRowContext(ctx, q, args...) })
}

func (d *DB) nextIn(ctx context.Context, query func(ctx context.Context, q string, args ...any) scanner) (uint64, error) {
	var first, count int64
	err := query(ctx, `SELECT first, count FROM event_frames ORDER BY first DESC LIMIT 1`).Scan(&first, &count)
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: last frame: %w", mapErr(err))
	}
	return uint64(first + count), nil
}

// checkNext refuses frames that would overlap stored entries (a conflict)
// or leave a gap after them.
func checkNext(next uint64, err error, first uint64) error {
	switch {
	case err != nil:
		return err
	case first < next:
		return fmt.Errorf("store: entries from %d are already stored (next is %d): %w", first, next, labtrust.ErrConflict)
	case first > next:
		return fmt.Errorf("store: frame at %d would leave a gap after the stored entries (next is %d)", first, next)
	}
	return nil
}

// frameRange selects the frames overlapping [from, to): the one holding
// from (the newest starting at or before it) and every later one starting
// before to, so both ends use the primary key.
const frameRange = ` FROM event_frames WHERE first >= COALESCE((SELECT first FROM event_frames WHERE first <= ? ORDER BY first DESC LIMIT 1), 0) AND first < ? ORDER BY first`

// Frames calls fn with each stored frame overlapping from <= index < to,
// in order, bodies included. A frame may start before from or end after
// to. The frame is only valid during the call.
func (d *DB) Frames(ctx context.Context, from, to uint64, fn func(*Frame) error) error {
	if from >= to {
		return nil
	}
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT first, count, commitments, meta, body`+frameRange), int64(from), int64(to))
	if err != nil {
		return fmt.Errorf("store: read frames: %w", mapErr(err))
	}
	defer rows.Close()
	return scanFrames(rows, true, fn)
}

// frameIndex reads frames without bodies: index columns and commitments.
func (d *DB) frameIndex(ctx context.Context, from, to uint64, fn func(*Frame) error) error {
	if from >= to {
		return nil
	}
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT first, count, commitments, meta`+frameRange), int64(from), int64(to))
	if err != nil {
		return fmt.Errorf("store: read frames: %w", mapErr(err))
	}
	defer rows.Close()
	return scanFrames(rows, false, fn)
}

func scanFrames(rows *sql.Rows, bodies bool, fn func(*Frame) error) error {
	var f Frame
	var first, count int64
	var cs, meta []byte
	dest := []any{&first, &count, &cs, &meta}
	if bodies {
		dest = append(dest, &f.Body)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("store: scan frame: %w", err)
		}
		var err error
		f.First = uint64(first)
		if f.Rows, err = decodeMeta(f.First, int(count), cs, meta, f.Rows[:0]); err != nil {
			return err
		}
		if err := fn(&f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read frames: %w", mapErr(err))
	}
	return nil
}

// Commitments calls fn for each stored commitment with from <= index < to,
// in index order.
func (d *DB) Commitments(ctx context.Context, from, to uint64, fn func(idx uint64, c [32]byte) error) error {
	return d.Events(ctx, from, to, func(r *EventRow) error { return fn(r.Index, r.Commitment) })
}

// Events calls fn with the index columns of each stored entry with from <=
// index < to, in index order. The row is only valid during the call.
func (d *DB) Events(ctx context.Context, from, to uint64, fn func(*EventRow) error) error {
	return d.frameIndex(ctx, from, to, func(f *Frame) error {
		for i := range f.Rows {
			if idx := f.Rows[i].Index; idx >= from && idx < to {
				if err := fn(&f.Rows[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// PatientFrames calls fn, in index order, with each frame holding entries
// of the patient with blind index b, and those entries' indices. The frame
// is only valid during the call.
func (d *DB) PatientFrames(ctx context.Context, b []byte, fn func(f *Frame, idxs []uint64) error) error {
	idxs, err := d.patientIndices(ctx, b)
	if err != nil || len(idxs) == 0 {
		return err
	}
	// One primary-key probe per frame, each frame read once. (A join
	// sorted by index would make the database buffer every body first.)
	st, err := d.stmt(ctx, d.q(`SELECT first, count, commitments, meta, body FROM event_frames WHERE first <= ? ORDER BY first DESC LIMIT 1`))
	if err != nil {
		return fmt.Errorf("store: read patient frames: %w", err)
	}
	var f Frame
	var first, count int64
	var cs, meta []byte
	for i := 0; i < len(idxs); {
		err := st.QueryRowContext(ctx, int64(idxs[i])).Scan(&first, &count, &cs, &meta, &f.Body)
		if err != nil {
			return fmt.Errorf("store: read the frame of entry %d: %w", idxs[i], mapErr(err))
		}
		f.First = uint64(first)
		if f.Rows, err = decodeMeta(f.First, int(count), cs, meta, f.Rows[:0]); err != nil {
			return err
		}
		j := i + 1
		for j < len(idxs) && idxs[j] < f.Next() {
			j++
		}
		if err := fn(&f, idxs[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// DeletePatientIndex drops the patient-index rows of blind index b for
// the given entries (what an erasure erased): the entries no longer lead
// to the forgotten patient's blind index, while rows for entries stored
// since stay for the next erasure to find.
func (d *DB) DeletePatientIndex(ctx context.Context, b []byte, idxs []uint64) (int64, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: begin patient-index delete: %w", mapErr(err))
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, d.q(`DELETE FROM event_patients WHERE bucket = ? AND patient = ? AND idx = ?`))
	if err != nil {
		return 0, fmt.Errorf("store: patient-index delete: %w", mapErr(err))
	}
	defer st.Close()
	var n int64
	for _, idx := range idxs {
		res, err := st.ExecContext(ctx, int64(idx>>BucketShift), b, int64(idx))
		if err != nil {
			return 0, fmt.Errorf("store: patient-index delete at %d: %w", idx, mapErr(err))
		}
		k, _ := res.RowsAffected()
		n += k
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: commit patient-index delete: %w", mapErr(err))
	}
	return n, nil
}

// Scrub makes what was deleted or overwritten hard to recover from the
// database files: SQLite (which runs with secure_delete, so freed content
// is zeroed) checkpoints and truncates its write-ahead log, which may still
// hold old page images; PostgreSQL vacuums the event tables so dead row
// versions are reclaimed (their bytes stay on disk until reused: they are
// sealed, and retiring the key that sealed them makes them unreadable).
func (d *DB) Scrub(ctx context.Context) error {
	if d.dialect == Postgres {
		for _, t := range []string{"event_frames", "event_patients", "quarantine", "patients", "patient_lookup"} {
			if _, err := d.db.ExecContext(ctx, `VACUUM `+t); err != nil {
				return fmt.Errorf("store: vacuum %s: %w", t, mapErr(err))
			}
		}
		return nil
	}
	// The background checkpointer, a commit or a reader can hold the log
	// for a moment: retry for a few seconds before giving up.
	for attempt := 0; ; attempt++ {
		var busy, logFrames, done int
		if err := d.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			return fmt.Errorf("store: checkpoint the write-ahead log: %w", mapErr(err))
		}
		if busy == 0 {
			return nil
		}
		if attempt == 30 {
			return &labtrust.Error{Code: "busy", Message: "the write-ahead log could not be truncated: a reader held it",
				Hint: "run the command again; it is safe to repeat"}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// patientIndices returns the indices of the patient's entries, ascending.
func (d *DB) patientIndices(ctx context.Context, b []byte) ([]uint64, error) {
	next, err := d.NextIndex(ctx)
	if err != nil || next == 0 {
		return nil, err
	}
	var in strings.Builder
	for bucket := uint64(0); bucket <= (next-1)>>BucketShift; bucket++ {
		if bucket > 0 {
			in.WriteByte(',')
		}
		in.WriteString(strconv.FormatUint(bucket, 10))
	}
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT idx FROM event_patients WHERE bucket IN (`+in.String()+`) AND patient = ?`), b)
	if err != nil {
		return nil, fmt.Errorf("store: read patient index: %w", mapErr(err))
	}
	defer rows.Close()
	var idxs []uint64
	for rows.Next() {
		var idx int64
		if err := rows.Scan(&idx); err != nil {
			return nil, fmt.Errorf("store: scan patient index: %w", err)
		}
		idxs = append(idxs, uint64(idx))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read patient index: %w", mapErr(err))
	}
	slices.Sort(idxs)
	return slices.Compact(idxs), nil
}

// encodeMeta packs rows' clear index columns: a table of the distinct
// strings, the first time, then per row the time delta, four string
// numbers and the outcome, all varints.
func encodeMeta(dst []byte, rows []EventRow) []byte {
	ids := make(map[string]uint64, 16)
	var table []string
	num := make([]uint64, 0, 4*len(rows))
	id := func(s string) {
		n, ok := ids[s]
		if !ok {
			n = uint64(len(table))
			ids[s] = n
			table = append(table, s)
		}
		num = append(num, n)
	}
	for i := range rows {
		id(rows[i].Source)
		id(rows[i].Kind)
		id(rows[i].Actor)
		id(rows[i].Action)
	}
	dst = binary.AppendUvarint(dst, uint64(len(table)))
	for _, s := range table {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	prev := rows[0].Time.UnixMicro()
	dst = binary.AppendVarint(dst, prev)
	for i := range rows {
		ts := rows[i].Time.UnixMicro()
		dst = binary.AppendVarint(dst, ts-prev)
		prev = ts
		for _, n := range num[4*i : 4*i+4] {
			dst = binary.AppendUvarint(dst, n)
		}
		dst = binary.AppendVarint(dst, int64(rows[i].Outcome))
	}
	return dst
}

// errMeta reports a frame row whose packed columns do not decode: the
// database was changed outside labtrust.
func errMeta(first uint64, what string) error {
	return fmt.Errorf("store: frame at %d: index columns: %s", first, what)
}

func decodeMeta(first uint64, count int, cs, b []byte, rows []EventRow) ([]EventRow, error) {
	if count <= 0 || len(cs) != 32*count {
		return nil, errMeta(first, fmt.Sprintf("%d commitment bytes for %d entries", len(cs), count))
	}
	uv := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	sv := func() (int64, bool) {
		v, k := binary.Varint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	n, ok := uv()
	if !ok || n > uint64(4*count) {
		return nil, errMeta(first, "bad string table")
	}
	table := make([]string, n)
	for i := range table {
		l, ok := uv()
		if !ok || l > uint64(len(b)) {
			return nil, errMeta(first, "bad string")
		}
		table[i], b = string(b[:l]), b[l:]
	}
	ts, ok := sv()
	if !ok {
		return nil, errMeta(first, "bad time")
	}
	str := func() (string, bool) {
		v, ok := uv()
		if !ok || v >= uint64(len(table)) {
			return "", false
		}
		return table[v], true
	}
	for i := 0; i < count; i++ {
		var r EventRow
		dt, ok := sv()
		if !ok {
			return nil, errMeta(first, "truncated")
		}
		ts += dt
		r.Index, r.Time = first+uint64(i), time.UnixMicro(ts).UTC()
		var ok1, ok2, ok3, ok4 bool
		r.Source, ok1 = str()
		r.Kind, ok2 = str()
		r.Actor, ok3 = str()
		r.Action, ok4 = str()
		o, ok5 := sv()
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
			return nil, errMeta(first, "truncated")
		}
		r.Outcome = int(o)
		copy(r.Commitment[:], cs[32*i:])
		rows = append(rows, r)
	}
	if len(b) != 0 {
		return nil, errMeta(first, "trailing bytes")
	}
	return rows, nil
}

// errLegacy refuses a database written by a pre-release labtrust, which
// kept one row per event.
var errLegacy = &labtrust.Error{Code: "store_legacy_layout",
	Message: "this database holds events in the pre-release one-row-per-event layout",
	Hint:    "re-ingest the source files into a new data directory (the ledger there is rebuilt from them)"}

func nextTx(ctx context.Context, d *DB, tx *sql.Tx) (uint64, error) {
	return d.nextIn(ctx, func(ctx context.Context, q string, args ...any) scanner { return tx.QueryRowContext(ctx, q, args...) })
}

// ReplaceFrameBody stores a re-sealed body for the frame at first, only if
// the stored body is still old (so a concurrent change is not overwritten).
// It reports whether it replaced it.
func (d *DB) ReplaceFrameBody(ctx context.Context, first uint64, old, body []byte) (bool, error) {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE event_frames SET body = ? WHERE first = ? AND body = ?`), body, int64(first), old)
	if err != nil {
		return false, fmt.Errorf("store: re-seal frame at %d: %w", first, mapErr(err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
