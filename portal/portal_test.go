package portal_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/internal/browsertest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/notify"
	"github.com/labtrust/labtrust/notify/notifytest"
	"github.com/labtrust/labtrust/portal"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
	"golang.org/x/mod/sumdb/note"
)

type recorder struct {
	mu  sync.Mutex
	evs []labtrust.Event
}

func (r *recorder) Record(_ context.Context, e labtrust.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
	return nil
}

type env struct {
	portal   *portal.Portal
	db       *store.DB
	incident int64
	verifier note.Verifier
	srv      *httptest.Server
	codes    map[string]string // MRN → notice code
	rec      *recorder
	mail     *notifytest.Server
	inc      *incident.Service
}

// newEnv: an incident with a public update, a scope of two patients (one
// Spanish-speaking), their notices, and the portal over them.
func newEnv(t *testing.T, dsn string) *env { return newEnvLimits(t, dsn, 8, 3, false) }

// newBenchEnv is newEnv with look-up limits no benchmark reaches, and
// every look-up recorded in the ledger through the pipeline, as serve does.
func newBenchEnv(b *testing.B, dsn string) *env { return newEnvLimits(b, dsn, 1<<30, 1<<30, true) }

// pipeRecorder submits to the pipeline and waits for durability.
type pipeRecorder struct{ pipe *ingest.Pipeline }

func (r pipeRecorder) Record(ctx context.Context, e labtrust.Event) error {
	_, err := r.pipe.Submit(ctx, []labtrust.Event{e})
	return err
}

func newEnvLimits(t testing.TB, dsn string, perAddr, perCode int, ledgered bool) *env {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kek, _ := vault.LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "kek.key"))
	keys, err := vault.Open(ctx, kek, db)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(db, keys)
	// A ledger with accesses to P1's record, for the access report.
	dir := t.TempDir()
	skey, vkey, _ := ledger.NewKey("lab.example/log")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
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
	t0 := time.Date(2026, 10, 5, 2, 0, 0, 0, time.UTC)
	var evs []labtrust.Event
	for i, who := range []string{"mallory", "dr-lee", "mallory"} {
		evs = append(evs, labtrust.Event{Time: t0.Add(time.Duration(i) * time.Hour), Source: "lis", Kind: labtrust.KindAccess, Action: labtrust.ActionRead,
			Actor: labtrust.Actor{ID: who, Role: "billing"}, Patients: []labtrust.PatientRef{{ID: "P1"}}, Objects: []labtrust.Object{{Type: "DiagnosticReport"}}})
	}
	if _, err := pipe.Submit(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(string(pipe.LatestCheckpoint()), "\n3\n") {
		time.Sleep(10 * time.Millisecond)
	}
	var recs []labtrust.PatientRecord
	for _, p := range []struct{ mrn, family, lang, dob string }{{"P1", "García", "es", "1975-04-09"}, {"P2", "Brown", "en", "1990-12-01"}} {
		recs = append(recs, labtrust.PatientRecord{Source: "adt", Time: time.Now(), Patient: labtrust.Patient{ID: labtrust.PatientRef{ID: p.mrn},
			Name: labtrust.HumanName{Family: p.family, Given: []string{"Rosa"}}, BirthDate: p.dob, Language: p.lang,
			Addresses: []labtrust.Address{{Lines: []string{"9 Pine St"}, City: "Dallas", State: "TX", PostalCode: "75201"}}}})
	}
	if err := reg.Import(ctx, recs); err != nil {
		t.Fatal(err)
	}
	inc, err := incident.New(db, keys, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := inc.Create(ctx, "priya", incident.NewIncident{Title: "Export at night", Discovered: time.Now().Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	inc.SetNoticeText(ctx, "priya", in.ID, "en", "An account exported records at night.", "We disabled it.")
	inc.SetNoticeText(ctx, "priya", in.ID, "es", "Una cuenta exportó expedientes de noche.", "La desactivamos.")
	if _, err := inc.PostUpdate(ctx, "priya", in.ID, "investigating", "We are looking into unusual exports.", "Investigamos exportaciones inusuales."); err != nil {
		t.Fatal(err)
	}
	if _, err := inc.PostUpdate(ctx, "priya", in.ID, "contained", "The account is disabled.", "La cuenta está desactivada."); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 10, 5, 2, 0, 0, 0, time.UTC)
	sc := &breach.Scope{Patients: []breach.Affected{
		{MRN: "P1", Blind: keys.Blind("P1"), Elements: []breach.Element{breach.ElementName, breach.ElementResults}, First: at, Last: at},
		{MRN: "P2", Blind: keys.Blind("P2"), Elements: []breach.Element{breach.ElementName, breach.ElementDOB}, First: at, Last: at},
	}}
	ns := notice.NewService(db, keys, keys.Blind, reg, nil)
	if _, err := ns.Prepare(ctx, in.ID, sc, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := inc.SetMonitoringOffer(ctx, "priya", in.ID, incident.MonitoringOffer{Vendor: "CreditWatch", Months: 24,
		URL: "https://creditwatch.example/enrol", EnrolBy: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if n, err := ns.AddMonitoringCodes(ctx, in.ID, []string{"CW-0001", "CW-0002", "CW-0001", ""}); err != nil || n != 2 {
		t.Fatalf("codes: %d %v", n, err)
	}
	e := &env{codes: map[string]string{}, rec: &recorder{}, db: db, incident: in.ID, inc: inc, mail: notifytest.Start(t)}
	db.Notices(ctx, in.ID, func(r store.NoticeRow) error {
		rec, err := ns.Open(r)
		if err != nil {
			t.Fatal(err)
		}
		e.codes[rec.MRN] = rec.Code
		return nil
	})
	p := &portal.Portal{Incidents: inc, Notices: ns, Keys: keys, Record: e.rec, LookupLimit: perAddr, CodeLimit: perCode,
		Lab: notice.Lab{Name: "Valley Lab", TollFree: "1-800-555-0100"}, Verifier: verifier, LogKey: vkey,
		Feedback: db, Subscriptions: db, Blind: keys.Blind, Stats: db,
		Mail: &notify.SMTP{Host: "127.0.0.1", Port: e.mail.Port, Username: e.mail.User, Password: e.mail.Password, From: "updates@valley.example",
			TLSConfig: &tls.Config{RootCAs: e.mail.RootCAs, ServerName: "127.0.0.1"}},
		Reports: func(ctx context.Context, mrn string) (*accessreport.Report, error) {
			rd, err := ledger.OpenReader(filepath.Join(dir, "ledger"), "lab.example/log", verifier)
			if err != nil {
				return nil, err
			}
			return accessreport.Build(ctx, db, rd, keys, "lab.example/log", labtrust.PatientRef{ID: mrn})
		}}
	e.verifier = verifier
	e.portal = p
	if ledgered {
		p.Record = pipeRecorder{pipe}
	}
	// The portal's own address goes into the links it mails.
	e.srv = httptest.NewUnstartedServer(nil)
	p.Lab.PortalURL = "http://" + e.srv.Listener.Addr().String() + "/portal/"
	h, err := p.Handler()
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = h
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func do(t *testing.T, cl *http.Client, method, u string, form url.Values, lang string) (int, string) {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

func dob(code, y, m, d string) url.Values {
	return url.Values{"code": {code}, "year": {y}, "month": {m}, "day": {d}}
}

// TestPortalHTTP: the status page in both languages, the look-up that
// never says whether a code exists, its limits, and the notice page only
// with the session a correct look-up gives.
func TestPortalHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		base := e.srv.URL + "/portal/"
		cl := client()
		code, body := do(t, cl, "GET", base, nil, "es-MX,es;q=0.9")
		if code != 200 || !strings.Contains(body, `lang="es"`) || !strings.Contains(body, "Estado actual: Contenido") ||
			!strings.Contains(body, "La cuenta está desactivada.") || strings.Index(body, "desactivada") > strings.Index(body, "Investigamos") {
			t.Fatalf("status page in Spanish, newest first: %d %s", code, body)
		}
		if _, body := do(t, cl, "GET", base+"?lang=en", nil, "es"); !strings.Contains(body, "Current status: Contained") {
			t.Fatal("?lang=en does not win over the browser's language")
		}
		// Without a session the notice page sends you to the look-up.
		if code, body := do(t, cl, "GET", base+"notice", nil, ""); code != 200 || !strings.Contains(body, `id="code"`) {
			t.Fatalf("notice without a session: %d", code)
		}
		// Wrong birth date and unknown code get the same answer.
		_, wrongDOB := do(t, cl, "POST", base+"lookup?lang=en", dob(e.codes["P2"], "1990", "12", "2"), "")
		_, unknown := do(t, cl, "POST", base+"lookup?lang=en", dob("ZZZZ-ZZZZ-ZZZZ", "1990", "12", "1"), "")
		msg := "We could not find a notice with that code and date of birth."
		if !strings.Contains(wrongDOB, msg) || !strings.Contains(unknown, msg) {
			t.Fatalf("look-up failures differ:\n%s\n%s", wrongDOB, unknown)
		}
		// The code as typed from paper, lower case with spaces.
		typed := strings.ToLower(strings.ReplaceAll(e.codes["P1"], "-", " "))
		code, body = do(t, cl, "POST", base+"lookup?lang=es", dob(typed, "1975", "4", "9"), "")
		if code != 200 || !strings.Contains(body, "Su aviso") || !strings.Contains(body, "Una cuenta exportó expedientes de noche.") ||
			!strings.Contains(body, "sus resultados de laboratorio") || strings.Contains(body, "su fecha de nacimiento") {
			t.Fatalf("notice page: %d %s", code, body)
		}
		// The look-up and the view are in the ledger, naming the patient.
		e.rec.mu.Lock()
		n := 0
		for _, ev := range e.rec.evs {
			if ev.Patients[0].ID == "P1" && strings.HasPrefix(ev.Type.Code, "portal-") {
				n++
			}
		}
		e.rec.mu.Unlock()
		if n != 2 {
			t.Fatalf("%d portal events for P1, want 2", n)
		}
		if !strings.Contains(body, `href="/portal/access?lang=es"`) {
			t.Fatal("no link to the access report")
		}
		// Credit monitoring: their own code, the same each time, claimed.
		m := regexp.MustCompile(`class="moncode">(CW-\d+)<`).FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, "24 meses de monitoreo de crédito de CreditWatch") || !strings.Contains(body, "1 de marzo de 2027") {
			t.Fatalf("monitoring: %s", body)
		}
		if _, again := do(t, cl, "GET", base+"notice?lang=en", nil, ""); !strings.Contains(again, `class="moncode">`+m[1]+`<`) {
			t.Fatal("a second view gave another code")
		}
		if total, given, claimed, err := e.db.MonitoringCounts(context.Background(), e.incident); err != nil || total != 2 || given != 1 || claimed != 1 {
			t.Fatalf("pool %d/%d/%d %v", total, given, claimed, err)
		}
		// Who accessed my record: the three accesses, verified, and the
		// report to take away, which verifies offline with the log's key.
		code, body = do(t, cl, "GET", base+"access?lang=en", nil, "")
		if code != 200 || strings.Count(body, "<td>mallory</td>") != 2 || !strings.Contains(body, "<td>dr-lee</td>") ||
			!strings.Contains(body, "Checked: all 3 entries are in the log") {
			t.Fatalf("access page: %d %s", code, body)
		}
		code, body = do(t, cl, "GET", base+"access.json", nil, "")
		rep, err := accessreport.Read(strings.NewReader(body))
		if code != 200 || err != nil {
			t.Fatalf("report download: %d %v", code, err)
		}
		if v, err := accessreport.Verify(rep, e.verifier); err != nil || len(v.Entries) != 3 {
			t.Fatalf("the downloaded report does not verify: %v", err)
		}
		if _, key := do(t, cl, "GET", base+"log-key", nil, ""); !strings.HasPrefix(key, "lab.example/log+") {
			t.Fatalf("log key: %q", key)
		}
		// Their letter, in the language they read the page in.
		if code, body := do(t, cl, "GET", base+"letter.pdf?lang=es", nil, ""); code != 200 || !strings.HasPrefix(body, "%PDF-") {
			t.Fatalf("letter: %d", code)
		}
		// A call-back request and the trust survey.
		if _, body := do(t, cl, "POST", base+"callback?lang=en", url.Values{"phone": {"12"}}, ""); !strings.Contains(body, "Enter a phone number we can call.") {
			t.Fatal("a bad phone number was taken")
		}
		if _, body := do(t, cl, "POST", base+"callback?lang=en", url.Values{"phone": {"(214) 555-0134"}, "when": {"mornings"}}, ""); !strings.Contains(body, "Someone from our helpline will call you.") {
			t.Fatal("no call-back confirmation")
		}
		cbs, err := e.db.Callbacks(context.Background(), e.incident)
		if err != nil || len(cbs) != 1 || bytes.Contains(cbs[0].Body, []byte("555-0134")) || cbs[0].Status != "open" {
			t.Fatalf("callbacks %v %v", cbs, err)
		}
		if code, _ := do(t, cl, "POST", base+"survey?lang=en", url.Values{"trust": {"4"}}, ""); code != http.StatusBadRequest {
			t.Fatalf("incomplete survey: %d", code)
		}
		if code, body := do(t, cl, "POST", base+"survey?lang=en", url.Values{"trust": {"4"}, "clear": {"5"}, "helped": {"yes"}, "comment": {"Thanks for telling me."}}, ""); code != 200 || !strings.Contains(body, "Thank you for telling us.") {
			t.Fatalf("survey: %d", code)
		}
		if wks, err := e.db.SurveyByWeek(context.Background(), e.incident); err != nil || len(wks) != 1 || wks[0].N != 1 || wks[0].TrustSum != 4 || wks[0].Helped != 1 {
			t.Fatalf("survey by week %+v %v", wks, err)
		}
		// A suspicious call, reported without any code, becomes a report
		// event in the ledger.
		if code, body := do(t, cl, "POST", base+"report?lang=en", url.Values{"kind": {"call"}, "message": {""}}, ""); code != 400 || !strings.Contains(body, "Tell us what they said") {
			t.Fatalf("empty report: %d", code)
		}
		code, body = do(t, client(), "POST", base+"report?lang=es", url.Values{"kind": {"call"}, "from": {"+1 555 0100"}, "message": {"Said they were the lab and asked for my SSN to send a refund."}}, "")
		if code != 200 || !strings.Contains(body, "Gracias. Recibimos su denuncia") {
			t.Fatalf("report: %d %s", code, body)
		}
		e.rec.mu.Lock()
		var got *labtrust.Event
		for i := range e.rec.evs {
			if e.rec.evs[i].Kind == labtrust.KindReport {
				got = &e.rec.evs[i]
			}
		}
		e.rec.mu.Unlock()
		if got == nil || got.Type.Code != "call" || got.Objects[0].Query == "" || got.Validate() != nil {
			t.Fatalf("report event: %+v", got)
		}
		if code, body := do(t, cl, "GET", base+"learn?lang=es", nil, ""); code != 200 || !strings.Contains(body, "Cómo reconocer el phishing") {
			t.Fatalf("learn: %d", code)
		}
		// Leaving ends the session.
		do(t, cl, "POST", base+"leave", url.Values{}, "")
		if _, body := do(t, cl, "GET", base+"notice", nil, ""); !strings.Contains(body, `id="code"`) {
			t.Fatal("the session survived leaving")
		}
		// Bad input says what is wrong with it.
		if code, body := do(t, cl, "POST", base+"lookup?lang=en", dob(e.codes["P1"], "1975", "2", "30"), ""); code != 400 || !strings.Contains(body, "day, month and year") {
			t.Fatalf("impossible date: %d", code)
		}
		// Per code: after 3 tries in the window, even the right date is refused.
		cl2 := client()
		for range 3 {
			do(t, cl2, "POST", base+"lookup", dob(e.codes["P2"], "2000", "1", "1"), "")
		}
		if code, _ := do(t, cl2, "POST", base+"lookup", dob(e.codes["P2"], "1990", "12", "1"), ""); code != http.StatusTooManyRequests {
			t.Fatalf("per-code limit: %d", code)
		}
		// Per address: 8 look-ups per window in all.
		for range 3 {
			do(t, cl2, "POST", base+"lookup", dob("AAAA-AAAA-AAAA", "2000", "1", "1"), "")
		}
		if code, _ := do(t, cl2, "POST", base+"lookup", dob(e.codes["P1"], "1975", "4", "9"), ""); code != http.StatusTooManyRequests {
			t.Fatalf("per-address limit: %d", code)
		}
	})
}

// TestPortalInChromium looks a notice up in a real browser, in Spanish,
// and checks every page with axe-core.
func TestPortalInChromium(t *testing.T) {
	ctx := browsertest.Chrome(t, 60*time.Second)
	e := newEnv(t, filepath.Join(t.TempDir(), "p.db"))
	axe := browsertest.Axe(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	base := e.srv.URL + "/portal/"
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"?lang=es"), chromedp.WaitVisible(css("main h1"))); err != nil {
		t.Fatal(err)
	}
	browsertest.CheckA11y(t, ctx, axe, "status (es)")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"lookup?lang=es"), chromedp.WaitVisible(css("#code"))); err != nil {
		t.Fatal(err)
	}
	browsertest.CheckA11y(t, ctx, axe, "lookup (es)")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#code"), strings.ToLower(e.codes["P1"])),
		chromedp.SendKeys(css("#day"), "9"), chromedp.SendKeys(css("#month"), "4"), chromedp.SendKeys(css("#year"), "1975"),
		chromedp.Submit(css("#code")),
		chromedp.WaitVisible(css("p.code")),
	); err != nil {
		t.Fatal(err)
	}
	txt, err := chromedp.Run(ctx, chromedp.Text(css("main")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt, e.codes["P1"]) || !strings.Contains(txt, "Qué pasó") {
		t.Fatalf("notice page: %s", txt)
	}
	browsertest.CheckA11y(t, ctx, axe, "notice (es)")
	if err := chromedp.Do(ctx, chromedp.Click(css(`a[href^="/portal/access"]`)), chromedp.WaitVisible(css("main table"))); err != nil {
		t.Fatal(err)
	}
	txt, err = chromedp.Run(ctx, chromedp.Text(css("main")))
	if err != nil || !strings.Contains(txt, "Comprobado: las 3 entradas") {
		t.Fatalf("access page: %v %s", err, txt)
	}
	// The browser checks the report itself: signature, commitments, proofs.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("browser-verify").textContent.includes("3 entradas") || document.getElementById("browser-verify").className === "error"`)); err != nil {
		t.Fatal(err)
	}
	bv, err := chromedp.Run(ctx, chromedp.Text(css("#browser-verify")))
	if err != nil || !strings.Contains(bv, "Comprobado también en su navegador: 3 entradas") {
		t.Fatalf("in-browser verification: %v %q", err, bv)
	}
	// Served another log's key, the browser refuses the report.
	_, other, _ := ledger.NewKey("lab.example/log")
	e.portal.LogKey = other
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(css("main table"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("browser-verify").className === "error" || document.getElementById("browser-verify").textContent.includes("3 entradas")`)); err != nil {
		t.Fatal(err)
	}
	if bv, _ := chromedp.Run(ctx, chromedp.Text(css("#browser-verify"))); !strings.Contains(bv, "no pudo confirmar") {
		t.Fatalf("a wrong key was accepted in the browser: %q", bv)
	}
	browsertest.CheckA11y(t, ctx, axe, "access report (es)")
	for _, pg := range []string{"report?lang=en", "learn?lang=en", "report?lang=es", "survey?lang=es"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+pg), chromedp.WaitVisible(css("main h1"))); err != nil {
			t.Fatal(err)
		}
		browsertest.CheckA11y(t, ctx, axe, pg)
	}
}
