package store_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
)

// TestLivePatientsSnapshot: a whole-registry read is the registry as of
// its start, across its pages, while other connections write (as a scope
// stores its parts, and an import may run), and those writes neither wait
// on it nor fail.
func TestLivePatientsSnapshot(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		row := func(i int) store.PatientRow {
			return store.PatientRow{Blind: fmt.Appendf(nil, "b%06d", i), Key: []byte("k"), Record: []byte("sealed"), Source: "adt", UpdatedAt: time.Now()}
		}
		const n = 12_000 // three pages
		var rows []store.PatientRow
		for i := 0; i < n; i += 2 {
			rows = append(rows, row(i))
		}
		if err := db.UpsertPatients(ctx, rows); err != nil {
			t.Fatal(err)
		}
		var seen [][]byte
		pages := 0
		err = db.LivePatients(ctx, func(page []store.PatientRow) error {
			pages++
			for _, r := range page {
				seen = append(seen, r.Blind)
			}
			// Someone joins the registry mid-read, between two of the
			// people already read and after the last: the read must not
			// see them, and the write must go through now.
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return db.UpsertPatients(wctx, []store.PatientRow{row(2*pages*1000 + 1), row(n + pages)})
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != n/2 || pages < 2 {
			t.Fatalf("read %d patients in %d pages, want %d over several pages", len(seen), pages, n/2)
		}
		for i := range seen {
			if !bytes.Equal(seen[i], row(2*i).Blind) {
				t.Fatalf("patient %d read is %s, want %s (in blind order, as of the start)", i, seen[i], row(2*i).Blind)
			}
		}
		after := 0
		if err := db.LivePatients(ctx, func(page []store.PatientRow) error { after += len(page); return nil }); err != nil {
			t.Fatal(err)
		}
		if after != n/2+2*pages {
			t.Fatalf("a later read sees %d, want %d with the ones who joined", after, n/2+2*pages)
		}
	})
}
