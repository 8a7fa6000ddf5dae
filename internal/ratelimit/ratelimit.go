// Package ratelimit counts attempts per key in fixed windows: sign-ins per
// client address in the console, notice look-ups per address and per
// code on the portal.
package ratelimit

import (
	"sync"
	"time"
)

// Window allows at most Max attempts per key per window.
type Window struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	by     map[string]*tries
}

type tries struct {
	start time.Time
	n     int
}

// New returns a limiter of max attempts per key per window.
func New(max int, window time.Duration) *Window {
	return &Window{max: max, window: window, now: time.Now, by: map[string]*tries{}}
}

// SetClock replaces the clock (tests).
func (w *Window) SetClock(now func() time.Time) { w.now = now }

// Allow counts one attempt for key and reports whether it is within the
// limit.
func (w *Window) Allow(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if len(w.by) > 100_000 {
		// Bound memory under a flood of keys: forget finished windows.
		for k, t := range w.by {
			if now.Sub(t.start) >= w.window {
				delete(w.by, k)
			}
		}
	}
	t := w.by[key]
	if t == nil || now.Sub(t.start) >= w.window {
		t = &tries{start: now}
		w.by[key] = t
	}
	t.n++
	return t.n <= w.max
}
