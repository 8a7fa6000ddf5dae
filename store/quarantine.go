package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Quarantine states.
const (
	QuarantinePending  = "pending"  // waiting for a fix and a retry
	QuarantineIngested = "ingested" // a retry turned it into events
)

// QuarantineItem is one rejected record. Raw is sealed by the vault (the
// caller seals and opens it); Reason and Position never hold PHI.
type QuarantineItem struct {
	ID         int64
	Source     string
	Format     string
	Position   string
	Reason     string
	Raw        []byte
	Received   time.Time
	Status     string
	Attempts   int
	ResolvedAt time.Time
}

// AddQuarantine stores rejected records in one transaction and fills in their
// IDs; they are durable when it returns.
func (d *DB) AddQuarantine(ctx context.Context, items []QuarantineItem) error {
	if len(items) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin quarantine: %w", mapErr(err))
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, d.q(`INSERT INTO quarantine (source, format, position, reason, raw, received_at, status) VALUES (?, ?, ?, ?, ?, ?, 'pending') RETURNING id`))
	if err != nil {
		return fmt.Errorf("store: prepare quarantine: %w", mapErr(err))
	}
	defer stmt.Close()
	for i := range items {
		it := &items[i]
		if it.Received.IsZero() {
			it.Received = d.now().UTC()
		}
		if err := stmt.QueryRowContext(ctx, it.Source, it.Format, it.Position, it.Reason, it.Raw, it.Received.UnixMicro()).Scan(&it.ID); err != nil {
			return fmt.Errorf("store: insert quarantine: %w", mapErr(err))
		}
		it.Status = QuarantinePending
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit quarantine: %w", mapErr(err))
	}
	return nil
}

// QuarantineFilter selects items; zero values select everything.
type QuarantineFilter struct {
	Source string
	Status string
	Limit  int
	After  int64 // only IDs greater than this (paging)
}

// ListQuarantine returns items (without Raw) in ID order.
func (d *DB) ListQuarantine(ctx context.Context, f QuarantineFilter) ([]QuarantineItem, error) {
	q := `SELECT id, source, format, position, reason, received_at, status, attempts, resolved_at FROM quarantine WHERE id > ?`
	args := []any{f.After}
	if f.Source != "" {
		q += ` AND source = ?`
		args = append(args, f.Source)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	q += ` ORDER BY id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := d.db.QueryContext(ctx, d.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list quarantine: %w", mapErr(err))
	}
	defer rows.Close()
	var out []QuarantineItem
	for rows.Next() {
		it, err := scanQuarantine(rows, false)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list quarantine: %w", mapErr(err))
	}
	return out, nil
}

type scanner interface{ Scan(...any) error }

func scanQuarantine(s scanner, withRaw bool) (QuarantineItem, error) {
	var it QuarantineItem
	var recv int64
	var resolved sql.NullInt64
	dest := []any{&it.ID, &it.Source, &it.Format, &it.Position, &it.Reason, &recv, &it.Status, &it.Attempts, &resolved}
	if withRaw {
		dest = append(dest, &it.Raw)
	}
	if err := s.Scan(dest...); err != nil {
		return it, mapErr(err)
	}
	it.Received = time.UnixMicro(recv).UTC()
	if resolved.Valid {
		it.ResolvedAt = time.UnixMicro(resolved.Int64).UTC()
	}
	return it, nil
}

// GetQuarantine returns one item with its sealed Raw bytes, or
// labtrust.ErrNotFound.
func (d *DB) GetQuarantine(ctx context.Context, id int64) (QuarantineItem, error) {
	row := d.db.QueryRowContext(ctx, d.q(`SELECT id, source, format, position, reason, received_at, status, attempts, resolved_at, raw FROM quarantine WHERE id = ?`), id)
	it, err := scanQuarantine(row, true)
	if err != nil {
		return it, fmt.Errorf("store: quarantine item %d: %w", id, err)
	}
	return it, nil
}

// RecordRetry notes a retry of item id: on success it is marked ingested;
// otherwise it stays pending with the new reason.
func (d *DB) RecordRetry(ctx context.Context, id int64, ingested bool, reason string) error {
	var res sql.Result
	var err error
	if ingested {
		res, err = d.db.ExecContext(ctx, d.q(`UPDATE quarantine SET status = 'ingested', attempts = attempts + 1, resolved_at = ? WHERE id = ?`), d.now().UTC().UnixMicro(), id)
	} else {
		res, err = d.db.ExecContext(ctx, d.q(`UPDATE quarantine SET attempts = attempts + 1, reason = ? WHERE id = ?`), reason, id)
	}
	if err != nil {
		return fmt.Errorf("store: record retry of %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: quarantine item %d: %w", id, mapErr(sql.ErrNoRows))
	}
	return nil
}

// QuarantineCount is the number of items per source and status.
type QuarantineCount struct {
	Source, Format, Status string
	N                      int64
}

// QuarantineCounts groups the quarantine by source, format and status.
func (d *DB) QuarantineCounts(ctx context.Context) ([]QuarantineCount, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT source, format, status, COUNT(*) FROM quarantine GROUP BY source, format, status ORDER BY source, format, status`)
	if err != nil {
		return nil, fmt.Errorf("store: count quarantine: %w", mapErr(err))
	}
	defer rows.Close()
	var out []QuarantineCount
	for rows.Next() {
		var c QuarantineCount
		if err := rows.Scan(&c.Source, &c.Format, &c.Status, &c.N); err != nil {
			return nil, fmt.Errorf("store: scan count: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ReplaceQuarantineRaw stores re-sealed raw bytes for item id, only if the
// stored bytes are still old. It reports whether it replaced them.
func (d *DB) ReplaceQuarantineRaw(ctx context.Context, id int64, old, raw []byte) (bool, error) {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE quarantine SET raw = ? WHERE id = ? AND raw = ?`), raw, id, old)
	if err != nil {
		return false, fmt.Errorf("store: re-seal quarantined item %d: %w", id, mapErr(err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
