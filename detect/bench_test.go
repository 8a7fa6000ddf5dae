package detect_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/detect"
	"github.com/labtrust/labtrust/sigma"
)

// ruleSet writes detect.GenerateRules(n) into a rules directory.
func ruleSet(tb testing.TB, n int) string {
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gen.yml"), []byte(detect.GenerateRules(n)), 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// demoEntries returns n demo events as ledger entries.
func demoEntries(tb testing.TB, n int) []labtrust.Entry {
	lab := demo.NewLab(demo.Config{Seed: 5, Patients: 20000, Events: int64(n)}.WithDefaults())
	out := make([]labtrust.Entry, 0, n)
	err := lab.Stream(context.Background(), func(e labtrust.Event) error {
		if len(out) < n {
			out = append(out, labtrust.Entry{Index: uint64(len(out)), Event: e})
		}
		return nil
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkEval is the rule engine alone: 100 generated rules plus the
// built-in pack over demo events (already decoded), one core.
func BenchmarkEval(b *testing.B) {
	e, err := detect.Open(ruleSet(b, 100), sigma.Options{})
	if err != nil {
		b.Fatal(err)
	}
	entries := demoEntries(b, 100000)
	alerts := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Eval(&entries[i%len(entries)], func(labtrust.Alert) { alerts++ })
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(e.Rules())), "rules")
}
