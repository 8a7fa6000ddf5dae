package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/labtrust/labtrust"
)

// Sink imports what a registry parser (hl7.ParseStream) reads, in batches,
// and quarantines both the parser's rejects and records the registry
// refuses (a forgotten MRN coming back, say), so nothing is lost.
type Sink struct {
	Reg *Registry
	// Quarantine seals and stores rejects (ingest.Pipeline.Quarantine).
	Quarantine func(ctx context.Context, rejects []labtrust.Reject) ([]int64, error)
	// Batch is how many records go to the registry at once (default: what
	// the store does best, 5,000 on SQLite and 1,000 on PostgreSQL).
	Batch int

	Imported, Quarantined int
	buf                   []labtrust.PatientRecord
	rejects               []labtrust.Reject
	// inflight is the batch being imported while the parser reads the
	// next one; its result arrives on done.
	inflight bool
	done     chan error
	refused  []labtrust.Reject // records the registry refused, for the quarantine
}

var _ labtrust.PatientSink = (*Sink)(nil)

func (s *Sink) Patient(ctx context.Context, r labtrust.PatientRecord) error {
	s.buf = append(s.buf, r)
	batch := s.Batch
	if batch <= 0 {
		batch = s.Reg.importBatch()
	}
	if len(s.buf) >= batch {
		return s.flushRecords(ctx)
	}
	return nil
}

func (s *Sink) Reject(ctx context.Context, r labtrust.Reject) error {
	s.rejects = append(s.rejects, r)
	if len(s.rejects) >= 256 {
		return s.flushRejects(ctx)
	}
	return nil
}

// Flush imports and quarantines what is buffered, and waits for it.
func (s *Sink) Flush(ctx context.Context) error {
	err := s.flushRecords(ctx)
	return errors.Join(err, s.wait(), s.flushRejects(ctx))
}

func (s *Sink) wait() error {
	if !s.inflight {
		return nil
	}
	s.inflight = false
	return <-s.done
}

// flushRecords starts importing the buffered batch in the background, once
// the previous one is done: batches stay in order, and parsing the next
// overlaps storing this one.
func (s *Sink) flushRecords(ctx context.Context) error {
	if len(s.buf) == 0 {
		return nil
	}
	if err := s.wait(); err != nil {
		return err
	}
	batch := s.buf
	s.buf = nil
	if s.done == nil {
		s.done = make(chan error, 1)
	}
	s.inflight = true
	go func() { s.done <- s.importBatch(ctx, batch) }()
	return nil
}

// importBatch runs on the background goroutine; only it touches Imported
// and the refused records until wait returns.
func (s *Sink) importBatch(ctx context.Context, batch []labtrust.PatientRecord) error {
	if err := s.Reg.Import(ctx, batch); err == nil {
		s.Imported += len(batch)
		return nil
	}
	// Something in the batch was refused: one at a time, so the rest go in
	// and the refused ones are quarantined with the reason.
	for _, r := range batch {
		err := s.Reg.Import(ctx, []labtrust.PatientRecord{r})
		var ve *labtrust.ValidationError
		switch {
		case err == nil:
			s.Imported++
		case errors.Is(err, labtrust.ErrConflict) || errors.As(err, &ve):
			raw, _ := json.Marshal(r)
			s.refused = append(s.refused, labtrust.Reject{Source: r.Source, Format: RefusedFormat, Position: "message " + r.ControlID,
				Reason: "the registry refused the record: " + err.Error(), Raw: raw})
		default:
			return err
		}
	}
	return nil
}

func (s *Sink) flushRejects(ctx context.Context) error {
	if !s.inflight && len(s.refused) > 0 {
		s.rejects = append(s.rejects, s.refused...)
		s.refused = nil
	}
	if len(s.rejects) == 0 {
		return nil
	}
	ids, err := s.Quarantine(ctx, s.rejects)
	if err != nil {
		return fmt.Errorf("registry: quarantine: %w", err)
	}
	s.Quarantined += len(ids)
	s.rejects = s.rejects[:0]
	return nil
}

// Direct is a PatientSink that imports each record as it comes: what an
// MLLP listener needs, since it acknowledges a message only once the
// record is durable. A record the registry refuses is quarantined (and so
// kept) instead.
type Direct struct{ Sink }

func (d *Direct) Patient(ctx context.Context, r labtrust.PatientRecord) error {
	d.buf = append(d.buf, r)
	return d.Sink.Flush(ctx)
}

func (d *Direct) Reject(ctx context.Context, r labtrust.Reject) error {
	if err := d.Sink.Reject(ctx, r); err != nil {
		return err
	}
	return d.Sink.flushRejects(ctx)
}

// Parser reads patient records of one format (hl7.ParseStream,
// fhir.ParsePatients, ParseCSV).
type Parser func(ctx context.Context, source string, r io.Reader, sink labtrust.PatientSink) error

// RefusedFormat is the quarantine format of a record that parsed but that
// the registry refused (a forgotten MRN coming back, say): its raw bytes
// are the record as JSON.
const RefusedFormat = "registry"

type collected struct {
	recs    []labtrust.PatientRecord
	rejects []labtrust.Reject
}

func (c *collected) Patient(_ context.Context, r labtrust.PatientRecord) error {
	c.recs = append(c.recs, r)
	return nil
}

func (c *collected) Reject(_ context.Context, r labtrust.Reject) error {
	c.rejects = append(c.rejects, r)
	return nil
}

// Retry imports a quarantined patient record again (after the source was
// fixed, or the registry's state changed): raw is what was quarantined,
// read with parse (nil for RefusedFormat). It returns how many records it
// imported, or why the record is still refused; err is for failures of
// the registry itself.
func (r *Registry) Retry(ctx context.Context, source, format string, raw []byte, parse Parser) (imported int, reason string, err error) {
	var c collected
	if format == RefusedFormat {
		var rec labtrust.PatientRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return 0, "the quarantined record is not a patient record any more: " + err.Error(), nil
		}
		c.recs = append(c.recs, rec)
	} else if err := parse(ctx, source, bytes.NewReader(raw), &c); err != nil {
		return 0, "", fmt.Errorf("registry: reparse: %w", err)
	}
	switch {
	case len(c.rejects) > 0:
		return 0, "on retry: " + c.rejects[0].Reason, nil
	case len(c.recs) == 0:
		return 0, "the record holds no patient", nil
	}
	err = r.Import(ctx, c.recs)
	var ve *labtrust.ValidationError
	if errors.Is(err, labtrust.ErrConflict) || errors.As(err, &ve) {
		return 0, "on retry: the registry refused the record: " + err.Error(), nil
	}
	if err != nil {
		return 0, "", err
	}
	return len(c.recs), "", nil
}
