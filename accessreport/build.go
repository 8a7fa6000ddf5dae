package accessreport

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/store"
)

// Events reads a patient's stored frames by blind index.
type Events interface {
	PatientFrames(ctx context.Context, blind []byte, fn func(f *store.Frame, idxs []uint64) error) error
}

// Prover makes inclusion proofs under one checkpoint (a ledger.Reader).
type Prover interface {
	Checkpoint() (ledger.Checkpoint, []byte)
	Proof(ctx context.Context, index uint64) ([]byte, error)
}

// Keys opens sealed bodies and computes blind indexes (the vault's Keyring).
type Keys interface {
	Blind(id string) []byte
	Open(dst, sealed, aad []byte) ([]byte, error)
}

// Build assembles the access report of patient p: every stored entry that
// names p and that the prover's checkpoint covers, opened and proved. It
// fails if a stored body does not authenticate or does not match its
// commitment, because a report that cannot verify must not be handed out.
//
// merged names records an ADT merge folded into p (the registry knows
// them): their entries are included, each identifier keeping its chain.
func Build(ctx context.Context, ev Events, pr Prover, keys Keys, origin string, p labtrust.PatientRef, merged ...labtrust.PatientRef) (*Report, error) {
	cp, note := pr.Checkpoint()
	r := &Report{Format: Format, Origin: origin, Patient: p, Merged: merged, Checkpoint: string(note)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The query streams frames while workers open them and build the
	// proofs: opening a frame and proving an entry both cost more than
	// reading the row, and each spreads over the cores.
	type want struct {
		idx uint64
		c   [32]byte
	}
	type job struct {
		n     int // order of the frame in the query
		first uint64
		count int
		body  []byte
		wants []want
		out   []Entry
		err   error
	}
	jobs := make(chan *job, 64)
	var done []*job
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rd frame.Reader
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				j.err = func() error {
					recs, err := rd.Open(keys, j.first, j.count, j.body)
					if err != nil {
						return fmt.Errorf("stored body: %w", err)
					}
					for _, wt := range j.wants {
						rec := recs[wt.idx-j.first]
						erased := labtrust.IsErased(rec.Nonce)
						if !erased && labtrust.Commit(rec.Nonce, rec.Canonical) != wt.c {
							return fmt.Errorf("entry %d: stored body does not match its commitment", wt.idx)
						}
						// Proofs authenticate tiles by hashing them; the
						// prover caches what they share.
						proof, err := pr.Proof(ctx, wt.idx)
						if err != nil {
							return fmt.Errorf("entry %d: proof: %w", wt.idx, err)
						}
						if erased {
							// It also named a patient since forgotten:
							// the report keeps its place in the chain.
							en, err := labtrust.UnmarshalStored(rec.Nonce, rec.Canonical)
							if err != nil {
								return fmt.Errorf("entry %d: %w", wt.idx, err)
							}
							residue, err := en.MarshalCanonical()
							if err != nil {
								return fmt.Errorf("entry %d: %w", wt.idx, err)
							}
							j.out = append(j.out, Entry{Index: wt.idx, Canonical: string(residue), Proof: string(proof),
								Erased: en.Erased.Format(labtrust.TimeLayout), Commitment: base64.StdEncoding.EncodeToString(wt.c[:])})
							continue
						}
						j.out = append(j.out, Entry{Index: wt.idx, Nonce: base64.StdEncoding.EncodeToString(rec.Nonce),
							Canonical: string(rec.Canonical), Proof: string(proof)})
					}
					return nil
				}()
				if j.err != nil {
					cancel()
				}
			}
		}()
	}
	var err error
	for _, id := range append([]labtrust.PatientRef{p}, merged...) {
		if err != nil {
			break
		}
		err = ev.PatientFrames(ctx, keys.Blind(id.ID), func(f *store.Frame, idxs []uint64) error {
			j := &job{n: len(done), first: f.First, count: len(f.Rows)}
			for _, idx := range idxs {
				if idx < f.First || idx >= f.Next() {
					return fmt.Errorf("entry %d: stored outside the frame the index points to", idx)
				}
				if idx >= cp.Size {
					r.Pending++
					continue
				}
				j.wants = append(j.wants, want{idx, f.Rows[idx-f.First].Commitment})
			}
			if len(j.wants) == 0 {
				return nil
			}
			j.body = bytes.Clone(f.Body)
			done = append(done, j)
			select {
			case jobs <- j:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
	close(jobs)
	wg.Wait()
	for _, j := range done {
		if j.err != nil {
			return nil, fmt.Errorf("access report: %w", j.err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("access report: %w", err)
	}
	for _, j := range done {
		r.Entries = append(r.Entries, j.out...)
	}
	if len(merged) > 0 {
		// Each identifier's entries came in index order; together they
		// interleave, and an entry naming two of them came twice.
		sort.Slice(r.Entries, func(a, b int) bool { return r.Entries[a].Index < r.Entries[b].Index })
		r.Entries = slices.CompactFunc(r.Entries, func(a, b Entry) bool { return a.Index == b.Index })
	}
	return r, nil
}
