package notice

import (
	"bytes"
	"context"
	"errors"
	"iter"

	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/registry"
)

// registryCursor reads the whole registry once, in blind-index order (one
// snapshot, breach.AllPatients), beside a scope read in the same order.
// For a scope of everyone the registry holds, that is one pass instead
// of a row look-up per person, each landing on another page of the
// registry: at ten million people, most of preparing their notices.
type registryCursor struct {
	next func() ([]*registry.Entry, error, bool)
	stop func()
	page []*registry.Entry
	i    int
	done bool
}

var errCursorStopped = errors.New("registry cursor stopped")

func newRegistryCursor(ctx context.Context, all breach.AllPatients) *registryCursor {
	seq := func(yield func([]*registry.Entry, error) bool) {
		err := all.Each(ctx, func(es []*registry.Entry) error {
			if !yield(es, nil) {
				return errCursorStopped
			}
			return nil
		})
		if err != nil && !errors.Is(err, errCursorStopped) {
			yield(nil, err)
		}
	}
	next, stop := iter.Pull2(seq)
	return &registryCursor{next: next, stop: stop}
}

// match returns the registry entry of each person of part (in blind-index
// order, after the people of earlier calls), nil for those the registry's
// current people do not include (merged or forgotten since the scope, or
// found only in the ledger).
func (c *registryCursor) match(part []breach.Affected) ([]*registry.Entry, error) {
	out := make([]*registry.Entry, len(part))
	for k := range part {
		for !c.done {
			if c.i == len(c.page) {
				page, err, ok := c.next()
				if err != nil {
					return nil, err
				}
				if !ok {
					c.done = true
					break
				}
				c.page, c.i = page, 0
				continue
			}
			cmp := bytes.Compare(c.page[c.i].Blind, part[k].Blind)
			if cmp > 0 {
				break
			}
			if cmp == 0 {
				out[k] = c.page[c.i]
				c.i++
				break
			}
			c.i++ // in the registry, not in the scope: joined since
		}
	}
	return out, nil
}
