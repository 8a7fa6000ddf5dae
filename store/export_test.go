package store

import (
	"context"
	"strings"
)

// The paged reads whose plans TestPagedReadPlansWithoutStatistics checks,
// with arguments for a first page.
var PagedReads = map[string]struct {
	Query string
	Args  []any
}{
	"whole registry":        {livePatientsQuery, []any{[]byte{}, livePage}},
	"notices":               {noticePageQuery, []any{1, -1, 1000}},
	"free monitoring codes": {freeMonitoringQuery, []any{1, 5000}},
}

// ExplainIndexOrder is the plan PostgreSQL makes for query in a
// transaction set up as the store's paged reads set theirs (indexOrder).
func (d *DB) ExplainIndexOrder(ctx context.Context, query string, args ...any) (string, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if err := d.indexOrder(ctx, tx); err != nil {
		return "", err
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+d.q(query), args...)
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
