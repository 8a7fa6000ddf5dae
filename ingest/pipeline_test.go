package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
	"golang.org/x/mod/sumdb/note"
)

type fixture struct {
	dir      string
	dsn      string
	db       *store.DB
	keys     *vault.Keyring
	lg       *ledger.Log
	signer   note.Signer
	verifier note.Verifier
	pipe     *ingest.Pipeline
	stop     func() error
}

const origin = "labtrust.example/test"

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), dsn: dsn}
	skey, vkey, err := ledger.NewKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	f.signer, _ = note.NewSigner(skey)
	f.verifier, _ = note.NewVerifier(vkey)
	f.open(t)
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var err error
	if f.db, err = store.Open(ctx, f.dsn); err != nil {
		t.Fatal(err)
	}
	kek, err := vault.LoadOrCreateFileKEK(filepath.Join(f.dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if f.keys, err = vault.Open(ctx, kek, f.db); err != nil {
		t.Fatal(err)
	}
	if f.lg, err = ledger.Open(ctx, filepath.Join(f.dir, "ledger"), origin, f.signer); err != nil {
		t.Fatal(err)
	}
	if f.pipe, err = ingest.New(ctx, ingest.Config{MaxBatch: 500, CheckpointInterval: 20 * time.Millisecond}, f.db, f.lg, f.keys); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.pipe.Run(runCtx) }()
	f.stop = func() error {
		cancel()
		err := <-done
		f.lg.Close()
		f.db.Close()
		return err
	}
	// Every open registers a cleanup and they all see the current stop,
	// so take it: stopping twice would wait forever on Run's result.
	t.Cleanup(func() {
		if stop := f.stop; stop != nil {
			f.stop = nil
			stop()
		}
	})
}

func (f *fixture) close(t *testing.T) {
	t.Helper()
	if err := f.stop(); err != nil {
		t.Fatal(err)
	}
	f.stop = nil
}

func ev(i int, patients ...string) labtrust.Event {
	e := labtrust.Event{Time: time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Source: "ehr", Kind: labtrust.KindSecurity, Action: labtrust.ActionRead,
		Actor: labtrust.Actor{ID: fmt.Sprintf("u%d", i%7), Role: "lab-tech", Site: "north"}, Network: "10.1.2.3",
		SourceRef: fmt.Sprintf("ev-%d", i)}
	for _, p := range patients {
		e.Kind = labtrust.KindAccess
		e.Patients = append(e.Patients, labtrust.PatientRef{System: "http://lab.example/mrn", ID: p})
	}
	return e
}

func TestPipeline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		// Concurrent submitters, patients shared across them, so chains
		// cross batches and requests.
		var wg sync.WaitGroup
		const clients, per = 4, 300
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				b := f.pipe.NewBatcher()
				for i := 0; i < per; i++ {
					n := c*per + i
					pats := []string{fmt.Sprintf("MRN%03d", n%37)}
					if n%5 == 0 {
						pats = append(pats, fmt.Sprintf("MRN%03d", (n+1)%37), pats[0]) // a repeat must not double-link
					}
					if n%11 == 0 {
						pats = nil // a security event
					}
					if err := b.Event(ctx, ev(n, pats...)); err != nil {
						t.Error(err)
						return
					}
				}
				b.Reject(ctx, labtrust.Reject{Source: "ehr", Format: "fhir", Position: "line 9", Reason: "AuditEvent.recorded: missing", Raw: []byte(`{"resourceType":"AuditEvent","name":"Jane Doe"}`)})
				sum, err := b.Flush(ctx)
				if err != nil {
					t.Error(err)
				}
				if sum.Accepted != per || sum.Quarantined != 1 {
					t.Errorf("client %d: summary %+v", c, sum)
				}
			}(c)
		}
		wg.Wait()
		total := uint64(clients * per)
		// Wait for a checkpoint covering everything.
		deadline := time.Now().Add(5 * time.Second)
		for f.pipe.Status().CheckpointSize < total && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if s := f.pipe.Status(); s.Committed != total || s.CheckpointSize != total {
			t.Fatalf("status %+v, want %d committed and checkpointed", s, total)
		}

		// Every stored body opens, matches the ledger entry, and the
		// patient chains are complete and correct.
		rd, err := ledger.OpenReader(filepath.Join(f.dir, "ledger"), origin, f.verifier)
		if err != nil {
			t.Fatal(err)
		}
		entries := map[uint64][]byte{}
		rd.Entries(ctx, 0, total, func(i uint64, e []byte) error { entries[i] = bytes.Clone(e); return nil })
		heads := map[string]struct {
			idx uint64
			c   [32]byte
		}{}
		var n uint64
		if err := f.db.Frames(ctx, 0, total, func(fr *store.Frame) error {
			if bytes.Contains(fr.Body, []byte("http://lab.example/mrn")) || bytes.Contains(fr.Body, []byte("MRN0")) {
				return fmt.Errorf("frame at %d: plaintext identifier in the sealed body", fr.First)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		err = ingest.ReadEntries(ctx, f.db, f.keys, 0, total, func(r *store.EventRow, rec frame.Record) error {
			c := labtrust.Commit(rec.Nonce, rec.Canonical)
			if c != r.Commitment || !bytes.Equal(entries[r.Index], c[:]) {
				return fmt.Errorf("event %d: commitment mismatch", r.Index)
			}
			en, err := labtrust.UnmarshalCanonical(rec.Canonical)
			if err != nil {
				return err
			}
			if en.Index != r.Index {
				return fmt.Errorf("event %d: canonical index %d", r.Index, en.Index)
			}
			seen := map[string]bool{}
			for _, p := range en.Event.Patients {
				seen[p.ID] = true
			}
			if len(en.Links) != len(seen) {
				return fmt.Errorf("event %d: %d links for %d distinct patients", r.Index, len(en.Links), len(seen))
			}
			for _, l := range en.Links {
				id := en.Event.Patients[l.Patient].ID
				h, had := heads[id]
				if had != l.HasPrev || had && (h.idx != l.PrevIndex || h.c != l.PrevHash) {
					return fmt.Errorf("event %d patient link %+v does not follow head %+v (had %v)", r.Index, l, h, had)
				}
				heads[id] = struct {
					idx uint64
					c   [32]byte
				}{r.Index, c}
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != total {
			t.Fatalf("stored %d events, want %d", n, total)
		}

		// The quarantine holds the rejects, sealed.
		q, err := f.db.ListQuarantine(ctx, store.QuarantineFilter{})
		if err != nil || len(q) != clients {
			t.Fatalf("quarantine: %d items, %v", len(q), err)
		}
		it, _ := f.db.GetQuarantine(ctx, q[0].ID)
		if bytes.Contains(it.Raw, []byte("Jane")) {
			t.Fatal("quarantined raw bytes are stored in clear")
		}
		raw, err := f.pipe.OpenQuarantined(it)
		if err != nil || !strings.Contains(string(raw), "Jane Doe") {
			t.Fatalf("open quarantined: %q %v", raw, err)
		}

		// A patient's access report verifies, and a removed entry shows as a gap.
		rd, _ = ledger.OpenReader(filepath.Join(f.dir, "ledger"), origin, f.verifier)
		rep, err := accessreport.Build(ctx, f.db, rd, f.keys, origin, labtrust.PatientRef{ID: "MRN005"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := accessreport.Verify(rep, f.verifier); err != nil {
			t.Fatal(err)
		}
		if len(rep.Entries) < 3 {
			t.Fatalf("report has %d entries", len(rep.Entries))
		}
		rep.Entries = append(rep.Entries[:1], rep.Entries[2:]...)
		if _, err := accessreport.Verify(rep, f.verifier); err == nil || !strings.Contains(err.Error(), "gap") {
			t.Fatalf("a removed entry was not reported as a gap: %v", err)
		}

		// Restart: indices and chains continue from the store.
		f.close(t)
		f.open(t)
		res, err := f.pipe.Submit(ctx, []labtrust.Event{ev(9999, "MRN005")})
		if err != nil || res.First != total {
			t.Fatalf("after restart: %+v %v", res, err)
		}
		idx, _, err := f.db.PatientHead(ctx, f.keys.Blind("MRN005"))
		if err != nil || idx != total {
			t.Fatalf("head after restart: %d %v", idx, err)
		}
		// The chain continues across the restart: heads loaded from the
		// store link the new entry to the last one before it.
		for deadline := time.Now().Add(5 * time.Second); f.pipe.Status().CheckpointSize <= total; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint covers the entry after restart: %+v", f.pipe.Status())
			}
		}
		rd, _ = ledger.OpenReader(filepath.Join(f.dir, "ledger"), origin, f.verifier)
		rep, err = accessreport.Build(ctx, f.db, rd, f.keys, origin, labtrust.PatientRef{ID: "MRN005"})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := accessreport.Verify(rep, f.verifier); err != nil || v.Entries[len(v.Entries)-1].Index != total {
			t.Fatalf("chain across restart: %v", err)
		}
		f.close(t)
		rep2, err := ledger.Verify(ctx, filepath.Join(f.dir, "ledger"), origin, f.verifier, nil)
		if err != nil || !rep2.OK() {
			t.Fatalf("ledger does not verify: %v %+v", err, rep2)
		}
	})
}

// TestRecoveryFromStore simulates a crash after the store committed but
// before a checkpoint: the next start appends the missing entries.
func TestRecoveryFromStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		for i := 0; i < 50; i++ {
			if _, err := f.pipe.Submit(ctx, []labtrust.Event{ev(i, "MRN1")}); err != nil {
				t.Fatal(err)
			}
		}
		f.close(t)
		// Forge the crash: remove the ledger's view of the last entries by
		// putting the store ahead. Write rows straight to the store.
		db, _ := store.Open(ctx, dsn)
		row := store.EventRow{Index: 50, Time: time.Now(), Source: "ehr", Kind: "security", Actor: "u1", Action: "R"}
		row.Commitment[0] = 7
		if err := db.AppendFrames(ctx, []store.Frame{{First: 50, Rows: []store.EventRow{row}, Body: []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		f.open(t)
		if s := f.pipe.Status(); s.CheckpointSize != 51 || s.Committed != 51 {
			t.Fatalf("after recovery: %+v", s)
		}
		f.close(t)
		rd, err := ledger.OpenReader(filepath.Join(f.dir, "ledger"), origin, f.verifier)
		if err != nil {
			t.Fatal(err)
		}
		var last []byte
		rd.Entries(ctx, 50, 51, func(i uint64, e []byte) error { last = bytes.Clone(e); return nil })
		if len(last) != 32 || last[0] != 7 {
			t.Fatalf("recovered entry = %x", last)
		}
	})
}

// A ledger ahead of its store means the database was restored from an
// older backup: refuse with a clear error rather than fork the log.
func TestLedgerAheadRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, filepath.Join(t.TempDir(), "a.db"))
	for i := 0; i < 5; i++ {
		f.pipe.Submit(ctx, []labtrust.Event{ev(i)})
	}
	f.close(t)
	f.dsn = filepath.Join(t.TempDir(), "empty.db")
	db, _ := store.Open(ctx, f.dsn)
	kek, _ := vault.LoadOrCreateFileKEK(filepath.Join(f.dir, "kek.key"))
	keys, _ := vault.Open(ctx, kek, db)
	lg, err := ledger.Open(ctx, filepath.Join(f.dir, "ledger"), origin, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	defer db.Close()
	_, err = ingest.New(ctx, ingest.Config{}, db, lg, keys)
	if err == nil || !strings.Contains(err.Error(), "ledger holds 5 entries but the store only 0") {
		t.Fatalf("got %v", err)
	}
}

// failingLedger wraps a real ledger and fails every Append after the first n
// entries, as a full disk would.
type failingLedger struct {
	*ledger.Log
	n uint64
}

func (f *failingLedger) Append(entries [][]byte) (uint64, error) {
	if f.Size()+uint64(len(entries)) > f.n {
		return 0, fmt.Errorf("disk full")
	}
	return f.Log.Append(entries)
}

// After a ledger failure nothing more is acknowledged or stored, and health
// says so; a restart appends what the store holds.
func TestLedgerFailureStopsIngest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, filepath.Join(t.TempDir(), "l.db"))
	f.close(t)
	db, _ := store.Open(ctx, f.dsn)
	defer db.Close()
	kek, _ := vault.LoadOrCreateFileKEK(filepath.Join(f.dir, "kek.key"))
	keys, _ := vault.Open(ctx, kek, db)
	lg, err := ledger.Open(ctx, filepath.Join(f.dir, "ledger"), origin, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	p, err := ingest.New(ctx, ingest.Config{CheckpointInterval: 10 * time.Millisecond}, db, &failingLedger{Log: lg, n: 3}, keys)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	if _, err := p.Submit(ctx, []labtrust.Event{ev(1), ev(2), ev(3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Submit(ctx, []labtrust.Event{ev(4)}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("append past the failure: %v", err)
	}
	// The failing batch's rows were stored before the ledger refused them;
	// later batches are refused without touching the store.
	before, _ := db.NextIndex(ctx)
	for i := 0; i < 3; i++ {
		if _, err := p.Submit(ctx, []labtrust.Event{ev(5 + i)}); err == nil {
			t.Fatal("acknowledged after a ledger failure")
		}
	}
	if after, _ := db.NextIndex(ctx); after != before {
		t.Fatalf("store grew from %d to %d after the ledger failed", before, after)
	}
	if s := p.Status(); s.Broken == nil {
		t.Fatal("status does not report the ledger failure")
	}
}
