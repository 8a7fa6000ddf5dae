package portal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/labtrust/labtrust/internal/browsertest"
	"github.com/labtrust/labtrust/portal"
	"github.com/labtrust/labtrust/store/storetest"
)

// mailed is one message as a person reads it.
type mailed struct {
	To, Subject, Body string
	Header            mail.Header
}

func read(t *testing.T, data []byte) mailed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	return mailed{To: m.Header.Get("To"), Subject: subj, Body: strings.ReplaceAll(string(b), "\r\n", "\n"), Header: m.Header}
}

var linkRE = regexp.MustCompile(`http://[^\s>]+/portal/(subscribe/confirm|unsubscribe)\?[^\s>]+`)

// TestSubscribe: double opt-in, updates in the subscriber's language
// mailed once each, a second subscription that changes nothing, and the
// one-click unsubscribe of RFC 8058 that deletes the address.
func TestSubscribe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		e := newEnv(t, dsn)
		base := e.srv.URL + "/portal/"
		cl := client()
		if _, body := do(t, cl, "GET", base+"?lang=es", nil, ""); !strings.Contains(body, `id="sub-email"`) || !strings.Contains(body, "Reciba estas novedades por correo") {
			t.Fatalf("no subscription form: %s", body)
		}
		if code, body := do(t, cl, "POST", base+"subscribe?lang=en", url.Values{"email": {"not an address"}}, ""); code != 400 || !strings.Contains(body, "Enter an email address") {
			t.Fatalf("bad address: %d %s", code, body)
		}
		if code, body := do(t, cl, "POST", base+"subscribe?lang=es", url.Values{"email": {"rosa@example.com"}}, ""); code != 200 || !strings.Contains(body, "Revise su correo") {
			t.Fatalf("subscribe: %d %s", code, body)
		}
		msgs := e.mail.Messages()
		if len(msgs) != 1 || msgs[0].To[0] != "rosa@example.com" {
			t.Fatalf("confirmation mail: %+v", msgs)
		}
		m := read(t, msgs[0].Data)
		confirm := linkRE.FindString(m.Body)
		if !strings.Contains(m.Subject, "confirme") || !strings.Contains(confirm, "/subscribe/confirm?") {
			t.Fatalf("confirmation mail in Spanish with its link: %q %s", m.Subject, m.Body)
		}
		// The address is sealed at rest.
		subs, _ := e.db.Subscribers(ctx)
		if c, p, _ := e.db.SubscriberCounts(ctx); c != 0 || p != 1 || len(subs) != 0 {
			t.Fatalf("pending subscriber counts %d %d (%d listed)", c, p, len(subs))
		}
		// Nothing goes to an unconfirmed address, even when there is news.
		if _, err := e.inc.PostUpdate(ctx, "priya", e.incident, "identified", "We know which records were exported.", "Sabemos qué expedientes se exportaron."); err != nil {
			t.Fatal(err)
		}
		if d, err := e.portal.Deliver(ctx); err != nil || d.Sent != 0 {
			t.Fatalf("mailed before confirmation: %+v %v", d, err)
		}
		// Following the link shows a button; only pressing it confirms.
		code, body := do(t, cl, "GET", confirm, nil, "")
		if code != 200 || !strings.Contains(body, "Confirmar") {
			t.Fatalf("confirm page: %d %s", code, body)
		}
		// Its English version keeps the link's token.
		u0, _ := url.Parse(confirm)
		if !strings.Contains(body, `href="/portal/subscribe/confirm?lang=en&amp;t=`+u0.Query().Get("t")+`"`) {
			t.Fatalf("the language switch drops the token: %s", body)
		}
		if c, _, _ := e.db.SubscriberCounts(ctx); c != 0 {
			t.Fatal("a GET confirmed the subscription")
		}
		u, _ := url.Parse(confirm)
		if code, body := do(t, cl, "POST", base+"subscribe/confirm?lang=es", url.Values{"t": {u.Query().Get("t")}}, ""); code != 200 || !strings.Contains(body, "Listo") {
			t.Fatalf("confirm: %d %s", code, body)
		}
		if code, body := do(t, cl, "POST", base+"subscribe/confirm?lang=en", url.Values{"t": {"not-a-token"}}, ""); code != 404 || !strings.Contains(body, "not valid") {
			t.Fatalf("a made-up token: %d %s", code, body)
		}
		subs, _ = e.db.Subscribers(ctx)
		if len(subs) != 1 || bytes.Contains(subs[0].Body, []byte("rosa@")) {
			t.Fatalf("subscriber at rest: %+v", subs)
		}
		// The update posted after subscribing goes out, in Spanish; the
		// ones before it do not.
		d, err := e.portal.Deliver(ctx)
		if err != nil || d.Sent != 1 {
			t.Fatalf("deliver: %+v %v", d, err)
		}
		msgs = e.mail.Messages()
		m = read(t, msgs[len(msgs)-1].Data)
		unsub := m.Header.Get("List-Unsubscribe")
		if !strings.Contains(m.Body, "Sabemos qué expedientes se exportaron.") || strings.Contains(m.Body, "Investigamos") ||
			!strings.Contains(m.Subject, "Identificado") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
			!strings.HasPrefix(unsub, "<http://") || !strings.Contains(m.Body, strings.Trim(unsub, "<>")) {
			t.Fatalf("update mail: %q %v\n%s", m.Subject, m.Header, m.Body)
		}
		// Mailed once: nothing new, nothing sent.
		if d, _ := e.portal.Deliver(ctx); d.Sent != 0 {
			t.Fatalf("an update was mailed twice: %+v", d)
		}
		time.Sleep(2 * time.Millisecond)
		e.inc.PostUpdate(ctx, "priya", e.incident, "resolved", "Resolved.", "Resuelto.")
		if d, _ := e.portal.Deliver(ctx); d.Sent != 1 {
			t.Fatalf("the next update: %+v", d)
		}
		msgs = e.mail.Messages()
		if m := read(t, msgs[len(msgs)-1].Data); !strings.Contains(m.Body, "Resuelto.") || strings.Contains(m.Body, "Sabemos") {
			t.Fatalf("the second mail repeats the first: %s", m.Body)
		}
		// Subscribing again (any case) gives the same page and changes
		// nothing: the mailbox is told, with the same stop link.
		if code, body := do(t, cl, "POST", base+"subscribe?lang=es", url.Values{"email": {"Rosa@Example.com"}}, ""); code != 200 || !strings.Contains(body, "Revise su correo") {
			t.Fatalf("subscribe again: %d %s", code, body)
		}
		msgs = e.mail.Messages()
		if m := read(t, msgs[len(msgs)-1].Data); !strings.Contains(m.Subject, "ya está suscrito") || linkRE.FindString(m.Body) != strings.Trim(unsub, "<>") {
			t.Fatalf("second subscription: %q %s (want %s)", m.Subject, m.Body, unsub)
		}
		// A third and fourth request for the same address in a day: the
		// same page, but no more mail to its owner.
		before := len(e.mail.Messages())
		for range 2 {
			if code, body := do(t, cl, "POST", base+"subscribe?lang=en", url.Values{"email": {"rosa@example.com"}}, ""); code != 200 || !strings.Contains(body, "Check your inbox") {
				t.Fatalf("subscribe again: %d", code)
			}
		}
		if n := len(e.mail.Messages()) - before; n != 1 {
			t.Fatalf("%d more mails to one address (want 1: three a day)", n)
		}
		// One-click unsubscribe, as a mail client does it.
		if code, body := do(t, cl, "POST", strings.Trim(unsub, "<>"), url.Values{"List-Unsubscribe": {"One-Click"}}, ""); code != 200 || !strings.Contains(body, "borramos su dirección") {
			t.Fatalf("unsubscribe: %d %s", code, body)
		}
		if c, p, _ := e.db.SubscriberCounts(ctx); c != 0 || p != 0 {
			t.Fatalf("after unsubscribing: %d confirmed, %d pending", c, p)
		}
		e.inc.PostUpdate(ctx, "priya", e.incident, "resolved", "Closed.", "Cerrado.")
		if d, _ := e.portal.Deliver(ctx); d.Sent != 0 {
			t.Fatalf("mailed after unsubscribing: %+v", d)
		}
	})
}

// TestSubscribeInChromium: the form, the confirmation page and the stop
// page work and pass axe in a browser.
func TestSubscribeInChromium(t *testing.T) {
	ctx := browsertest.Chrome(t, 60*time.Second)
	e := newEnv(t, t.TempDir()+"/s.db")
	axe := browsertest.Axe(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/portal/?lang=en"), chromedp.WaitVisible(css("#sub-email")),
		chromedp.SendKeys(css("#sub-email"), "lee@example.com"), chromedp.Submit(css("#sub-email")),
		chromedp.WaitVisible(css("#subscribe + p.ok"))); err != nil {
		t.Fatal(err)
	}
	browsertest.CheckA11y(t, ctx, axe, "status after subscribing")
	msgs := e.mail.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails", len(msgs))
	}
	confirm := linkRE.FindString(read(t, msgs[0].Data).Body)
	if err := chromedp.Do(ctx, chromedp.Navigate(confirm), chromedp.WaitVisible(css("main button"))); err != nil {
		t.Fatal(err)
	}
	browsertest.CheckA11y(t, ctx, axe, "confirm")
	if err := chromedp.Do(ctx, chromedp.Click(css("main button")), chromedp.WaitVisible(css("main p.ok"))); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := e.db.SubscriberCounts(context.Background()); c != 1 {
		t.Fatal("the browser's confirmation did not land")
	}
	e.inc.PostUpdate(context.Background(), "priya", e.incident, "resolved", "Resolved.", "Resuelto.")
	if d, err := e.portal.Deliver(context.Background()); err != nil || d.Sent != 1 {
		t.Fatalf("deliver: %+v %v", d, err)
	}
	msgs = e.mail.Messages()
	stop := linkRE.FindString(read(t, msgs[len(msgs)-1].Data).Body)
	if err := chromedp.Do(ctx, chromedp.Navigate(strings.Replace(stop, "lang=en", "lang=es", 1)), chromedp.WaitVisible(css("main button"))); err != nil {
		t.Fatal(err)
	}
	browsertest.CheckA11y(t, ctx, axe, "unsubscribe (es)")
	if err := chromedp.Do(ctx, chromedp.Click(css("main button")), chromedp.WaitVisible(css("main p.ok"))); err != nil {
		t.Fatal(err)
	}
	if c, p, _ := e.db.SubscriberCounts(context.Background()); c+p != 0 {
		t.Fatal("still subscribed after the browser's stop")
	}
}

// TestPortalStats: what people do is counted by day, never who; the
// counts reach the store when flushed.
func TestPortalStats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		e := newEnv(t, dsn)
		base := e.srv.URL + "/portal/"
		cl := client()
		do(t, cl, "POST", base+"lookup?lang=en", dob(e.codes["P2"], "1990", "12", "2"), "")
		do(t, cl, "POST", base+"lookup?lang=en", dob(e.codes["P2"], "1990", "12", "1"), "")
		do(t, cl, "GET", base+"access?lang=en", nil, "")
		if err := e.portal.FlushStats(ctx); err != nil {
			t.Fatal(err)
		}
		do(t, client(), "POST", base+"lookup?lang=en", dob("ZZZZ-ZZZZ-ZZZZ", "1990", "12", "1"), "")
		e.portal.FlushStats(ctx)
		stats, err := e.db.PortalStats(ctx, time.Now().AddDate(0, 0, -1))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, s := range stats {
			got[s.Metric] += s.N
			if !s.Day.Equal(time.Now().UTC().Truncate(24 * time.Hour)) {
				t.Fatalf("day %v", s.Day)
			}
		}
		if got["portal-lookup"] != 1 || got["lookup-miss"] != 2 || got["portal-notice-view"] != 1 || got["portal-access-report"] != 1 {
			t.Fatalf("counts: %v", got)
		}
	})
}

// TestPortalWithoutJavaScript: with scripts disabled in Chromium, a person
// still looks up their notice, sees it with their monitoring code, reads
// their access report checked by the server, and answers the survey.
func TestPortalWithoutJavaScript(t *testing.T) {
	ctx := browsertest.Chrome(t, 60*time.Second)
	e := newEnv(t, t.TempDir()+"/nojs.db")
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if _, err := chromedp.Run(ctx, chromedp.Action[struct{}](func(ctx context.Context, tg *chromedp.Target) (struct{}, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return struct{}{}, err
	})); err != nil {
		t.Fatal(err)
	}
	base := e.srv.URL + "/portal/"
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"lookup?lang=en"), chromedp.WaitVisible(css("#code")),
		chromedp.SendKeys(css("#code"), e.codes["P2"]),
		chromedp.SendKeys(css("#day"), "1"), chromedp.SendKeys(css("#month"), "12"), chromedp.SendKeys(css("#year"), "1990"),
		chromedp.Click(css(`main form button[type="submit"]`)),
		chromedp.WaitVisible(css("p.code"))); err != nil {
		t.Fatal(err)
	}
	main, err := chromedp.Run(ctx, chromedp.Text(css("main")))
	if err != nil || !strings.Contains(main, e.codes["P2"]) || !strings.Contains(main, "CW-000") {
		t.Fatalf("notice page without JavaScript: %v %s", err, main)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`a[href^="/portal/access"]`)), chromedp.WaitVisible(css("main table"))); err != nil {
		t.Fatal(err)
	}
	if main, err = chromedp.Run(ctx, chromedp.Text(css("main"))); err != nil || !strings.Contains(main, "Checked: all") {
		t.Fatalf("access report without JavaScript: %v %s", err, main)
	}
	// Scripts really were off: verify.js never filled in its line.
	time.Sleep(500 * time.Millisecond)
	if bv, err := chromedp.Run(ctx, chromedp.TextContent(css("#browser-verify"))); err != nil || bv != "" {
		t.Fatalf("the in-browser check ran with scripts disabled: %v %q", err, bv)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"survey?lang=en"), chromedp.WaitVisible(css("#trust4")),
		chromedp.Click(css("#trust4")), chromedp.Click(css("#clear5")), chromedp.Click(css(`input[name="helped"][value="yes"]`)),
		chromedp.Click(css(`main form button[type="submit"]`)), chromedp.WaitVisible(css("main p.ok"))); err != nil {
		t.Fatal(err)
	}
	if weeks, _ := e.db.SurveyByWeek(context.Background(), e.incident); len(weeks) != 1 || weeks[0].TrustSum != 4 {
		t.Fatalf("survey without JavaScript: %+v", weeks)
	}
}

// TestAccessReportEmptyInBrowser: a person nobody accessed gets the
// browser's confirmation too (an empty report once broke verify.js).
func TestAccessReportEmptyInBrowser(t *testing.T) {
	ctx := browsertest.Chrome(t, 60*time.Second)
	e := newEnv(t, t.TempDir()+"/empty.db")
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/portal/lookup?lang=en"), chromedp.WaitVisible(css("#code")),
		chromedp.SendKeys(css("#code"), e.codes["P2"]),
		chromedp.SendKeys(css("#day"), "1"), chromedp.SendKeys(css("#month"), "12"), chromedp.SendKeys(css("#year"), "1990"),
		chromedp.Click(css(`main form button[type="submit"]`)), chromedp.WaitVisible(css("p.code")),
		chromedp.Click(css(`a[href^="/portal/access"]`)), chromedp.WaitVisible(css("#browser-verify"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("browser-verify").className === "error" || document.getElementById("browser-verify").textContent.includes("entries")`)); err != nil {
		t.Fatal(err)
	}
	bv, err := chromedp.Run(ctx, chromedp.Text(css("#browser-verify")))
	if err != nil || !strings.Contains(bv, "Checked in your browser too: 0 entries") {
		t.Fatalf("an empty report in the browser: %v %q", err, bv)
	}
}

func TestWithoutAddress(t *testing.T) {
	err := errors.New(`notify: send mail: 550 5.1.1 <rosa@example.com>: recipient rejected`)
	if got := portal.WithoutAddressForTest(err, "rosa@example.com"); strings.Contains(got, "rosa@") || !strings.Contains(got, "550 5.1.1 <[address]>") {
		t.Fatalf("logged: %s", got)
	}
}
