package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/detect"
	"github.com/labtrust/labtrust/explain"
	"github.com/labtrust/labtrust/fhir"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/sigma"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/syslog"
	"github.com/spf13/cobra"
)

type benchOpts struct {
	events   int64
	patients int
	format   string
	keep     bool
	work     string
	quiet    bool
	asJSON   bool
	cpuProf  string
	genRules int
	live     bool
	rate     int
}

func newBench(g *globalOpts) *cobra.Command {
	o := &benchOpts{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest, checkpoint lag, acknowledgement latency, verify and proof speed",
		Long: `bench generates the demo lab's events (FHIR AuditEvent NDJSON, BALP-shaped, ~1.5 KB each,
or RFC 5424 syslog with ATNA AuditMessages), writes them to a file (not timed), then
measures, in a fresh data directory (--data is ignored; --db selects PostgreSQL):

  ingest      events/s from the file through the parser, pipeline, store and ledger
              (syslog: over TLS on 127.0.0.1 through the RFC 5425 listener)
  ack p50/p99 time from a chunk's submission to its durable acknowledgement
  checkpoint  the oldest un-checkpointed entry's age, sampled every 50 ms (max)
  verify      ledger + store verification, entries/s
  proof       the access report of the patient with the most entries
  alerts      with --live-detect (the default), detection follows the ingest as in
              serve: time from an entry's commit to the alert it raises (p50/p99)
  detect      replay of every stored event through the Sigma rules (built-in pack
              plus --rules generated ones), events/s and alerts
  memory      peak resident set size of this process`,
		Example: `  labtrust bench --events 10000000 --patients 1000000
  labtrust bench --events 2000000 --format syslog
  labtrust bench --events 1000000 --db postgres://postgres@127.0.0.1:5432/test`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := resolve(cmd, g); err != nil {
				return err
			}
			return runBench(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&o.events, "events", 1_000_000, "events to ingest")
	f.IntVar(&o.patients, "patients", 100_000, "patients in the generated lab")
	f.StringVar(&o.format, "format", "fhir", "fhir or syslog")
	f.BoolVar(&o.keep, "keep", false, "keep the benchmark's data directory")
	f.StringVar(&o.work, "work", "", "work directory (default: a new temporary directory)")
	f.BoolVar(&o.quiet, "quiet", false, "no progress bars")
	f.BoolVar(&o.asJSON, "json", false, "print results as JSON")
	f.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the ingest phase to this file")
	f.IntVar(&o.genRules, "rules", 100, "generated Sigma rules detection runs, beside the built-in pack")
	f.IntVar(&o.rate, "rate", 0, "offer events at this rate (events/s; 0: as fast as ingest takes them), for latency at a given load")
	f.BoolVar(&o.live, "live-detect", true, "run detection during ingest, as serve does (measures alert latency)")
	return cmd
}

// plantedEntries is the size of the planted patient's access history.
const plantedEntries = 1000

type benchResult struct {
	Format             string  `json:"format"`
	Database           string  `json:"database"`
	Events             int64   `json:"events"`
	Patients           int     `json:"patients"`
	InputBytes         int64   `json:"inputBytes"`
	IngestSeconds      float64 `json:"ingestSeconds"`
	IngestPerSec       float64 `json:"ingestEventsPerSecond"`
	AckP50Ms           float64 `json:"ackP50Ms"`
	AckP99Ms           float64 `json:"ackP99Ms"`
	CheckpointLagMs    float64 `json:"checkpointLagMaxMs"`
	VerifyPerSec       float64 `json:"verifyEntriesPerSecond"`
	ProofEntries       int     `json:"proofEntries"`
	ProofMs            float64 `json:"proofMs"`
	TopPatientEntries  int     `json:"topPatientEntries"`
	TopPatientProofMs  float64 `json:"topPatientProofMs"`
	LedgerVerifyPerSec float64 `json:"ledgerVerifyEntriesPerSecond"`
	ScopeAccount       string  `json:"scopeAccount"`
	ScopeAccountEvents int     `json:"scopeAccountEvents"`
	ScopePatients      int     `json:"scopePatients"`
	ScopeMs            float64 `json:"scopeMs"`
	ScopeWarmMs        float64 `json:"scopeWarmMs"`
	ScopeDayScanMs     float64 `json:"scopeOneDayAddressScanMs"`
	ScopeDayIndexMs    float64 `json:"scopeOneDayAccountMs"`
	DetectRules        int     `json:"detectRules"`
	DetectPerSec       float64 `json:"detectReplayEventsPerSecond"`
	DetectSeconds      float64 `json:"detectReplaySeconds"`
	DetectAlerts       int     `json:"detectAlerts"`
	ExplainedPct       float64 `json:"explainedPercent"`
	LiveAlerts         int     `json:"liveAlerts"`
	AlertP50Ms         float64 `json:"alertLatencyP50Ms"`
	AlertP99Ms         float64 `json:"alertLatencyP99Ms"`
	DetectCatchUpMs    float64 `json:"detectCatchUpMs"`
	DetectLivePct      int     `json:"detectLivePercent"`
	PeakRSSMiB         float64 `json:"peakRssMiB"`
	CPUs               int     `json:"cpus"`
}

func runBench(ctx context.Context, g *globalOpts, o *benchOpts) error {
	work := o.work
	if work == "" {
		d, err := os.MkdirTemp("", "labtrust-bench-")
		if err != nil {
			return err
		}
		work = d
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}
	lab := demo.NewLab(demo.Config{Seed: 7, Patients: o.patients, Events: o.events, Days: 30}.WithDefaults())
	// 1. Input file, untimed.
	input := filepath.Join(work, "events."+o.format)
	encode := fhir.Encode
	if o.format == "syslog" {
		encode = syslogATNA
	} else if o.format != "fhir" {
		return &labtrust.Error{Code: "invalid", Message: "--format must be fhir or syslog"}
	}
	f, err := os.Create(input)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	bar, progress := newBar(g, o.events, "generate input", o.quiet)
	patientCount := map[string]int{}
	countingEncode := func(e labtrust.Event) ([]byte, error) {
		for _, p := range e.Patients {
			patientCount[p.ID]++
		}
		return encode(e)
	}
	if err := demo.WriteEvents(ctx, w, lab, countingEncode, progress); err != nil {
		return err
	}
	if bar != nil {
		bar.Finish()
	}
	if err := w.Flush(); err != nil {
		return err
	}
	st, _ := f.Stat()
	f.Close()
	topPatient, topN := "", 0
	for id, n := range patientCount {
		if n > topN || n == topN && id < topPatient {
			topPatient, topN = id, n
		}
	}
	patientCount = nil
	runtime.GC()

	// 2. Ingest, timed.
	bg := *g
	bg.data = filepath.Join(work, "data")
	if strings.HasPrefix(g.db, "postgres") {
		dsn, drop, err := benchSchema(ctx, g.db, o.keep)
		if err != nil {
			return err
		}
		defer drop()
		bg.db = dsn
	}
	bg.origin = "labtrust.example/bench"
	var mu sync.Mutex
	var lat []time.Duration
	onAck := func(n int, d time.Duration) {
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	}
	var feed atomic.Pointer[detect.Runner]
	onCommit := func(es []labtrust.Entry) {
		if r := feed.Load(); r != nil {
			r.Feed(es)
		}
	}
	a, err := openApp(ctx, &bg, nil, openOpts{writer: true, ingest: ingest.Config{OnAck: onAck, OnCommit: onCommit}})
	if err != nil {
		return err
	}
	defer a.Close()
	res := benchResult{Format: o.format, Database: string(a.db.Dialect()), Events: o.events, Patients: o.patients,
		InputBytes: st.Size(), CPUs: runtime.GOMAXPROCS(0)}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- a.pipe.Run(runCtx) }()
	// Detection rules: the built-in pack and --rules generated ones.
	rulesDir := filepath.Join(work, "rules")
	if err := os.MkdirAll(rulesDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rulesDir, "generated.yml"), []byte(detect.GenerateRules(o.genRules)), 0o600); err != nil {
		return err
	}
	// Live detection, as serve runs it. An alert's latency runs from the
	// moment the pipeline's committed count first covered its last entry
	// (sampled every 2 ms) to the moment the runner stored it.
	type csample struct {
		at        time.Time
		committed uint64
	}
	var csMu sync.Mutex
	var csamples []csample
	var alertLat []time.Duration
	detectStop := make(chan struct{})
	detectDone := make(chan error, 1)
	dctx, dcancel := context.WithCancel(context.Background())
	defer dcancel()
	var runner *detect.Runner
	if o.live {
		live, err := detect.Open(rulesDir, sigma.Options{})
		if err != nil {
			return err
		}
		runner = &detect.Runner{Engine: live, Store: a.db, Keys: a.keys, Logger: a.log, Name: "bench",
			Notify: func(_ context.Context, al labtrust.Alert) {
				now := time.Now()
				last := slices.Max(al.Entries)
				csMu.Lock()
				defer csMu.Unlock()
				res.LiveAlerts++
				i := sort.Search(len(csamples), func(i int) bool { return csamples[i].committed > last })
				if i < len(csamples) {
					alertLat = append(alertLat, now.Sub(csamples[i].at))
				}
			}}
		feed.Store(runner)
		go func() {
			detectDone <- runner.Run(dctx, func() uint64 { return a.pipe.Status().Committed }, 10*time.Millisecond, 0)
		}()
		go func() {
			t := time.NewTicker(2 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-detectStop:
					return
				case now := <-t.C:
					c := a.pipe.Status().Committed
					csMu.Lock()
					if n := len(csamples); n == 0 || csamples[n-1].committed != c {
						csamples = append(csamples, csample{now, c})
					}
					csMu.Unlock()
				}
			}
		}()
	} else {
		close(detectDone)
	}
	var maxLag atomic.Int64
	sampleStop := make(chan struct{})
	go func() {
		// Checkpoint lag: the age of the oldest entry not yet under a signed
		// checkpoint, i.e. now minus the time the ledger first grew past the
		// latest checkpoint's size. Sampled every 50 ms, so exact to 50 ms.
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		type sample struct {
			at   time.Time
			size uint64
		}
		var samples []sample
		for {
			select {
			case <-sampleStop:
				return
			case now := <-t.C:
				s := a.pipe.Status()
				samples = append(samples, sample{now, s.LedgerSize})
				// Drop samples the checkpoint covers, keeping the newest of
				// them: the entry at CheckpointSize arrived after it, so
				// counting from it overstates the lag by at most 50 ms.
				i := 0
				for i+1 < len(samples) && samples[i+1].size <= s.CheckpointSize {
					i++
				}
				samples = samples[i:]
				if s.LedgerSize > s.CheckpointSize {
					if d := now.Sub(samples[0].at); d.Nanoseconds() > maxLag.Load() {
						maxLag.Store(d.Nanoseconds())
					}
				}
			}
		}
	}()
	// A planted patient with 1,000 accesses spread over the whole run, for
	// the access-report figure (the demo's busiest patient has far fewer).
	planted := labtrust.PatientRef{System: demo.MRNSystem, ID: "MRN-BENCH-1000"}
	plantDone := make(chan error, 1)
	go func() {
		per := max(1, o.events/plantedEntries)
		every := time.Duration(float64(per) / 50_000 * float64(time.Second)) // spread at about the expected rate
		var wg sync.WaitGroup
		errs := make(chan error, plantedEntries)
		for i := 0; i < plantedEntries; i++ {
			e := labtrust.Event{Time: time.Date(2026, 10, 1, 12, 0, i, 0, time.UTC), Source: "ehr", Kind: labtrust.KindAccess,
				Action: labtrust.ActionRead, Actor: labtrust.Actor{ID: "u-bench", Role: "lab-tech"}, Patients: []labtrust.PatientRef{planted}}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := a.pipe.Submit(ctx, []labtrust.Event{e}); err != nil {
					errs <- err
				}
			}()
			time.Sleep(every)
		}
		wg.Wait()
		close(errs)
		plantDone <- <-errs
	}()
	ibar, iprog := newBar(g, o.events, "ingest", o.quiet)
	if o.cpuProf != "" {
		pf, err := os.Create(o.cpuProf)
		if err != nil {
			return err
		}
		defer pf.Close()
		pprof.StartCPUProfile(pf)
	}
	start := time.Now()
	var ingErr error
	if o.format == "fhir" {
		ingErr = benchIngestFile(ctx, a, input, o.rate, iprog)
	} else {
		ingErr = benchSyslogTLS(ctx, a, input, o.events, iprog)
	}
	ingestDur := time.Since(start)
	if err := <-plantDone; err != nil && ingErr == nil {
		ingErr = err
	}
	if o.cpuProf != "" {
		pprof.StopCPUProfile()
	}
	if ibar != nil {
		ibar.Finish()
	}
	// Checkpoint lag ends when the last checkpoint covers everything.
	for a.pipe.Status().CheckpointSize < a.pipe.Status().Committed && ingErr == nil {
		time.Sleep(10 * time.Millisecond)
	}
	// Detection has caught up when its cursor reaches the last commit.
	if runner != nil {
		target := a.pipe.Status().Committed
		for ingErr == nil {
			c, err := a.db.DetectCursor(ctx, "bench")
			if err != nil {
				ingErr = err
			}
			if c >= target {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		res.DetectCatchUpMs = float64(time.Since(start.Add(ingestDur)).Microseconds()) / 1000
		if total := runner.Live.Load() + runner.Stored.Load(); total > 0 {
			res.DetectLivePct = int(100 * runner.Live.Load() / total)
		}
		dcancel()
		close(detectStop)
		if err := <-detectDone; err != nil && ingErr == nil {
			ingErr = err
		}
		slices.Sort(alertLat)
		if n := len(alertLat); n > 0 {
			res.AlertP50Ms = float64(alertLat[n/2].Microseconds()) / 1000
			res.AlertP99Ms = float64(alertLat[n*99/100].Microseconds()) / 1000
		}
	}
	close(sampleStop)
	stop()
	if err := <-done; err != nil && ingErr == nil {
		ingErr = err
	}
	if ingErr != nil {
		return ingErr
	}
	if got := a.pipe.Status().Committed; int64(got) != o.events+plantedEntries {
		return fmt.Errorf("bench: ingested %d events, want %d", got, o.events+plantedEntries)
	}
	res.IngestSeconds = ingestDur.Seconds()
	res.IngestPerSec = float64(o.events) / ingestDur.Seconds()
	res.CheckpointLagMs = float64(maxLag.Load()) / 1e6
	slices.Sort(lat)
	if len(lat) > 0 {
		res.AckP50Ms = float64(lat[len(lat)/2].Microseconds()) / 1000
		res.AckP99Ms = float64(lat[len(lat)*99/100].Microseconds()) / 1000
	}
	lat = nil

	// 3. Verify.
	vres, err := verifyAll(ctx, &bg, a, true, o.quiet)
	if err != nil {
		return err
	}
	if !vres.OK {
		return fmt.Errorf("bench: the ledger does not verify: %v", vres.Problems)
	}
	res.VerifyPerSec = vres.EventsPerSec
	lres, err := verifyAll(ctx, &bg, a, false, true)
	if err != nil {
		return err
	}
	if !lres.OK {
		return fmt.Errorf("bench: the ledger does not verify: %v", lres.Problems)
	}
	res.LedgerVerifyPerSec = lres.EventsPerSec

	// 4. Access reports: the planted patient (1,000 entries spread over the
	// ledger) and the demo's busiest patient.
	rd, err := ledger.OpenReader(a.p.ledger(), a.origin, a.verifier)
	if err != nil {
		return err
	}
	for _, p := range []struct {
		ref     labtrust.PatientRef
		entries *int
		ms      *float64
	}{{planted, &res.ProofEntries, &res.ProofMs}, {labtrust.PatientRef{ID: topPatient}, &res.TopPatientEntries, &res.TopPatientProofMs}} {
		pstart := time.Now()
		rep, err := accessreport.Build(ctx, a.db, rd, a.keys, a.origin, p.ref)
		if err != nil {
			return err
		}
		*p.ms = float64(time.Since(pstart).Microseconds()) / 1000
		*p.entries = len(rep.Entries)
		if _, err := accessreport.Verify(rep, a.verifier); err != nil {
			return fmt.Errorf("bench: the access report does not verify: %w", err)
		}
	}
	if res.ProofEntries != plantedEntries {
		return fmt.Errorf("bench: the planted patient's report has %d entries, want %d", res.ProofEntries, plantedEntries)
	}
	// 4b. Breach scope: the busiest account over the 30-day window, cold
	// then warm; and, for scale, one day scoped by account (index) and by
	// address (every body in the day opened).
	if err := benchScope(ctx, a, lab, &res); err != nil {
		return err
	}
	// 5. Detection replay: every stored event through the rules and the
	// access explainer.
	eng, err := detect.Open(rulesDir, sigma.Options{})
	if err != nil {
		return err
	}
	eng.Explain(explain.New())
	res.DetectRules = len(eng.Rules())
	dstart := time.Now()
	stored, err := a.db.NextIndex(ctx)
	if err != nil {
		return err
	}
	if _, err := eng.Process(ctx, a.db, a.keys, 0, stored, func(labtrust.Alert) { res.DetectAlerts++ }); err != nil {
		return err
	}
	eng.FlushExplain(func(labtrust.Alert) { res.DetectAlerts++ })
	res.DetectSeconds = time.Since(dstart).Seconds()
	if xs := eng.ExplainStats(); xs.Accesses > 0 {
		res.ExplainedPct = 100 * float64(xs.Explained) / float64(xs.Accesses)
	}
	res.DetectPerSec = float64(stored) / res.DetectSeconds
	res.PeakRSSMiB = peakRSSMiB()

	if o.asJSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(g.stdout, "labtrust bench: %d %s events (%.0f bytes each), %d patients, %s, %d CPUs\n",
		res.Events, res.Format, float64(res.InputBytes)/float64(res.Events), res.Patients, res.Database, res.CPUs)
	fmt.Fprintf(g.stdout, "  ingest            %10.0f events/s  (%.1f s)\n", res.IngestPerSec, res.IngestSeconds)
	fmt.Fprintf(g.stdout, "  ack latency       p50 %.1f ms, p99 %.1f ms\n", res.AckP50Ms, res.AckP99Ms)
	fmt.Fprintf(g.stdout, "  checkpoint lag    max %.0f ms\n", res.CheckpointLagMs)
	fmt.Fprintf(g.stdout, "  verify            %10.0f entries/s (ledger + store), %.0f entries/s (ledger files only)\n", res.VerifyPerSec, res.LedgerVerifyPerSec)
	fmt.Fprintf(g.stdout, "  access report     %d entries with proofs in %.1f ms (busiest demo patient: %d in %.1f ms)\n",
		res.ProofEntries, res.ProofMs, res.TopPatientEntries, res.TopPatientProofMs)
	fmt.Fprintf(g.stdout, "  breach scope      account %s over 30 days: %d accesses, %d patients in %.0f ms (warm %.0f ms); one day: by account %.0f ms, by address (bodies scanned) %.0f ms\n",
		res.ScopeAccount, res.ScopeAccountEvents, res.ScopePatients, res.ScopeMs, res.ScopeWarmMs, res.ScopeDayIndexMs, res.ScopeDayScanMs)
	if o.live {
		fmt.Fprintf(g.stdout, "  live alerts       %d new alerts; commit to alert p50 %.1f ms, p99 %.1f ms; caught up %.0f ms after the last event (%d%% of entries from memory)\n",
			res.LiveAlerts, res.AlertP50Ms, res.AlertP99Ms, res.DetectCatchUpMs, res.DetectLivePct)
	}
	fmt.Fprintf(g.stdout, "  detect replay     %10.0f events/s (%.1f s, %d rules and the access explainer, %d alerts; %.2f%% of accesses explained)\n",
		res.DetectPerSec, res.DetectSeconds, res.DetectRules, res.DetectAlerts, res.ExplainedPct)
	fmt.Fprintf(g.stdout, "  peak RSS          %.0f MiB\n", res.PeakRSSMiB)
	return nil
}

// benchIngestFile parses the NDJSON file in two halves at once (one per
// core), as two concurrent clients would send it.
func benchIngestFile(ctx context.Context, a *app, path string, rate int, progress func(done, total int64)) error {
	data, err := os.Open(path)
	if err != nil {
		return err
	}
	defer data.Close()
	st, err := data.Stat()
	if err != nil {
		return err
	}
	// Split at a line boundary near the middle.
	mid := st.Size() / 2
	buf := make([]byte, 1<<20)
	n, _ := data.ReadAt(buf, mid)
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
		mid += int64(i) + 1
	}
	parts := []*io.SectionReader{io.NewSectionReader(data, 0, mid), io.NewSectionReader(data, mid, st.Size()-mid)}
	var done atomic.Int64
	errs := make(chan error, len(parts))
	start := time.Now()
	for _, part := range parts {
		go func() {
			b := a.pipe.NewBatcher()
			cs := &countSink{Batcher: b, done: &done, progress: progress, rate: rate, start: start}
			err := fhir.Parse(ctx, "ehr", bufio.NewReaderSize(part, 1<<20), cs)
			sum, ferr := b.Flush(ctx)
			if err == nil {
				err = ferr
			}
			if err == nil && sum.Quarantined > 0 {
				err = fmt.Errorf("bench: %d records were quarantined", sum.Quarantined)
			}
			errs <- err
		}()
	}
	var first error
	for range parts {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

type countSink struct {
	*ingest.Batcher
	done     *atomic.Int64
	progress func(done, total int64)
	rate     int // events/s offered, 0 for as fast as possible
	start    time.Time
}

func (c *countSink) Event(ctx context.Context, e labtrust.Event) error {
	n := c.done.Add(1)
	if c.progress != nil && n%8192 == 0 {
		c.progress(n, 0)
	}
	if c.rate > 0 && n%64 == 0 {
		// Hold the offered rate: event n is due at start + n/rate.
		if wait := time.Until(c.start.Add(time.Duration(float64(n) / float64(c.rate) * float64(time.Second)))); wait > 0 {
			time.Sleep(wait)
		}
	}
	return c.Batcher.Event(ctx, e)
}

// benchSyslogTLS sends the octet-counted file over two TLS connections to
// an in-process RFC 5425 listener and waits until every event is durable.
func benchSyslogTLS(ctx context.Context, a *app, path string, total int64, progress func(done, total int64)) error {
	tcfg, err := syslogTLSConfig(a.p, &serveOpts{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := a.pipe.NewBatcher()
	var parsed atomic.Int64
	sink := &countSink{Batcher: b, done: &parsed}
	served := make(chan error, 1)
	go func() { served <- syslog.ServeStream(lctx, tls.NewListener(ln, tcfg), "syslog", sink, a.log) }()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	// Cut the stream into two halves at a frame boundary, reading frame
	// headers only.
	br := bufio.NewReaderSize(f, 1<<20)
	var cut int64
	for cut < st.Size()/2 {
		head, err := br.ReadString(' ')
		if err != nil {
			return fmt.Errorf("bench: bad frame at %d: %w", cut, err)
		}
		n, err := strconv.Atoi(strings.TrimLeft(head[:len(head)-1], "\n"))
		if err != nil {
			return fmt.Errorf("bench: bad frame at %d", cut)
		}
		if _, err := br.Discard(n); err != nil {
			return fmt.Errorf("bench: short frame at %d: %w", cut, err)
		}
		cut += int64(len(head) + n)
	}
	if b, _ := br.Peek(1); len(b) == 1 && b[0] == '\n' {
		cut++ // the newline that ends the frame stays with it
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, part := range []*io.SectionReader{io.NewSectionReader(f, 0, cut), io.NewSectionReader(f, cut, st.Size()-cut)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true}) // our own self-signed cert on loopback
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, err := io.Copy(c, part); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	// Wait until every message sent was parsed and is durable; the input
	// is all valid, so a reject is a bug.
	for {
		n := parsed.Load()
		sum, err := b.Flush(ctx)
		if err != nil {
			return err
		}
		if sum.Quarantined > 0 {
			return fmt.Errorf("bench: %d syslog messages were quarantined", sum.Quarantined)
		}
		if progress != nil {
			progress(n, total)
		}
		if n >= total {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	return <-served
}

// peakRSSMiB reads VmHWM from /proc (Linux); 0 elsewhere.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// benchSchema gives the benchmark a fresh PostgreSQL schema, dropped after
// the run unless keep.
func benchSchema(ctx context.Context, base string, keep bool) (string, func(), error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("labtrust_bench_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("bench: create schema: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		if !keep {
			admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		}
		admin.Close()
	}, nil
}

// benchScope measures breach scoping on the bench ledger.
func benchScope(ctx context.Context, a *app, lab *demo.Lab, res *benchResult) error {
	size, err := a.db.NextIndex(ctx)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	var lastAddr string
	if err := a.db.Events(ctx, 0, size, func(r *store.EventRow) error {
		if r.Kind == string(labtrust.KindAccess) && r.Outcome == 0 {
			counts[r.Actor]++
		}
		return nil
	}); err != nil {
		return err
	}
	for actor, n := range counts {
		if n > res.ScopeAccountEvents || (n == res.ScopeAccountEvents && actor < res.ScopeAccount) {
			res.ScopeAccount, res.ScopeAccountEvents = actor, n
		}
	}
	sc := scoper(a)
	from, to := lab.Config().Start, lab.Config().End()
	in := []breach.Indicator{{Kind: breach.IndicatorAccount, Value: res.ScopeAccount, From: from, To: to}}
	for i, ms := range []*float64{&res.ScopeMs, &res.ScopeWarmMs} {
		start := time.Now()
		s, err := sc.Compute(ctx, in, size)
		if err != nil {
			return err
		}
		*ms = float64(time.Since(start).Microseconds()) / 1000
		if i == 0 {
			res.ScopePatients = len(s.Patients)
		}
		if s.Events != res.ScopeAccountEvents {
			return fmt.Errorf("bench: the scope read %d of the account's %d accesses", s.Events, res.ScopeAccountEvents)
		}
	}
	// One day: the account's own address from one of its events.
	day := from.Add(24 * time.Hour)
	if err := ingestReadOne(ctx, a, res.ScopeAccount, day, &lastAddr); err != nil {
		return err
	}
	start := time.Now()
	if _, err := sc.Compute(ctx, []breach.Indicator{{Kind: breach.IndicatorAccount, Value: res.ScopeAccount, From: day, To: day.Add(24 * time.Hour)}}, size); err != nil {
		return err
	}
	res.ScopeDayIndexMs = float64(time.Since(start).Microseconds()) / 1000
	if lastAddr != "" {
		start = time.Now()
		if _, err := sc.Compute(ctx, []breach.Indicator{{Kind: breach.IndicatorAddress, Value: lastAddr, From: day, To: day.Add(24 * time.Hour)}}, size); err != nil {
			return err
		}
		res.ScopeDayScanMs = float64(time.Since(start).Microseconds()) / 1000
	}
	return nil
}

// ingestReadOne finds the network address of one of actor's events on or
// after day.
func ingestReadOne(ctx context.Context, a *app, actor string, day time.Time, addr *string) error {
	errFound := errors.New("found")
	var first uint64
	found := false
	err := a.db.Search(ctx, store.Filter{From: day, Actor: actor}, func(r *store.EventRow) error {
		first, found = r.Index, true
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return err
	}
	if !found {
		return nil
	}
	return ingest.ReadEntries(ctx, a.db, a.keys, first, first+1, func(_ *store.EventRow, rec frame.Record) error {
		en, err := labtrust.DecodeStored(rec.Nonce, rec.Canonical)
		if err != nil {
			return err
		}
		*addr = en.Event.Network
		return nil
	})
}
