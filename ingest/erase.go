package ingest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/store"
)

// EraseStore is what erasure reads and rewrites.
type EraseStore interface {
	PatientFrames(ctx context.Context, blind []byte, fn func(f *store.Frame, idxs []uint64) error) error
	Frames(ctx context.Context, from, to uint64, fn func(*store.Frame) error) error
	ReplaceFrameBody(ctx context.Context, first uint64, old, body []byte) (bool, error)
	DeletePatientIndex(ctx context.Context, blind []byte, idxs []uint64) (int64, error)
	Scrub(ctx context.Context) error
}

// EraseKeys opens frames and seals them again (the vault's Keyring).
type EraseKeys interface {
	frame.Sealer
	frame.Opener
}

// EraseReport says what an erasure did.
type EraseReport struct {
	Entries int // entries whose bodies were replaced by erasure records
	Frames  int // frames re-sealed
	// Already counts entries found erased before (a repeated forget, or an
	// entry naming two forgotten patients).
	Already int
}

// Erase replaces the stored body of every entry naming one of blinds (a
// forgotten patient and the records merged into them) with its erasure
// record (labtrust.Erase), re-sealing each frame holding one, then drops
// those entries from the patient index and scrubs the store. The ledger is
// untouched: each entry keeps its commitment, which without the nonce no
// longer leads to anyone, and the log still verifies. Entries stored while
// it runs keep their index rows, so running it again erases them too.
func Erase(ctx context.Context, st EraseStore, keys EraseKeys, blinds [][]byte, at time.Time) (EraseReport, error) {
	var rep EraseReport
	want := map[uint64][]uint64{} // frame first -> entries to erase
	byBlind := make([][]uint64, len(blinds))
	for i, b := range blinds {
		err := st.PatientFrames(ctx, b, func(f *store.Frame, idxs []uint64) error {
			want[f.First] = append(want[f.First], idxs...)
			byBlind[i] = append(byBlind[i], idxs...)
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("erase: %w", err)
		}
	}
	firsts := make([]uint64, 0, len(want))
	for f := range want {
		firsts = append(firsts, f)
	}
	slices.Sort(firsts)
	for _, first := range firsts {
		// A concurrent re-encryption may replace the frame between our
		// read and write; the compare-and-swap then fails and we redo it.
		for attempt := 0; ; attempt++ {
			done, err := eraseFrame(ctx, st, keys, first, want[first], at, &rep)
			if err != nil {
				return rep, err
			}
			if done {
				break
			}
			if attempt == 10 {
				return rep, fmt.Errorf("erase: the frame at %d kept changing under the erasure; run it again", first)
			}
		}
	}
	for i, b := range blinds {
		if len(byBlind[i]) == 0 {
			continue
		}
		if _, err := st.DeletePatientIndex(ctx, b, byBlind[i]); err != nil {
			return rep, fmt.Errorf("erase: %w", err)
		}
	}
	if err := st.Scrub(ctx); err != nil {
		return rep, fmt.Errorf("erase: %w", err)
	}
	return rep, nil
}

// eraseFrame erases entries idxs of the frame at first; it reports false if
// the frame changed before it could be written back.
func eraseFrame(ctx context.Context, st EraseStore, keys EraseKeys, first uint64, idxs []uint64, at time.Time, rep *EraseReport) (bool, error) {
	var old []byte
	var recs []frame.Record
	err := st.Frames(ctx, first, first+1, func(f *store.Frame) error {
		if f.First != first {
			return fmt.Errorf("no frame starts at %d", first)
		}
		var err error
		if recs, err = frame.Open(keys, f.First, len(f.Rows), f.Body); err != nil {
			return err
		}
		old = slices.Clone(f.Body)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("erase: %w", err)
	}
	n, already := 0, 0
	for _, idx := range idxs {
		if idx < first || idx >= first+uint64(len(recs)) {
			return false, fmt.Errorf("erase: entry %d is not in the frame at %d its index points to", idx, first)
		}
		rec := &recs[idx-first]
		if labtrust.IsErased(rec.Nonce) {
			already++
			continue
		}
		en, err := labtrust.UnmarshalCanonical(rec.Canonical)
		if err != nil {
			return false, fmt.Errorf("erase: entry %d: %w", idx, err)
		}
		body, err := labtrust.Erase(en, at)
		if err != nil {
			return false, fmt.Errorf("erase: entry %d: %w", idx, err)
		}
		*rec = frame.Record{Nonce: labtrust.ErasedNonce(), Canonical: body}
		n++
	}
	if n == 0 {
		rep.Already += already
		return true, nil
	}
	sealed, err := frame.Seal(ctx, keys, first, recs)
	if err != nil {
		return false, fmt.Errorf("erase: %w", err)
	}
	ok, err := st.ReplaceFrameBody(ctx, first, old, sealed)
	if err != nil || !ok {
		return false, err
	}
	rep.Entries += n
	rep.Already += already
	rep.Frames++
	return true, nil
}
