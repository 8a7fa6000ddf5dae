package ingest

import (
	"context"

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
