package demo

import (
	"context"
	"testing"

	"github.com/labtrust/labtrust"
)

// BenchmarkStream measures generation alone: b.N events of a lab sized for
// them (at least 1M events, so the per-stream setup does not dominate).
func BenchmarkStream(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"default-lab", Config{Events: 100_000_000}},
		{"1M-patients", Config{Patients: 1_000_000, Events: 100_000_000}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := NewLab(tc.cfg)
			stop := context.Canceled
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			err := l.Stream(context.Background(), func(ev labtrust.Event) error {
				n++
				if n >= b.N {
					return stop
				}
				return nil
			}, nil)
			if err == nil {
				b.Fatal("stream ended early")
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkPatient(b *testing.B) {
	l := NewLab(Config{Patients: 1_000_000})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = l.Patient(i)
		i++
	}
}

func BenchmarkNewLab1M(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewLab(Config{Patients: 1_000_000, Events: 100_000_000})
	}
}

func BenchmarkOrder(b *testing.B) {
	l := NewLab(Config{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Order(i % 9000); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
