package ledger

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
)

// BenchmarkAppendCheckpoint appends b.N entries in batches of 1000 and
// publishes a durable checkpoint every 10,000 entries (fsyncs of the new tile files, one
// atomic checkpoint write, one history append each).
func BenchmarkAppendCheckpoint(b *testing.B) {
	k := newTestKey(b, testOrigin)
	ctx := context.Background()
	l, err := Open(ctx, b.TempDir(), testOrigin, k.signer)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := entries(0, 1000)
	b.ResetTimer()
	for n := 0; n < b.N; n += len(batch) {
		m := min(len(batch), b.N-n)
		if _, err := l.Append(batch[:m]); err != nil {
			b.Fatal(err)
		}
		if l.Size()-l.Checkpointed() >= 10000 {
			if _, err := l.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppend measures Append alone (hashing and tile writes).
func BenchmarkAppend(b *testing.B) {
	k := newTestKey(b, testOrigin)
	l, err := Open(context.Background(), b.TempDir(), testOrigin, k.signer)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := entries(0, 1000)
	b.ResetTimer()
	for n := 0; n < b.N; n += len(batch) {
		if _, err := l.Append(batch[:min(len(batch), b.N-n)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

var benchLedger struct {
	once sync.Once
	dir  string
	key  testKey
}

// benchVerifySize is the size of the ledger BenchmarkVerify checks; set
// LEDGER_BENCH_SIZE to change it.
func benchVerifySize() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("LEDGER_BENCH_SIZE"), 10, 64); err == nil && s > 0 {
		return s
	}
	return 1 << 20
}

// BenchmarkVerify verifies a ledger of about a million entries with 100
// checkpoints in its history; each iteration is one full Verify.
func BenchmarkVerify(b *testing.B) {
	size := benchVerifySize()
	benchLedger.once.Do(func() {
		dir, err := os.MkdirTemp("", "ledger-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchLedger.dir = dir
		benchLedger.key = newTestKey(b, testOrigin)
		ctx := context.Background()
		l, err := Open(ctx, dir, testOrigin, benchLedger.key.signer)
		if err != nil {
			b.Fatal(err)
		}
		step := size / 100
		for l.Size() < size {
			if _, err := l.Append(entries(l.Size(), min(l.Size()+step, size))); err != nil {
				b.Fatal(err)
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
		}
		l.Close()
	})
	b.Cleanup(func() {})
	b.SetBytes(int64(size) * 34)
	b.ResetTimer()
	for range b.N {
		rep, err := Verify(context.Background(), benchLedger.dir, testOrigin, benchLedger.key.verifier, nil)
		if err != nil || !rep.OK() {
			b.Fatal(err, rep.Problems)
		}
	}
	b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchLedger.dir != "" {
		os.RemoveAll(benchLedger.dir)
	}
	os.Exit(code)
}
