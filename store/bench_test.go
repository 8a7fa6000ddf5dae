package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
)

// BenchmarkAppendEvents measures the store's share of ingest: batches of
// 4096 rows shaped like real ones (frames of 64 with 110 sealed bytes per
// event, as the demo's events compress, and one patient each).
func BenchmarkAppendEvents(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			dsn := filepath.Join(b.TempDir(), "bench.db")
			if db == "postgres" {
				dsn = storetest.Postgres(b)
			}
			ctx := context.Background()
			s, err := store.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const batch = 4096
			rows := make([]store.EventRow, batch)
			body := make([]byte, 64*110)
			rand.Read(body)
			next := uint64(0)
			t0 := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range rows {
					r := &rows[j]
					*r = store.EventRow{Index: next, Time: t0.Add(time.Duration(next) * time.Millisecond), Source: "ehr", Kind: "access",
						Actor: fmt.Sprintf("u%04d", next%200), Action: "R"}
					rand.Read(r.Commitment[:])
					p := make([]byte, 16)
					rand.Read(p)
					r.Patients = [][]byte{p}
					next++
				}
				if err := s.AppendFrames(ctx, benchFrames(rows, 64, body)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func benchFrames(rows []store.EventRow, size int, body []byte) []store.Frame {
	var out []store.Frame
	for len(rows) > 0 {
		k := min(size, len(rows))
		out = append(out, store.Frame{First: rows[0].Index, Rows: rows[:k], Body: body})
		rows = rows[k:]
	}
	return out
}
