package notice_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/vault"
	"golang.org/x/mod/sumdb/note"
)

// BenchmarkBreachToMailHouse is the figure: a breach of N patients
// (LABTRUST_BENCH_PATIENTS, default 10,000; a whole registry exported, so
// a record-set indicator) from scope to obligations to prepared notices
// to mail-house files, on SQLite, as the CLI runs it. The registry, the
// monitoring-code pool and a signed checkpoint are set up first and not
// timed. Each phase's seconds and the peak resident memory of the timed
// part (VmHWM, reset after set-up) are reported.
//
//	LABTRUST_BENCH_PATIENTS=1000000 go test -run '^$' -bench BreachToMailHouse -benchtime 1x -timeout 2h ./notice
//
// Importing ten million patients takes most of an hour: with
// LABTRUST_BENCH_REGISTRY=DIR the imported registry (database and key
// file) is kept in DIR and copied from there by later runs of the same
// size; LABTRUST_BENCH_SETUP_ONLY=1 stops once it is kept.
func BenchmarkBreachToMailHouse(b *testing.B) {
	n := 10_000
	if s := os.Getenv("LABTRUST_BENCH_PATIENTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	dir := b.TempDir()
	db, keys, reg := benchRegistry(b, dir, n)
	codes := make([]string, n)
	for i := range codes {
		codes[i] = fmt.Sprintf("CW-%08d", i)
	}
	// A signed checkpoint for the scope to cite.
	skey, _, _ := ledger.NewKey("lab.example/log")
	signer, _ := note.NewSigner(skey)
	lg, err := ledger.Open(ctx, filepath.Join(dir, "ledger"), "lab.example/log", signer)
	if err != nil {
		b.Fatal(err)
	}
	pipe, err := ingest.New(ctx, ingest.Config{CheckpointInterval: 10 * time.Millisecond}, db, lg, keys)
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pipe.Run(runCtx) }()
	defer func() { cancel(); <-done; lg.Close() }()
	pipe.Submit(ctx, []labtrust.Event{{Time: time.Now(), Source: "lis", Kind: labtrust.KindSecurity, Action: labtrust.ActionExecute, Actor: labtrust.Actor{ID: "root"}}})
	for !strings.Contains(string(pipe.LatestCheckpoint()), "\n1\n") {
		time.Sleep(10 * time.Millisecond)
	}
	inc, err := incident.New(db, keys, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	in, err := inc.Create(ctx, "priya", incident.NewIncident{Title: "Database exfiltrated", Discovered: time.Now().Add(-72 * time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := inc.SetIndicators(ctx, "priya", in.ID, []breach.Indicator{{Kind: breach.IndicatorRegistry,
		Elements: []breach.Element{breach.ElementName, breach.ElementAddress, breach.ElementDOB, breach.ElementResults}}}); err != nil {
		b.Fatal(err)
	}
	ns := notice.NewService(db, keys, keys.Blind, reg, nil)
	if _, err := ns.AddMonitoringCodes(ctx, in.ID, codes); err != nil {
		b.Fatal(err)
	}
	laws, err := breach.BuiltinLaws()
	if err != nil {
		b.Fatal(err)
	}
	fonts, err := notice.NewBatchFonts(notice.DefaultFonts())
	if err != nil {
		b.Fatal(err)
	}
	texts := map[string]notice.Text{"en": {What: "Criminals copied our patient database.", Doing: "We rebuilt the systems and called the FBI."},
		"es": {What: "Delincuentes copiaron nuestra base de datos de pacientes.", Doing: "Reconstruimos los sistemas y llamamos al FBI."}}
	codes = nil
	debug.FreeOSMemory()                                  // what set-up used goes back first,
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // then the peak RSS is reset
	startRSS := procStatus("VmRSS:")
	peak := 0.0
	// phase runs one step and reports its time and its peak RSS.
	phase := func(name string, fn func()) {
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		t0, cpu0, sys0 := time.Now(), cpuTime(), machineBusy()
		// Labelled, so a -cpuprofile splits by phase (-tagfocus
		// phase=prepare); goroutines started inside inherit it.
		pprof.Do(ctx, pprof.Labels("phase", name), func(context.Context) { fn() })
		wall := time.Since(t0)
		b.ReportMetric(wall.Seconds(), "s-"+name)
		// How many of the cores the phase kept busy: below 2 on two
		// cores, some step waited for another.
		b.ReportMetric((cpuTime()-cpu0).Seconds()/wall.Seconds(), "cores-"+name)
		// The whole machine's, which counts PostgreSQL's own processes.
		b.ReportMetric((machineBusy()-sys0).Seconds()/wall.Seconds(), "cores-machine-"+name)
		hwm := procStatus("VmHWM:")
		b.ReportMetric(hwm, "MB-peak-"+name)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapSys)/(1<<20), "MB-goheap-"+name)
		peak = max(peak, hwm)
	}
	for b.Loop() {
		start := time.Now()
		phase("scope", func() {
			scoper := &breach.Scoper{Keys: keys, Blind: keys.Blind, Patients: reg, Events: db}
			if _, err := inc.ComputeScope(ctx, "priya", in.ID, scoper, pipe.LatestCheckpoint(), signer); err != nil {
				b.Fatal(err)
			}
		})
		phase("obligations", func() {
			if _, obs, err := inc.Obligations(ctx, in.ID, laws); err != nil || len(obs) == 0 {
				b.Fatal(err)
			}
		})
		phase("prepare", func() {
			src := notice.ScopeSource{Each: func(fn func([]breach.Affected) error) error { return inc.ScopePatients(ctx, in.ID, fn) }, Total: n, WholeRegistry: true}
			if _, err := ns.PrepareFrom(ctx, in.ID, src, nil); err != nil {
				b.Fatal(err)
			}
		})
		var w notice.Written
		phase("mailhouse", func() {
			mh := &notice.MailHouse{Service: ns, Rows: db.Notices, Lab: notice.Lab{Name: "Valley Lab", TollFree: "1-800-555-0100"}, Texts: texts,
				Discovered: in.Discovered, Date: time.Now(), Fonts: fonts, Laws: laws,
				Monitoring: &notice.Monitoring{Vendor: "CreditWatch", Months: 24, URL: "https://cw.example", EnrolBy: time.Now().AddDate(0, 4, 0)}}
			var err error
			if w, err = mh.Write(ctx, in.ID, filepath.Join(dir, "mailhouse")); err != nil {
				b.Fatal(err)
			}
		})
		b.ReportMetric(time.Since(start).Seconds(), "s-total")
		b.ReportMetric(float64(w.Letters), "letters")
	}
	b.ReportMetric(peak, "MB-peak-RSS")
	b.ReportMetric(startRSS, "MB-RSS-after-setup")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time every process on the machine has used
// (/proc/stat: all but idle and I/O wait).
func machineBusy() time.Duration {
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(st), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		t, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is counted in user already
			busy += t
		}
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ
}

// procStatus reads a memory line of /proc/self/status, in MB.
func procStatus(field string) float64 {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(l, field) {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// benchRegistry opens a lab in dir whose registry holds n patients: one
// in five prefers Spanish, one in twenty has no usable address, names
// need Unicode. It is imported, or copied from LABTRUST_BENCH_REGISTRY
// when an import of that size was kept there.
func benchRegistry(b *testing.B, dir string, n int) (*store.DB, *vault.Keyring, *registry.Registry) {
	if pg := os.Getenv("LABTRUST_BENCH_POSTGRES"); pg != "" {
		return benchRegistryPostgres(b, pg, dir, n)
	}
	cache := os.Getenv("LABTRUST_BENCH_REGISTRY")
	kept := filepath.Join(cache, fmt.Sprintf("registry-%d", n))
	files := []string{"lab.db", "kek.key"}
	if _, err := os.Stat(filepath.Join(kept, "complete")); cache != "" && err == nil {
		for _, f := range append(files, "lab.db-wal") {
			if _, err := os.Stat(filepath.Join(kept, f)); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err := copyFile(filepath.Join(kept, f), filepath.Join(dir, f)); err != nil {
				b.Fatal(err)
			}
		}
		return openLab(b, filepath.Join(dir, "lab.db"), dir)
	}
	db, keys, reg := openLab(b, filepath.Join(dir, "lab.db"), dir)
	importPatients(b, reg, n)
	if cache != "" {
		// A consistent copy: the database closed first (no checkpoint
		// writing into the file as it is read), with its log if one is
		// left.
		db.Close()
		if err := os.MkdirAll(kept, 0o700); err != nil {
			b.Fatal(err)
		}
		for _, f := range append(files, "lab.db-wal") {
			if _, err := os.Stat(filepath.Join(dir, f)); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err := copyFile(filepath.Join(dir, f), filepath.Join(kept, f)); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(kept, "complete"), nil, 0o600); err != nil {
			b.Fatal(err)
		}
		db, keys, reg = openLab(b, filepath.Join(dir, "lab.db"), dir)
	}
	if os.Getenv("LABTRUST_BENCH_SETUP_ONLY") != "" {
		b.Skip("registry kept in " + kept)
	}
	return db, keys, reg
}

// importPatients imports n made-up patients into reg: one in five
// prefers Spanish, one in twenty has no usable address, names need
// Unicode.
func importPatients(b *testing.B, reg *registry.Registry, n int) {
	ctx := context.Background()
	states := []string{"TX", "CA", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI", "NJ", "VA", "WA", "AZ", "MA"}
	var recs []labtrust.PatientRecord
	for i := range n {
		p := labtrust.Patient{ID: labtrust.PatientRef{ID: fmt.Sprintf("MRN%08d", i)}, Name: labtrust.HumanName{Family: []string{"García", "Smith", "Nguyễn", "Kowalski", "O'Brien"}[i%5], Given: []string{"Ana", "Li"}},
			BirthDate: fmt.Sprintf("19%02d-%02d-%02d", 40+i%60, 1+i%12, 1+i%28)}
		if i%5 == 0 {
			p.Language = "es"
		}
		if i%20 != 0 { // one in twenty has no usable address: substitute notice
			p.Addresses = []labtrust.Address{{Lines: []string{fmt.Sprintf("%d Oak Ave", 1+i%9000)}, City: "Springfield", State: states[i%len(states)], PostalCode: fmt.Sprintf("%05d", 10000+i%89999)}}
		}
		recs = append(recs, labtrust.PatientRecord{Source: "adt", Time: time.Now(), Patient: p})
		if len(recs) == 5000 || i == n-1 {
			if err := reg.Import(ctx, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}

// benchRegistryPostgres is benchRegistry on PostgreSQL (base: a URL whose
// user may create databases). Each run gets a database of its own,
// dropped after; with LABTRUST_BENCH_REGISTRY the imported registry is
// kept as the template database labtrust_bench_N (its key file in DIR),
// which later runs of the same size are made from in seconds.
func benchRegistryPostgres(b *testing.B, base, dir string, n int) (*store.DB, *vault.Keyring, *registry.Registry) {
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Close() })
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	dsnFor := func(name string) string {
		v := *u
		v.Path = "/" + name
		return v.String()
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "labtrust_bench_run_" + hex.EncodeToString(rnd[:])
	cache := os.Getenv("LABTRUST_BENCH_REGISTRY")
	kept := filepath.Join(cache, fmt.Sprintf("registry-pg-%d", n))
	template := fmt.Sprintf("labtrust_bench_%d", n)
	_, statErr := os.Stat(filepath.Join(kept, "complete"))
	reuse := cache != "" && statErr == nil
	create := "CREATE DATABASE " + name
	if reuse {
		create += " TEMPLATE " + template
		if err := copyFile(filepath.Join(kept, "kek.key"), filepath.Join(dir, "kek.key")); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := admin.ExecContext(ctx, create); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	db, keys, reg := openLab(b, dsnFor(name), dir)
	if reuse {
		return db, keys, reg
	}
	importPatients(b, reg, n)
	if cache != "" {
		db.Close() // a template database takes no connections
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+template+" WITH (FORCE)"); err != nil {
			b.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+template+" TEMPLATE "+name); err != nil {
			b.Fatal(err)
		}
		if err := os.MkdirAll(kept, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := copyFile(filepath.Join(dir, "kek.key"), filepath.Join(kept, "kek.key")); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(kept, "complete"), nil, 0o600); err != nil {
			b.Fatal(err)
		}
		db, keys, reg = openLab(b, dsnFor(name), dir)
	}
	if os.Getenv("LABTRUST_BENCH_SETUP_ONLY") != "" {
		b.Skip("registry kept as database " + template)
	}
	return db, keys, reg
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
