package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// AddMonitoringCodes stores a vendor's sealed enrolment codes for an
// incident's pool.
func (d *DB) AddMonitoringCodes(ctx context.Context, incident int64, sealed [][]byte) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin codes: %w", mapErr(err))
	}
	defer tx.Rollback()
	// Many rows per statement: a vendor's pool for a large breach is
	// millions of codes, and a statement each was a round trip each on
	// PostgreSQL (ten million took over twelve minutes).
	args := make([]any, 0, 2*len(sealed))
	for _, c := range sealed {
		args = append(args, incident, c)
	}
	if err := d.execValues(ctx, tx, `INSERT INTO monitoring_codes (incident, code) VALUES `, 2, args, ``); err != nil {
		return fmt.Errorf("store: add codes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit codes: %w", mapErr(err))
	}
	return nil
}

// ErrPoolEmpty means every enrolment code of the pool is given out.
var ErrPoolEmpty = errors.New("store: the credit-monitoring code pool is empty")

// AllocateMonitoringCode returns the sealed code given to the notice,
// giving it the next free code of its incident's pool the first time
// (AllocateMonitoringCodes for one notice, tried again when another
// allocation took the same free code first).
func (d *DB) AllocateMonitoringCode(ctx context.Context, incident, notice int64, at time.Time) ([]byte, error) {
	for attempt := 0; attempt < 5; attempt++ {
		codes, err := d.AllocateMonitoringCodes(ctx, incident, []int64{notice}, at)
		if errors.Is(err, labtrust.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return codes[notice], nil
	}
	return nil, fmt.Errorf("store: allocate monitoring code: %w", labtrust.ErrConflict)
}

// ClaimMonitoringCode records that the person saw their code on the
// portal (the first time only).
func (d *DB) ClaimMonitoringCode(ctx context.Context, notice int64, at time.Time) error {
	_, err := d.db.ExecContext(ctx, d.q(`UPDATE monitoring_codes SET claimed_at = ? WHERE notice = ? AND claimed_at IS NULL`), at.UnixNano(), notice)
	return mapErr(err)
}

// MonitoringCounts reports an incident's pool: codes, given out, claimed.
func (d *DB) MonitoringCounts(ctx context.Context, incident int64) (total, allocated, claimed int, err error) {
	err = d.db.QueryRowContext(ctx, d.q(`SELECT COUNT(*), COUNT(notice), COUNT(claimed_at) FROM monitoring_codes WHERE incident = ?`), incident).
		Scan(&total, &allocated, &claimed)
	return total, allocated, claimed, mapErr(err)
}

// freeMonitoringQuery reads the next free codes of an incident's pool.
const freeMonitoringQuery = `SELECT id, code FROM monitoring_codes WHERE incident = ? AND notice IS NULL ORDER BY id LIMIT ?`

// AllocateMonitoringCodes is AllocateMonitoringCode for a batch of notices
// in one transaction (a mail-house export gives out a code per letter):
// each notice keeps the code it has, and the rest take the next free codes
// in order. ErrPoolEmpty, with nothing given, when the pool is short.
func (d *DB) AllocateMonitoringCodes(ctx context.Context, incident int64, notices []int64, at time.Time) (map[int64][]byte, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: allocate monitoring codes: %w", mapErr(err))
	}
	defer tx.Rollback()
	if err := d.indexOrder(ctx, tx); err != nil {
		return nil, fmt.Errorf("store: allocate monitoring codes: %w", err)
	}
	// Write first: SQLite then takes the write lock now, waiting its busy
	// timeout, rather than failing with SQLITE_BUSY when the reads below
	// would have to be upgraded to a write under another connection.
	if _, err := tx.ExecContext(ctx, `UPDATE monitoring_codes SET allocated_at = allocated_at WHERE id = -1`); err != nil {
		return nil, fmt.Errorf("store: allocate monitoring codes: %w", mapErr(err))
	}
	out := make(map[int64][]byte, len(notices))
	// Codes given before (an export run again), a few hundred notices
	// per query through kept statements: this runs under the export's
	// one writer, so its cost per letter is the export's pace. A first
	// export, the usual case, has given none in the batch's range of
	// notices, which one count says.
	given := 0
	if len(notices) > 0 {
		lo, hi := slices.Min(notices), slices.Max(notices)
		if err := tx.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM monitoring_codes WHERE notice BETWEEN ? AND ?`), lo, hi).Scan(&given); err != nil {
			return nil, fmt.Errorf("store: monitoring codes: %w", mapErr(err))
		}
	}
	const perQuery = 256
	have, err := d.txStmt(ctx, tx, `SELECT notice, code FROM monitoring_codes WHERE notice IN (?`+strings.Repeat(",?", perQuery-1)+`)`)
	if err != nil {
		return nil, err
	}
	args := make([]any, perQuery)
	for start := 0; given > 0 && start < len(notices); start += perQuery {
		part := notices[start:min(start+perQuery, len(notices))]
		for i := range args {
			args[i] = part[min(i, len(part)-1)]
		}
		rows, err := have.QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("store: monitoring codes: %w", mapErr(err))
		}
		for rows.Next() {
			var n int64
			var code []byte
			if err := rows.Scan(&n, &code); err != nil {
				rows.Close()
				return nil, err
			}
			out[n] = code
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
	}
	var need []int64
	for _, n := range notices {
		if _, ok := out[n]; !ok {
			need = append(need, n)
		}
	}
	if len(need) > 0 {
		query := freeMonitoringQuery
		if d.dialect == Postgres {
			// Concurrent allocations would otherwise all read the same
			// free codes and all but one lose the race, over and over;
			// each takes codes no other open allocation holds instead.
			// (SQLite has one writer, taken above.)
			query += ` FOR UPDATE SKIP LOCKED`
		}
		rows, err := tx.QueryContext(ctx, d.q(query), incident, len(need))
		if err != nil {
			return nil, fmt.Errorf("store: free monitoring codes: %w", mapErr(err))
		}
		type free struct {
			id   int64
			code []byte
		}
		var frees []free
		for rows.Next() {
			var f free
			if err := rows.Scan(&f.id, &f.code); err != nil {
				rows.Close()
				return nil, err
			}
			frees = append(frees, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		if len(frees) < len(need) {
			return nil, ErrPoolEmpty
		}
		// Free codes are taken in id order and notices come in id order,
		// so they pair in runs where both go up by one (a whole batch, in
		// a first export, but for the notices that go by other means):
		// one statement per run, the notice worked out from the code's id.
		// (A CASE over the pairs cost a comparison per pair per row; a
		// statement per code was most of an export's serial part. The
		// unary + keeps SQLite's planner off the free-code index.)
		give, err := d.txStmt(ctx, tx, `UPDATE monitoring_codes SET notice = id + ?, allocated_at = ? WHERE id BETWEEN ? AND ? AND +notice IS NULL`)
		if err != nil {
			return nil, err
		}
		for start := 0; start < len(need); {
			end := start + 1
			for end < len(need) && need[end] == need[end-1]+1 && frees[end].id == frees[end-1].id+1 {
				end++
			}
			first, last := frees[start].id, frees[end-1].id
			res, err := give.ExecContext(ctx, need[start]-first, at.UnixNano(), first, last)
			if err != nil {
				return nil, fmt.Errorf("store: allocate monitoring code: %w", mapErr(err))
			}
			if k, _ := res.RowsAffected(); k != int64(end-start) {
				// Another allocation took some first: the caller tries again.
				return nil, fmt.Errorf("store: allocate monitoring codes: %w", labtrust.ErrConflict)
			}
			for i := start; i < end; i++ {
				out[need[i]] = frees[i].code
			}
			start = end
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: allocate monitoring codes: %w", mapErr(err))
	}
	return out, nil
}
