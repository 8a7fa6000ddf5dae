package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/notify/notifytest"
	"github.com/labtrust/labtrust/store/storetest"
)

// TestIncidentCLI takes the demo's planted after-hours export from an
// incident to its obligations with the CLI alone, as a new user would.
func TestIncidentCLI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		common := append([]string{"--data", data}, dbArgs(dsn)...)
		with := func(args ...string) []string { return append(append([]string{}, args...), common...) }
		mustRun(t, "demo", "--out", filepath.Join(dir, "demo"), "--patients", "300", "--events", "4000", "--quiet")
		mustRun(t, with("ingest", "--source", "ehr", "--format", "fhir", "--quiet", filepath.Join(dir, "demo", "events.ndjson"))...)
		mustRun(t, with("patients", "import", "--source", "adt", filepath.Join(dir, "demo", "patients.csv"))...)
		var man demo.Manifest
		b, _ := os.ReadFile(filepath.Join(dir, "demo", "manifest.json"))
		if err := json.Unmarshal(b, &man); err != nil {
			t.Fatal(err)
		}
		var an demo.Anomaly
		for _, a := range man.Anomalies {
			if a.Kind == demo.KindAfterHoursExport {
				an = a
			}
		}
		if an.ID == "" {
			t.Fatal("no planted export")
		}
		discovered := an.To.AddDate(0, 0, 2).Format(time.DateOnly)
		out := mustRun(t, with("incident", "open", "--title", "After-hours export", "--severity", "high", "--playbook", "insider", "--discovered", discovered)...)
		if !regexp.MustCompile(`incident 1 opened \(1\d tasks\)`).MatchString(out) {
			t.Fatalf("open: %s", out)
		}
		if code, _, errb := run(t, with("incident", "open", "--title", "x", "--playbook", "nope")...); code != 1 || !strings.Contains(errb, `no playbook "nope"`) {
			t.Fatalf("unknown playbook: %d %s", code, errb)
		}
		// The window of the export itself (the account also works by day).
		mustRun(t, with("incident", "indicators", "1", "--account", an.Actors[0], "--address", an.Network,
			"--from", an.From.Add(-time.Minute).Format(time.RFC3339), "--to", an.To.Add(time.Minute).Format(time.RFC3339))...)
		manifest := filepath.Join(dir, "scope.json")
		out = mustRun(t, with("scope", "1", "--manifest", manifest)...)
		want := strconv.Itoa(len(an.MRNs)) + " patients affected"
		if !strings.Contains(out, want) || !regexp.MustCompile(`(?m)^results\s+`+strconv.Itoa(len(an.MRNs))+`$`).MatchString(out) {
			t.Fatalf("scope: want %q and results for all:\n%s", want, out)
		}
		out = mustRun(t, with("scope", "verify", manifest)...)
		if !strings.Contains(out, "manifest OK: incident 1, "+strconv.Itoa(len(an.MRNs))+" patients") {
			t.Fatalf("verify: %s", out)
		}
		mb, _ := os.ReadFile(manifest)
		// Written again later from the stored scope: the same bytes.
		again := filepath.Join(dir, "scope-again.json")
		mustRun(t, with("scope", "show", "1", "--manifest", again)...)
		if ab, _ := os.ReadFile(again); !bytes.Equal(ab, mb) {
			t.Fatalf("the manifest written again differs:\n%s\n%s", ab, mb)
		}
		os.WriteFile(manifest, []byte(strings.Replace(string(mb), `"results"`, `"orders"`, 1)), 0o600)
		if code, _, errb := run(t, with("scope", "verify", manifest)...); code != 1 || !strings.Contains(errb, "does not verify") {
			t.Fatalf("an altered manifest: %d %s", code, errb)
		}
		// Obligations before any assessment: a breach is presumed.
		out = mustRun(t, with("obligations", "1", "--json")...)
		var obs []breach.Obligation
		if err := json.Unmarshal([]byte(out), &obs); err != nil {
			t.Fatal(err)
		}
		d, _ := time.Parse(time.DateOnly, discovered)
		found := false
		for _, o := range obs {
			if o.Key == "hipaa/individuals" {
				found = o.Count == len(an.MRNs) && o.Due.Equal(d.AddDate(0, 0, 60)) && o.Status == breach.StatusOwed
			}
		}
		if !found {
			t.Fatalf("no owed HIPAA notice due 60 days after discovery: %s", out)
		}
		icsFile := filepath.Join(dir, "deadlines.ics")
		if out := mustRun(t, with("obligations", "1", "--ics", icsFile)...); !strings.Contains(out, "a breach is presumed") || !strings.Contains(out, "45 CFR 164.404(b)") {
			t.Fatalf("obligations: %s", out)
		}
		if b, err := os.ReadFile(icsFile); err != nil || !strings.Contains(string(b), "DTSTART;VALUE=DATE:"+d.AddDate(0, 0, 60).Format("20060102")) {
			t.Fatalf("deadline calendar: %v\n%s", err, b)
		}
		// The assessment: incomplete is refused; all high owes notice.
		if code, _, errb := run(t, with("assess", "1", "--nature", "high")...); code != 1 || !strings.Contains(errb, "rationale") {
			t.Fatalf("incomplete assessment: %d %s", code, errb)
		}
		args := []string{"assess", "1"}
		for _, f := range breach.Factors {
			args = append(args, "--"+f.Key, "high", "--"+f.Key+"-why", "exported at night to an unknown destination")
		}
		if out := mustRun(t, with(args...)...); !strings.Contains(out, "NOTICE IS OWED") {
			t.Fatalf("assess: %s", out)
		}
		// Evidence in and out, with its hash checked and custody kept.
		ev := filepath.Join(dir, "export-log.txt")
		os.WriteFile(ev, []byte("export job log\n"), 0o600)
		if out := mustRun(t, with("incident", "evidence", "add", "1", ev, "--description", "from the LIS")...); !strings.Contains(out, "evidence 1: ") {
			t.Fatalf("evidence add: %s", out)
		}
		got := filepath.Join(dir, "got.txt")
		if code, _, errb := run(t, with("incident", "evidence", "get", "1", "1", "--out", got)...); code != 1 || !strings.Contains(errb, "say why") {
			t.Fatalf("evidence without purpose: %d %s", code, errb)
		}
		mustRun(t, with("incident", "evidence", "get", "1", "1", "--purpose", "review", "--out", got)...)
		if b, _ := os.ReadFile(got); string(b) != "export job log\n" {
			t.Fatalf("evidence came back as %q", b)
		}
		if out := mustRun(t, with("incident", "delay", "1", "--agency", "FBI", "--official", "SA Lee", "--oral")...); !strings.Contains(out, "notices held until") {
			t.Fatalf("delay: %s", out)
		}
		if code, _, errb := run(t, with("incident", "status", "1", "closed")...); code != 1 || !strings.Contains(errb, "lessons learned") {
			t.Fatalf("closing without lessons: %d %s", code, errb)
		}
		mustRun(t, with("incident", "task", "1", "1", "--done")...)
		out = mustRun(t, with("incident", "show", "1")...)
		for _, w := range []string{"[x]", "Risk assessment recorded: notice is owed", "Evidence 1 collected", "accessed by", "Law-enforcement delay (oral", "scope 1 ("} {
			if !strings.Contains(out, w) {
				t.Fatalf("show lacks %q:\n%s", w, out)
			}
		}
		if out := mustRun(t, with("incident", "list")...); !strings.Contains(out, "After-hours export") {
			t.Fatalf("list: %s", out)
		}
		// Notices: the text in both languages, one per person, the
		// mail-house files, and one letter by its code.
		mustRun(t, with("notices", "text", "1", "--lang", "en", "--what", "An account exported records at night.", "--doing", "We disabled it.")...)
		mustRun(t, with("notices", "text", "1", "--lang", "es", "--what", "Una cuenta exportó expedientes de noche.", "--doing", "La desactivamos.")...)
		out = mustRun(t, with("notices", "prepare", "1", "--quiet")...)
		if !strings.Contains(out, strconv.Itoa(len(an.MRNs))+" notices prepared") {
			t.Fatalf("prepare: %s", out)
		}
		// Credit monitoring with one code too few: the last letter cannot be made.
		codesFile := filepath.Join(dir, "codes.txt")
		var cs []string
		for i := range len(an.MRNs) - 1 {
			cs = append(cs, fmt.Sprintf("CW-%04d", i))
		}
		os.WriteFile(codesFile, []byte(strings.Join(cs, "\n")), 0o600)
		if out := mustRun(t, with("notices", "monitoring", "1", "--vendor", "CreditWatch", "--url", "https://cw.example/enrol", "--enrol-by", "2027-03-01", "--codes", codesFile)...); !strings.Contains(out, fmt.Sprintf("%d codes added", len(cs))) {
			t.Fatalf("monitoring: %s", out)
		}
		lab := []string{"--lab-name", "Valley Lab", "--lab-phone", "1-800-555-0100", "--lab-address", "1 Lab Way; Austin, TX 78702"}
		mh := filepath.Join(dir, "mailhouse")
		if code, _, errb := run(t, with(append([]string{"notices", "export", "1", "--out", mh, "--batch", "10", "--quiet"}, lab...)...)...); code != 1 || !strings.Contains(errb, "not approved yet") {
			t.Fatalf("export before approval: %d %s", code, errb)
		}
		mustRun(t, with("notices", "approve", "1")...)
		if code, _, errb := run(t, with(append([]string{"notices", "export", "1", "--out", mh, "--batch", "10", "--quiet"}, lab...)...)...); code != 1 || !strings.Contains(errb, "credit-monitoring") || !strings.Contains(errb, "notices monitoring 1 --codes") {
			t.Fatalf("export with too few codes: %d %s", code, errb)
		}
		os.WriteFile(codesFile, []byte("CW-LAST\n"), 0o600)
		mustRun(t, with("notices", "monitoring", "1", "--vendor", "CreditWatch", "--url", "https://cw.example/enrol", "--enrol-by", "2027-03-01", "--codes", codesFile)...)
		out = mustRun(t, with(append([]string{"notices", "export", "1", "--out", mh, "--batch", "10", "--quiet"}, lab...)...)...)
		if !strings.Contains(out, "letters in") {
			t.Fatalf("export: %s", out)
		}
		csvb, err := os.ReadFile(filepath.Join(mh, "mailhouse.csv"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(csvb)), "\n")
		if fi, err := os.Stat(filepath.Join(mh, "letters-00001.pdf")); err != nil || fi.Mode().Perm() != 0o600 || len(lines) < 2 {
			t.Fatalf("mail-house files: %v %d lines", err, len(lines))
		}
		code := strings.Split(lines[1], ",")[0]
		// The batch holds that letter, with its own credit-monitoring code.
		if txt, err := exec.Command("pdftotext", "-enc", "UTF-8", filepath.Join(mh, "letters-00001.pdf"), "-").Output(); err == nil {
			flat := strings.Join(strings.Fields(string(txt)), " ")
			if !strings.Contains(flat, code) || !regexp.MustCompile(`CW-(\d{4}|LAST)`).MatchString(flat) || !regexp.MustCompile(`,letters-00001\.pdf,1,[12]$`).MatchString(lines[1]) {
				t.Fatalf("batch 1 lacks the first letter or its monitoring code (%s):\n%.1500s", lines[1], flat)
			}
		} else if os.Getenv("LABTRUST_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("pdftotext: %v", err)
		}
		letter := filepath.Join(dir, "letter.pdf")
		mustRun(t, with(append([]string{"notices", "letter", strings.ToLower(code), "--out", letter}, lab...)...)...)
		if b, _ := os.ReadFile(letter); !strings.HasPrefix(string(b), "%PDF-") {
			t.Fatal("the letter is not a PDF")
		}
		if code, _, errb := run(t, with(append([]string{"notices", "letter", "0000-0000-0000", "--out", letter}, lab...)...)...); code != 1 || !strings.Contains(errb, "no notice has that code") {
			t.Fatalf("unknown code: %d %s", code, errb)
		}
		// Email, to those who agreed, through a real SMTP server with TLS.
		mail := notifytest.Start(t)
		ca := filepath.Join(dir, "smtp-ca.pem")
		os.WriteFile(ca, mail.CertPEM, 0o600)
		pw := filepath.Join(dir, "smtp-password")
		os.WriteFile(pw, []byte(mail.Password+"\n"), 0o600)
		t.Setenv("LABTRUST_SMTP_PASSWORD_FILE", pw)
		smtp := append([]string{"notices", "email", "1", "--smtp-host", "127.0.0.1", "--smtp-port", strconv.Itoa(mail.Port), "--smtp-user", mail.User,
			"--smtp-ca", ca, "--from", "privacy@valleylab.example", "--quiet"}, lab...)
		if code, _, errb := run(t, with(smtp...)...); code != 1 || !strings.Contains(errb, "agreement to electronic notice") {
			t.Fatalf("email without --agreed: %d %s", code, errb)
		}
		out = mustRun(t, with(append(smtp, "--agreed")...)...)
		msgs := mail.Messages()
		if !strings.Contains(out, fmt.Sprintf("%d notices emailed", len(msgs))) || len(msgs) == 0 {
			t.Fatalf("email: %s (%d messages)", out, len(msgs))
		}
		if mail.Sessions() != 1 {
			t.Fatalf("%d messages over %d connections, want one", len(msgs), mail.Sessions())
		}
		if len(msgs) < 2 {
			t.Fatalf("only %d notice emailed: the scope reaches several people with an address", len(msgs))
		}
		if m := string(msgs[0].Data); !strings.Contains(m, "notice code") && !strings.Contains(m, "=?UTF-8?") || !strings.Contains(m, "application/pdf") {
			t.Fatalf("the email lacks the code or the PDF:\n%.2000s", m)
		}
		// A bounce counts toward substitute notice.
		out = mustRun(t, with("notices", "mark", "--status", "bounced", code)...)
		if !strings.Contains(out, "1 notices marked bounced") {
			t.Fatalf("mark: %s", out)
		}
		out = mustRun(t, with("obligations", "1", "--json")...)
		if !strings.Contains(out, `"key": "hipaa/substitute"`) || !strings.Contains(out, "164.404(d)(2)(i)") {
			t.Fatalf("a bounced notice does not count toward substitute notice: %s", out)
		}
	})
}
