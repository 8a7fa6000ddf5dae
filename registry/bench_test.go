package registry_test

import (
	"bytes"
	"context"
	"fmt"
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
