package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/store"
)

// Parser reads records of one format from r into sink.
type Parser func(ctx context.Context, source string, r io.Reader, sink labtrust.Sink) error

// Parsers picks the parser for a source's records of a format; CSV parsers
// depend on the source's column mapping, so the source matters.
type Parsers interface {
	Parser(source, format string) (Parser, error)
}

// QuarantineStore is what Retry needs from the database.
type QuarantineStore interface {
	GetQuarantine(ctx context.Context, id int64) (store.QuarantineItem, error)
	RecordRetry(ctx context.Context, id int64, ingested bool, reason string) error
}

// RetryResult says what a retry did.
type RetryResult struct {
	ID       int64   `json:"id"`
	Ingested bool    `json:"ingested"`
	Events   int     `json:"events"`
	First    *uint64 `json:"firstIndex,omitempty"`
	Reason   string  `json:"reason,omitempty"` // why it is still rejected
}

type collect struct {
	events  []labtrust.Event
	rejects []labtrust.Reject
}

func (c *collect) Event(_ context.Context, e labtrust.Event) error {
	if err := e.Validate(); err != nil {
		c.rejects = append(c.rejects, labtrust.Reject{Reason: "invalid event: " + err.Error()})
		return nil
	}
	c.events = append(c.events, e)
	return nil
}

func (c *collect) Reject(_ context.Context, r labtrust.Reject) error {
	c.rejects = append(c.rejects, r)
	return nil
}

// Retry parses a quarantined record again with the current parsers (after a
// mapping fix, say). If every record in it now parses, the events are
// ingested and the item is marked ingested; otherwise it stays pending with
// the new reason. An item already ingested is not ingested twice.
func (p *Pipeline) Retry(ctx context.Context, qs QuarantineStore, parsers Parsers, id int64) (RetryResult, error) {
	res := RetryResult{ID: id}
	it, err := qs.GetQuarantine(ctx, id)
	if err != nil {
		return res, err
	}
	if it.Status != store.QuarantinePending {
		return res, &labtrust.Error{Code: "not_pending", Message: fmt.Sprintf("quarantine item %d is %s, not pending", id, it.Status)}
	}
	raw, err := p.OpenQuarantined(it)
	if err != nil {
		return res, fmt.Errorf("ingest: open quarantine item %d: %w", id, err)
	}
	parse, err := parsers.Parser(it.Source, it.Format)
	if err != nil {
		return res, err
	}
	var c collect
	if err := parse(ctx, it.Source, bytes.NewReader(raw), &c); err != nil {
		return res, fmt.Errorf("ingest: reparse quarantine item %d: %w", id, err)
	}
	switch {
	case len(c.rejects) > 0:
		// Positions inside the reason count from the start of the stored
		// record, not of the original input; the item keeps its position.
		res.Reason = "on retry: " + c.rejects[0].Reason
	case len(c.events) == 0:
		res.Reason = "the record holds no event"
	}
	if res.Reason != "" {
		return res, qs.RecordRetry(ctx, id, false, res.Reason)
	}
	r, err := p.Submit(ctx, c.events)
	if err != nil {
		return res, fmt.Errorf("ingest: ingest retried item %d: %w", id, err)
	}
	res.Ingested, res.Events, res.First = true, r.Count, &r.First
	if err := qs.RecordRetry(ctx, id, true, ""); err != nil {
		return res, err
	}
	return res, nil
}
