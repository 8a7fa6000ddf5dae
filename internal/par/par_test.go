package par

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestEveryItemOnceAndErrors(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		seen := make([]atomic.Int32, n)
		states := atomic.Int32{}
		err := With(n, 10, func() int { states.Add(1); return 0 }, func(_ int, i int) error { seen[i].Add(1); return nil })
		if err != nil {
			t.Fatal(err)
		}
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("n=%d: item %d ran %d times", n, i, seen[i].Load())
			}
		}
		if states.Load() < 1 {
			t.Fatalf("n=%d: no state made", n)
		}
	}
	boom := errors.New("boom")
	if err := Do(1000, 10, func(i int) error {
		if i == 999 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Fatalf("error lost: %v", err)
	}
}
