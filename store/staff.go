package store

import (
	"context"
	"fmt"
	"time"

	"github.com/labtrust/labtrust"
)

// StaffRow is a staff account as stored.
type StaffRow struct {
	ID          int64
	Username    string
	DisplayName string
	Role        string
	Password    string // argon2id PHC string
	TOTP        []byte // sealed secret; nil if not enrolled
	TOTPStep    int64  // last accepted time step; -1 while enrolment awaits its first code
	Failed      int
	LockedUntil time.Time
	Disabled    bool
	Incident    string
	ExpiresAt   time.Time // zero: never
	CreatedAt   time.Time
}

const staffCols = `id, username, display_name, role, password, totp, totp_step, failed, locked_until, disabled, incident, expires_at, created_at`

func unixOrZero(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func nsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func scanStaff(s scanner) (StaffRow, error) {
	var r StaffRow
	var locked, expires, created int64
	var disabled int
	err := s.Scan(&r.ID, &r.Username, &r.DisplayName, &r.Role, &r.Password, &r.TOTP, &r.TOTPStep, &r.Failed, &locked, &disabled, &r.Incident, &expires, &created)
	r.LockedUntil, r.ExpiresAt, r.CreatedAt, r.Disabled = unixOrZero(locked), unixOrZero(expires), unixOrZero(created), disabled != 0
	return r, err
}

// AddStaff creates an account; a taken username is labtrust.ErrConflict.
func (d *DB) AddStaff(ctx context.Context, r *StaffRow) error {
	err := d.db.QueryRowContext(ctx, d.q(`INSERT INTO staff (username, display_name, role, password, incident, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), r.Username, r.DisplayName, r.Role, r.Password, r.Incident, nsOrZero(r.ExpiresAt), nsOrZero(r.CreatedAt)).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("store: add staff: %w", mapErr(err))
	}
	return nil
}

// StaffByName returns an account, or labtrust.ErrNotFound.
func (d *DB) StaffByName(ctx context.Context, username string) (StaffRow, error) {
	r, err := scanStaff(d.db.QueryRowContext(ctx, d.q(`SELECT `+staffCols+` FROM staff WHERE username = ?`), username))
	if err != nil {
		return r, fmt.Errorf("store: read staff: %w", mapErr(err))
	}
	return r, nil
}

// StaffByID returns an account, or labtrust.ErrNotFound.
func (d *DB) StaffByID(ctx context.Context, id int64) (StaffRow, error) {
	r, err := scanStaff(d.db.QueryRowContext(ctx, d.q(`SELECT `+staffCols+` FROM staff WHERE id = ?`), id))
	if err != nil {
		return r, fmt.Errorf("store: read staff: %w", mapErr(err))
	}
	return r, nil
}

// ListStaff returns every account by username.
func (d *DB) ListStaff(ctx context.Context) ([]StaffRow, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+staffCols+` FROM staff ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("store: list staff: %w", mapErr(err))
	}
	defer rows.Close()
	var out []StaffRow
	for rows.Next() {
		r, err := scanStaff(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list staff: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateStaff stores an account's changeable fields.
func (d *DB) UpdateStaff(ctx context.Context, r StaffRow) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE staff SET display_name = ?, role = ?, password = ?, totp = ?, totp_step = ?, failed = ?,
		locked_until = ?, disabled = ?, incident = ?, expires_at = ? WHERE id = ?`),
		r.DisplayName, r.Role, r.Password, r.TOTP, r.TOTPStep, r.Failed, nsOrZero(r.LockedUntil), b2i(r.Disabled), r.Incident, nsOrZero(r.ExpiresAt), r.ID)
	if err != nil {
		return fmt.Errorf("store: update staff: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: update staff %d: %w", r.ID, labtrust.ErrNotFound)
	}
	return nil
}

// AcceptTOTPStep records time step as used if it is newer than the last
// one accepted; false means the code was used before (a replay).
func (d *DB) AcceptTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE staff SET totp_step = ? WHERE id = ? AND totp_step < ?`), step, id, step)
	if err != nil {
		return false, fmt.Errorf("store: totp step: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetRecoveryCodes replaces an account's recovery codes (their digests).
func (d *DB) SetRecoveryCodes(ctx context.Context, id int64, digests [][]byte) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: recovery codes: %w", mapErr(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM staff_recovery WHERE staff = ?`), id); err != nil {
		return fmt.Errorf("store: recovery codes: %w", mapErr(err))
	}
	for _, dg := range digests {
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO staff_recovery (staff, digest) VALUES (?, ?)`), id, dg); err != nil {
			return fmt.Errorf("store: recovery codes: %w", mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: recovery codes: %w", mapErr(err))
	}
	return nil
}

// UseRecoveryCode marks an unused code as used; false if there is none.
func (d *DB) UseRecoveryCode(ctx context.Context, id int64, digest []byte, at time.Time) (bool, error) {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE staff_recovery SET used_at = ? WHERE staff = ? AND digest = ? AND used_at IS NULL`), at.UnixNano(), id, digest)
	if err != nil {
		return false, fmt.Errorf("store: recovery code: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SessionRow is a staff session as stored.
type SessionRow struct {
	Staff         int64
	Created, Seen time.Time
	MFA           bool
}

// AddSession stores a session by its token's digest.
func (d *DB) AddSession(ctx context.Context, digest []byte, s SessionRow) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO staff_sessions (digest, staff, created_at, seen_at, mfa) VALUES (?, ?, ?, ?, ?)`),
		digest, s.Staff, s.Created.UnixNano(), s.Seen.UnixNano(), b2i(s.MFA))
	if err != nil {
		return fmt.Errorf("store: add session: %w", mapErr(err))
	}
	return nil
}

// Session returns a session, or labtrust.ErrNotFound.
func (d *DB) Session(ctx context.Context, digest []byte) (SessionRow, error) {
	var s SessionRow
	var created, seen int64
	var mfa int
	err := d.db.QueryRowContext(ctx, d.q(`SELECT staff, created_at, seen_at, mfa FROM staff_sessions WHERE digest = ?`), digest).Scan(&s.Staff, &created, &seen, &mfa)
	if err != nil {
		return s, fmt.Errorf("store: read session: %w", mapErr(err))
	}
	s.Created, s.Seen, s.MFA = time.Unix(0, created).UTC(), time.Unix(0, seen).UTC(), mfa != 0
	return s, nil
}

// TouchSession records activity (and, once MFA is done, that it is).
func (d *DB) TouchSession(ctx context.Context, digest []byte, at time.Time, mfa bool) error {
	_, err := d.db.ExecContext(ctx, d.q(`UPDATE staff_sessions SET seen_at = ?, mfa = ? WHERE digest = ?`), at.UnixNano(), b2i(mfa), digest)
	if err != nil {
		return fmt.Errorf("store: touch session: %w", mapErr(err))
	}
	return nil
}

// DeleteSession ends a session; DeleteStaffSessions ends all of an
// account's.
func (d *DB) DeleteSession(ctx context.Context, digest []byte) error {
	if _, err := d.db.ExecContext(ctx, d.q(`DELETE FROM staff_sessions WHERE digest = ?`), digest); err != nil {
		return fmt.Errorf("store: delete session: %w", mapErr(err))
	}
	return nil
}

func (d *DB) DeleteStaffSessions(ctx context.Context, staff int64) error {
	if _, err := d.db.ExecContext(ctx, d.q(`DELETE FROM staff_sessions WHERE staff = ?`), staff); err != nil {
		return fmt.Errorf("store: delete sessions: %w", mapErr(err))
	}
	return nil
}

// AddPasskey stores a staff member's WebAuthn credential (its JSON).
func (d *DB) AddPasskey(ctx context.Context, staff int64, id, credential []byte, at time.Time) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO staff_passkeys (credential_id, staff, credential, created_at) VALUES (?, ?, ?, ?)`), id, staff, credential, at.UnixNano())
	if err != nil {
		return fmt.Errorf("store: add passkey: %w", mapErr(err))
	}
	return nil
}

// UpdatePasskey replaces a credential's JSON (its sign counter moves on).
func (d *DB) UpdatePasskey(ctx context.Context, id, credential []byte) error {
	if _, err := d.db.ExecContext(ctx, d.q(`UPDATE staff_passkeys SET credential = ? WHERE credential_id = ?`), credential, id); err != nil {
		return fmt.Errorf("store: update passkey: %w", mapErr(err))
	}
	return nil
}

// Passkeys returns a staff member's credentials (their JSON).
func (d *DB) Passkeys(ctx context.Context, staff int64) ([][]byte, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT credential FROM staff_passkeys WHERE staff = ? ORDER BY created_at`), staff)
	if err != nil {
		return nil, fmt.Errorf("store: passkeys: %w", mapErr(err))
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var c []byte
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("store: passkeys: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
