// Package par runs independent pieces of a batch on every core.
package par

import (
	"errors"
	"runtime"
	"sync"
)

// With runs fn(st, i) for i in [0, n) on up to GOMAXPROCS goroutines, in
// contiguous ranges, each goroutine with its own state from newState (for
// things not safe to share, such as a keyed hash). grain is how many items
// are worth one goroutine's start-up: fewer than 2*grain run on one. It
// returns every worker's first error, joined.
func With[S any](n, grain int, newState func() S, fn func(st S, i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/max(grain, 1)))
	if workers == 1 {
		st := newState()
		for i := 0; i < n; i++ {
			if err := fn(st, i); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	span := (n + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*span, min((w+1)*span, n)
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			st := newState()
			for i := lo; i < hi; i++ {
				if err := fn(st, i); err != nil {
					errs[w] = err
					return
				}
			}
		}(w, lo, hi)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Do is With without per-goroutine state.
func Do(n, grain int, fn func(i int) error) error {
	return With(n, grain, func() struct{} { return struct{}{} }, func(_ struct{}, i int) error { return fn(i) })
}
