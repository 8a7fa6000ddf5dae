package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// RaiseAlerts stores alerts in one transaction. An alert whose key an
// allow-list entry covers now is counted there and not stored (its
// ID is 0). An alert whose key matches an open alert (new or
// investigating) last seen within window of its first event updates that
// alert (count, last time, entries up to labtrust.MaxAlertEntries)
// instead; the returned IDs say which alert each became, and fresh reports
// whether it is new.
func (d *DB) RaiseAlerts(ctx context.Context, alerts []labtrust.Alert, window time.Duration) (ids []int64, fresh []bool, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("store: begin alerts: %w", mapErr(err))
	}
	defer tx.Rollback()
	now := d.now()
	for _, a := range alerts {
		// An allow-list entry for the key, in force now (when detection
		// raises the alert), absorbs it.
		res, err := tx.ExecContext(ctx, d.q(`UPDATE alert_allow SET suppressed = suppressed + ? WHERE id = (SELECT id FROM alert_allow WHERE dedup_key = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1)`),
			a.Count, a.Key, now.UnixNano())
		if err != nil {
			return nil, nil, fmt.Errorf("store: alert allow-list: %w", mapErr(err))
		}
		if n, _ := res.RowsAffected(); n > 0 {
			ids, fresh = append(ids, 0), append(fresh, false)
			continue
		}
		var id, count int64
		var entries []byte
		err = tx.QueryRowContext(ctx, d.q(`SELECT id, count, entries FROM alerts WHERE dedup_key = ? AND status IN ('new', 'investigating') AND last_ts >= ? ORDER BY last_ts DESC LIMIT 1`),
			a.Key, a.First.Add(-window).UnixNano()).Scan(&id, &count, &entries)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			var newID int64
			err := tx.QueryRowContext(ctx, d.q(`INSERT INTO alerts (rule, title, severity, status, explanation, actor, dedup_key, first_ts, last_ts, count, entries, created_at, updated_at)
				VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
				a.Rule, a.Title, a.Severity, a.Explanation, a.Actor, a.Key, a.First.UnixNano(), a.Last.UnixNano(), a.Count,
				packIndices(capEntries(a.Entries)), now.UnixNano(), now.UnixNano()).Scan(&newID)
			if err != nil {
				return nil, nil, fmt.Errorf("store: insert alert: %w", mapErr(err))
			}
			ids, fresh = append(ids, newID), append(fresh, true)
		case err != nil:
			return nil, nil, fmt.Errorf("store: find open alert: %w", mapErr(err))
		default:
			merged := append(unpackIndices(entries), a.Entries...)
			if _, err := tx.ExecContext(ctx, d.q(`UPDATE alerts SET count = count + ?, last_ts = CASE WHEN last_ts > ? THEN last_ts ELSE ? END, entries = ?, explanation = ?, updated_at = ? WHERE id = ?`),
				a.Count, a.Last.UnixNano(), a.Last.UnixNano(), packIndices(capEntries(merged)), a.Explanation, now.UnixNano(), id); err != nil {
				return nil, nil, fmt.Errorf("store: update alert %d: %w", id, mapErr(err))
			}
			ids, fresh = append(ids, id), append(fresh, false)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("store: commit alerts: %w", mapErr(err))
	}
	return ids, fresh, nil
}

func capEntries(e []uint64) []uint64 {
	if len(e) > labtrust.MaxAlertEntries {
		return e[:labtrust.MaxAlertEntries]
	}
	return e
}

// packIndices writes ascending-ish indices as zigzag varint deltas.
func packIndices(idx []uint64) []byte {
	out := make([]byte, 0, 2*len(idx))
	var prev uint64
	for _, i := range idx {
		out = binary.AppendVarint(out, int64(i-prev))
		prev = i
	}
	return out
}

func unpackIndices(b []byte) []uint64 {
	var out []uint64
	var prev uint64
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			break
		}
		prev += uint64(d)
		out = append(out, prev)
		b = b[n:]
	}
	return out
}

// AlertFilter selects alerts; zero values select all.
type AlertFilter struct {
	Status labtrust.AlertStatus
	Rule   string
	Limit  int
}

const alertCols = `id, rule, title, severity, status, reason, explanation, actor, dedup_key, first_ts, last_ts, count, entries, created_at, updated_at, updated_by`

func scanAlert(s scanner) (labtrust.Alert, error) {
	var a labtrust.Alert
	var first, last, created, updated int64
	var entries []byte
	var status string
	if err := s.Scan(&a.ID, &a.Rule, &a.Title, &a.Severity, &status, &a.Reason, &a.Explanation, &a.Actor, &a.Key, &first, &last, &a.Count, &entries, &created, &updated, &a.UpdatedBy); err != nil {
		return a, err
	}
	a.Status = labtrust.AlertStatus(status)
	a.First, a.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	a.Created, a.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	a.Entries = unpackIndices(entries)
	return a, nil
}

// ListAlerts returns alerts, newest activity first.
func (d *DB) ListAlerts(ctx context.Context, f AlertFilter) ([]labtrust.Alert, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Rule != "" {
		where, args = append(where, "rule = ?"), append(args, f.Rule)
	}
	q := `SELECT ` + alertCols + ` FROM alerts`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY last_ts DESC, id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := d.db.QueryContext(ctx, d.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list alerts: %w", mapErr(err))
	}
	defer rows.Close()
	var out []labtrust.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan alert: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// GetAlert returns one alert, or labtrust.ErrNotFound.
func (d *DB) GetAlert(ctx context.Context, id int64) (labtrust.Alert, error) {
	a, err := scanAlert(d.db.QueryRowContext(ctx, d.q(`SELECT `+alertCols+` FROM alerts WHERE id = ?`), id))
	if err != nil {
		return a, fmt.Errorf("store: alert %d: %w", id, mapErr(err))
	}
	return a, nil
}

// SetAlertStatus moves an alert through triage, with the reason and who.
func (d *DB) SetAlertStatus(ctx context.Context, id int64, s labtrust.AlertStatus, reason, by string) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE alerts SET status = ?, reason = ?, updated_by = ?, updated_at = ? WHERE id = ?`),
		string(s), reason, by, d.now().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("store: alert %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: alert %d: %w", id, labtrust.ErrNotFound)
	}
	return nil
}

// DetectCursor returns where the named detector stopped reading the
// ledger (0 if it never ran).
func (d *DB) DetectCursor(ctx context.Context, name string) (uint64, error) {
	var next int64
	err := d.db.QueryRowContext(ctx, d.q(`SELECT next FROM detect_cursor WHERE name = ?`), name).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: detect cursor: %w", mapErr(err))
	}
	return uint64(next), nil
}

// SetDetectCursor records that the named detector has read up to next.
func (d *DB) SetDetectCursor(ctx context.Context, name string, next uint64) error {
	if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO detect_cursor (name, next) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET next = excluded.next`), name, int64(next)); err != nil {
		return fmt.Errorf("store: detect cursor: %w", mapErr(err))
	}
	return nil
}

// AllowEntry is an allow-list entry learned from triage.
type AllowEntry struct {
	ID         int64     `json:"id"`
	Rule       string    `json:"rule"`
	Actor      string    `json:"actor,omitempty"`
	Alert      int64     `json:"alert"`
	Reason     string    `json:"reason"`
	CreatedBy  string    `json:"createdBy"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	Suppressed int64     `json:"suppressed"`
}

// AllowLike allows the matches an alert stands for (its rule and group)
// until expires, with the reason triage gave.
func (d *DB) AllowLike(ctx context.Context, alertID int64, reason, by string, expires time.Time) (AllowEntry, error) {
	a, err := d.GetAlert(ctx, alertID)
	if err != nil {
		return AllowEntry{}, err
	}
	now := d.now()
	e := AllowEntry{Rule: a.Rule, Actor: a.Actor, Alert: a.ID, Reason: reason, CreatedBy: by, Created: now.UTC(), Expires: expires.UTC()}
	err = d.db.QueryRowContext(ctx, d.q(`INSERT INTO alert_allow (rule, dedup_key, actor, alert, reason, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		a.Rule, a.Key, a.Actor, a.ID, reason, by, now.UnixNano(), expires.UnixNano()).Scan(&e.ID)
	if err != nil {
		return AllowEntry{}, fmt.Errorf("store: allow-list: %w", mapErr(err))
	}
	return e, nil
}

// AllowList returns the allow-list entries, those still in force first;
// expired ones are kept as the record of what was allowed.
func (d *DB) AllowList(ctx context.Context) ([]AllowEntry, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, rule, actor, alert, reason, created_by, created_at, expires_at, suppressed FROM alert_allow ORDER BY expires_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: allow-list: %w", mapErr(err))
	}
	defer rows.Close()
	var out []AllowEntry
	for rows.Next() {
		var e AllowEntry
		var c, x int64
		if err := rows.Scan(&e.ID, &e.Rule, &e.Actor, &e.Alert, &e.Reason, &e.CreatedBy, &c, &x, &e.Suppressed); err != nil {
			return nil, fmt.Errorf("store: allow-list: %w", err)
		}
		e.Created, e.Expires = time.Unix(0, c).UTC(), time.Unix(0, x).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// EndAllow ends an allow-list entry now.
func (d *DB) EndAllow(ctx context.Context, id int64) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE alert_allow SET expires_at = ? WHERE id = ? AND expires_at > ?`), d.now().UnixNano(), id, d.now().UnixNano())
	if err != nil {
		return fmt.Errorf("store: allow-list: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: allow-list entry %d (in force): %w", id, labtrust.ErrNotFound)
	}
	return nil
}
