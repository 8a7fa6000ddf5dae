package store

import (
	"context"
	"fmt"
	"time"
)

// OutboxRow is an event waiting for the ledger's writer.
type OutboxRow struct {
	ID    int64
	Event []byte // JSON of a labtrust.Event
}

// AddOutbox queues an event (its JSON) for the writer; durable on return.
func (d *DB) AddOutbox(ctx context.Context, event []byte, at time.Time) error {
	if _, err := d.db.ExecContext(ctx, d.q(`INSERT INTO event_outbox (event, created_at) VALUES (?, ?)`), event, at.UnixNano()); err != nil {
		return fmt.Errorf("store: queue event: %w", mapErr(err))
	}
	return nil
}

// Outbox returns up to limit queued events, oldest first.
func (d *DB) Outbox(ctx context.Context, limit int) ([]OutboxRow, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT id, event FROM event_outbox ORDER BY id LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("store: read queued events: %w", mapErr(err))
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		if err := rows.Scan(&r.ID, &r.Event); err != nil {
			return nil, fmt.Errorf("store: read queued events: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteOutbox removes queued events once they are in the ledger.
func (d *DB) DeleteOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `DELETE FROM event_outbox WHERE id IN (?` + repeatArg(len(ids)-1) + `)`
	if _, err := d.db.ExecContext(ctx, d.q(q), args...); err != nil {
		return fmt.Errorf("store: delete queued events: %w", mapErr(err))
	}
	return nil
}
