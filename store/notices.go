package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// NoticeRow is a prepared notice: clear columns for counts and tracking,
// the sealed record.
type NoticeRow struct {
	ID        int64
	Incident  int64
	CodeHash  []byte
	Patient   []byte
	Channel   string
	Language  string
	State     string
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
	Body      []byte
}

// AddNotices stores notices in one transaction; a patient who already has
// a notice for the incident keeps it (the row is skipped), so preparing
// again after the scope grew adds only the new people. It returns how
// many it added.
func (d *DB) AddNotices(ctx context.Context, rows []NoticeRow) (int, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: begin notices: %w", mapErr(err))
	}
	defer tx.Rollback()
	// Many rows per statement: one statement per notice was most of the
	// cost of preparing a large breach's notices, and it runs on the
	// store's single writer.
	const width, perStmt = 10, 100
	args := make([]any, 0, width*perStmt)
	added := 0
	for start := 0; start < len(rows); start += perStmt {
		part := rows[start:min(start+perStmt, len(rows))]
		args = args[:0]
		for _, r := range part {
			args = append(args, r.Incident, r.CodeHash, r.Patient, r.Channel, r.Language, r.State, r.Status, r.CreatedAt.UnixNano(), r.CreatedAt.UnixNano(), r.Body)
		}
		q := `INSERT INTO notices (incident, code_hash, patient, channel, language, state, status, created_at, updated_at, body) VALUES (?,?,?,?,?,?,?,?,?,?)` +
			strings.Repeat(",(?,?,?,?,?,?,?,?,?,?)", len(part)-1) + ` ON CONFLICT (incident, patient) DO NOTHING`
		st, err := d.txStmt(ctx, tx, q)
		if err != nil {
			return 0, err
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return 0, fmt.Errorf("store: add notices: %w", mapErr(err))
		}
		n, _ := res.RowsAffected()
		added += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: commit notices: %w", mapErr(err))
	}
	return added, nil
}

const noticeCols = `id, incident, code_hash, patient, channel, language, state, status, created_at, updated_at, body`

func scanNotice(s scanner) (NoticeRow, error) {
	var r NoticeRow
	var c, u int64
	err := s.Scan(&r.ID, &r.Incident, &r.CodeHash, &r.Patient, &r.Channel, &r.Language, &r.State, &r.Status, &c, &u, &r.Body)
	r.CreatedAt, r.UpdatedAt = time.Unix(0, c).UTC(), time.Unix(0, u).UTC()
	return r, err
}

// Notices calls fn with each of an incident's notices, in ID order. It
// reads a page at a time and calls fn between reads: a read held open for
// a whole export (millions of rows) would stall SQLite's WAL checkpoint,
// and with it every writer.
func (d *DB) Notices(ctx context.Context, incident int64, fn func(NoticeRow) error) error {
	const pageSize = 1000
	after := int64(-1)
	page := make([]NoticeRow, 0, pageSize)
	for {
		var err error
		if page, err = d.noticePage(ctx, incident, after, page[:0]); err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

const noticePageQuery = `SELECT ` + noticeCols + ` FROM notices WHERE incident = ? AND id > ? ORDER BY id LIMIT ?`

// noticePage appends to page the incident's next notices after the ID
// after, up to page's capacity, read in index order (indexOrder).
func (d *DB) noticePage(ctx context.Context, incident, after int64, page []NoticeRow) ([]NoticeRow, error) {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, fmt.Errorf("store: notices: %w", mapErr(err))
	}
	defer tx.Rollback()
	if err := d.indexOrder(ctx, tx); err != nil {
		return page, fmt.Errorf("store: notices: %w", err)
	}
	rows, err := tx.QueryContext(ctx, d.q(noticePageQuery), incident, after, cap(page))
	if err != nil {
		return page, fmt.Errorf("store: notices: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanNotice(rows)
		if err != nil {
			return page, fmt.Errorf("store: scan notice: %w", err)
		}
		page = append(page, r)
	}
	return page, mapErr(rows.Err())
}

// NoticeByCode returns the notice whose code has the keyed hash h, or
// labtrust.ErrNotFound.
func (d *DB) NoticeByCode(ctx context.Context, h []byte) (NoticeRow, error) {
	r, err := scanNotice(d.queryRow(ctx, d.q(`SELECT `+noticeCols+` FROM notices WHERE code_hash = ?`), h))
	if err != nil {
		return r, fmt.Errorf("store: notice: %w", mapErr(err))
	}
	return r, nil
}

// SetNoticeStatus records a notice's delivery status.
func (d *DB) SetNoticeStatus(ctx context.Context, id int64, status string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE notices SET status = ?, updated_at = ? WHERE id = ?`), status, at.UnixNano(), id)
	if err != nil {
		return fmt.Errorf("store: notice %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: notice %d: %w", id, labtrust.ErrNotFound)
	}
	return nil
}

// NoticeCount is how many of an incident's notices are in one channel,
// language and status.
type NoticeCount struct {
	Channel, Language, Status string
	N                         int
}

// NoticeCounts counts an incident's notices.
func (d *DB) NoticeCounts(ctx context.Context, incident int64) ([]NoticeCount, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT channel, language, status, COUNT(*) FROM notices WHERE incident = ? GROUP BY channel, language, status ORDER BY channel, language, status`), incident)
	if err != nil {
		return nil, fmt.Errorf("store: notice counts: %w", mapErr(err))
	}
	defer rows.Close()
	var out []NoticeCount
	for rows.Next() {
		var c NoticeCount
		if err := rows.Scan(&c.Channel, &c.Language, &c.Status, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// UndeliveredNotices counts an incident's notices whose mail came back or
// whose email bounced.
func (d *DB) UndeliveredNotices(ctx context.Context, incident int64) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM notices WHERE incident = ? AND status IN ('returned', 'bounced')`), incident).Scan(&n)
	return n, mapErr(err)
}
