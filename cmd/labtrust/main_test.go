package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/labtrust/labtrust/hl7"
	"github.com/pquerna/otp/totp"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/fhir"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/notify/notifytest"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"golang.org/x/mod/sumdb/note"
)

// The test binary doubles as the labtrust binary for subprocess tests.
func TestMain(m *testing.M) {
	if os.Getenv("LABTRUST_TEST_AS_MAIN") == "1" {
		ctx, stop := signalContext()
		code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signalNotify(ch)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// run drives Main in-process and returns exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errb := run(t, args...)
	if code != 0 {
		t.Fatalf("labtrust %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errb)
	}
	return out
}

func dbArgs(dsn string) []string {
	if strings.HasPrefix(dsn, "postgres") {
		return []string{"--db", dsn}
	}
	return nil
}

func TestCLIEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		common := append([]string{"--data", data}, dbArgs(dsn)...)
		with := func(args ...string) []string { return append(append([]string{}, args...), common...) }

		// Demo files in both formats, then ingest them.
		out := mustRun(t, "demo", "--out", filepath.Join(dir, "demo"), "--patients", "300", "--events", "3000", "--quiet")
		if !strings.Contains(out, "3000 events") {
			t.Fatalf("demo output: %s", out)
		}
		mustRun(t, "demo", "--out", filepath.Join(dir, "demo-syslog"), "--patients", "300", "--events", "2500", "--format", "syslog", "--quiet")
		for _, f := range []string{"lab.json", "patients.csv", "manifest.json", "events.ndjson"} {
			if _, err := os.Stat(filepath.Join(dir, "demo", f)); err != nil {
				t.Fatal(err)
			}
		}
		out = mustRun(t, with("ingest", "--source", "ehr", "--format", "fhir", "--quiet", filepath.Join(dir, "demo", "events.ndjson"))...)
		if !strings.Contains(out, "ingested 3000 events, quarantined 0") {
			t.Fatalf("ingest: %s", out)
		}
		out = mustRun(t, with("ingest", "--source", "atna", "--format", "syslog", "--quiet", filepath.Join(dir, "demo-syslog", "events.syslog"))...)
		if !strings.Contains(out, "ingested 2500 events, quarantined 0") {
			t.Fatalf("ingest syslog: %s", out)
		}

		// CSV with a wrong mapping: every row is quarantined; fix, retry.
		csvPath := filepath.Join(dir, "lis.csv")
		os.WriteFile(csvPath, []byte("when,user,mrn,what\n2026-10-02T09:00:00Z,u1,MRN00000007,VIEW\n2026-10-02T09:01:00Z,u2,MRN00000008,VIEW\n"), 0o644)
		writeConfig := func(timeCol string) {
			cfg := fmt.Sprintf("sources:\n  lis:\n    format: csv\n    csv:\n      columns:\n        time: %s\n        actorId: user\n        patientId: mrn\n        action: what\n      actionMap:\n        VIEW: R\n", timeCol)
			if err := os.WriteFile(filepath.Join(data, "labtrust.yaml"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		writeConfig("timestamp")
		out = mustRun(t, with("ingest", "--source", "lis", "--quiet", csvPath)...)
		if !strings.Contains(out, "ingested 0 events, quarantined 2") {
			t.Fatalf("csv with wrong mapping: %s", out)
		}
		out = mustRun(t, with("quarantine", "list")...)
		if !strings.Contains(out, `mapping names column "timestamp", which the header lacks`) || strings.Contains(out, "MRN00000007") {
			t.Fatalf("quarantine list: %s", out)
		}
		out = mustRun(t, with("quarantine", "show", "1")...)
		if strings.Contains(out, "MRN00000007") || !strings.Contains(out, "line 2") {
			t.Fatalf("quarantine show without --raw: %s", out)
		}
		out = mustRun(t, with("quarantine", "show", "1", "--raw")...)
		if !strings.Contains(out, "MRN00000007") {
			t.Fatalf("quarantine show --raw: %s", out)
		}
		out = mustRun(t, with("quarantine", "retry", "--all")...)
		if !strings.Contains(out, "0 ingested, 2 still quarantined") {
			t.Fatalf("retry before the fix: %s", out)
		}
		writeConfig("when")
		out = mustRun(t, with("quarantine", "retry", "--all")...)
		if !strings.Contains(out, "2 ingested, 0 still quarantined") {
			t.Fatalf("retry after the fix: %s", out)
		}

		// Verify, prove, and check the proof offline.
		// 5,500 events, the two retried rows, and the raw view of a
		// quarantined record (a staff action, so in the ledger).
		out = mustRun(t, with("verify", "--quiet")...)
		if !strings.HasPrefix(out, "OK: ") || !strings.Contains(out, "5503 entries") {
			t.Fatalf("verify: %s", out)
		}
		report := filepath.Join(dir, "report.json")
		idFile := filepath.Join(dir, "patient.txt")
		os.WriteFile(idFile, []byte("MRN00000007\n"), 0o600)
		mustRun(t, with("proof", "--patient-file", idFile, "--out", report)...)
		st, _ := os.Stat(report)
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("report mode %v", st.Mode().Perm())
		}
		f, _ := os.Open(report)
		rep, err := accessreport.Read(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		vkey, _ := os.ReadFile(filepath.Join(data, "ledger.vkey"))
		v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := accessreport.Verify(rep, v)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) == 0 || res.Entries[len(res.Entries)-1].Event.Actor.ID != "u1" {
			t.Fatalf("report of MRN00000007 should end with the CSV row by u1: %d entries", len(res.Entries))
		}

		// Tamper with a tile: verify fails and names it.
		tile := filepath.Join(data, "ledger", "tile", "0", "000")
		b, err := os.ReadFile(tile)
		if err != nil {
			t.Fatal(err)
		}
		b[100] ^= 1
		os.WriteFile(tile, b, 0o644)
		code, out, errb := run(t, with("verify", "--quiet")...)
		if code != 1 || !strings.Contains(out, "tile/0/000") || !strings.Contains(errb, "does not verify") {
			t.Fatalf("tampered verify: exit %d\n%s\n%s", code, out, errb)
		}
		b[100] ^= 1
		os.WriteFile(tile, b, 0o644)

		// Tamper with a stored body: verify names the event.
		db, err := store.Open(context.Background(), dsnFor(dsn, data))
		if err != nil {
			t.Fatal(err)
		}
		var first int64
		if err := db.SQL().QueryRow(`SELECT MAX(first) FROM event_frames WHERE first <= 42`).Scan(&first); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().Exec(fmt.Sprintf(`UPDATE event_frames SET body = body || x'00' WHERE first = %d`, first)); err != nil {
			if _, err := db.SQL().Exec(fmt.Sprintf(`UPDATE event_frames SET body = body || '\x00'::bytea WHERE first = %d`, first)); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		code, out, _ = run(t, with("verify", "--quiet")...)
		if code != 1 || !strings.Contains(out, fmt.Sprintf("store event %d: its frame (entries %d to", first, first)) {
			t.Fatalf("verify after store tamper: exit %d\n%s", code, out)
		}

		// Keys: status lists them, never their values.
		out = mustRun(t, with("keys", "status")...)
		if strings.Count(out, "aead-keyset") != 2 || strings.Count(out, "prf-keyset") != 2 || strings.Count(out, "primary") != 2 {
			t.Fatalf("keys status: %s", out)
		}
		// Rotation adds a primary key; what the old one sealed still opens.
		mustRun(t, with("keys", "rotate")...)
		out = mustRun(t, with("keys", "status")...)
		if strings.Count(out, "aead-keyset") != 4 || strings.Count(out, "primary") != 2 {
			t.Fatalf("keys status after rotate: %s", out)
		}
	})
}

func dsnFor(dsn, data string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return dsn
	}
	return filepath.Join(data, "labtrust.db")
}

func TestCLIErrorsHaveHints(t *testing.T) {
	data := t.TempDir()
	code, _, errb := run(t, "ingest", "--data", data, "x.ndjson")
	if code != 1 || !strings.Contains(errb, "error: --source is required") || !strings.Contains(errb, "hint:") {
		t.Fatalf("exit %d: %s", code, errb)
	}
	code, _, errb = run(t, "ingest", "--data", data, "--source", "x", "--format", "nope", "f")
	if code != 1 || !strings.Contains(errb, `unknown format "nope"`) {
		t.Fatalf("exit %d: %s", code, errb)
	}
	code, out, _ := run(t, "--help")
	for _, c := range []string{"serve", "ingest", "verify", "proof", "quarantine", "demo", "keys", "bench"} {
		if code != 0 || !strings.Contains(out, c) {
			t.Fatalf("--help lacks %s: %s", c, out)
		}
	}
	t.Setenv("LABTRUST_DATA", filepath.Join(data, "from-env"))
	mustRun(t, "keys", "status")
	if _, err := os.Stat(filepath.Join(data, "from-env", "keys", "kek.key")); err != nil {
		t.Fatalf("LABTRUST_DATA was not used: %v", err)
	}
}

// serverProc is a labtrust serve subprocess.
type serverProc struct {
	cmd  *exec.Cmd
	addr string
}

var servingRE = regexp.MustCompile(`labtrust serving on http://(\S+) `)

func startServer(t *testing.T, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--checkpoint-interval", "100ms"}, args...)...)
	cmd.Env = append(os.Environ(), "LABTRUST_TEST_AS_MAIN=1")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr := <-found:
		return &serverProc{cmd: cmd, addr: addr}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("server did not start: %s", stderr.String())
	}
	return nil
}

// TestCrashLosesNoAcknowledgedEvent kills the server with SIGKILL while
// clients are sending, several times, and checks that every acknowledged
// event is stored and that the ledger verifies, before and after restart.
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: slow")
	}
	storetest.Each(t, func(t *testing.T, dsn string) {
		data := filepath.Join(t.TempDir(), "data")
		common := append([]string{"--data", data}, dbArgs(dsn)...)
		lab := demo.NewLab(demo.Config{Seed: 3, Patients: 500, Events: 1_000_000}.WithDefaults())
		events := make(chan labtrust.Event, 1024)
		go lab.Stream(context.Background(), func(e labtrust.Event) error { events <- e; return nil }, nil)
		var mu sync.Mutex
		acked := map[string]bool{}
		var token string
		for round := 0; round < 3; round++ {
			srv := startServer(t, common...)
			if token == "" {
				b, err := os.ReadFile(filepath.Join(data, "api.token"))
				if err != nil {
					t.Fatal(err)
				}
				token = strings.TrimSpace(string(b))
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for c := 0; c < 4; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						var body bytes.Buffer
						var refs []string
						for i := 0; i < 200; i++ {
							e := <-events
							b, _ := fhir.Encode(e)
							body.Write(b)
							body.WriteByte('\n')
							refs = append(refs, e.SourceRef)
						}
						req, _ := http.NewRequest("POST", "http://"+srv.addr+"/api/v1/events?source=ehr", &body)
						req.Header.Set("Authorization", "Bearer "+token)
						req.Header.Set("Content-Type", "application/fhir+ndjson")
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							return // the server died mid-request: not acknowledged
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 200 {
							mu.Lock()
							for _, r := range refs {
								acked[r] = true
							}
							mu.Unlock()
						}
					}
				}()
			}
			time.Sleep(time.Duration(700+round*400) * time.Millisecond)
			srv.cmd.Process.Signal(syscall.SIGKILL)
			srv.cmd.Wait()
			close(stop)
			wg.Wait()
			// Straight after the crash, before any restart: the ledger
			// files verify on their own.
			code, out, errb := run(t, append([]string{"verify", "--quiet"}, common...)...)
			if code != 0 {
				t.Fatalf("round %d: verify after kill -9: %s %s", round, out, errb)
			}
		}
		if len(acked) < 1000 {
			t.Fatalf("only %d events were acknowledged; the test did not exercise ingest", len(acked))
		}
		// Restart once more: recovery appends what the last checkpoint
		// missed; then stop cleanly and verify.
		srv := startServer(t, common...)
		resp, err := http.Get("http://" + srv.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// One malformed record, so the quarantine has something to count.
		req, _ := http.NewRequest("POST", "http://"+srv.addr+"/api/v1/events?source=ehr", strings.NewReader("{not json\n"))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/fhir+ndjson")
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("post a bad record: %v %v", resp, err)
		}
		resp, err = http.Get("http://" + srv.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range []string{"labtrust_ledger_size ", "labtrust_ledger_checkpoint_age_seconds ", "labtrust_quarantine_pending 1",
			"labtrust_ledger_unsigned_entries ", `labtrust_quarantine_records{format="fhir",source="ehr",status="pending"} 1`,
			`labtrust_events_quarantined_total{format="fhir",source="ehr"} 1`} {
			if !bytes.Contains(metrics, []byte(m)) {
				t.Errorf("/metrics lacks %q", m)
			}
		}
		srv.cmd.Process.Signal(syscall.SIGTERM)
		if err := srv.cmd.Wait(); err != nil {
			t.Fatalf("clean stop: %v", err)
		}
		out := mustRun(t, append([]string{"verify", "--quiet"}, common...)...)
		if strings.Contains(out, "not yet under a checkpoint") {
			t.Fatalf("after a clean stop every stored event must be checkpointed: %s", out)
		}
		// Every acknowledged event is in the store.
		g := &globalOpts{data: data, stderr: io.Discard, stdout: io.Discard, getenv: os.Getenv}
		if strings.HasPrefix(dsn, "postgres") {
			g.db = dsn
		}
		a, err := openApp(context.Background(), g, nil, openOpts{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		stored := map[string]bool{}
		err = ingest.ReadEntries(context.Background(), a.db, a.keys, 0, 1<<62, func(r *store.EventRow, rec frame.Record) error {
			en, err := labtrust.UnmarshalCanonical(rec.Canonical)
			if err != nil {
				return err
			}
			stored[en.Event.SourceRef] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		lost := 0
		for r := range acked {
			if !stored[r] {
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("%d of %d acknowledged events were lost", lost, len(acked))
		}
		t.Logf("%d acknowledged events over 3 crashes, %d stored, none lost", len(acked), len(stored))
	})
}

func signalNotify(ch chan os.Signal) { signal.Notify(ch, os.Interrupt, syscall.SIGTERM) }

func TestKeysRewrap(t *testing.T) {
	data := t.TempDir()
	mustRun(t, "keys", "status", "--data", data)
	newKEK := filepath.Join(t.TempDir(), "new.key")
	out := mustRun(t, "keys", "rewrap", "--data", data, "--to", newKEK)
	if !strings.Contains(out, "rewrapped 2 data keys") {
		t.Fatalf("rewrap: %s", out)
	}
	code, _, errb := run(t, "keys", "status", "--data", data)
	if code != 1 || !strings.Contains(errb, "wrapped by KEK file:") || !strings.Contains(errb, "hint: pass --kek") {
		t.Fatalf("old KEK after rewrap: exit %d %s", code, errb)
	}
	out = mustRun(t, "keys", "status", "--data", data, "--kek", newKEK)
	if strings.Count(out, "file:") < 3 || !strings.Contains(out, "key-encryption key: file:") {
		t.Fatalf("status with the new KEK: %s", out)
	}
	t.Setenv("LABTRUST_KEK", newKEK)
	mustRun(t, "keys", "status", "--data", data)
	code, _, errb = run(t, "keys", "status", "--data", data, "--kek", "hcvault://127.0.0.1:1/transit/keys/x")
	if code != 1 || !strings.Contains(errb, "VAULT_TOKEN") {
		t.Fatalf("Vault KEK without a token: exit %d %s", code, errb)
	}
}

// TestKeyRotationLifecycle: rotate while data exists, re-encrypt, retire the
// old key, and everything still verifies and proves, on both databases.
func TestKeyRotationLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		common := append([]string{"--data", filepath.Join(dir, "data")}, dbArgs(dsn)...)
		with := func(args ...string) []string { return append(append([]string{}, args...), common...) }
		mustRun(t, "demo", "--out", filepath.Join(dir, "demo"), "--patients", "50", "--events", "600", "--quiet")
		events := filepath.Join(dir, "demo", "events.ndjson")
		mustRun(t, with("ingest", "--source", "ehr", "--format", "fhir", "--quiet", events)...)
		before := mustRun(t, with("keys", "status")...)
		mustRun(t, with("keys", "rotate")...)
		mustRun(t, with("ingest", "--source", "ehr", "--format", "fhir", "--quiet", events)...)
		out := mustRun(t, with("keys", "reencrypt", "--dry-run", "--quiet")...)
		if !strings.Contains(out, "still seals") {
			t.Fatalf("dry run after rotation: %s", out)
		}
		// The old primary: the first "primary" line of the status before.
		var oldKey string
		for _, l := range strings.Split(before, "\n") {
			if strings.Contains(l, "aead-keyset") && strings.Contains(l, "primary") {
				oldKey = strings.Fields(l)[0]
			}
		}
		code, _, errb := run(t, with("keys", "retire", oldKey)...)
		if code != 1 || !strings.Contains(errb, "still seals") {
			t.Fatalf("retire before re-encryption: exit %d %s", code, errb)
		}
		out = mustRun(t, with("keys", "reencrypt", "--quiet")...)
		if !strings.Contains(out, "nothing depends on an older key") {
			t.Fatalf("reencrypt: %s", out)
		}
		out = mustRun(t, with("keys", "retire", oldKey)...)
		if !strings.Contains(out, "retired key "+oldKey) {
			t.Fatalf("retire: %s", out)
		}
		if out := mustRun(t, with("keys", "status")...); strings.Contains(out, oldKey+" ") {
			t.Fatalf("retired key still listed: %s", out)
		}
		out = mustRun(t, with("verify", "--quiet")...)
		if !strings.Contains(out, "every event body opens") {
			t.Fatalf("verify after retirement: %s", out)
		}
		mustRun(t, with("proof", "--patient", "MRN00000007", "--out", filepath.Join(dir, "r.json"))...)
	})
}

// TestNoPlaintextPHIAtRest ingests demo events (and a quarantined CSV row),
// then searches every byte labtrust keeps (the SQLite files and the
// ledger, or a pg_dump of the PostgreSQL schema) for the patients'
// identifiers and contact details: none may appear.
func TestNoPlaintextPHIAtRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		common := append([]string{"--data", data}, dbArgs(dsn)...)
		with := func(args ...string) []string { return append(append([]string{}, args...), common...) }
		mustRun(t, "demo", "--out", filepath.Join(dir, "demo"), "--patients", "200", "--events", "3000", "--quiet")
		mustRun(t, with("ingest", "--source", "ehr", "--format", "fhir", "--quiet", filepath.Join(dir, "demo", "events.ndjson"))...)
		csvPath := filepath.Join(dir, "bad.csv")
		os.WriteFile(csvPath, []byte("when,user,mrn\nnot-a-time,u1,MRN00000011\n"), 0o644)
		os.WriteFile(filepath.Join(data, "labtrust.yaml"), []byte("sources:\n  lis:\n    format: csv\n    csv:\n      columns:\n        time: when\n        actorId: user\n        patientId: mrn\n"), 0o600)
		if out := mustRun(t, with("ingest", "--source", "lis", "--quiet", csvPath)...); !strings.Contains(out, "quarantined 1") {
			t.Fatalf("the bad row was not quarantined: %s", out)
		}
		// The registry holds every patient's identity and contact details.
		if out := mustRun(t, with("patients", "import", "--source", "adt", filepath.Join(dir, "demo", "patients.hl7"))...); !strings.Contains(out, "imported 200 patient records") {
			t.Fatalf("registry import: %s", out)
		}

		// What is at rest.
		var rest []byte
		filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".yaml") {
				b, _ := os.ReadFile(p)
				rest = append(rest, b...)
			}
			return nil
		})
		if strings.HasPrefix(dsn, "postgres") {
			u, _ := url.Parse(dsn)
			schema := u.Query().Get("search_path")
			q := u.Query()
			q.Del("search_path")
			u.RawQuery = q.Encode()
			out, err := exec.Command("pg_dump", "--data-only", "--schema", schema, u.String()).Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			if !bytes.Contains(out, []byte("COPY "+schema+".event_frames")) {
				t.Fatal("the dump holds no event frames: wrong schema?")
			}
			rest = append(rest, out...)
		}

		// The patients' details from the demo's patient list.
		f, err := os.Open(filepath.Join(dir, "demo", "patients.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		checked := 0
		for _, r := range rows[1:] {
			for _, field := range []string{"mrn", "phone", "email", "address", "family", "birth_date"} {
				v := r[col[field]]
				if len(v) < 6 {
					continue
				}
				checked++
				if bytes.Contains(rest, []byte(v)) {
					t.Fatalf("patient %s (%s) is in plaintext at rest", field, r[col["mrn"]][:3]+"…")
				}
			}
		}
		if checked < 800 {
			t.Fatalf("only %d values checked", checked)
		}
	})
}

// TestMLLPIntoRegistry: an interface engine sends ADT over MLLP to a
// running server; each message is acknowledged once its record is stored,
// and the CLI then finds the patient.
func TestMLLPIntoRegistry(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv := startServer(t, "--data", data, "--hl7-mllp", addr)
	defer func() {
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	}()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a01, err := os.ReadFile(filepath.Join("..", "..", "hl7", "testdata", "a01.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte("MSH|^~\\&|A|B|C|D|202610011200||ADT^A08|CTL2|P|2.5\rPID|1||^^^LAB^MR\r")
	orm, err := os.ReadFile(filepath.Join("..", "..", "clinical", "testdata", "orm.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	badOrder := []byte("MSH|^~\\&|LIS|LAB|X|Y|202611020900||ORM^O01|C9|P|2.5\rORC|NW|ORD-9\r")
	fr := hl7.NewFrameReader(conn, 0)
	var acks []string
	for _, m := range [][]byte{a01, bad, orm, badOrder} {
		if err := hl7.WriteFrame(conn, m); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		msg, _, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		am, err := hl7.Parse(msg)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, am.Field("MSA", 1).String())
	}
	// ADT to the registry, orders to the clinical context; what does
	// not read is refused (AE) and quarantined.
	if strings.Join(acks, " ") != "AA AE AA AE" {
		t.Fatalf("acks %v", acks)
	}
	out := mustRun(t, "patients", "show", "MRN0012345", "--data", data)
	if !strings.Contains(out, "María Elena García") || !strings.Contains(out, "Springfield") {
		t.Fatalf("patients show: %s", out)
	}
	out = mustRun(t, "quarantine", "list", "--data", data)
	if !strings.Contains(out, "hl7v2") || !strings.Contains(out, "PID-3") || !strings.Contains(out, "hl7v2-clinical") {
		t.Fatalf("the bad messages are not in the quarantine: %s", out)
	}
}

// TestMergedHistoryFollowsSurvivor: after an ADT merge, the surviving
// patient's access report holds the merged MRN's accesses too, and it
// verifies (each identifier's chain checked).
func TestMergedHistoryFollowsSurvivor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		common := append([]string{"--data", data}, dbArgs(dsn)...)
		with := func(args ...string) []string { return append(append([]string{}, args...), common...) }
		os.MkdirAll(data, 0o700)
		os.WriteFile(filepath.Join(data, "labtrust.yaml"), []byte("sources:\n  lis:\n    format: csv\n    csv:\n      columns:\n        time: when\n        actorId: user\n        patientId: mrn\n"), 0o600)
		csvPath := filepath.Join(dir, "access.csv")
		os.WriteFile(csvPath, []byte("when,user,mrn\n2026-10-01T09:00:00Z,u1,MRN0099999\n2026-10-02T09:00:00Z,u2,MRN0012345\n2026-10-03T09:00:00Z,u3,MRN0099999\n2026-10-04T09:00:00Z,u4,MRN0012345\n"), 0o644)
		mustRun(t, with("ingest", "--source", "lis", "--quiet", csvPath)...)
		var adt []byte
		for _, n := range []string{"a01.hl7", "a40.hl7"} {
			b, err := os.ReadFile(filepath.Join("..", "..", "hl7", "testdata", n))
			if err != nil {
				t.Fatal(err)
			}
			adt = append(adt, b...)
		}
		adtPath := filepath.Join(dir, "adt.hl7")
		os.WriteFile(adtPath, adt, 0o600)
		if out := mustRun(t, with("patients", "import", "--source", "epic", adtPath)...); !strings.Contains(out, "imported 2 patient records") {
			t.Fatalf("import: %s", out)
		}
		report := filepath.Join(dir, "r.json")
		mustRun(t, with("proof", "--patient", "MRN0099999", "--out", report)...) // the merged MRN leads to the survivor
		f, err := os.Open(report)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := accessreport.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Patient.ID != "MRN0012345" || len(rep.Merged) != 1 || len(rep.Entries) != 4 {
			t.Fatalf("report for %s, merged %v, %d entries", rep.Patient.ID, rep.Merged, len(rep.Entries))
		}
		vkey, _ := os.ReadFile(filepath.Join(data, "ledger.vkey"))
		v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := accessreport.Verify(rep, v); err != nil {
			t.Fatalf("verify: %v", err)
		}
		// Dropping the merged record's first entry is a gap in its chain.
		rep.Entries = rep.Entries[1:]
		if _, err := accessreport.Verify(rep, v); err == nil || !strings.Contains(err.Error(), "gap") {
			t.Fatalf("a missing merged entry was not noticed: %v", err)
		}

		// Forgetting the patient (by the merged MRN) shreds both records and
		// erases the four events and the report's export (queued, then
		// taken into the ledger first); the ledger and the store still verify.
		if code, _, errb := run(t, with("patients", "forget", "MRN0099999")...); code == 0 || !strings.Contains(errb, "--yes") {
			t.Fatalf("forget without --yes: %d %s", code, errb)
		}
		if out := mustRun(t, with("patients", "forget", "MRN0099999", "--yes")...); !strings.Contains(out, "2 registry record(s)") || !strings.Contains(out, "5 stored events erased") {
			t.Fatalf("forget: %s", out)
		}
		if out := mustRun(t, with("verify", "--quiet")...); !strings.HasPrefix(out, "OK") || !strings.Contains(out, "5 entries were erased") {
			t.Fatalf("verify after forget: %s", out)
		}
		if code, _, errb := run(t, with("proof", "--patient", "MRN0012345", "--out", report)...); code == 0 || !strings.Contains(errb, "forgotten") {
			t.Fatalf("a report for a forgotten patient: %d %s", code, errb)
		}
		if code, _, errb := run(t, with("patients", "show", "MRN0012345")...); code == 0 || !strings.Contains(errb, "forgotten") {
			t.Fatalf("show after forget: %d %s", code, errb)
		}
		if out := mustRun(t, with("patients", "forget", "MRN0012345", "--yes")...); !strings.Contains(out, "already forgotten; 0 events") {
			t.Fatalf("forget again: %s", out)
		}
	})
}

// TestStaffCLI: accounts, TOTP enrolment, role change and disabling from
// the CLI, each recorded in the ledger.
func TestStaffCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("a long enough passphrase\n"), 0o600)
	out := mustRun(t, "staff", "add", "ana", "--role", "privacy-officer", "--name", "Ana Ruiz", "--password-file", pw, "--data", data)
	if !strings.Contains(out, "needs a second factor") {
		t.Fatalf("add: %s", out)
	}
	code, _, errb := run(t, "staff", "add", "bob", "--role", "wizard", "--password-file", pw, "--data", data)
	if code != 1 || !strings.Contains(errb, "role") {
		t.Fatalf("unknown role: exit %d %s", code, errb)
	}
	out = mustRun(t, "staff", "totp", "ana", "--data", data)
	m := regexp.MustCompile(`secret ([A-Z2-7]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("totp: %s", out)
	}
	c, err := totp.GenerateCode(m[1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "staff", "totp", "ana", c, "--data", data)
	if strings.Count(out, "-") < 10 || !strings.Contains(out, "recovery codes") {
		t.Fatalf("confirm: %s", out)
	}
	mustRun(t, "staff", "role", "ana", "director", "--data", data)
	mustRun(t, "staff", "disable", "ana", "--data", data)
	out = mustRun(t, "staff", "list", "--data", data)
	if !strings.Contains(out, "director") || !strings.Contains(out, "totp") || !strings.Contains(out, "disabled") {
		t.Fatalf("list: %s", out)
	}
	// create, enrol start, enrol confirm, role change, disable: 5 entries.
	out = mustRun(t, "verify", "--data", data, "--quiet")
	if !strings.Contains(out, " 5 entries") {
		t.Fatalf("staff actions in the ledger: %s", out)
	}
}

func TestPatientsImportFormats(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustRun(t, "demo", "--out", filepath.Join(dir, "demo"), "--patients", "40", "--events", "100", "--quiet")
	if out := mustRun(t, "patients", "import", "--source", "lis", filepath.Join(dir, "demo", "patients.csv"), "--data", data); !strings.Contains(out, "imported 40 patient records") {
		t.Fatalf("csv: %s", out)
	}
	fhirFile := filepath.Join(dir, "p.ndjson")
	os.WriteFile(fhirFile, []byte(`{"resourceType":"Patient","identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"F-1"}],"name":[{"family":"Okafor","given":["Chidi"]}],"birthDate":"1970-01-02"}`+"\n"+
		`{"resourceType":"Patient","identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"F-2"}],"link":[{"type":"replaces","other":{"identifier":{"value":"F-1"}}}]}`+"\n"+`{"resourceType":"Observation"}`+"\n"), 0o600)
	if out := mustRun(t, "patients", "import", "--source", "ehr", fhirFile, "--data", data); !strings.Contains(out, "imported 2 patient records, quarantined 1") {
		t.Fatalf("fhir: %s", out)
	}
	if out := mustRun(t, "patients", "show", "F-1", "--data", data); !strings.Contains(out, "F-2") || !strings.Contains(out, "merged from  F-1") {
		t.Fatalf("the merged FHIR patient: %s", out)
	}
	if out := mustRun(t, "patients", "show", "MRN00000003", "--data", data); !strings.Contains(out, "MRN00000003") {
		t.Fatalf("csv patient: %s", out)
	}
	// The refused resource is quarantined as a Patient record, never to be
	// retried as an audit event.
	if out := mustRun(t, "quarantine", "list", "--data", data); !strings.Contains(out, "fhir-patient") {
		t.Fatalf("quarantine: %s", out)
	}
	if out := mustRun(t, "quarantine", "retry", "1", "--data", data); !strings.Contains(out, "1: still rejected: on retry:") || !strings.Contains(out, "Patient") {
		t.Fatalf("retry of a patient record: %s", out)
	}
	code, _, errb := run(t, "patients", "import", "--source", "x", filepath.Join(dir, "demo", "lab.json.bak"), "--data", data)
	if code != 1 || !strings.Contains(errb, "format") {
		t.Fatalf("unknown extension: exit %d %s", code, errb)
	}
}

// TestServeDemo is the README's first command: a demo lab, its registry,
// and console accounts whose passwords work.
func TestServeDemo(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, "--data", data, "--demo", "--demo-patients", "200", "--demo-events", "2000")
	defer func() {
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	}()
	fi, err := os.Stat(filepath.Join(data, "demo", "staff.txt"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("staff.txt: %v %v", err, fi)
	}
	b, _ := os.ReadFile(filepath.Join(data, "demo", "staff.txt"))
	m := regexp.MustCompile(`demo-privacy \(privacy-officer\): (\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("staff.txt: %s", b)
	}
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	res, err := cl.PostForm("http://"+srv.addr+"/console/login", url.Values{"username": {"demo-privacy"}, "password": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `id="secret"`) {
		t.Fatalf("the demo account does not reach the second-factor set-up: %d", res.StatusCode)
	}
	// The planted incident is open, with its playbook and indicators, and
	// its scope finds the exported records.
	if out := mustRun(t, "incident", "show", "1", "--data", data); !strings.Contains(out, "After-hours bulk export of patient records by") ||
		!strings.Contains(out, "playbooks:  insider") || !strings.Contains(out, "Scope indicators set: account") {
		t.Fatalf("the demo's incident: %s", out)
	}
	if out := mustRun(t, "scope", "1", "--data", data); !regexp.MustCompile(`(?m)^[1-9]\d* patients affected`).MatchString(out) {
		t.Fatalf("the demo incident's scope: %s", out)
	}
}

// TestStaffAndKeysBesideServer: with a server running, staff and key
// commands still work, and their actions reach the ledger through the
// outbox the server drains.
func TestStaffAndKeysBesideServer(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("a long enough passphrase\n"), 0o600)
	srv := startServer(t, "--data", data)
	defer func() {
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	}()
	mustRun(t, "staff", "add", "ana", "--role", "auditor", "--password-file", pw, "--data", data)
	mustRun(t, "keys", "rotate", "--data", data)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get("http://" + srv.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			LedgerSize uint64 `json:"ledgerSize"`
		}
		json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		if h.LedgerSize >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queued staff actions not in the ledger: size %d", h.LedgerSize)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDetection: the rules check with positions, replay counts what they
// would raise, and a running server raises the demo's password spraying
// as an alert that the CLI triages (each step in the ledger), on SQLite
// and PostgreSQL.
func TestDetection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		common := append([]string{"--data", data}, dbArgs(dsn)...)
		with := func(args ...string) []string { return append(append([]string{}, args...), common...) }
		mustRun(t, "demo", "--out", filepath.Join(dir, "demo"), "--patients", "300", "--events", "4000", "--quiet")
		mustRun(t, with("ingest", "--source", "ehr", "--format", "fhir", "--quiet", filepath.Join(dir, "demo", "events.ndjson"))...)

		rules := filepath.Join(data, "rules")
		os.MkdirAll(rules, 0o700)
		bad := "title: night exports\nlogsource: {product: labtrust}\ndetection:\n  sel:\n    type.code: '110106'\n    time|hour|lt: 6\n    actor.rol: billing\n  condition: sel\n"
		os.WriteFile(filepath.Join(rules, "night.yml"), []byte(bad), 0o600)
		code, out, errb := run(t, with("detect", "check")...)
		if code != 1 || !strings.Contains(out, "night.yml:7:5: unknown field \"actor.rol\" (did you mean \"actor.role\"?)") || !strings.Contains(errb, "1 problem") {
			t.Fatalf("check of a broken rule: %d\n%s\n%s", code, out, errb)
		}
		os.WriteFile(filepath.Join(rules, "night.yml"), []byte(strings.Replace(bad, "actor.rol:", "actor.role:", 1)), 0o600)
		if out := mustRun(t, with("detect", "check")...); !strings.Contains(out, "OK: 13 rules (12 built-in, 1 from") {
			t.Fatalf("check: %s", out)
		}
		out = mustRun(t, with("detect", "replay", "--quiet")...)
		if !strings.Contains(out, "password_spraying") || !strings.Contains(out, "4000 events replayed") {
			t.Fatalf("replay: %s", out)
		}
		// The accesses: almost all are part of an order for the patient;
		// the planted snooping is among the rest.
		out = mustRun(t, with("detect", "explain", "--quiet", "--manifest", filepath.Join(dir, "demo", "manifest.json"),
			"--roster", filepath.Join(dir, "demo", "roster.ndjson"), "--roster-tz", "-05:00", "--geoip", filepath.Join(dir, "demo", "geoip.mmdb"))...)
		m := regexp.MustCompile(`explained \((\d+\.\d+)%\)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("explain: %s", out)
		}
		if pct, _ := strconv.ParseFloat(m[1], 64); pct < 95 || !strings.Contains(out, "planted no-order-access        found") || !strings.Contains(out, "planted coworker-record        found") {
			t.Fatalf("explain: %s", out)
		}
		// The demo's roster (written beside the lab) names the staff who
		// are patients: the planted coworker snooping is called that.
		if !regexp.MustCompile(`(?m)^u\d+ opened a coworker's or their own record .*coworker-record`).MatchString(out) {
			t.Fatalf("explain with the roster: %s", out)
		}
		// The demo's geolocation database places the planted sign-in abroad.
		if !regexp.MustCompile(`(?m)^u\d+ was in two places too far apart .*impossible-travel`).MatchString(out) {
			t.Fatalf("explain with the GeoIP database: %s", out)
		}
		// A partner's STIX bundle lists the spraying address.
		bundle := filepath.Join(dir, "intel.json")
		os.WriteFile(bundle, []byte(`{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--7b1f8d7e-0c2a-4f1e-9d3b-2a4c6e8f0a1b","name":"Sprayer","pattern":"[ipv4-addr:value ISSUBSET '203.0.113.0/24']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]}`), 0o600)
		if out := mustRun(t, "detect", "intel", bundle); !strings.Contains(out, "1 address indicators, 0 objects left out") {
			t.Fatalf("intel: %s", out)
		}
		out = mustRun(t, with("detect", "replay", "--quiet", "--threat-intel", bundle)...)
		if !regexp.MustCompile(`(?m)^\d+\s+threat_intel_address\s`).MatchString(out) {
			t.Fatalf("replay with threat intel: %s", out)
		}

		mail := notifytest.Start(t)
		ca := filepath.Join(dir, "smtp-ca.pem")
		os.WriteFile(ca, mail.CertPEM, 0o600)
		pw := filepath.Join(dir, "smtp-password")
		os.WriteFile(pw, []byte(mail.Password+"\n"), 0o600)
		t.Setenv("LABTRUST_SMTP_PASSWORD_FILE", pw)
		srv := startServer(t, append([]string{"--explain", "--alert-email-to", "oncall@lab.example", "--smtp-host", "127.0.0.1", "--smtp-port", strconv.Itoa(mail.Port),
			"--smtp-user", mail.User, "--smtp-ca", ca, "--public-url", "https://labtrust.lab.example"}, common...)...)
		defer func() {
			srv.cmd.Process.Signal(syscall.SIGTERM)
			srv.cmd.Wait()
		}()
		var id string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			out = mustRun(t, with("alerts", "list", "--status", "new")...)
			if m := regexp.MustCompile(`(?m)^(\d+)\s+high\s+new\s.*Password spraying`).FindStringSubmatch(out); m != nil {
				id = m[1]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no alert for the planted password spraying: %s", out)
			}
		}
		// --explain: the planted snooping is an alert too.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if out := mustRun(t, with("alerts", "list")...); strings.Contains(out, "Access to a patient record with no clinical reason") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no unexplained-access alert: %s", out)
			}
		}
		// The on-call person got a mail for it, with the way to the console.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			found := false
			for _, m := range mail.Messages() {
				d := strings.ReplaceAll(string(m.Data), "=\r\n", "")
				if strings.Contains(d, "Password spraying") && strings.Contains(d, "https://labtrust.lab.example/console/alerts/"+id) {
					found = true
				}
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no alert mail among %d messages", len(mail.Messages()))
			}
		}
		out = mustRun(t, with("alerts", "show", id)...)
		if !strings.Contains(out, "network 203.0.113.") || !strings.Contains(out, "entries:") {
			t.Fatalf("show: %s", out)
		}
		if code, _, errb := run(t, with("alerts", "set", id, "benign")...); code == 0 || !strings.Contains(errb, "needs the explanation") {
			t.Fatalf("benign without a reason: %d %s", code, errb)
		}
		mustRun(t, with("alerts", "set", id, "confirmed")...)
		if out := mustRun(t, with("alerts", "list", "--status", "confirmed")...); !strings.Contains(out, "Password spraying") {
			t.Fatalf("after triage: %s", out)
		}
		if out := mustRun(t, with("alerts", "set", id, "benign", "--reason", "red team, ticket 4711", "--allow-for", "24h")...); !strings.Contains(out, "allowed: (any account) matches of password_spraying") {
			t.Fatalf("benign with an allowance: %s", out)
		}
		if out := mustRun(t, with("alerts", "allowed")...); !strings.Contains(out, "password_spraying") || !strings.Contains(out, "red team, ticket 4711") {
			t.Fatalf("allowed: %s", out)
		}
		mustRun(t, with("alerts", "unallow", "1")...)
		if out := mustRun(t, with("alerts", "allowed")...); !strings.Contains(out, "(ended)") {
			t.Fatalf("after unallow: %s", out)
		}
	})
}

// TestClinicalExplains: accesses that name an order the audit never shows
// being created are unexplained until the LIS's orders are imported; then
// they are explained, and the one to another patient still is not.
func TestClinicalExplains(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		common := append([]string{"--data", data}, dbArgs(dsn)...)
		with := func(args ...string) []string { return append(append([]string{}, args...), common...) }
		os.MkdirAll(data, 0o700)
		os.WriteFile(filepath.Join(data, "labtrust.yaml"), []byte("sources:\n  lis:\n    format: csv\n    csv:\n      columns:\n        time: when\n        actorId: user\n        patientId: mrn\n        objectId: order\n      objectType: ServiceRequest\n"), 0o600)
		csvPath := filepath.Join(dir, "access.csv")
		os.WriteFile(csvPath, []byte("when,user,mrn,order\n2026-11-02T10:00:00Z,u1,MRN0012345,ORD-100\n2026-11-02T11:00:00Z,u2,MRN0012345,ORD-100\n2026-11-02T12:00:00Z,u3,MRN0099999,ORD-100\n"), 0o644)
		mustRun(t, with("ingest", "--source", "lis", "--quiet", csvPath)...)
		if out := mustRun(t, with("detect", "explain", "--quiet")...); !strings.Contains(out, "3 accesses: 0 explained") {
			t.Fatalf("before the import: %s", out)
		}
		out := mustRun(t, with("clinical", "import", "--source", "lis", filepath.Join("..", "..", "clinical", "testdata", "orm.hl7"), filepath.Join("..", "..", "clinical", "testdata", "bundle.json"))...)
		if !strings.Contains(out, "imported 4 clinical records (2 orders), quarantined 3") {
			t.Fatalf("import: %s", out)
		}
		if out := mustRun(t, with("detect", "explain", "--quiet")...); !strings.Contains(out, "3 accesses: 2 explained") {
			t.Fatalf("after the import: %s", out)
		}
	})
}
