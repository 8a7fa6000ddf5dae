package registry_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/hl7"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store/storetest"
)

// adtFile is n demo patients as A04 messages, one after another.
func adtFile(n int) []byte {
	lab := demo.NewLab(demo.Config{Seed: 7, Patients: n})
	var b bytes.Buffer
	t := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		b.Write(hl7.EncodeADT(lab.Patient(i).Record(), "A04", fmt.Sprint("C", i), t, nil))
	}
	return b.Bytes()
}

// BenchmarkImportADT measures ADT import into the registry: parse, seal
// each record under a new per-patient key, blind indexes, store. Inputs:
// demo patients as A04 messages (~600 bytes each), in a fresh database.
func BenchmarkImportADT(b *testing.B) {
	const n = 20000
	in := adtFile(n)
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dsn := filepath.Join(b.TempDir(), "r.db")
				if db == "postgres" {
					dsn = storetest.Postgres(b)
				}
				f := openB(b, dsn)
				sink := &registry.Sink{Reg: f.reg, Quarantine: func(context.Context, []labtrust.Reject) ([]int64, error) {
					b.Fatal("unexpected reject")
					return nil, nil
				}}
				b.StartTimer()
				if err := hl7.ParseStream(ctx, "adt", bytes.NewReader(in), sink); err != nil {
					b.Fatal(err)
				}
				if err := sink.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if sink.Imported != n {
					b.Fatalf("imported %d", sink.Imported)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "patients/s")
		})
	}
}

// BenchmarkLookup measures exact lookups in a registry of
// LABTRUST_BENCH_PATIENTS demo patients (default 20,000; the README's
// figures used 1,000,000 and 10,000,000): by MRN (Get) and by phone
// (Find), each a blind-index probe, a row read and a record opened. The
// MRN lookups run twice over the same patients: "cold" reads pages from
// disk, "warm" from the page cache. LABTRUST_BENCH_REGISTRY=DIR keeps the
// database (and its KEK) in DIR and reuses it when it is already there.
func BenchmarkLookup(b *testing.B) {
	n := 20000
	if v := os.Getenv("LABTRUST_BENCH_PATIENTS"); v != "" {
		fmt.Sscan(v, &n)
	}
	ctx := context.Background()
	dir := os.Getenv("LABTRUST_BENCH_REGISTRY")
	if dir == "" {
		dir = b.TempDir()
	}
	dbPath := filepath.Join(dir, "r.db")
	_, statErr := os.Stat(dbPath)
	f := openAt(b, dbPath, dir)
	lab := demo.NewLab(demo.Config{Seed: 7, Patients: n})
	if statErr != nil {
		const batch = 5000
		for start := 0; start < n; start += batch {
			recs := make([]labtrust.PatientRecord, 0, batch)
			for i := start; i < min(start+batch, n); i++ {
				recs = append(recs, labtrust.PatientRecord{Source: "bench", Patient: lab.Patient(i).Record(), Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
			}
			if err := f.reg.Import(ctx, recs); err != nil {
				b.Fatal(err)
			}
		}
	}
	mrn := func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p := lab.Patient((i * 7919) % n)
			e, err := f.reg.Get(ctx, p.MRN)
			if err != nil || e.Patient.ID.ID != p.MRN {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/lookup")
	}
	b.Run("mrn-cold", mrn)
	b.Run("mrn-warm", mrn)
	b.Run("phone", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p := lab.Patient((i * 7919) % n)
			if _, err := f.reg.Find(ctx, registry.LookupPhone, p.Phone); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/lookup")
	})
}
