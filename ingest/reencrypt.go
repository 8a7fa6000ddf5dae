package ingest

import (
	"context"
	"fmt"

	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/store"
)

// ReencryptStore is what re-encryption reads and rewrites.
type ReencryptStore interface {
	NextIndex(ctx context.Context) (uint64, error)
	Frames(ctx context.Context, from, to uint64, fn func(*store.Frame) error) error
	ReplaceFrameBody(ctx context.Context, first uint64, old, body []byte) (bool, error)
	ListQuarantine(ctx context.Context, f store.QuarantineFilter) ([]store.QuarantineItem, error)
	GetQuarantine(ctx context.Context, id int64) (store.QuarantineItem, error)
	ReplaceQuarantineRaw(ctx context.Context, id int64, old, raw []byte) (bool, error)
}

// ReencryptKeys opens with any key and seals with the primary.
type ReencryptKeys interface {
	Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error)
	Open(dst, sealed, aad []byte) ([]byte, error)
	KeyOf(sealed []byte) (id uint32, primary bool)
}

// ReencryptReport says what re-encryption found and did.
type ReencryptReport struct {
	Frames, Quarantined int            // looked at
	Resealed            int            // re-sealed under the primary key
	Remaining           map[uint32]int // ciphertexts still under a non-primary key, by key (zero after a full run)
}

// Reencrypt re-seals every frame and quarantined record that a key other
// than the primary sealed, a chunk at a time, while ingest goes on: new
// frames are sealed with the primary already, and a row that changed under
// it is left for the next run. dryRun only counts. progress, if set, gets
// entries done out of the total.
func Reencrypt(ctx context.Context, st ReencryptStore, keys ReencryptKeys, dryRun bool, progress func(done, total int64)) (ReencryptReport, error) {
	rep := ReencryptReport{Remaining: map[uint32]int{}}
	total, err := st.NextIndex(ctx)
	if err != nil {
		return rep, err
	}
	const chunk = 64 * 1024
	for from := uint64(0); from < total; from += chunk {
		type redo struct {
			first      uint64
			old, fresh []byte
		}
		var todo []redo
		err := st.Frames(ctx, from, min(from+chunk, total), func(f *store.Frame) error {
			if f.First < from {
				return nil // the previous chunk had it
			}
			rep.Frames++
			id, primary := keys.KeyOf(f.Body)
			if primary {
				return nil
			}
			aad := frame.AAD(f.First, len(f.Rows))
			if dryRun {
				rep.Remaining[id]++
				return nil
			}
			pt, err := keys.Open(nil, f.Body, aad)
			if err != nil {
				return fmt.Errorf("frame at %d does not open (run labtrust verify): %w", f.First, err)
			}
			fresh, err := keys.Seal(ctx, nil, pt, aad)
			if err != nil {
				return err
			}
			todo = append(todo, redo{f.First, append([]byte(nil), f.Body...), fresh})
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("re-encrypt: %w", err)
		}
		for _, r := range todo {
			ok, err := st.ReplaceFrameBody(ctx, r.first, r.old, r.fresh)
			if err != nil {
				return rep, fmt.Errorf("re-encrypt: %w", err)
			}
			if ok {
				rep.Resealed++
			} else if id, primary := keys.KeyOf(r.old); !primary {
				rep.Remaining[id]++
			}
		}
		if progress != nil {
			progress(int64(min(from+chunk, total)), int64(total))
		}
	}
	var after int64
	for {
		items, err := st.ListQuarantine(ctx, store.QuarantineFilter{After: after, Limit: 1000})
		if err != nil {
			return rep, fmt.Errorf("re-encrypt: %w", err)
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			after = it.ID
			full, err := st.GetQuarantine(ctx, it.ID)
			if err != nil {
				return rep, fmt.Errorf("re-encrypt: %w", err)
			}
			rep.Quarantined++
			id, primary := keys.KeyOf(full.Raw)
			if primary {
				continue
			}
			if dryRun {
				rep.Remaining[id]++
				continue
			}
			aad := quarantineAAD(full.Source, full.Format)
			pt, err := keys.Open(nil, full.Raw, aad)
			if err != nil {
				return rep, fmt.Errorf("re-encrypt: quarantined item %d does not open: %w", it.ID, err)
			}
			fresh, err := keys.Seal(ctx, nil, pt, aad)
			if err != nil {
				return rep, err
			}
			ok, err := st.ReplaceQuarantineRaw(ctx, it.ID, full.Raw, fresh)
			if err != nil {
				return rep, fmt.Errorf("re-encrypt: %w", err)
			}
			if ok {
				rep.Resealed++
			} else {
				rep.Remaining[id]++
			}
		}
	}
	return rep, nil
}
