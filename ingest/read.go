package ingest

import (
	"context"
	"fmt"
	"sort"

	"github.com/labtrust/labtrust"

	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/store"
)

// FrameReader is the store's read side.
type FrameReader interface {
	Frames(ctx context.Context, from, to uint64, fn func(*store.Frame) error) error
}

// ReadEntries opens the stored frames holding entries from <= index < to
// and calls fn with each such entry's index row and body, in index order.
// Both are only valid during the call.
func ReadEntries(ctx context.Context, st FrameReader, keys frame.Opener, from, to uint64, fn func(row *store.EventRow, rec frame.Record) error) error {
	return st.Frames(ctx, from, to, func(f *store.Frame) error {
		recs, err := frame.Open(keys, f.First, len(f.Rows), f.Body)
		if err != nil {
			return err
		}
		for i := range f.Rows {
			if idx := f.Rows[i].Index; idx >= from && idx < to {
				if err := fn(&f.Rows[i], recs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// PatientFramer reads a patient's frames by blind index (the store).
type PatientFramer interface {
	PatientFrames(ctx context.Context, blind []byte, fn func(f *store.Frame, idxs []uint64) error) error
}

// PatientEvents returns, in ledger order, every stored event naming any of
// the blind indexes (a patient and the records merged into them), opened.
// An entry that also named a forgotten patient comes as its residue, with
// Erased set.
func PatientEvents(ctx context.Context, st PatientFramer, keys frame.Opener, blinds [][]byte) ([]labtrust.Entry, error) {
	var out []labtrust.Entry
	seen := map[uint64]bool{}
	var rd frame.Reader
	for _, b := range blinds {
		err := st.PatientFrames(ctx, b, func(f *store.Frame, idxs []uint64) error {
			recs, err := rd.Open(keys, f.First, len(f.Rows), f.Body)
			if err != nil {
				return err
			}
			for _, idx := range idxs {
				if seen[idx] || idx < f.First || idx >= f.Next() {
					continue
				}
				seen[idx] = true
				rec := recs[idx-f.First]
				en, err := labtrust.DecodeStored(rec.Nonce, rec.Canonical)
				if err != nil {
					return fmt.Errorf("entry %d: %w", idx, err)
				}
				out = append(out, *en)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("ingest: patient events: %w", err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}
