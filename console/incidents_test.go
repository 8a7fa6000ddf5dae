package console_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/console"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/notify"
	"github.com/labtrust/labtrust/notify/notifytest"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/mod/sumdb/note"
)

// incidentEnv is the console with the incident pages over a real
// pipeline: accesses by "mallory" to the test patient are in the ledger.
func incidentEnv(t *testing.T, dsn string) *env {
	var svc *incident.Service
	var logKey note.Verifier
	mail := notifytest.Start(t)
	e := newEnvWith(t, dsn, func(c *console.Console, _ string, db *store.DB, keys *vault.Keyring) {
		ctx := context.Background()
		dir := t.TempDir()
		skey, vkey, _ := ledger.NewKey("lab.example/log")
		signer, _ := note.NewSigner(skey)
		logKey, _ = note.NewVerifier(vkey)
		lg, err := ledger.Open(ctx, filepath.Join(dir, "ledger"), "lab.example/log", signer)
		if err != nil {
			t.Fatal(err)
		}
		pipe, err := ingest.New(ctx, ingest.Config{CheckpointInterval: 10 * time.Millisecond}, db, lg, keys)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- pipe.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done; lg.Close() })
		at := time.Date(2026, 10, 20, 2, 0, 0, 0, time.UTC)
		var evs []labtrust.Event
		for i := range 3 {
			evs = append(evs, labtrust.Event{Time: at.Add(time.Duration(i) * time.Minute), Source: "lis", Kind: labtrust.KindAccess, Action: labtrust.ActionRead,
				Actor: labtrust.Actor{ID: "mallory"}, Network: "10.9.9.9", Patients: []labtrust.PatientRef{{ID: "MRN0012345"}},
				Objects: []labtrust.Object{{Type: "DiagnosticReport", ID: "r1"}}})
		}
		if _, err := pipe.Submit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for pipe.LatestCheckpoint() == nil || !strings.Contains(string(pipe.LatestCheckpoint()), "\n3\n") {
			time.Sleep(10 * time.Millisecond)
		}
		svc, err = incident.New(db, keys, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		laws, err := breach.BuiltinLaws()
		if err != nil {
			t.Fatal(err)
		}
		c.Incidents = &console.Incidents{Service: svc, Laws: laws, Signer: signer, Checkpoint: pipe.LatestCheckpoint,
			Scoper:  &breach.Scoper{Events: db, Keys: keys, Blind: keys.Blind, Patients: registry.New(db, keys)},
			Notices: notice.NewService(db, keys, keys.Blind, registry.New(db, keys), nil), NoticeCounts: db.NoticeCounts, MonitoringCounts: db.MonitoringCounts,
			Survey: db.SurveyByWeek, Callbacks: db.Callbacks, CloseCallback: db.CloseCallback, Subscribers: db.SubscriberCounts, PortalStats: db.PortalStats, Keys: keys}
		// A week of survey answers and a sealed call-back request, as the portal writes them.
		for _, trust := range []int{2, 4, 5} {
			db.AddSurveyResponse(ctx, store.SurveyResponse{Incident: 1, At: at, Trust: trust, Clear: 4, Helped: true})
		}
		cb, _ := keys.Seal(ctx, nil, []byte(`{"phone":"214-555-0134","when":"mornings","language":"es"}`), []byte("labtrust callback v1"))
		db.AddCallback(ctx, store.Callback{Incident: 1, Notice: 1, At: at, Body: cb})
		// Two people asked for email updates; one confirmed.
		db.AddSubscriber(ctx, []byte("e1"), []byte("t1"), []byte("sealed"), at)
		db.AddSubscriber(ctx, []byte("e2"), []byte("t2"), []byte("sealed"), at)
		db.ConfirmSubscriber(ctx, []byte("t2"), at)
		// Yesterday on the portal: someone guessing codes.
		db.AddPortalStats(ctx, time.Now().AddDate(0, 0, -1), map[string]int{"portal-lookup": 4, "lookup-miss": 30, "lookup-limited": 12, "portal-access-report": 3})
		// Sending, as serve wires it: email through a real SMTP server and
		// the mail-house zip, with the lab's settings.
		lab := notice.Lab{Name: "Valley Lab", TollFree: "1-800-555-0100"}
		smtp := &notify.SMTP{Host: "127.0.0.1", Port: mail.Port, Username: mail.User, Password: mail.Password, From: "notices@valley.example",
			TLSConfig: &tls.Config{RootCAs: mail.RootCAs, ServerName: "127.0.0.1"}}
		inputs := func(ctx context.Context, id int64) (*incident.Incident, map[string]notice.Text, error) {
			in, err := svc.Get(ctx, id)
			if err != nil || in.NoticesApproved == nil {
				return nil, nil, &labtrust.Error{Code: "invalid", Message: "the notices are not approved yet", Err: err}
			}
			texts := map[string]notice.Text{}
			for k, v := range in.NoticeText {
				texts[k] = notice.Text{What: v.What, Doing: v.Doing}
			}
			return in, texts, nil
		}
		c.Incidents.SendEmails = func(ctx context.Context, id int64) (int, error) {
			in, texts, err := inputs(ctx, id)
			if err != nil {
				return 0, err
			}
			job := &notice.Emails{Service: c.Incidents.Notices, Rows: db.Notices, Lab: lab, Texts: texts, Discovered: in.Discovered, Date: time.Now(),
				Fonts: notice.DefaultFonts(), SetStatus: db.SetNoticeStatus,
				Send: func(ctx context.Context, to, subject, body, file string, pdf []byte) error {
					return smtp.SendWith(ctx, []string{to}, subject, body, notify.Attachment{Name: file, Data: pdf})
				}}
			sent, _, err := job.Run(ctx, id)
			return sent, err
		}
		c.Incidents.MailHouse = func(ctx context.Context, id int64, w io.Writer) error {
			in, texts, err := inputs(ctx, id)
			if err != nil {
				return err
			}
			fonts, _ := notice.NewBatchFonts(notice.DefaultFonts())
			mh := &notice.MailHouse{Service: c.Incidents.Notices, Rows: db.Notices, Lab: lab, Texts: texts, Discovered: in.Discovered, Date: time.Now(), Fonts: fonts}
			_, err = mh.WriteZip(ctx, id, w, t.TempDir())
			return err
		}
	})
	e.inc, e.mail, e.logKey = svc, mail, logKey
	return e
}

// TestIncidentPagesHTTP takes an incident from opening to obligations
// over plain HTTP, and checks who may see what.
func TestIncidentPagesHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := incidentEnv(t, dsn)
		ana := signInHTTP(t, e, "ana", "a long enough passphrase")
		base := e.srv.URL + "/console/incidents"
		code, body := post(t, ana, base, url.Values{"title": {"Snooping by mallory"}, "severity": {"high"}, "playbook": {"insider"}, "discovered": {"2026-10-21"}})
		if code != 200 || !strings.Contains(body, "Preserve") && !strings.Contains(body, "Mark done: task 1") {
			t.Fatalf("open: %d", code)
		}
		if code, body = post(t, ana, base+"/1/indicators", url.Values{"account": {"mallory"}, "from": {"2026-10-19"}, "to": {"2026-10-21"}}); code != 200 || !strings.Contains(body, "1 indicators set") {
			t.Fatalf("indicators: %d", code)
		}
		if code, body = post(t, ana, base+"/1/scope", nil); code != 200 || !strings.Contains(body, "1 patients") {
			t.Fatalf("scope: %d %s", code, body[strings.Index(body, "<main"):])
		}
		// The patient lives in a state (hl7 testdata); obligations show
		// the HIPAA notice with its 60-day deadline from discovery.
		if !strings.Contains(body, "45 CFR 164.404(b)") || !strings.Contains(body, "2026-12-20") {
			t.Fatalf("obligations missing: %s", body[strings.Index(body, "id=\"obligations\""):][:2000])
		}
		// A record set adds what it held for the patients it lists.
		if code, body = post(t, ana, base+"/1/indicators", url.Values{"account": {"mallory"}, "from": {"2026-10-19"}, "to": {"2026-10-21"},
			"records": {"MRN0012345"}, "element": {"ssn", "health_insurance"}}); code != 200 || !strings.Contains(body, "2 indicators set") {
			t.Fatalf("record set: %d", code)
		}
		if code, body = post(t, ana, base+"/1/scope", nil); code != 200 || !strings.Contains(body, "<td>ssn</td>") || !strings.Contains(body, "<td>results</td>") {
			t.Fatalf("scope with a record set: %d", code)
		}
		code, body = post(t, ana, base+"/1/assess", url.Values{"rating_nature": {"high"}, "why_nature": {"results"}})
		if code != http.StatusBadRequest || !strings.Contains(body, "rationale") && !strings.Contains(body, "not rated") {
			t.Fatalf("incomplete assessment: %d", code)
		}
		v := url.Values{}
		for _, f := range breach.Factors {
			v.Set("rating_"+f.Key, "high")
			v.Set("why_"+f.Key, "viewed by an insider without reason")
		}
		if code, body = post(t, ana, base+"/1/assess", v); code != 200 || !strings.Contains(body, "Notice is owed") {
			t.Fatalf("assessment: %d", code)
		}
		if code, body = post(t, ana, base+"/1/task/1", url.Values{"done": {"1"}}); code != 200 || !strings.Contains(body, "done by ana") {
			t.Fatalf("task: %d", code)
		}
		if code, body = post(t, ana, base+"/1/delay", url.Values{"agency": {"FBI"}, "official": {"SA Smith"}, "until": {"2027-02-01"}}); code != 200 || !strings.Contains(body, "notices held until 2027-02-01") {
			t.Fatalf("delay: %d", code)
		}
		if code, body := get(t, ana, base+"/1/deadlines.ics"); code != 200 || !strings.Contains(body, "BEGIN:VCALENDAR") || !strings.Contains(body, "45 CFR 164.404(b)") || strings.Contains(body, "mallory") {
			t.Fatalf("deadline calendar: %d %s", code, body)
		}
		// The signed manifest, written again from the stored scope as it
		// is sent, verifies against the log's key.
		res, err := ana.Get(base + "/1/manifest")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("manifest: %v", err)
		}
		m, err := breach.VerifyManifestStream(res.Body, e.logKey, nil, nil)
		res.Body.Close()
		if err != nil || m.Incident != 1 || m.Summary.Patients == 0 {
			t.Fatalf("the downloaded manifest does not verify: %v", err)
		}
		// A public update for the portal, in both languages.
		if code, body = post(t, ana, base+"/1/update", url.Values{"status": {"investigating"}, "en": {"We are looking into it."}, "es": {"Lo estamos investigando."}}); code != 200 || !strings.Contains(body, "Lo estamos investigando.") {
			t.Fatalf("public update: %d", code)
		}
		if code, _ = post(t, ana, base+"/1/update", url.Values{"status": {"investigating"}, "en": {"English only."}}); code != http.StatusBadRequest {
			t.Fatalf("update without Spanish: %d", code)
		}
		// Notices: the text in both languages, approval by the director
		// only, one notice per person in the scope.
		post(t, ana, base+"/1/notice-text", url.Values{"lang": {"en"}, "what": {"An account viewed results."}, "doing": {"We disabled it."}})
		post(t, ana, base+"/1/notice-text", url.Values{"lang": {"es"}, "what": {"Una cuenta vio resultados."}, "doing": {"La desactivamos."}})
		if code, _ = post(t, ana, base+"/1/notices/approve", nil); code != http.StatusBadRequest {
			t.Fatalf("a privacy officer approved: %d", code)
		}
		if code, body = post(t, ana, base+"/1/notices/prepare", nil); code != 200 || !strings.Contains(body, "1 notices prepared") || !strings.Contains(body, "Notices by delivery status") {
			t.Fatalf("prepare: %d %s", code, body[strings.Index(body, "<main"):][:600])
		}
		// Not approved: nothing to send or download yet.
		if strings.Contains(body, "mailhouse.zip") || strings.Contains(body, "notices/email") {
			t.Fatal("sending offered before the director's approval")
		}
		if code, _ := get(t, ana, base+"/1/mailhouse.zip"); code != http.StatusConflict {
			t.Fatalf("mail-house files before approval: %d", code)
		}
		e.inc.ApproveNotices(context.Background(), "dr-director", 1)
		if code, body = get(t, ana, base+"/1"); !strings.Contains(body, `href="/console/incidents/1/mailhouse.zip"`) || !strings.Contains(body, `action="/console/incidents/1/notices/email"`) {
			t.Fatalf("no sending after approval: %d", code)
		}
		res, err = ana.Get(base + "/1/mailhouse.zip")
		if err != nil {
			t.Fatal(err)
		}
		zb, _ := io.ReadAll(res.Body)
		res.Body.Close()
		zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
		if err != nil || res.Header.Get("Content-Type") != "application/zip" || len(zr.File) != 2 || zr.File[0].Name != "letters-00001.pdf" || zr.File[1].Name != "mailhouse.csv" {
			t.Fatalf("mail-house zip: %v %v", err, res.Header)
		}
		if code, body = post(t, ana, base+"/1/notices/email", nil); code != 200 || !strings.Contains(body, "Emailing the notices of the 1 people") {
			t.Fatalf("email: %d %s", code, body[strings.Index(body, "<main"):][:600])
		}
		if msgs := e.mail.Messages(); len(msgs) != 1 || msgs[0].To[0] != "maria@example.org" || !strings.Contains(string(msgs[0].Data), "application/pdf") {
			t.Fatalf("notice email: %d messages", len(msgs))
		}
		if !strings.Contains(body, "1 notices: 0 prepared, 1 sent") {
			t.Fatalf("the chart does not show the sent notice: %s", body[strings.Index(body, `id="notices"`):][:1200])
		}
		// The portal's side: the survey chart and the call-back request.
		if !strings.Contains(body, "3 answers over 1 weeks; average trust 3.7 of 5") || !strings.Contains(body, "214-555-0134") ||
			!strings.Contains(body, "Email updates: <strong>1</strong> subscribers (1 more have not confirmed yet)") ||
			!strings.Contains(body, "Last 14 days: 4 look-ups found a notice, 30 did not and 12 were refused by the limits; 3 access reports viewed") ||
			!regexp.MustCompile(`30 did not, 12 refused by the limits;[^<]*</title>\s*<rect[^>]*fill="#a40000"`).MatchString(body) {
			t.Fatalf("portal section: %s", body[strings.Index(body, `id="portal"`):][:1500])
		}
		if code, body = post(t, ana, base+"/1/callback-done", url.Values{"callback": {"1"}}); code != 200 || !strings.Contains(body, "Call-back marked done.") {
			t.Fatalf("call-back done: %d", code)
		}
		// The timeline holds the actions in order.
		if code, body = get(t, ana, base+"/1"); code != 200 || !strings.Contains(body, "Risk assessment recorded") || !strings.Contains(body, "Breach scope 2 computed") {
			t.Fatalf("timeline: %d", code)
		}
		// A responder for incident 1 sees it, not incident 2, and only
		// the patients in its scope.
		if code, _ := post(t, ana, base, url.Values{"title": {"Another"}}); code != 200 {
			t.Fatalf("second incident: %d", code)
		}
		admin := signInHTTP(t, e, "root", "admin passphrase!")
		if code, _ := post(t, admin, e.srv.URL+"/console/staff", url.Values{"username": {"ir"}, "name": {"Ivy Forensics"}, "role": {"responder"},
			"password": {"responder passphrase"}, "incident": {"1"}, "expires": {"72h"}}); code != 200 {
			t.Fatalf("responder account: %d", code)
		}
		ir := signInHTTP(t, e, "ir", "responder passphrase")
		if code, body := get(t, ir, base); code != 200 || !strings.Contains(body, "Snooping by mallory") || strings.Contains(body, "Another") || strings.Contains(body, `id="title"`) {
			t.Fatalf("responder's list: %d", code)
		}
		if code, _ := get(t, ir, base+"/2"); code != http.StatusNotFound {
			t.Fatalf("responder opened another incident: %d", code)
		}
		if code, body := get(t, ana, base+"/1"); code != 200 || !strings.Contains(body, "Ivy Forensics (ir)") {
			t.Fatalf("responders not listed: %d", code)
		}
		if code, _ := get(t, ir, e.srv.URL+"/console/patients?mrn=MRN0012345"); code != 200 {
			t.Fatalf("responder, patient in scope: %d", code)
		}
		if code, _ := get(t, ir, e.srv.URL+"/console/patients?mrn=MRN9999999"); code != http.StatusNotFound {
			t.Fatalf("responder, patient outside scope: %d", code)
		}
		denied := false
		e.rec.mu.Lock()
		for _, ev := range e.rec.es {
			if ev.Type.Code == "patient-view-denied" && ev.Actor.ID == "ir" && len(ev.Subtype) > 0 && strings.Contains(ev.Subtype[0].Code, "scope") {
				denied = true
			}
		}
		e.rec.mu.Unlock()
		if !denied {
			t.Fatal("the refused look-up outside the scope is not in the ledger")
		}
		// An auditor has no incident access.
		aud := signInHTTP(t, e, "aud", "auditor passphrase")
		if code, _ := get(t, aud, base); code != http.StatusForbidden {
			t.Fatalf("auditor: %d", code)
		}
		if code, body := get(t, ana, base+"/99"); code != http.StatusNotFound || !strings.Contains(body, "No incident") {
			t.Fatalf("missing incident: %d", code)
		}
	})
}

// TestIncidentInChromium walks the demo path in a browser: open the
// incident, apply a playbook, set indicators, compute the scope, record
// the assessment and see the obligations with clocks; every page passes
// axe-core.
func TestIncidentInChromium(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("LABTRUST_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium is required here (LABTRUST_REQUIRE_CHROMIUM) but not installed")
		}
		t.Skip("Debian's chromium is not installed (.ci/run installs it)")
	}
	e := incidentEnv(t, filepath.Join(t.TempDir(), "c.db"))
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.Headless)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	axe := axeScript(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// Sign in and enrol the second factor in the browser.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/console/"),
		chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), "ana"),
		chromedp.SendKeys(css("#password"), "a long enough passphrase"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("#secret")),
	); err != nil {
		t.Fatal(err)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(css("#secret")))
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCodeCustom(strings.TrimSpace(secret), e.clock.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(css("#code"), code), chromedp.Submit(css("#code")), chromedp.WaitVisible(css("ul li code"))); err != nil {
		t.Fatal(err)
	}
	base := e.srv.URL + "/console/incidents"
	if err := chromedp.Do(ctx, chromedp.Navigate(base), chromedp.WaitVisible(css("#title"))); err != nil {
		t.Fatal(err)
	}
	checkA11y(t, ctx, axe, "incidents")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#title"), "Snooping by mallory"),
		chromedp.SetValue(css("#playbook"), "insider"),
		chromedp.SetValue(css("#discovered"), "2026-10-21"),
		chromedp.Submit(css("#title")),
		chromedp.WaitVisible(css("#tasks")),
		chromedp.SendKeys(css("#ind-account"), "mallory"),
		chromedp.SetValue(css("#ind-from"), "2026-10-19"),
		chromedp.SetValue(css("#ind-to"), "2026-10-21"),
		chromedp.Submit(css("#ind-account")),
		chromedp.WaitVisible(css(`form[action$="/scope"] button`)),
		chromedp.Click(css(`form[action$="/scope"] button`)),
		chromedp.WaitVisible(css(`a[href$="/manifest"]`)),
	); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(css("main")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "1 patients") || !strings.Contains(text, "45 CFR 164.404(b)") || !regexp.MustCompile(`(overdue by|days? left)`).MatchString(text) {
		t.Fatalf("scope and obligations not shown: %s", text)
	}
	checkA11y(t, ctx, axe, "incident")
}
