package console

import (
	"sync"
	"time"
)

// attempts limits sign-in tries per client address (a fixed window), on
// top of identity's per-account lockout: one address cannot try many
// accounts quickly either.
type attempts struct {
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

func newAttempts(max int, window time.Duration) *attempts {
	return &attempts{max: max, window: window, now: time.Now, by: map[string]*tries{}}
}

// allow counts one attempt from addr and reports whether it is within the
// limit.
func (a *attempts) allow(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if len(a.by) > 100_000 {
		// Bound memory under a flood of addresses: forget finished windows.
		for k, t := range a.by {
			if now.Sub(t.start) >= a.window {
				delete(a.by, k)
			}
		}
	}
	t := a.by[addr]
	if t == nil || now.Sub(t.start) >= a.window {
		t = &tries{start: now}
		a.by[addr] = t
	}
	t.n++
	return t.n <= a.max
}
