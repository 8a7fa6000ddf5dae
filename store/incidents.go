package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/labtrust/labtrust"
)

// IncidentRow is an incident as stored: clear list columns and the sealed
// document.
type IncidentRow struct {
	ID        int64
	Status    string
	Severity  string
	OpenedAt  time.Time
	UpdatedAt time.Time
	Version   int64
	Doc       []byte // sealed
}

// CreateIncident stores a new incident at version 1 and returns its ID.
// The document is sealed by the caller, which needs the ID for its
// associated data, so it is written with SetIncidentDoc right after.
func (d *DB) CreateIncident(ctx context.Context, status, severity string, opened time.Time) (int64, error) {
	var id int64
	err := d.db.QueryRowContext(ctx, d.q(`INSERT INTO incidents (status, severity, opened_at, updated_at, version, doc) VALUES (?, ?, ?, ?, 0, ?) RETURNING id`),
		status, severity, opened.UnixNano(), opened.UnixNano(), []byte{}).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: create incident: %w", mapErr(err))
	}
	return id, nil
}

// UpdateIncident writes r if the stored version is still r.Version, and
// bumps it; a concurrent writer's change makes it labtrust.ErrConflict.
func (d *DB) UpdateIncident(ctx context.Context, r IncidentRow) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE incidents SET status = ?, severity = ?, updated_at = ?, version = version + 1, doc = ? WHERE id = ? AND version = ?`),
		r.Status, r.Severity, r.UpdatedAt.UnixNano(), r.Doc, r.ID, r.Version)
	if err != nil {
		return fmt.Errorf("store: update incident %d: %w", r.ID, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := d.GetIncident(ctx, r.ID); err != nil {
			return err
		}
		return fmt.Errorf("store: incident %d changed meanwhile: %w", r.ID, labtrust.ErrConflict)
	}
	return nil
}

const incidentCols = `id, status, severity, opened_at, updated_at, version, doc`

func scanIncident(s scanner) (IncidentRow, error) {
	var r IncidentRow
	var opened, updated int64
	if err := s.Scan(&r.ID, &r.Status, &r.Severity, &opened, &updated, &r.Version, &r.Doc); err != nil {
		return r, err
	}
	r.OpenedAt, r.UpdatedAt = time.Unix(0, opened).UTC(), time.Unix(0, updated).UTC()
	return r, nil
}

// GetIncident returns one incident, or labtrust.ErrNotFound.
func (d *DB) GetIncident(ctx context.Context, id int64) (IncidentRow, error) {
	r, err := scanIncident(d.db.QueryRowContext(ctx, d.q(`SELECT `+incidentCols+` FROM incidents WHERE id = ?`), id))
	if err != nil {
		return r, fmt.Errorf("store: incident %d: %w", id, mapErr(err))
	}
	return r, nil
}

// ListIncidents returns every incident, newest first.
func (d *DB) ListIncidents(ctx context.Context) ([]IncidentRow, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE version > 0 ORDER BY opened_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: list incidents: %w", mapErr(err))
	}
	defer rows.Close()
	var out []IncidentRow
	for rows.Next() {
		r, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("store: scan incident: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// EvidenceRow is one sealed evidence file.
type EvidenceRow struct {
	ID       int64
	Incident int64
	SHA256   []byte
	Size     int64
	AddedAt  time.Time
	Body     []byte // sealed
}

// AddEvidence stores a sealed evidence file and returns its ID.
func (d *DB) AddEvidence(ctx context.Context, r EvidenceRow) (int64, error) {
	var id int64
	err := d.db.QueryRowContext(ctx, d.q(`INSERT INTO incident_evidence (incident, sha256, size, added_at, body) VALUES (?, ?, ?, ?, ?) RETURNING id`),
		r.Incident, r.SHA256, r.Size, r.AddedAt.UnixNano(), r.Body).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: add evidence: %w", mapErr(err))
	}
	return id, nil
}

// Evidence returns one evidence file, or labtrust.ErrNotFound.
func (d *DB) Evidence(ctx context.Context, id int64) (EvidenceRow, error) {
	var r EvidenceRow
	var at int64
	err := d.db.QueryRowContext(ctx, d.q(`SELECT id, incident, sha256, size, added_at, body FROM incident_evidence WHERE id = ?`), id).
		Scan(&r.ID, &r.Incident, &r.SHA256, &r.Size, &at, &r.Body)
	if err != nil {
		return r, fmt.Errorf("store: evidence %d: %w", id, mapErr(err))
	}
	r.AddedAt = time.Unix(0, at).UTC()
	return r, nil
}

// ScopeRow is a computed breach scope.
type ScopeRow struct {
	ID         int64
	Incident   int64
	ComputedAt time.Time
	TreeSize   uint64
	Patients   int
	Body       []byte // sealed
	Manifest   []byte // signed, no PHI
}

// AddScope stores a computed scope and returns its ID.
func (d *DB) AddScope(ctx context.Context, r ScopeRow) (int64, error) {
	var id int64
	err := d.db.QueryRowContext(ctx, d.q(`INSERT INTO breach_scopes (incident, computed_at, tree_size, patients, body, manifest) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		r.Incident, r.ComputedAt.UnixNano(), int64(r.TreeSize), r.Patients, r.Body, r.Manifest).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: add scope: %w", mapErr(err))
	}
	return id, nil
}

// FinishScope stores what a scope's row holds once its parts are all
// stored: the count, sealed header and manifest signature.
func (d *DB) FinishScope(ctx context.Context, r ScopeRow) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE breach_scopes SET computed_at = ?, tree_size = ?, patients = ?, body = ?, manifest = ? WHERE id = ? AND incident = ?`),
		r.ComputedAt.UnixNano(), int64(r.TreeSize), r.Patients, r.Body, r.Manifest, r.ID, r.Incident)
	if err != nil {
		return fmt.Errorf("store: scope %d: %w", r.ID, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: scope %d: %w", r.ID, labtrust.ErrNotFound)
	}
	return nil
}

// DeleteScope removes a scope with its parts and members (one that was
// never finished).
func (d *DB) DeleteScope(ctx context.Context, id int64) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete scope %d: %w", id, mapErr(err))
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM breach_scope_members WHERE scope = ?`, `DELETE FROM breach_scope_chunks WHERE scope = ?`, `DELETE FROM breach_scopes WHERE id = ?`} {
		if _, err := tx.ExecContext(ctx, d.q(q), id); err != nil {
			return fmt.Errorf("store: delete scope %d: %w", id, mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete scope %d: %w", id, mapErr(err))
	}
	return nil
}

// LatestScope returns an incident's most recent scope, or
// labtrust.ErrNotFound.
func (d *DB) LatestScope(ctx context.Context, incident int64) (ScopeRow, error) {
	return d.scope(ctx, `WHERE incident = ? ORDER BY id DESC LIMIT 1`, incident)
}

// Scope returns one scope by ID.
func (d *DB) Scope(ctx context.Context, id int64) (ScopeRow, error) {
	return d.scope(ctx, `WHERE id = ?`, id)
}

func (d *DB) scope(ctx context.Context, where string, arg int64) (ScopeRow, error) {
	var r ScopeRow
	var at, size int64
	err := d.db.QueryRowContext(ctx, d.q(`SELECT id, incident, computed_at, tree_size, patients, body, manifest FROM breach_scopes `+where), arg).
		Scan(&r.ID, &r.Incident, &at, &size, &r.Patients, &r.Body, &r.Manifest)
	if err != nil {
		return r, fmt.Errorf("store: scope: %w", mapErr(err))
	}
	r.ComputedAt, r.TreeSize = time.Unix(0, at).UTC(), uint64(size)
	return r, nil
}

// ScopeChunk is one sealed part of a scope's patient list with the blind
// indexes of the people in it.
type ScopeChunk struct {
	Seq     int
	Body    []byte
	Members [][]byte
}

// AddScopeChunks stores parts of a scope's patient list in one
// transaction.
func (d *DB) AddScopeChunks(ctx context.Context, scope int64, chunks []ScopeChunk) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: scope chunk: %w", mapErr(err))
	}
	defer tx.Rollback()
	for _, c := range chunks {
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO breach_scope_chunks (scope, seq, body) VALUES (?, ?, ?)`), scope, c.Seq, c.Body); err != nil {
			return fmt.Errorf("store: scope chunk: %w", mapErr(err))
		}
		args := make([]any, 0, 2*len(c.Members))
		for _, m := range c.Members {
			args = append(args, scope, m)
		}
		if err := d.execValues(ctx, tx, `INSERT INTO breach_scope_members (scope, blind) VALUES `, 2, args, ` ON CONFLICT DO NOTHING`); err != nil {
			return fmt.Errorf("store: scope members: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: scope chunk: %w", mapErr(err))
	}
	return nil
}

// ScopeChunks calls fn with each part of a scope's patient list in order,
// reading one at a time.
func (d *DB) ScopeChunks(ctx context.Context, scope int64, fn func(seq int, body []byte) error) error {
	for seq := 0; ; seq++ {
		var body []byte
		err := d.db.QueryRowContext(ctx, d.q(`SELECT body FROM breach_scope_chunks WHERE scope = ? AND seq = ?`), scope, seq).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: scope chunk: %w", mapErr(err))
		}
		if err := fn(seq, body); err != nil {
			return err
		}
	}
}

// InScope says whether the person with the blind index is in the scope.
func (d *DB) InScope(ctx context.Context, scope int64, blind []byte) (bool, error) {
	var n int
	if err := d.queryRow(ctx, d.q(`SELECT COUNT(*) FROM breach_scope_members WHERE scope = ? AND blind = ?`), scope, blind).Scan(&n); err != nil {
		return false, fmt.Errorf("store: scope member: %w", mapErr(err))
	}
	return n > 0, nil
}
