package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/labtrust/labtrust"
)

// SurveyResponse is one answer to the trust survey.
type SurveyResponse struct {
	Incident     int64
	At           time.Time
	Trust, Clear int
	Helped       bool
	Comment      []byte // sealed, or nil
}

// AddSurveyResponse stores an answer.
func (d *DB) AddSurveyResponse(ctx context.Context, r SurveyResponse) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO survey_responses (incident, at, trust, clear, helped, comment) VALUES (?, ?, ?, ?, ?, ?)`),
		r.Incident, r.At.UnixNano(), r.Trust, r.Clear, b2i(r.Helped), r.Comment)
	if err != nil {
		return fmt.Errorf("store: survey: %w", mapErr(err))
	}
	return nil
}

// SurveyWeek sums a week's answers.
type SurveyWeek struct {
	Week               time.Time // Monday, UTC
	N                  int
	TrustSum, ClearSum int
	Helped             int
}

// SurveyByWeek sums an incident's survey answers by week (0: all
// incidents), oldest first.
func (d *DB) SurveyByWeek(ctx context.Context, incident int64) ([]SurveyWeek, error) {
	q := `SELECT at, trust, clear, helped FROM survey_responses`
	var args []any
	if incident != 0 {
		q += ` WHERE incident = ?`
		args = append(args, incident)
	}
	rows, err := d.db.QueryContext(ctx, d.q(q+` ORDER BY at`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: survey: %w", mapErr(err))
	}
	defer rows.Close()
	var out []SurveyWeek
	for rows.Next() {
		var at int64
		var trust, clear, helped int
		if err := rows.Scan(&at, &trust, &clear, &helped); err != nil {
			return nil, err
		}
		t := time.Unix(0, at).UTC()
		wk := t.Truncate(24*time.Hour).AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
		if n := len(out); n == 0 || !out[n-1].Week.Equal(wk) {
			out = append(out, SurveyWeek{Week: wk})
		}
		w := &out[len(out)-1]
		w.N++
		w.TrustSum += trust
		w.ClearSum += clear
		w.Helped += helped
	}
	return out, mapErr(rows.Err())
}

// Callback is a request to be called back.
type Callback struct {
	ID       int64
	Incident int64
	Notice   int64
	At       time.Time
	Status   string
	Body     []byte // sealed
}

// AddCallback stores a call-back request.
func (d *DB) AddCallback(ctx context.Context, c Callback) (int64, error) {
	var id int64
	err := d.db.QueryRowContext(ctx, d.q(`INSERT INTO callbacks (incident, notice, at, status, body) VALUES (?, ?, ?, 'open', ?) RETURNING id`),
		c.Incident, c.Notice, c.At.UnixNano(), c.Body).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: callback: %w", mapErr(err))
	}
	return id, nil
}

// Callbacks lists an incident's call-back requests, open ones first,
// oldest first.
func (d *DB) Callbacks(ctx context.Context, incident int64) ([]Callback, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT id, incident, notice, at, status, body FROM callbacks WHERE incident = ? ORDER BY status DESC, at`), incident)
	if err != nil {
		return nil, fmt.Errorf("store: callbacks: %w", mapErr(err))
	}
	defer rows.Close()
	var out []Callback
	for rows.Next() {
		var c Callback
		var at int64
		if err := rows.Scan(&c.ID, &c.Incident, &c.Notice, &at, &c.Status, &c.Body); err != nil {
			return nil, err
		}
		c.At = time.Unix(0, at).UTC()
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// CloseCallback marks a call-back done.
func (d *DB) CloseCallback(ctx context.Context, id int64) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE callbacks SET status = 'done' WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("store: callback %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: callback %d: %w", id, labtrust.ErrNotFound)
	}
	return nil
}

// Subscriber is someone who asked to be mailed the status page's updates.
type Subscriber struct {
	ID          int64
	Body        []byte // sealed: the address and language
	CreatedAt   time.Time
	Confirmed   bool
	SentThrough time.Time // the newest update already mailed
}

// AddSubscriber records a request to be mailed updates. A pending one
// gets the new token and body (a lost confirmation mail is asked for
// again); a confirmed one is left as it is and its sealed body returned,
// so nobody can break a subscriber's links by subscribing them again. A
// new subscriber is sent only updates newer than at.
func (d *DB) AddSubscriber(ctx context.Context, emailHash, tokenHash, body []byte, at time.Time) (confirmedBody []byte, err error) {
	var existing []byte
	var confirmed sql.NullInt64
	err = d.db.QueryRowContext(ctx, d.q(`SELECT body, confirmed_at FROM subscribers WHERE email_hash = ?`), emailHash).Scan(&existing, &confirmed)
	switch {
	case err == nil && confirmed.Valid:
		return existing, nil
	case err == nil:
		_, err = d.db.ExecContext(ctx, d.q(`UPDATE subscribers SET token_hash = ?, body = ? WHERE email_hash = ? AND confirmed_at IS NULL`), tokenHash, body, emailHash)
	case errors.Is(err, sql.ErrNoRows):
		_, err = d.db.ExecContext(ctx, d.q(`INSERT INTO subscribers (email_hash, token_hash, body, created_at, sent_through) VALUES (?, ?, ?, ?, ?)`),
			emailHash, tokenHash, body, at.UnixNano(), at.UnixNano())
	}
	if err != nil {
		return nil, fmt.Errorf("store: subscriber: %w", mapErr(err))
	}
	return nil, nil
}

// ConfirmSubscriber marks the subscription whose link token hashes to
// tokenHash confirmed (labtrust.ErrNotFound: no such link).
func (d *DB) ConfirmSubscriber(ctx context.Context, tokenHash []byte, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE subscribers SET confirmed_at = COALESCE(confirmed_at, ?) WHERE token_hash = ?`), at.UnixNano(), tokenHash)
	if err != nil {
		return fmt.Errorf("store: confirm subscriber: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: confirm subscriber: %w", labtrust.ErrNotFound)
	}
	return nil
}

// RemoveSubscriber forgets the subscription whose link token hashes to
// tokenHash, address and all (labtrust.ErrNotFound: no such link).
func (d *DB) RemoveSubscriber(ctx context.Context, tokenHash []byte) error {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM subscribers WHERE token_hash = ?`), tokenHash)
	if err != nil {
		return fmt.Errorf("store: remove subscriber: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: remove subscriber: %w", labtrust.ErrNotFound)
	}
	return nil
}

// Subscribers lists the confirmed subscribers.
func (d *DB) Subscribers(ctx context.Context) ([]Subscriber, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, body, created_at, sent_through FROM subscribers WHERE confirmed_at IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: subscribers: %w", mapErr(err))
	}
	defer rows.Close()
	var out []Subscriber
	for rows.Next() {
		var s Subscriber
		var created, sent int64
		if err := rows.Scan(&s.ID, &s.Body, &created, &sent); err != nil {
			return nil, err
		}
		s.Confirmed = true
		s.CreatedAt, s.SentThrough = time.Unix(0, created).UTC(), time.Unix(0, sent).UTC()
		out = append(out, s)
	}
	return out, mapErr(rows.Err())
}

// SetSubscriberSent records that updates through at were mailed.
func (d *DB) SetSubscriberSent(ctx context.Context, id int64, at time.Time) error {
	if _, err := d.db.ExecContext(ctx, d.q(`UPDATE subscribers SET sent_through = ? WHERE id = ? AND sent_through < ?`), at.UnixNano(), id, at.UnixNano()); err != nil {
		return fmt.Errorf("store: subscriber %d: %w", id, mapErr(err))
	}
	return nil
}

// SubscriberCounts counts confirmed and pending subscriptions.
func (d *DB) SubscriberCounts(ctx context.Context) (confirmed, pending int, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT COUNT(confirmed_at), COUNT(*) - COUNT(confirmed_at) FROM subscribers`).Scan(&confirmed, &pending)
	if err != nil {
		return 0, 0, fmt.Errorf("store: subscriber counts: %w", mapErr(err))
	}
	return confirmed, pending, nil
}

// PortalStat is one day's count of one portal metric.
type PortalStat struct {
	Day    time.Time
	Metric string
	N      int
}

// AddPortalStats adds counts to a day's totals.
func (d *DB) AddPortalStats(ctx context.Context, day time.Time, counts map[string]int) error {
	day = day.UTC().Truncate(24 * time.Hour)
	for m, n := range counts {
		if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO portal_stats (day, metric, n) VALUES (?, ?, ?)
			ON CONFLICT (day, metric) DO UPDATE SET n = portal_stats.n + excluded.n`), day.Unix(), m, n); err != nil {
			return fmt.Errorf("store: portal stats: %w", mapErr(err))
		}
	}
	return nil
}

// PortalStats returns the daily counts from the day of from on, oldest
// first.
func (d *DB) PortalStats(ctx context.Context, from time.Time) ([]PortalStat, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT day, metric, n FROM portal_stats WHERE day >= ? ORDER BY day, metric`), from.UTC().Truncate(24*time.Hour).Unix())
	if err != nil {
		return nil, fmt.Errorf("store: portal stats: %w", mapErr(err))
	}
	defer rows.Close()
	var out []PortalStat
	for rows.Next() {
		var s PortalStat
		var day int64
		if err := rows.Scan(&day, &s.Metric, &s.N); err != nil {
			return nil, err
		}
		s.Day = time.Unix(day, 0).UTC()
		out = append(out, s)
	}
	return out, mapErr(rows.Err())
}
