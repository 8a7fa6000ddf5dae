package demo

import (
	"context"
	"testing"

	"github.com/labtrust/labtrust"
)

// TestStreamStaysInPeriod: when the period can hold the events, none falls
// after its end, however small the stream.
func TestStreamStaysInPeriod(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		for _, n := range []int64{20, 50, 500, 2000, 20000} {
			for _, days := range []int{1, 2, 7, 30} {
				l := NewLab(Config{Seed: seed, Events: n, Days: days, Patients: 1000 + int(seed)*37})
				var first, last labtrust.Event
				count := 0
				if err := l.Stream(context.Background(), func(e labtrust.Event) error {
					if count == 0 {
						first = e
					}
					last = e
					count++
					return nil
				}, nil); err != nil {
					t.Fatal(err)
				}
				cfg := l.Config()
				if first.Time.Before(cfg.Start) || !last.Time.Before(cfg.End()) {
					t.Errorf("seed %d, %d events, %d days: events span %v..%v, period %v..%v",
						seed, n, days, first.Time, last.Time, cfg.Start, cfg.End())
				}
			}
		}
	}
}
