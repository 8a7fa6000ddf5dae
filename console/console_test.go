package console_test

import (
	"bytes"
	"context"
	"fmt"
	"golang.org/x/mod/sumdb/note"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/console"
	"github.com/labtrust/labtrust/hl7"
	"github.com/labtrust/labtrust/identity"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/internal/browsertest"
	"github.com/labtrust/labtrust/notify/notifytest"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

type recorder struct {
	mu sync.Mutex
	es []labtrust.Event
}

func (r *recorder) Record(_ context.Context, e labtrust.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	r.es = append(r.es, e)
	r.mu.Unlock()
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	srv   *httptest.Server
	rec   *recorder
	clock *clock
	// incidentEnv's: the incident service and the mail server notices go to
	inc    *incident.Service
	mail   *notifytest.Server
	logKey note.Verifier // the ledger's, for the scope manifest
}

func newEnv(t *testing.T, dsn string) *env { return newEnvWith(t, dsn, nil) }

// newEnvWith builds the console; configure, if set, adjusts it once the
// test server's address is known.
func newEnvWith(t *testing.T, dsn string, configure func(c *console.Console, base string, db *store.DB, keys *vault.Keyring)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kek, _ := vault.LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	keys, err := vault.Open(ctx, kek, db)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(db, keys)
	raw, err := os.ReadFile(filepath.Join("..", "hl7", "testdata", "a01.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := hl7.Parse(raw)
	rec, err := hl7.Record(m, "epic")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Import(ctx, []labtrust.PatientRecord{rec}); err != nil {
		t.Fatal(err)
	}
	e := &env{rec: &recorder{}, clock: &clock{t: time.Now()}}
	id := identity.New(db, keys, e.rec, identity.Config{}, e.clock.now)
	for _, s := range []identity.NewStaff{
		{Username: "ana", DisplayName: "Ana Ruiz", Password: "a long enough passphrase", Role: identity.RolePrivacyOfficer},
		{Username: "aud", DisplayName: "Ed Auditor", Password: "auditor passphrase", Role: identity.RoleAuditor},
		{Username: "root", DisplayName: "Ada Admin", Password: "admin passphrase!", Role: identity.RoleAdmin},
	} {
		if _, err := id.Create(ctx, "test", s); err != nil {
			t.Fatal(err)
		}
	}
	c := &console.Console{ID: id, Patients: reg,
		Admin: &console.Admin{Keys: keys, KEK: kek.ID(),
			Quarantine: func(ctx context.Context) ([]store.QuarantineItem, error) {
				return db.ListQuarantine(ctx, store.QuarantineFilter{Limit: 100})
			},
			Sources: func(context.Context) ([]console.Source, error) {
				return []console.Source{{Name: "ehr", Format: "fhir", Detail: "ingest API"}}, nil
			},
			Verify: func(context.Context) (string, error) { return "OK: 42 entries, 3 checkpoints", nil }},
		History: func(ctx context.Context, mrn string) ([]labtrust.Event, error) {
			return []labtrust.Event{{Time: time.Date(2026, 10, 15, 14, 0, 0, 0, time.UTC), Source: "lis", Kind: labtrust.KindAccess,
				Action: labtrust.ActionRead, Actor: labtrust.Actor{ID: "phleb-17", Role: "phlebotomist"}}}, nil
		},
		Ledger: func(context.Context) (console.LedgerStatus, error) {
			return console.LedgerStatus{Size: 42, Checkpointed: 40}, nil
		}}
	// One alert, for the triage pages.
	c.Alerts = db
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	if _, _, err := db.RaiseAlerts(ctx, []labtrust.Alert{{Rule: "password_spraying", Title: "Password spraying from one address", Severity: "high",
		Explanation: "Failed sign-ins for five accounts from 203.0.113.9 within ten minutes.", Key: "k", First: at, Last: at, Count: 5, Entries: []uint64{3, 4, 5, 6, 7}}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	if configure != nil {
		configure(c, e.srv.URL, db, keys)
	}
	if h, err = c.Handler(); err != nil {
		t.Fatal(err)
	}
	return e
}

func axeScript(t *testing.T) string { return browsertest.Axe(t) }

func checkA11y(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	browsertest.CheckA11y(t, ctx, axe, page)
}

// TestSignInWithTOTPInChromium signs in as a new privacy officer in a real
// browser: password, TOTP enrolment, recovery codes, the patient lookup,
// sign-out, and a second sign-in with a fresh code.
func TestSignInWithTOTPInChromium(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		chrome, err := exec.LookPath("chromium")
		if err != nil {
			if os.Getenv("LABTRUST_REQUIRE_CHROMIUM") != "" {
				t.Fatal("chromium is required here (LABTRUST_REQUIRE_CHROMIUM) but not installed")
			}
			t.Skip("Debian's chromium is not installed (.ci/run installs it)")
		}
		e := newEnv(t, dsn)
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.Headless)
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		defer cancel()
		ctx, cancel := chromedp.NewContext(actx)
		defer cancel()
		ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
		defer cancel()

		base := e.srv.URL + "/console"
		css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
		axe := axeScript(t)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(css("#username")),
		); err != nil {
			t.Fatal(err)
		}
		checkA11y(t, ctx, axe, "sign-in")
		if err := chromedp.Do(ctx,
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
		checkA11y(t, ctx, axe, "second-factor set-up")
		gen := func() string {
			c, err := totp.GenerateCodeCustom(strings.TrimSpace(secret), e.clock.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(css("#code"), gen()),
			chromedp.Submit(css("#code")),
			chromedp.WaitVisible(css("ul li code")),
		); err != nil {
			t.Fatal(err)
		}
		codes, err := chromedp.Run(ctx, chromedp.Text(css("main ul")))
		if err != nil {
			t.Fatal(err)
		}
		checkA11y(t, ctx, axe, "recovery codes")
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/patients?mrn="+url.QueryEscape("MRN0012345")),
			chromedp.WaitVisible(css("main h2")),
		); err != nil {
			t.Fatal(err)
		}
		body, err := chromedp.Run(ctx, chromedp.Text(css("main")))
		if err != nil {
			t.Fatal(err)
		}
		checkA11y(t, ctx, axe, "patient")
		// Alerts: the list, one alert, and triage (benign needs a reason).
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/alerts"), chromedp.WaitVisible(css("main table"))); err != nil {
			t.Fatal(err)
		}
		checkA11y(t, ctx, axe, "alerts")
		if err := chromedp.Do(ctx,
			chromedp.Click(css("main table td a")),
			chromedp.WaitVisible(css("#reason")),
		); err != nil {
			t.Fatal(err)
		}
		checkA11y(t, ctx, axe, "alert")
		if err := chromedp.Do(ctx,
			chromedp.Click(css("#st-benign")),
			chromedp.Submit(css("#reason")),
			chromedp.WaitVisible(css("p.error")),
		); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(css("#reason"), "Red team exercise, ticket 4711"),
			chromedp.Click(css("#st-benign")),
			chromedp.Submit(css("#reason")),
			chromedp.WaitVisible(css("p[role=status]")),
		); err != nil {
			t.Fatal(err)
		}
		if got, err := chromedp.Run(ctx, chromedp.Text(css("main dl"))); err != nil || !strings.Contains(got, "benign: Red team exercise, ticket 4711 (by ana") {
			t.Fatalf("after triage: %q %v", got, err)
		}
		if strings.Count(codes, "-") != 10 {
			t.Fatalf("recovery codes: %q", codes)
		}
		if !strings.Contains(body, "García") || !strings.Contains(body, "Springfield") || !strings.Contains(body, "phleb-17") {
			t.Fatalf("patient page: %s", body)
		}
		// Sign out, then in again with the next code (a code works once).
		e.clock.add(30 * time.Second)
		if err := chromedp.Do(ctx,
			chromedp.Click(css("header button")),
			chromedp.WaitVisible(css("#username")),
			chromedp.SendKeys(css("#username"), "ana"),
			chromedp.SendKeys(css("#password"), "a long enough passphrase"),
			chromedp.Submit(css("#password")),
			chromedp.WaitVisible(css("#code")),
			chromedp.SendKeys(css("#code"), gen()),
			chromedp.Submit(css("#code")),
			chromedp.WaitVisible(css("#overview")),
		); err != nil {
			t.Fatal(err)
		}
		title, err := chromedp.Run(ctx, chromedp.Text(css("main h1")))
		if err != nil {
			t.Fatal(err)
		}
		checkA11y(t, ctx, axe, "overview")
		if title != "Overview" {
			t.Fatalf("after the second sign-in: %q", title)
		}
		// The administration pages, as an administrator, for accessibility.
		if err := chromedp.Do(ctx,
			chromedp.Click(css("header button")),
			chromedp.WaitVisible(css("#username")),
			chromedp.SendKeys(css("#username"), "root"),
			chromedp.SendKeys(css("#password"), "admin passphrase!"),
			chromedp.Submit(css("#password")),
			chromedp.WaitVisible(css("#secret")),
		); err != nil {
			t.Fatal(err)
		}
		if secret, err = chromedp.Run(ctx, chromedp.Text(css("#secret"))); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(css("#code"), gen()),
			chromedp.Submit(css("#code")),
			chromedp.WaitVisible(css("ul li code")),
		); err != nil {
			t.Fatal(err)
		}
		for _, pg := range []struct{ path, wait string }{
			{"/staff", "#new-username"}, {"/keys", "main table"}, {"/quarantine", "main p"}, {"/ledger", "#verify"},
		} {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+pg.path), chromedp.WaitVisible(css(pg.wait))); err != nil {
				t.Fatalf("%s: %v", pg.path, err)
			}
			checkA11y(t, ctx, axe, pg.path)
		}
		if err := chromedp.Do(ctx, chromedp.Click(css("#verify")), chromedp.WaitVisible(css("#verify-result"))); err != nil {
			t.Fatal(err)
		}
		if res, err := chromedp.Run(ctx, chromedp.Text(css("#verify-result"))); err != nil || !strings.Contains(res, "OK") {
			t.Fatalf("verify in the browser: %q %v", res, err)
		}
		// The patient view is an access naming the patient, in the ledger.
		e.rec.mu.Lock()
		defer e.rec.mu.Unlock()
		found := false
		for _, ev := range e.rec.es {
			if ev.Kind == labtrust.KindAccess && len(ev.Patients) == 1 && ev.Patients[0].ID == "MRN0012345" && ev.Actor.ID == "ana" {
				found = true
			}
		}
		if !found {
			t.Fatal("the patient view was not recorded as an access")
		}
	})
}

// TestConsoleHTTP covers what needs no browser: redirects, roles, CSRF and
// headers.
func TestConsoleHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		jar := &cookieJar{}
		cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := cl.Get(e.srv.URL + "/console/patients")
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
			t.Fatalf("signed out: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("CSP %q", csp)
		}
		// A cross-site form post is refused.
		req, _ := http.NewRequest("POST", e.srv.URL+"/console/login", strings.NewReader("username=aud&password=auditor+passphrase"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if res, err := cl.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site post: %v %d", err, res.StatusCode)
		}
		// An auditor signs in without a second factor but cannot see PHI.
		res, err = cl.PostForm(e.srv.URL+"/console/login", url.Values{"username": {"aud"}, "password": {"auditor passphrase"}})
		if err != nil || res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/" {
			t.Fatalf("auditor sign-in: %v %d", err, res.StatusCode)
		}
		res, err = cl.Get(e.srv.URL + "/console/patients?mrn=MRN0012345")
		if err != nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("auditor on patients: %v %d", err, res.StatusCode)
		}
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		if strings.Contains(b.String(), "García") {
			t.Fatal("PHI shown to an auditor")
		}
		// Wrong password: a clear message that names nothing.
		res, _ = cl.PostForm(e.srv.URL+"/console/login", url.Values{"username": {"ana"}, "password": {"nope"}})
		b.Reset()
		b.ReadFrom(res.Body)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(b.String(), "not right") {
			t.Fatalf("wrong password: %d", res.StatusCode)
		}
		// Too many attempts from one address: refused for a while.
		limited := 0
		for i := 0; i < 25; i++ {
			res, err := cl.PostForm(e.srv.URL+"/console/login", url.Values{"username": {fmt.Sprint("u", i)}, "password": {"guess"}})
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("no limit on sign-in attempts per address")
		}
	})
}

type cookieJar struct {
	mu sync.Mutex
	c  []*http.Cookie
}

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		kept := j.c[:0]
		for _, o := range j.c {
			if o.Name != c.Name {
				kept = append(kept, o)
			}
		}
		j.c = kept
		if c.MaxAge >= 0 && c.Value != "" {
			j.c = append(j.c, c)
		}
	}
}

func (j *cookieJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]*http.Cookie(nil), j.c...)
}

// signInHTTP signs in over plain HTTP, setting up TOTP from the page when
// the role needs it, and returns the client.
func signInHTTP(t *testing.T, e *env, user, pass string) *http.Client {
	t.Helper()
	cl := &http.Client{Jar: &cookieJar{}}
	res, err := cl.PostForm(e.srv.URL+"/console/login", url.Values{"username": {user}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	res.Body.Close()
	if m := regexp.MustCompile(`id="secret">([A-Z2-7]+)<`).FindStringSubmatch(b.String()); m != nil {
		code, _ := totp.GenerateCodeCustom(m[1], e.clock.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		res, err := cl.PostForm(e.srv.URL+"/console/mfa/enrol", url.Values{"code": {code}})
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("enrol: %v %d", err, res.StatusCode)
		}
		res.Body.Close()
	}
	return cl
}

func get(t *testing.T, cl *http.Client, u string) (int, string) {
	t.Helper()
	res, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

func post(t *testing.T, cl *http.Client, u string, v url.Values) (int, string) {
	t.Helper()
	res, err := cl.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.String()
}

func TestAdminPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		admin := signInHTTP(t, e, "root", "admin passphrase!")
		if code, body := get(t, admin, e.srv.URL+"/console/staff"); code != 200 || !strings.Contains(body, "Ed Auditor") {
			t.Fatalf("staff page: %d", code)
		}
		code, body := post(t, admin, e.srv.URL+"/console/staff", url.Values{"username": {"ir"}, "name": {"Ivy Responder"}, "role": {"responder"},
			"password": {"responder passphrase"}, "incident": {"INC-9"}, "expires": {"72h"}})
		if code != 200 || !strings.Contains(body, "Created ir") || !strings.Contains(body, "responder for INC-9") {
			t.Fatalf("create responder: %d %s", code, body)
		}
		if code, _ := post(t, admin, e.srv.URL+"/console/staff", url.Values{"username": {"x"}, "role": {"staff"}, "password": {"short"}}); code != http.StatusBadRequest {
			t.Fatalf("weak password: %d", code)
		}
		if code, body := post(t, admin, e.srv.URL+"/console/staff/aud/role", url.Values{"role": {"staff"}}); code != 200 || !strings.Contains(body, "aud is now staff") {
			t.Fatalf("role change: %d", code)
		}
		if code, _ := post(t, admin, e.srv.URL+"/console/staff/root/disable", nil); code != http.StatusBadRequest {
			t.Fatalf("disabling oneself: %d", code)
		}
		code, body = get(t, admin, e.srv.URL+"/console/keys")
		if code != 200 || !strings.Contains(body, "aead-keyset") || !strings.Contains(body, "file:") {
			t.Fatalf("keys page: %d", code)
		}
		before := strings.Count(body, "aead-keyset")
		code, body = post(t, admin, e.srv.URL+"/console/keys/rotate", nil)
		if code != 200 || strings.Count(body, "aead-keyset") != before+1 {
			t.Fatalf("rotate: %d", code)
		}
		if code, body := get(t, admin, e.srv.URL+"/console/quarantine"); code != 200 || !strings.Contains(body, "Nothing is in the quarantine") || !strings.Contains(body, "<td>ehr</td>") {
			t.Fatalf("quarantine page: %d", code)
		}
		if code, _ := get(t, admin, e.srv.URL+"/console/patients?mrn=MRN0012345"); code != http.StatusForbidden {
			t.Fatalf("admins see no PHI: %d", code)
		}
		if code, body := post(t, admin, e.srv.URL+"/console/ledger/verify", nil); code != 200 || !strings.Contains(body, "OK: 42 entries") {
			t.Fatalf("verify: %d", code)
		}
		// An auditor may verify but not manage accounts or keys.
		dsn2 := filepath.Join(t.TempDir(), "c2.db")
		if strings.HasPrefix(dsn, "postgres") {
			dsn2 = storetest.Postgres(t)
		}
		e2 := newEnv(t, dsn2)
		auditor := signInHTTP(t, e2, "aud", "auditor passphrase")
		for _, u := range []string{"/console/staff", "/console/keys", "/console/quarantine"} {
			if code, _ := get(t, auditor, e2.srv.URL+u); code != http.StatusForbidden {
				t.Fatalf("auditor on %s: %d", u, code)
			}
		}
		if code, _ := post(t, auditor, e2.srv.URL+"/console/ledger/verify", nil); code != 200 {
			t.Fatalf("auditor verify: %d", code)
		}
		// Every admin action is in the trail.
		e.rec.mu.Lock()
		defer e.rec.mu.Unlock()
		seen := map[string]bool{}
		for _, ev := range e.rec.es {
			seen[ev.Type.Code] = true
		}
		for _, w := range []string{"staff-create", "role-change", "key-rotate", "ledger-verify", "patient-view-denied"} {
			if !seen[w] {
				t.Errorf("no %s event", w)
			}
		}
		denied := false
		for _, ev := range e2.rec.es {
			denied = denied || ev.Type.Code == "denied" && ev.Actor.ID == "aud"
		}
		if !denied {
			t.Error("the auditor's refused pages were not recorded")
		}
	})
}

// TestPasskeyInChromium adds a passkey from a signed-in session with
// Chromium's virtual authenticator, then signs in with it instead of a
// TOTP code.
func TestPasskeyInChromium(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("LABTRUST_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium is required here (LABTRUST_REQUIRE_CHROMIUM) but not installed")
		}
		t.Skip("Debian's chromium is not installed (.ci/run installs it)")
	}
	var base string
	e := newEnvWith(t, filepath.Join(t.TempDir(), "c.db"), func(c *console.Console, srvURL string, db *store.DB, _ *vault.Keyring) {
		// WebAuthn needs a host name, not an IP address: localhost.
		base = strings.Replace(srvURL, "127.0.0.1", "localhost", 1)
		pk, err := identity.NewPasskeys(db, "localhost", []string{base})
		if err != nil {
			t.Fatal(err)
		}
		c.ID.SetPasskeys(pk)
		c.PasskeysOn = true
	})
	_ = e
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.Headless)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	// A virtual platform authenticator that verifies the user at once.
	if _, err := chromedp.Run(ctx, chromedp.Action[struct{}](func(ctx context.Context, tg *chromedp.Target) (struct{}, error) {
		if _, err := cdp.Call(ctx, tg, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return struct{}{}, err
		}
		_, err := cdp.Call(ctx, tg, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{Options: &cdpwebauthn.VirtualAuthenticatorOptions{
			Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Transport: cdpwebauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return struct{}{}, err
	})); err != nil {
		t.Fatalf("virtual authenticator: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/login"),
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
	code, _ := totp.GenerateCodeCustom(strings.TrimSpace(secret), e.clock.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#code"), code),
		chromedp.Submit(css("#code")),
		chromedp.WaitVisible(css("ul li code")),
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(css("#addPasskey")),
		chromedp.Click(css("#addPasskey")),
	); err != nil {
		t.Fatal(err)
	}
	// The ceremony is asynchronous: wait for its outcome to be written.
	status, err := chromedp.Run(ctx, chromedp.Poll[string](`document.getElementById("passkey-status").textContent`))
	if err != nil || !strings.Contains(status, "Passkey added") {
		t.Fatalf("adding a passkey: %q %v", status, err)
	}
	// Sign out and in again: password, then the passkey instead of a code.
	if err := chromedp.Do(ctx,
		chromedp.Click(css("header button")),
		chromedp.WaitVisible(css("#username")),
		chromedp.SendKeys(css("#username"), "ana"),
		chromedp.SendKeys(css("#password"), "a long enough passphrase"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("#usePasskey")),
		chromedp.Click(css("#usePasskey")),
		chromedp.WaitVisible(css("#overview")),
	); err != nil {
		t.Fatal(err)
	}
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	var added, used bool
	for _, ev := range e.rec.es {
		added = added || ev.Type.Code == "passkey-add" && ev.Outcome == labtrust.OutcomeSuccess
		used = used || ev.Type.Code == "mfa" && len(ev.Subtype) == 1 && strings.Contains(ev.Subtype[0].Code, "passkey")
	}
	if !added || !used {
		t.Fatalf("passkey events: added %v, used %v", added, used)
	}
}

// TestAlertPermissions: an auditor reads alerts but cannot triage them; an
// administrator (accounts and keys) does not see them; refusals are
// recorded.
func TestAlertPermissions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		aud := signInHTTP(t, e, "aud", "auditor passphrase")
		code, body := get(t, aud, e.srv.URL+"/console/alerts")
		if code != 200 || !strings.Contains(body, "Password spraying from one address") || !strings.Contains(body, `href="/console/alerts"`) {
			t.Fatalf("auditor's alert list: %d", code)
		}
		code, body = get(t, aud, e.srv.URL+"/console/alerts/1")
		if code != 200 || !strings.Contains(body, "203.0.113.9") || strings.Contains(body, `id="reason"`) {
			t.Fatalf("auditor's alert page: %d (triage form shown: %v)", code, strings.Contains(body, `id="reason"`))
		}
		if code, _ := post(t, aud, e.srv.URL+"/console/alerts/1/status", url.Values{"status": {"confirmed"}}); code != http.StatusForbidden {
			t.Fatalf("auditor triage: %d", code)
		}
		if code, _ := get(t, aud, e.srv.URL+"/console/alerts/99"); code != http.StatusNotFound {
			t.Fatalf("missing alert: %d", code)
		}
		// A privacy officer explains it as benign and allows the same
		// rule and group for a week.
		ana := signInHTTP(t, e, "ana", "a long enough passphrase")
		code, body = post(t, ana, e.srv.URL+"/console/alerts/1/status", url.Values{"status": {"benign"}, "reason": {"pen test"}, "allow": {"1"}, "allow_days": {"7"}})
		if code != 200 || !strings.Contains(body, "is allowed until") {
			t.Fatalf("benign with an allowance: %d", code)
		}
		admin := signInHTTP(t, e, "root", "admin passphrase!")
		if code, body := get(t, admin, e.srv.URL+"/console/"); code != 200 || strings.Contains(body, `href="/console/alerts"`) {
			t.Fatalf("admin sees the alerts link: %d", code)
		}
		if code, _ := get(t, admin, e.srv.URL+"/console/alerts"); code != http.StatusForbidden {
			t.Fatalf("admin alert list: %d", code)
		}
	})
}
