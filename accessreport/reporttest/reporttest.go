// Package reporttest builds real access reports for tests: it runs events
// through the ingest pipeline into a SQLite store, a file-KEK vault and a
// ledger in a temporary directory, and builds reports from them exactly as
// labtrust does. Every value it generates is synthetic.
package reporttest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/vault"
	"golang.org/x/mod/sumdb/note"
)

// Origin is the ledger origin of every fixture.
const Origin = "labtrust.example/reporttest"

// Fixture is a running ingest pipeline over a fresh data directory. Its
// parts are stopped and closed by t.Cleanup.
type Fixture struct {
	Dir       string // the data directory
	LedgerDir string
	VKey      string // the ledger's note verifier key
	Verifier  note.Verifier
	DB        *store.DB
	Keys      *vault.Keyring
	Pipe      *ingest.Pipeline

	stop func() error
}

// New starts a pipeline in a temporary directory.
func New(t testing.TB) *Fixture {
	t.Helper()
	ctx := context.Background()
	f := &Fixture{Dir: t.TempDir()}
	f.LedgerDir = filepath.Join(f.Dir, "ledger")
	skey, vkey, err := ledger.NewKey(Origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	f.VKey = vkey
	if f.Verifier, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	if f.DB, err = store.Open(ctx, filepath.Join(f.Dir, "labtrust.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.DB.Close() })
	kek, err := vault.LoadOrCreateFileKEK(filepath.Join(f.Dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Keys, err = vault.Open(ctx, kek, f.DB); err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.Open(ctx, f.LedgerDir, Origin, signer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lg.Close() })
	if f.Pipe, err = ingest.New(ctx, ingest.Config{CheckpointInterval: 5 * time.Millisecond}, f.DB, lg, f.Keys); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Pipe.Run(runCtx) }()
	f.stop = sync.OnceValue(func() error {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("pipeline: %w", err)
		}
		return nil
	})
	// Registered last, so it runs first: the pipeline stops before the
	// ledger and the store close.
	t.Cleanup(func() {
		if err := f.stop(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// Stop stops the pipeline (the store and the ledger stay open for Report).
// Fuzz targets call it once their report is built, so that no background
// goroutine changes coverage while the fuzzer measures it.
func (f *Fixture) Stop(t testing.TB) {
	t.Helper()
	if err := f.stop(); err != nil {
		t.Fatal(err)
	}
}

// Event returns a synthetic event, distinct for each i, naming patients by
// identifier; with no patients it is a security event.
func Event(i int, patients ...string) labtrust.Event {
	e := labtrust.Event{
		Time:   time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
		Source: "ehr", Kind: labtrust.KindSecurity, Action: labtrust.ActionRead,
		Actor:     labtrust.Actor{ID: fmt.Sprintf("u%d", i%5), Role: "lab-tech", Site: "north"},
		Network:   "10.1.2.3",
		SourceRef: fmt.Sprintf("ev-%d", i),
	}
	for _, p := range patients {
		e.Kind = labtrust.KindAccess
		e.Patients = append(e.Patients, labtrust.PatientRef{System: "urn:oid:2.16.840.1.113883.19.5", ID: p})
		e.Objects = append(e.Objects, labtrust.Object{Type: "DiagnosticReport", ID: fmt.Sprintf("DiagnosticReport/%d", i)})
	}
	return e
}

// Submit ingests events in one request and waits until a signed checkpoint
// covers everything committed so far. It returns the index of the first.
func (f *Fixture) Submit(t testing.TB, events ...labtrust.Event) uint64 {
	t.Helper()
	res, err := f.Pipe.Submit(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := f.Pipe.Status()
		if s.CheckpointSize >= s.Committed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covers the events: %+v", s)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return res.First
}

// Reader opens a ledger reader at the latest checkpoint.
func (f *Fixture) Reader(t testing.TB) *ledger.Reader {
	t.Helper()
	rd, err := ledger.OpenReader(f.LedgerDir, Origin, f.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// Report builds the access report of the patient with identifier id under
// the latest checkpoint.
func (f *Fixture) Report(t testing.TB, id string) *accessreport.Report {
	t.Helper()
	r, err := accessreport.Build(context.Background(), f.DB, f.Reader(t), f.Keys, Origin,
		labtrust.PatientRef{System: "urn:oid:2.16.840.1.113883.19.5", ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Standard is a small lab: 24 events over three requests, patient "MRN-A"
// in events 0, 3, 4 (twice), 9, 12 (with "MRN-B"), 17 and 23, "MRN-B"
// elsewhere, and some security events. It returns the fixture and the
// ledger indices of MRN-A's entries, in order.
func Standard(t testing.TB) (*Fixture, []uint64) {
	t.Helper()
	f := New(t)
	var evs []labtrust.Event
	var want []uint64
	for i := range 24 {
		switch {
		case i == 4:
			evs = append(evs, Event(i, "MRN-A", "MRN-A")) // a repeat names the patient once
		case i == 12:
			evs = append(evs, Event(i, "MRN-B", "MRN-A"))
		case i == 0 || i == 3 || i == 9 || i == 17 || i == 23:
			evs = append(evs, Event(i, "MRN-A"))
		case i%4 == 1:
			evs = append(evs, Event(i))
		default:
			evs = append(evs, Event(i, "MRN-B"))
		}
	}
	var idx uint64
	// Three requests, so the patient's chain crosses batches.
	for _, part := range [][2]int{{0, 7}, {7, 15}, {15, 24}} {
		first := f.Submit(t, evs[part[0]:part[1]]...)
		if first != idx {
			t.Fatalf("first index %d, want %d", first, idx)
		}
		idx += uint64(part[1] - part[0])
	}
	for i, e := range evs {
		for _, p := range e.Patients {
			if p.ID == "MRN-A" {
				want = append(want, uint64(i))
				break
			}
		}
	}
	return f, want
}
