package store

import (
	"context"
	"fmt"
	"time"
)

// ClinicalRow is one piece of clinical context, by blind indexes only.
type ClinicalRow struct {
	Key     []byte // the order's or object's blind index
	Kind    string // "order" or "object"
	Order   []byte // the order it belongs to (an order: itself)
	Patient []byte // orders: the patient's blind index
	At      time.Time
	Source  string
}

// SaveClinical stores rows in one transaction; a key already stored keeps
// its first row (an order is created once).
func (d *DB) SaveClinical(ctx context.Context, rows []ClinicalRow) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin clinical: %w", mapErr(err))
	}
	defer tx.Rollback()
	args := make([]any, 0, 6*len(rows))
	for _, r := range rows {
		args = append(args, r.Key, r.Kind, r.Order, r.Patient, r.At.UnixNano(), r.Source)
	}
	if err := d.execValues(ctx, tx, `INSERT INTO clinical (key, kind, order_key, patient_key, at, source) VALUES `, 6, args, ` ON CONFLICT (key) DO NOTHING`); err != nil {
		return fmt.Errorf("store: clinical: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit clinical: %w", mapErr(err))
	}
	return nil
}

// Clinical calls fn with the clinical context recorded since (orders
// first, so an object's order is known when it comes).
func (d *DB) Clinical(ctx context.Context, since time.Time, fn func(ClinicalRow) error) error {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT key, kind, order_key, patient_key, at, source FROM clinical WHERE at >= ? ORDER BY kind DESC, at`), since.UnixNano())
	if err != nil {
		return fmt.Errorf("store: clinical: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var r ClinicalRow
		var at int64
		if err := rows.Scan(&r.Key, &r.Kind, &r.Order, &r.Patient, &at, &r.Source); err != nil {
			return fmt.Errorf("store: clinical: %w", err)
		}
		r.At = time.Unix(0, at).UTC()
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}
