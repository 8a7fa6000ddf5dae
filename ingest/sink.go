package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/store"
)

// chunk is how many events a Batcher hands to the pipeline at once.
const chunk = 2048

// Batcher is a labtrust.Sink that feeds a Pipeline: events are submitted in
// chunks without waiting, rejects are quarantined, and Flush waits until all
// of it is durable. It is safe for concurrent use (syslog listeners share
// one across connections).
type Batcher struct {
	p       *Pipeline
	mu      sync.Mutex
	events  []labtrust.Event
	rejects []labtrust.Reject
	pending []*request
	failed  []error // errors of requests reaped before Flush
	sum     Summary
	err     error
}

// Summary counts what a Batcher stored.
type Summary struct {
	Accepted    int     `json:"accepted"`
	Quarantined int     `json:"quarantined"`
	First       *uint64 `json:"firstIndex,omitempty"`
	Last        *uint64 `json:"lastIndex,omitempty"`
	Quarantine  []int64 `json:"quarantineIds,omitempty"`
}

var _ labtrust.Sink = (*Batcher)(nil)

// NewBatcher returns a sink feeding p.
func (p *Pipeline) NewBatcher() *Batcher { return &Batcher{p: p} }

// Event queues e; every chunk is submitted without waiting for durability.
func (b *Batcher) Event(ctx context.Context, e labtrust.Event) error {
	if err := e.Validate(); err != nil {
		// A parser let an invalid event through: keep it, as a reject.
		return b.Reject(ctx, labtrust.Reject{Source: e.Source, Format: "event", Position: "event",
			Reason: "invalid event: " + err.Error()})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.events = append(b.events, e)
	if len(b.events) >= chunk {
		return b.submitLocked(ctx)
	}
	return nil
}

func (b *Batcher) submitLocked(ctx context.Context) error {
	if len(b.events) == 0 {
		return nil
	}
	r, err := b.p.enqueueValid(ctx, b.events)
	if err != nil {
		b.err = err
		return err
	}
	b.events = nil
	b.pending = append(b.pending, r)
	b.reapLocked()
	return nil
}

// reapLocked takes the results of requests already acknowledged, so a long
// stream holds only what is still in flight.
func (b *Batcher) reapLocked() {
	keep := b.pending[:0]
	for _, r := range b.pending {
		select {
		case err := <-r.done:
			if err != nil {
				b.failed = append(b.failed, err)
			} else {
				b.addLocked(Result{First: r.first, Count: r.n})
			}
		default:
			keep = append(keep, r)
		}
	}
	clear(b.pending[len(keep):])
	b.pending = keep
}

func (b *Batcher) addLocked(res Result) {
	b.sum.Accepted += res.Count
	first, last := res.First, res.First+uint64(res.Count)-1
	if b.sum.First == nil || first < *b.sum.First {
		b.sum.First = &first
	}
	if b.sum.Last == nil || last > *b.sum.Last {
		b.sum.Last = &last
	}
}

// Reject queues r for the quarantine.
func (b *Batcher) Reject(ctx context.Context, r labtrust.Reject) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.rejects = append(b.rejects, r)
	if len(b.rejects) >= chunk {
		return b.quarantineLocked(ctx)
	}
	return nil
}

func (b *Batcher) quarantineLocked(ctx context.Context) error {
	if len(b.rejects) == 0 {
		return nil
	}
	ids, err := b.p.Quarantine(ctx, b.rejects)
	if err != nil {
		b.err = err
		return err
	}
	b.sum.Quarantined += len(ids)
	b.sum.Quarantine = append(b.sum.Quarantine, ids...)
	b.rejects = b.rejects[:0]
	return nil
}

// Flush submits what is queued and waits until everything this Batcher took
// is durable. It returns the running summary; an error means some events
// were not acknowledged (the summary counts only those that were).
func (b *Batcher) Flush(ctx context.Context) (Summary, error) {
	b.mu.Lock()
	err := errors.Join(b.submitLocked(ctx), b.quarantineLocked(ctx))
	pending := b.pending
	b.pending = nil
	b.mu.Unlock()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range pending {
		res, err := b.p.wait(ctx, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.mu.Lock()
		b.addLocked(res)
		b.mu.Unlock()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	errs = append(errs, b.failed...)
	b.failed = nil
	return b.sum, errors.Join(errs...)
}

// Quarantine seals and stores rejected records; they are durable when it
// returns. It returns their quarantine IDs.
func (p *Pipeline) Quarantine(ctx context.Context, rejects []labtrust.Reject) ([]int64, error) {
	items := make([]store.QuarantineItem, len(rejects))
	for i, r := range rejects {
		sealed, err := p.keys.Seal(ctx, nil, r.Raw, quarantineAAD(r.Source, r.Format))
		if err != nil {
			return nil, fmt.Errorf("ingest: seal quarantined record: %w", err)
		}
		items[i] = store.QuarantineItem{Source: r.Source, Format: r.Format, Position: r.Position, Reason: r.Reason, Raw: sealed}
	}
	if err := p.st.AddQuarantine(ctx, items); err != nil {
		return nil, fmt.Errorf("ingest: quarantine: %w", err)
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
		if p.m != nil {
			p.m.quarantined.WithLabelValues(it.Source, it.Format).Inc()
		}
	}
	return ids, nil
}

func quarantineAAD(source, format string) []byte { return []byte("q\x00" + source + "\x00" + format) }

// OpenQuarantined decrypts the raw bytes of a quarantined record.
func (p *Pipeline) OpenQuarantined(it store.QuarantineItem) ([]byte, error) {
	return OpenQuarantinedWith(p.keys, it)
}

// Opener opens sealed bytes (the vault's Keyring is one).
type Opener interface {
	Open(dst, sealed, aad []byte) ([]byte, error)
}

// OpenQuarantinedWith decrypts a quarantined record's raw bytes without a
// pipeline, for read-only tools.
func OpenQuarantinedWith(k Opener, it store.QuarantineItem) ([]byte, error) {
	b, err := k.Open(nil, it.Raw, quarantineAAD(it.Source, it.Format))
	if err != nil {
		return nil, fmt.Errorf("quarantine item %d: %w", it.ID, err)
	}
	return b, nil
}
