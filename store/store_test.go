package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
)

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// Reopening applies no migration twice.
		db2, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		db2.Close()

		n, err := db.NextIndex(ctx)
		if err != nil || n != 0 {
			t.Fatalf("empty NextIndex = %d, %v", n, err)
		}
		if _, _, err := db.PatientHead(ctx, []byte("p1")); !errors.Is(err, labtrust.ErrNotFound) {
			t.Fatalf("PatientHead on empty store: %v, want ErrNotFound", err)
		}
		t0 := time.Date(2026, 10, 1, 8, 0, 0, 123456000, time.UTC)
		var rows []store.EventRow
		for i := 0; i < 250; i++ {
			r := store.EventRow{Index: uint64(i), Time: t0.Add(time.Duration(i) * time.Second), Source: "lis", Kind: "access",
				Actor: "u1", Action: "R"}
			r.Commitment[0] = byte(i)
			r.Patients = [][]byte{[]byte("p1")}
			if i%2 == 0 {
				r.Patients = append(r.Patients, []byte("p2"))
			}
			rows = append(rows, r)
		}
		if err := db.AppendFrames(ctx, framesOf(rows[:120], 64)); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendFrames(ctx, framesOf(rows[120:], 64)); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendFrames(ctx, framesOf(rows[5:6], 64)); !errors.Is(err, labtrust.ErrConflict) {
			t.Fatalf("duplicate index: %v, want ErrConflict", err)
		}
		gap := rows[249]
		gap.Index = 251
		if err := db.AppendFrames(ctx, framesOf([]store.EventRow{gap}, 64)); err == nil || errors.Is(err, labtrust.ErrConflict) {
			t.Fatalf("frame after a gap: %v, want a gap error", err)
		}
		if n, _ := db.NextIndex(ctx); n != 250 {
			t.Fatalf("NextIndex = %d, want 250", n)
		}
		idx, c, err := db.PatientHead(ctx, []byte("p2"))
		if err != nil || idx != 248 || c[0] != 248 {
			t.Fatalf("PatientHead(p2) = %d %x %v", idx, c[0], err)
		}
		var seen []uint64
		if err := db.PatientFrames(ctx, []byte("p2"), func(f *store.Frame, idxs []uint64) error {
			if want := frameBody(f.First, len(f.Rows)); !bytes.Equal(f.Body, want) {
				t.Errorf("frame %d body %q, want %q", f.First, f.Body, want)
			}
			for _, idx := range idxs {
				r := f.Rows[idx-f.First]
				if r.Index != idx || !r.Time.Equal(t0.Add(time.Duration(r.Index)*time.Second)) || r.Actor != "u1" || r.Commitment[0] != byte(idx) {
					t.Errorf("event %d: %+v", idx, r)
				}
			}
			seen = append(seen, idxs...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 125 || seen[0] != 0 || seen[124] != 248 {
			t.Fatalf("p2 events: %d, first %v", len(seen), seen[:3])
		}
		var cs int
		if err := db.Commitments(ctx, 10, 20, func(i uint64, c [32]byte) error {
			if c[0] != byte(i) {
				t.Errorf("commitment %d = %x", i, c[0])
			}
			cs++
			return nil
		}); err != nil || cs != 10 {
			t.Fatalf("commitments: %d %v", cs, err)
		}
		var events int
		if err := db.Events(ctx, 3, 1000, func(r *store.EventRow) error {
			if r.Index != uint64(events)+3 || r.Source != "lis" || r.Kind != "access" || r.Action != "R" || r.Patients != nil {
				t.Errorf("event %d = %+v", events+3, r)
			}
			events++
			return nil
		}); err != nil || events != 247 {
			t.Fatalf("Events returned %d rows, %v", events, err)
		}
		var frames []uint64
		if err := db.Frames(ctx, 70, 130, func(f *store.Frame) error {
			if want := frameBody(f.First, len(f.Rows)); !bytes.Equal(f.Body, want) {
				t.Errorf("frame %d body %q, want %q", f.First, f.Body, want)
			}
			frames = append(frames, f.First, f.Next())
			return nil
		}); err != nil || fmt.Sprint(frames) != "[64 120 120 184]" {
			t.Fatalf("Frames(70, 130) = %v %v", frames, err)
		}

		// Keys.
		if err := db.SaveKey(ctx, vault.WrappedKey{ID: 1, Purpose: vault.PurposeData, KEKID: "k", Wrapped: []byte{1}, Created: t0}); err != nil {
			t.Fatal(err)
		}
		ks, err := db.LoadKeys(ctx)
		if err != nil || len(ks) != 1 || ks[0].Purpose != vault.PurposeData || !ks[0].Created.Equal(t0.Truncate(time.Second)) {
			t.Fatalf("LoadKeys = %+v %v", ks, err)
		}
		ks[0].KEKID, ks[0].Wrapped = "hcvault://v/transit/keys/k", []byte{2, 3}
		if err := db.ReplaceWrapped(ctx, ks); err != nil {
			t.Fatal(err)
		}
		if ks2, _ := db.LoadKeys(ctx); len(ks2) != 1 || ks2[0].KEKID != "hcvault://v/transit/keys/k" || !bytes.Equal(ks2[0].Wrapped, []byte{2, 3}) || ks2[0].Purpose != vault.PurposeData {
			t.Fatalf("after ReplaceWrapped: %+v", ks2)
		}
		if err := db.ReplaceWrapped(ctx, []vault.WrappedKey{{ID: 99, KEKID: "x", Wrapped: []byte{1}}}); !errors.Is(err, labtrust.ErrNotFound) {
			t.Fatalf("rewrap of a missing key: %v", err)
		}

		// Quarantine.
		items := []store.QuarantineItem{
			{Source: "lis", Format: "csv", Position: "line 3", Reason: "time: missing", Raw: []byte("sealed-1")},
			{Source: "ehr", Format: "fhir", Position: "line 9", Reason: "bad json", Raw: []byte("sealed-2")},
		}
		if err := db.AddQuarantine(ctx, items); err != nil {
			t.Fatal(err)
		}
		if items[0].ID == 0 || items[1].ID <= items[0].ID {
			t.Fatalf("ids %d %d", items[0].ID, items[1].ID)
		}
		list, err := db.ListQuarantine(ctx, store.QuarantineFilter{Source: "lis"})
		if err != nil || len(list) != 1 || list[0].Reason != "time: missing" || list[0].Raw != nil {
			t.Fatalf("list = %+v %v", list, err)
		}
		got, err := db.GetQuarantine(ctx, items[1].ID)
		if err != nil || string(got.Raw) != "sealed-2" || got.Status != store.QuarantinePending {
			t.Fatalf("get = %+v %v", got, err)
		}
		if err := db.RecordRetry(ctx, items[1].ID, false, "still bad"); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordRetry(ctx, items[0].ID, true, ""); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordRetry(ctx, 99999, true, ""); !errors.Is(err, labtrust.ErrNotFound) {
			t.Fatalf("retry of missing item: %v", err)
		}
		got, _ = db.GetQuarantine(ctx, items[1].ID)
		if got.Attempts != 1 || got.Reason != "still bad" || got.Status != store.QuarantinePending {
			t.Fatalf("after failed retry: %+v", got)
		}
		if _, err := db.GetQuarantine(ctx, 99999); !errors.Is(err, labtrust.ErrNotFound) {
			t.Fatalf("missing item: %v", err)
		}
		counts, err := db.QuarantineCounts(ctx)
		if err != nil || len(counts) != 2 {
			t.Fatalf("counts = %+v %v", counts, err)
		}
		st, err := db.Stats(ctx)
		if err != nil || st.Events != 250 || st.QuarantinePending != 1 {
			t.Fatalf("stats = %+v %v", st, err)
		}
	})
}

func TestSearchByBlocks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		var rows []store.EventRow
		for i := 0; i < 2000; i++ {
			r := store.EventRow{Index: uint64(i), Time: t0.Add(time.Duration(i) * time.Minute), Source: []string{"ehr", "lis"}[i%2],
				Kind: []string{"access", "security"}[i%3/2], Actor: fmt.Sprintf("u%d", i%7), Action: "R"}
			if i == 1500 {
				r.Time = t0 // an event that arrived late: its block's range must still cover it
			}
			rows = append(rows, r)
		}
		for _, chunk := range [][]store.EventRow{rows[:700], rows[700:]} { // a block spans two batches
			if err := db.AppendFrames(ctx, framesOf(chunk, 64)); err != nil {
				t.Fatal(err)
			}
		}
		count := func(f store.Filter) (n int, first uint64) {
			first = 1 << 62
			if err := db.Search(ctx, f, func(r *store.EventRow) error {
				if n == 0 {
					first = r.Index
				}
				n++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return
		}
		want := func(f store.Filter) int {
			n := 0
			for _, r := range rows {
				if (f.From.IsZero() || !r.Time.Before(f.From)) && (f.To.IsZero() || !r.Time.After(f.To)) &&
					(f.Actor == "" || r.Actor == f.Actor) && (f.Source == "" || r.Source == f.Source) && (f.Kind == "" || r.Kind == f.Kind) {
					n++
				}
			}
			return n
		}
		for _, f := range []store.Filter{
			{},
			{Actor: "u3"},
			{Actor: "u3", From: t0.Add(100 * time.Minute), To: t0.Add(900 * time.Minute)},
			{Source: "lis", Kind: "security"},
			{Kind: "access", To: t0.Add(10 * time.Minute)},
			{Actor: "nobody"},
		} {
			if got, w := func() int { n, _ := count(f); return n }(), want(f); got != w {
				t.Errorf("Search(%+v) = %d events, want %d", f, got, w)
			}
		}
		if n, first := count(store.Filter{To: t0}); n != 2 || first != 0 {
			t.Errorf("events at t0: %d (first %d), want 2 including the late one", n, first)
		}
	})
}

func TestLockWriter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		release, err := a.LockWriter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.LockWriter(ctx)
		if a.Dialect() == store.Postgres && !errors.Is(err, labtrust.ErrLocked) {
			t.Fatalf("second writer on one schema: %v, want ErrLocked", err)
		}
		if a.Dialect() == store.SQLite && err != nil {
			t.Fatalf("SQLite relies on the ledger's lock: %v", err)
		}
		release()
		r2, err := b.LockWriter(ctx)
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		r2()
	})
}

// frameBody stands in for a sealed frame: the store keeps it opaque.
func frameBody(first uint64, n int) []byte { return []byte(fmt.Sprintf("frame %d+%d", first, n)) }

func framesOf(rows []store.EventRow, size int) []store.Frame {
	var out []store.Frame
	for len(rows) > 0 {
		k := min(size, len(rows))
		out = append(out, store.Frame{First: rows[0].Index, Rows: rows[:k], Body: frameBody(rows[0].Index, k)})
		rows = rows[k:]
	}
	return out
}

func TestStaffAndPasskeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		r := store.StaffRow{Username: "ana", Role: "staff", Password: "$argon2id$x", CreatedAt: time.Unix(100, 0)}
		if err := db.AddStaff(ctx, &r); err != nil || r.ID == 0 {
			t.Fatalf("add staff: %v", err)
		}
		if err := db.AddStaff(ctx, &store.StaffRow{Username: "ana", Role: "staff", CreatedAt: time.Unix(1, 0)}); !errors.Is(err, labtrust.ErrConflict) {
			t.Fatalf("duplicate: %v", err)
		}
		if err := db.AddPasskey(ctx, r.ID, []byte{1, 2}, []byte(`{"id":"AQI"}`), time.Unix(200, 0)); err != nil {
			t.Fatal(err)
		}
		if err := db.AddPasskey(ctx, r.ID, []byte{1, 2}, []byte(`{}`), time.Unix(201, 0)); !errors.Is(err, labtrust.ErrConflict) {
			t.Fatalf("duplicate credential: %v", err)
		}
		if err := db.UpdatePasskey(ctx, []byte{1, 2}, []byte(`{"id":"AQI","n":2}`)); err != nil {
			t.Fatal(err)
		}
		got, err := db.Passkeys(ctx, r.ID)
		if err != nil || len(got) != 1 || string(got[0]) != `{"id":"AQI","n":2}` {
			t.Fatalf("passkeys %q %v", got, err)
		}
		ok, err := db.AcceptTOTPStep(ctx, r.ID, 5)
		if err != nil || !ok {
			t.Fatalf("first step: %v %v", ok, err)
		}
		if ok, _ := db.AcceptTOTPStep(ctx, r.ID, 5); ok {
			t.Fatal("a time step accepted twice")
		}
	})
}

// TestSearchSealedBlocks: once a block is complete its per-actor frame
// lists are written, and a search for one account reads only those
// frames; the answers equal those of decoding whole blocks, including
// for a frame that straddles two blocks.
func TestSearchSealedBlocks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		const n = 2<<store.BlockShift + 5000
		rows := make([]store.EventRow, n)
		for i := range rows {
			rows[i] = store.EventRow{Index: uint64(i), Time: t0.Add(time.Duration(i) * time.Second), Source: "lis", Kind: "access",
				Actor: fmt.Sprintf("u%d", i%97), Action: "R"}
			if i%5000 == 17 {
				rows[i].Actor = "rare"
			}
		}
		// Batches of 1000 with frames of 64: a frame straddles 65536.
		for i := 0; i < n; i += 1000 {
			if err := db.AppendFrames(ctx, framesOf(rows[i:min(i+1000, n)], 64)); err != nil {
				t.Fatal(err)
			}
		}
		var sealed int
		if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM event_blocks WHERE sealed = 1`).Scan(&sealed); err != nil || sealed != 2 {
			t.Fatalf("sealed blocks: %d %v", sealed, err)
		}
		search := func(f store.Filter) []uint64 {
			var out []uint64
			if err := db.Search(ctx, f, func(r *store.EventRow) error { out = append(out, r.Index); return nil }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		filters := []store.Filter{
			{Actor: "rare"},
			{Actor: "u5"},
			{Actor: "u5", From: t0.Add(60000 * time.Second), To: t0.Add(70000 * time.Second)},
			{Actor: "nobody"},
		}
		// ScanFrames selects the same entries, with bodies, concurrently.
		scan := func(f store.Filter) []uint64 {
			var mu sync.Mutex
			var out []uint64
			if err := db.ScanFrames(ctx, f, 3, func(fr *store.Frame, rows []int) error {
				if len(fr.Body) == 0 {
					return errors.New("a frame without its body")
				}
				mu.Lock()
				for _, r := range rows {
					out = append(out, fr.Rows[r].Index)
				}
				mu.Unlock()
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			slices.Sort(out)
			return out
		}
		var fast [][]uint64
		for _, f := range filters {
			fast = append(fast, search(f))
			if got := scan(f); fmt.Sprint(got) != fmt.Sprint(fast[len(fast)-1]) {
				t.Errorf("ScanFrames(%+v) = %d entries, Search %d", f, len(got), len(fast[len(fast)-1]))
			}
		}
		if len(fast[0]) != (n+4982)/5000 || fast[0][1] != 5017 {
			t.Fatalf("rare: %v", fast[0])
		}
		for i := 1; i < len(fast[1]); i++ {
			if fast[1][i] <= fast[1][i-1] {
				t.Fatal("results out of index order")
			}
		}
		// The same searches decoding whole blocks.
		if _, err := db.SQL().ExecContext(ctx, `UPDATE event_blocks SET sealed = 0`); err != nil {
			t.Fatal(err)
		}
		for i, f := range filters {
			if slow := search(f); fmt.Sprint(slow) != fmt.Sprint(fast[i]) {
				t.Errorf("Search(%+v): %d with frame lists, %d decoding blocks", f, len(fast[i]), len(slow))
			}
			if slow := scan(f); fmt.Sprint(slow) != fmt.Sprint(fast[i]) {
				t.Errorf("ScanFrames(%+v): %d with frame lists, %d reading blocks", f, len(fast[i]), len(slow))
			}
		}
		// Sealing catches up (an upgraded store).
		if got, err := db.SealBlocks(ctx, 10); err != nil || got != 2 {
			t.Fatalf("re-seal: %d %v", got, err)
		}
	})
}

// TestMonitoringPool: concurrent allocations give each notice its own
// code, a notice keeps its code, and an empty pool says so.
func TestMonitoringPool(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var codes [][]byte
		for i := range 5 {
			codes = append(codes, []byte(fmt.Sprintf("code-%d", i)))
		}
		if err := db.AddMonitoringCodes(ctx, 7, codes); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		got := map[string]int64{}
		empty := 0
		var wg sync.WaitGroup
		for n := int64(1); n <= 8; n++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := db.AllocateMonitoringCode(ctx, 7, n, time.Now())
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, store.ErrPoolEmpty):
					empty++
				case err != nil:
					t.Error(err)
				default:
					if prev, ok := got[string(c)]; ok {
						t.Errorf("code %s given to notices %d and %d", c, prev, n)
					}
					got[string(c)] = n
				}
			}()
		}
		wg.Wait()
		if len(got) != 5 || empty != 3 {
			t.Fatalf("%d allocated, %d refused", len(got), empty)
		}
		for c, n := range got {
			again, err := db.AllocateMonitoringCode(ctx, 7, n, time.Now())
			if err != nil || string(again) != c {
				t.Fatalf("notice %d: %s then %s (%v)", n, c, again, err)
			}
		}
		// A batch larger than one statement: each its own code, in
		// order, the same again; a pool one short gives none.
		codes = codes[:0]
		var notices []int64
		for i := range 450 {
			codes = append(codes, []byte(fmt.Sprintf("big-%03d", i)))
			notices = append(notices, int64(1000+i))
		}
		if err := db.AddMonitoringCodes(ctx, 8, codes); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AllocateMonitoringCodes(ctx, 8, append(notices, 5000), time.Now()); !errors.Is(err, store.ErrPoolEmpty) {
			t.Fatalf("a short pool: %v", err)
		}
		if total, alloc, _, _ := db.MonitoringCounts(ctx, 8); total != 450 || alloc != 0 {
			t.Fatalf("a refused batch gave codes: %d of %d", alloc, total)
		}
		first, err := db.AllocateMonitoringCodes(ctx, 8, notices, time.Now())
		if err != nil || len(first) != 450 {
			t.Fatalf("batch: %d codes, %v", len(first), err)
		}
		for i, n := range notices {
			if string(first[n]) != fmt.Sprintf("big-%03d", i) {
				t.Fatalf("notice %d got %s", n, first[n])
			}
		}
		again, err := db.AllocateMonitoringCodes(ctx, 8, notices[100:300], time.Now())
		if err != nil || len(again) != 200 || string(again[notices[150]]) != "big-150" {
			t.Fatalf("batch again: %d codes, %v", len(again), err)
		}
		// Gaps on both sides: notices that skip ids (those that go by
		// email) and a pool added in two parts with another incident's
		// codes between; one notice already has its code.
		add := func(incident int64, prefix string, n int) {
			var cs [][]byte
			for i := range n {
				cs = append(cs, []byte(fmt.Sprintf("%s-%02d", prefix, i)))
			}
			if err := db.AddMonitoringCodes(ctx, incident, cs); err != nil {
				t.Fatal(err)
			}
		}
		add(9, "a", 6)
		add(10, "other", 3)
		add(9, "b", 6)
		had, err := db.AllocateMonitoringCode(ctx, 9, 42, time.Now())
		if err != nil || string(had) != "a-00" {
			t.Fatalf("first code: %s, %v", had, err)
		}
		gappy := []int64{40, 41, 42, 43, 47, 48, 49, 50, 51, 60, 61}
		got9, err := db.AllocateMonitoringCodes(ctx, 9, gappy, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		want9 := []string{"a-01", "a-02", "a-00", "a-03", "a-04", "a-05", "b-00", "b-01", "b-02", "b-03", "b-04"}
		for i, n := range gappy {
			if string(got9[n]) != want9[i] {
				t.Fatalf("notice %d got %q, want %q", n, got9[n], want9[i])
			}
			if again, err := db.AllocateMonitoringCode(ctx, 9, n, time.Now()); err != nil || string(again) != want9[i] {
				t.Fatalf("notice %d again: %q, %v", n, again, err)
			}
		}
		if total, alloc, _, _ := db.MonitoringCounts(ctx, 10); total != 3 || alloc != 0 {
			t.Fatalf("another incident's pool touched: %d of %d given", alloc, total)
		}
	})
}
