package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
)

// TestErase forgets patient GONE, who shares some entries with patient
// KEPT: GONE's entries become erasure records that name nobody, KEPT's
// report still verifies through the shared ones, and the ledger verifies.
func TestErase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		var events []labtrust.Event
		for i := 0; i < 300; i++ {
			var e labtrust.Event
			switch i % 3 {
			case 0:
				e = ev(i, "GONE-1")
			case 1:
				e = ev(i, "KEPT-1")
			default:
				e = ev(i, "KEPT-1", "GONE-1")
			}
			if i%3 != 1 {
				e.Objects = []labtrust.Object{{Type: "DiagnosticReport", ID: fmt.Sprintf("DiagnosticReport/GONE-R%d", i)}}
			}
			events = append(events, e)
		}
		if _, err := f.pipe.Submit(ctx, events); err != nil {
			t.Fatal(err)
		}
		const total = 300
		waitCheckpoint(t, f, total)
		gone := f.keys.Blind("GONE-1")

		at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		rep, err := ingest.Erase(ctx, f.db, f.keys, [][]byte{gone}, at)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Entries != 200 || rep.Already != 0 || rep.Frames == 0 {
			t.Fatalf("erase report %+v, want 200 entries", rep)
		}

		// Every frame still opens; what named GONE is an erasure record.
		erased := 0
		err = ingest.ReadEntries(ctx, f.db, f.keys, 0, total, func(r *store.EventRow, rec frame.Record) error {
			if bytes.Contains(rec.Canonical, []byte("GONE")) {
				return fmt.Errorf("entry %d still names the forgotten patient or their objects", r.Index)
			}
			en, err := labtrust.UnmarshalStored(rec.Nonce, rec.Canonical)
			if err != nil {
				return fmt.Errorf("entry %d: %w", r.Index, err)
			}
			if r.Index%3 == 1 {
				if !en.Erased.IsZero() || labtrust.Commit(rec.Nonce, rec.Canonical) != r.Commitment {
					return fmt.Errorf("entry %d of the kept patient alone was changed", r.Index)
				}
				return nil
			}
			if !en.Erased.Equal(at) || en.Index != r.Index || en.Event.Actor.ID != events[r.Index].Actor.ID || !en.Event.Time.Equal(events[r.Index].Time) {
				return fmt.Errorf("entry %d: residue %+v", r.Index, en)
			}
			erased++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if erased != 200 {
			t.Fatalf("%d erased entries read back", erased)
		}
		// The patient index no longer leads to the forgotten patient.
		n := 0
		if err := f.db.PatientFrames(ctx, gone, func(*store.Frame, []uint64) error { n++; return nil }); err != nil || n != 0 {
			t.Fatalf("the forgotten patient's index still has %d frames (%v)", n, err)
		}

		// KEPT's report verifies: its chain runs through the erased
		// entries it shared, shown as erased.
		rd, err := ledger.OpenReader(filepath.Join(f.dir, "ledger"), origin, f.verifier)
		if err != nil {
			t.Fatal(err)
		}
		r, err := accessreport.Build(ctx, f.db, rd, f.keys, origin, labtrust.PatientRef{ID: "KEPT-1"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := accessreport.Verify(r, f.verifier)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Entries) != 100 || len(v.Erased) != 100 {
			t.Fatalf("kept patient's report: %d entries, %d erased", len(v.Entries), len(v.Erased))
		}
		// An erased entry cannot be forged into a live one or dropped.
		for i, e := range r.Entries {
			if e.Erased == "" {
				continue
			}
			forged := *r
			forged.Entries = append([]accessreport.Entry(nil), r.Entries...)
			forged.Entries[i].Commitment = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
			if _, err := accessreport.Verify(&forged, f.verifier); err == nil {
				t.Fatal("an erased entry with a wrong commitment verified")
			}
			forged.Entries = append(append([]accessreport.Entry(nil), r.Entries[:i]...), r.Entries[i+1:]...)
			if _, err := accessreport.Verify(&forged, f.verifier); err == nil || !strings.Contains(err.Error(), "gap") {
				t.Fatalf("a dropped erased entry was not a gap: %v", err)
			}
			break
		}

		// Erasing again finds nothing new; an event arriving later is
		// erased by the next run.
		if rep, err := ingest.Erase(ctx, f.db, f.keys, [][]byte{gone}, at); err != nil || rep.Entries != 0 {
			t.Fatalf("second erase: %+v %v", rep, err)
		}
		if _, err := f.pipe.Submit(ctx, []labtrust.Event{ev(total, "GONE-1")}); err != nil {
			t.Fatal(err)
		}
		if rep, err := ingest.Erase(ctx, f.db, f.keys, [][]byte{gone}, at); err != nil || rep.Entries != 1 {
			t.Fatalf("erase after a late event: %+v %v", rep, err)
		}
		waitCheckpoint(t, f, total+1)
		f.close(t)
		lr, err := ledger.Verify(ctx, filepath.Join(f.dir, "ledger"), origin, f.verifier, nil)
		if err != nil || !lr.OK() {
			t.Fatalf("ledger does not verify after erasure: %v %+v", err, lr)
		}
	})
}

func waitCheckpoint(t *testing.T, f *fixture, size uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); f.pipe.Status().CheckpointSize < size; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covers %d entries: %+v", size, f.pipe.Status())
		}
	}
}
