package store_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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

// TestPatientRowsInBlindOrder: on SQLite a new patient's row id follows
// their blind index, so a whole-registry read in blind-index order walks
// the table from start to end; people whose blind indexes share the bits
// the id is made of still each get a row, and every read finds them.
func TestPatientRowsInBlindOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		row := func(blind []byte) store.PatientRow {
			return store.PatientRow{Blind: blind, Key: []byte("k"), Record: []byte("sealed"), Source: "adt", UpdatedAt: time.Now()}
		}
		blind := func() []byte {
			b := make([]byte, 32)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		}
		var want [][]byte
		for batch := range 5 {
			var rows []store.PatientRow
			for range 700 {
				rows = append(rows, row(blind()))
			}
			// A twin: the same first 53 bits as someone of the batch, a
			// different blind index; in the same batch once, else alone
			// after it.
			twin := bytes.Clone(rows[0].Blind)
			twin[31] ^= 1
			if batch == 0 {
				rows = append(rows, row(twin))
			}
			for _, r := range rows {
				want = append(want, r.Blind)
			}
			if err := db.UpsertPatients(ctx, rows); err != nil {
				t.Fatal(err)
			}
			if batch > 0 {
				want = append(want, twin)
				if err := db.UpsertPatients(ctx, []store.PatientRow{row(twin)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		slices.SortFunc(want, bytes.Compare)
		var got []store.PatientRow
		if err := db.LivePatients(ctx, func(page []store.PatientRow) error {
			got = append(got, page...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("read %d patients, want %d", len(got), len(want))
		}
		ids := map[int64]bool{}
		out := 0
		for i, r := range got {
			if !bytes.Equal(r.Blind, want[i]) {
				t.Fatalf("patient %d read out of blind-index order", i)
			}
			if ids[r.ID] {
				t.Fatalf("row id %d given twice", r.ID)
			}
			ids[r.ID] = true
			if i > 0 && r.ID < got[i-1].ID {
				out++
			}
			byBlind, err := db.PatientByBlind(ctx, r.Blind)
			if err != nil || byBlind.ID != r.ID {
				t.Fatalf("patient %d by blind index: id %d, %v; want %d", i, byBlind.ID, err, r.ID)
			}
		}
		// The second twin of each pair cannot have the id its blind index
		// asks for: at most those few are out of order on SQLite.
		if db.Dialect() == store.SQLite && out > 5 {
			t.Fatalf("%d of %d rows out of blind-index order in the table; want at most the 5 twins", out, len(got))
		}
	})
}

// TestPagedReadPlansWithoutStatistics: on PostgreSQL the store's paged
// reads of millions of rows (a whole-registry read, an incident's notices,
// the next free monitoring codes) walk their indexes even when the tables
// have never been analysed (a restored or freshly loaded database,
// autovacuum off). Left to its guesses the planner fetches and sorts every
// matching row for each page.
func TestPagedReadPlansWithoutStatistics(t *testing.T) {
	dsn := storetest.Postgres(t)
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 20000
	var patients []store.PatientRow
	var notices []store.NoticeRow
	var codes [][]byte
	for i := range n {
		blind := fmt.Appendf(nil, "blind-%08d", i)
		patients = append(patients, store.PatientRow{Blind: blind, Key: []byte("k"), Record: []byte("sealed"), Source: "adt", UpdatedAt: time.Now()})
		notices = append(notices, store.NoticeRow{Incident: 1, CodeHash: fmt.Appendf(nil, "code-%08d", i), Patient: blind, Channel: "mail", Language: "en", Status: "prepared", CreatedAt: time.Now(), Body: []byte("sealed")})
		codes = append(codes, fmt.Appendf(nil, "sealed-code-%08d", i))
	}
	if err := db.UpsertPatients(ctx, patients); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddNotices(ctx, notices); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMonitoringCodes(ctx, 1, codes); err != nil {
		t.Fatal(err)
	}
	for name, read := range store.PagedReads {
		plan, err := db.ExplainIndexOrder(ctx, read.Query, read.Args...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "Index Scan") || strings.Contains(plan, "Sort") {
			t.Errorf("a page of %s is planned as\n%s\nwant an index scan and no sort", name, plan)
		}
	}
}
