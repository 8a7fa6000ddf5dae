package store

import (
	"context"
	"strings"
)

// ExplainLivePatients is the plan PostgreSQL makes for a page of a
// whole-registry read, in the transaction LivePatients reads in.
func (d *DB) ExplainLivePatients(ctx context.Context) (string, error) {
	tx, err := d.beginLivePatients(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+d.q(livePatientsQuery), []byte{}, livePage)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan = append(plan, line)
	}
	return strings.Join(plan, "\n"), rows.Err()
}
