package accessreport

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
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
func Build(ctx context.Context, ev Events, pr Prover, keys Keys, origin string, p labtrust.PatientRef) (*Report, error) {
	cp, note := pr.Checkpoint()
	r := &Report{Format: Format, Origin: origin, Patient: p, Checkpoint: string(note)}
	err := ev.PatientFrames(ctx, keys.Blind(p.ID), func(f *store.Frame, idxs []uint64) error {
		if f.First >= cp.Size {
			r.Pending += len(idxs)
			return nil
		}
		recs, err := frame.Open(keys, f.First, len(f.Rows), f.Body)
		if err != nil {
			return fmt.Errorf("stored body: %w", err)
		}
		for _, idx := range idxs {
			if idx < f.First || idx >= f.Next() {
				return fmt.Errorf("entry %d: stored outside the frame the index points to", idx)
			}
			if idx >= cp.Size {
				r.Pending++
				continue
			}
			rec, row := recs[idx-f.First], &f.Rows[idx-f.First]
			if labtrust.Commit(rec.Nonce, rec.Canonical) != row.Commitment {
				return fmt.Errorf("entry %d: stored body does not match its commitment", idx)
			}
			r.Entries = append(r.Entries, Entry{Index: idx, Nonce: base64.StdEncoding.EncodeToString(rec.Nonce),
				Canonical: string(rec.Canonical)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("access report: %w", err)
	}
	// Proofs authenticate tiles by hashing them, so spread them over the
	// cores; the Reader caches what they share.
	workers := min(runtime.GOMAXPROCS(0), max(1, len(r.Entries)/16))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(r.Entries); i += workers {
				e := &r.Entries[i]
				proof, err := pr.Proof(ctx, e.Index)
				if err != nil {
					errs[w] = fmt.Errorf("access report: entry %d: proof: %w", e.Index, err)
					return
				}
				e.Proof = string(proof)
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}
