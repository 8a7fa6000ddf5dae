package portal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/store"
)

// Mailer sends the subscription mail (notify.SMTP).
type Mailer interface {
	SendHeaders(ctx context.Context, to []string, subject, body string, headers map[string]string) error
}

// Subscriptions keeps the people who asked to be mailed the status page's
// updates (the store).
type Subscriptions interface {
	AddSubscriber(ctx context.Context, emailHash, tokenHash, body []byte, at time.Time) (confirmedBody []byte, err error)
	ConfirmSubscriber(ctx context.Context, tokenHash []byte, at time.Time) error
	RemoveSubscriber(ctx context.Context, tokenHash []byte) error
	Subscribers(ctx context.Context) ([]store.Subscriber, error)
	SetSubscriberSent(ctx context.Context, id int64, at time.Time) error
}

var subscriberAAD = []byte("labtrust subscriber v1")

// subscriber is what a subscription holds (sealed).
type subscriber struct {
	Email    string `json:"email"`
	Language string `json:"language"`
	// Token is the one in the person's links; kept sealed so every update
	// mail carries the same unsubscribe link (the store holds only its hash).
	Token string `json:"token"`
}

// subscribeOn says whether the status page offers email updates: it needs
// somewhere to keep subscribers, a mail server, and the portal's public
// address for the links in the mail.
func (p *Portal) subscribeOn() bool {
	return p.Subscriptions != nil && p.Mail != nil && p.Blind != nil && p.Lab.PortalURL != ""
}

// link is an absolute address on the portal.
func (p *Portal) link(path string, q url.Values) string {
	base := strings.TrimSuffix(p.Lab.PortalURL, "/")
	base = strings.TrimSuffix(base, "/portal")
	return base + "/portal/" + path + "?" + q.Encode()
}

func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (p *Portal) tokenHash(token string) []byte { return p.Blind("subscriber-token\x00" + token) }

// subscribe takes an address and mails it a confirmation link. The answer
// is the same whether the address was new, pending or already confirmed,
// so the form tells nobody who else is subscribed.
func (p *Portal) subscribe(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	if !p.byAddr.Allow(clientAddr(r)) {
		p.renderStatus(w, r, http.StatusTooManyRequests, text(lang, "tooMany"), "")
		return
	}
	raw := strings.TrimSpace(r.PostFormValue("email"))
	addr, err := mail.ParseAddress(raw)
	if err != nil || len(raw) > 254 || addr.Address != raw || !strings.Contains(addr.Address, "@") {
		p.renderStatus(w, r, http.StatusBadRequest, text(lang, "subBadEmail"), "")
		return
	}
	emailHash := p.Blind("subscriber-email\x00" + strings.ToLower(addr.Address))
	if !p.perEmail.Allow(string(emailHash)) {
		// The same answer as a mail sent: the form says nothing about
		// an address, and its owner gets no more than three a day.
		p.renderStatus(w, r, http.StatusOK, "", text(lang, "subCheckMail"))
		return
	}
	token, err := newToken()
	if err != nil {
		p.fail(w, "token", err)
		return
	}
	b, _ := json.Marshal(subscriber{Email: addr.Address, Language: lang, Token: token})
	sealed, err := p.Keys.Seal(r.Context(), nil, b, subscriberAAD)
	if err != nil {
		p.fail(w, "seal subscriber", err)
		return
	}
	existing, err := p.Subscriptions.AddSubscriber(r.Context(), emailHash, p.tokenHash(token), sealed, p.Now().UTC())
	if err != nil {
		p.fail(w, "subscriber", err)
		return
	}
	subject := fmt.Sprintf(text(lang, "subConfirmSubject"), p.Lab.Name)
	body := fmt.Sprintf(text(lang, "subConfirmMail"), p.Lab.Name, p.link("subscribe/confirm", url.Values{"t": {token}, "lang": {lang}}))
	if existing != nil {
		// Already subscribed: say so to the mailbox, not to the form.
		sub, err := p.openSubscriber(existing)
		if err != nil {
			p.fail(w, "open subscriber", err)
			return
		}
		subject = fmt.Sprintf(text(lang, "subAlreadySubject"), p.Lab.Name)
		body = fmt.Sprintf(text(lang, "subAlreadyMail"), p.Lab.Name, p.link("unsubscribe", url.Values{"t": {sub.Token}, "lang": {lang}}))
	}
	if err := p.Mail.SendHeaders(r.Context(), []string{addr.Address}, subject, body, nil); err != nil {
		// The address is not logged: it is the person's.
		p.Log.Error("portal: confirmation mail", "err", withoutAddress(err, addr.Address))
		p.renderStatus(w, r, http.StatusServiceUnavailable, text(lang, "subMailDown"), "")
		return
	}
	p.count(MetricSubscribe)
	p.renderStatus(w, r, http.StatusOK, "", text(lang, "subCheckMail"))
}

// confirmPage shows a button rather than confirming on GET: mail scanners
// follow links, and a subscription must be the person's own act.
func (p *Portal) confirmPage(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	p.render(w, r, "subscribe", http.StatusOK, page{Title: text(lang, "subConfirmTitle"), Form: map[string]string{"t": r.URL.Query().Get("t"), "action": "confirm"}})
}

func (p *Portal) confirm(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	err := p.Subscriptions.ConfirmSubscriber(r.Context(), p.tokenHash(r.FormValue("t")), p.Now().UTC())
	switch {
	case errors.Is(err, labtrust.ErrNotFound):
		p.render(w, r, "subscribe", http.StatusNotFound, page{Title: text(lang, "subConfirmTitle"), Error: text(lang, "subNoLink")})
	case err != nil:
		p.fail(w, "confirm subscriber", err)
	default:
		p.render(w, r, "subscribe", http.StatusOK, page{Title: text(lang, "subConfirmTitle"), Done: true, Message: text(lang, "subConfirmed")})
	}
}

func (p *Portal) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	p.render(w, r, "subscribe", http.StatusOK, page{Title: text(lang, "unsubTitle"), Form: map[string]string{"t": r.URL.Query().Get("t"), "action": "unsubscribe"}})
}

// unsubscribe forgets the address. It also answers the one-click POST a
// mail client makes from the List-Unsubscribe-Post header (RFC 8058),
// which carries the token in the address.
func (p *Portal) unsubscribe(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	err := p.Subscriptions.RemoveSubscriber(r.Context(), p.tokenHash(r.FormValue("t")))
	switch {
	case errors.Is(err, labtrust.ErrNotFound):
		// Already gone, or never there: either way nothing will be sent.
		p.render(w, r, "subscribe", http.StatusOK, page{Title: text(lang, "unsubTitle"), Done: true, Message: text(lang, "unsubDone")})
	case err != nil:
		p.fail(w, "unsubscribe", err)
	default:
		p.render(w, r, "subscribe", http.StatusOK, page{Title: text(lang, "unsubTitle"), Done: true, Message: text(lang, "unsubDone")})
	}
}

func (p *Portal) fail(w http.ResponseWriter, what string, err error) {
	p.Log.Error("portal: "+what, "err", err)
	http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
}

// Delivered says what Deliver did.
type Delivered struct{ Sent, Failed int }

// Deliver mails each confirmed subscriber the public updates posted since
// their last mail, in their language, newest first, with a one-click
// unsubscribe link. A subscriber whose mail fails is tried again next
// time; what was mailed is recorded, so a restart sends nothing twice.
func (p *Portal) Deliver(ctx context.Context) (Delivered, error) {
	var d Delivered
	if !p.subscribeOn() {
		return d, nil
	}
	subs, err := p.Subscriptions.Subscribers(ctx)
	if err != nil || len(subs) == 0 {
		return d, err
	}
	ins, err := p.Incidents.List(ctx)
	if err != nil {
		return d, err
	}
	type upd struct {
		at           time.Time
		status, text map[string]string
	}
	var all []upd
	for _, in := range ins {
		for _, u := range in.Updates {
			all = append(all, upd{at: u.At, status: map[string]string{"en": text("en", u.Status), "es": text("es", u.Status)}, text: u.Text})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	for _, s := range subs {
		var fresh []upd
		for _, u := range all {
			if u.at.After(s.SentThrough) {
				fresh = append(fresh, u)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		sub, err := p.openSubscriber(s.Body)
		if err != nil {
			p.Log.Error("portal: open subscriber", "id", s.ID, "err", err)
			d.Failed++
			continue
		}
		lang := sub.Language
		if lang != "es" {
			lang = "en"
		}
		var body strings.Builder
		fmt.Fprintf(&body, text(lang, "subMailIntro")+"\n\n", p.Lab.Name)
		for _, u := range fresh {
			fmt.Fprintf(&body, "%s UTC · %s\n%s\n\n", u.at.Format("2006-01-02 15:04"), u.status[lang], u.text[lang])
		}
		fmt.Fprintf(&body, text(lang, "subMailMore")+"\n", p.link("", url.Values{"lang": {lang}}))
		unsub := p.link("unsubscribe", url.Values{"t": {sub.Token}, "lang": {lang}})
		fmt.Fprintf(&body, "\n"+text(lang, "subMailStop")+"\n", unsub)
		headers := map[string]string{"List-Unsubscribe": "<" + unsub + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
		subject := fmt.Sprintf(text(lang, "subMailSubject"), p.Lab.Name, fresh[0].status[lang])
		if err := p.Mail.SendHeaders(ctx, []string{sub.Email}, subject, body.String(), headers); err != nil {
			p.Log.Error("portal: update mail", "subscriber", s.ID, "err", withoutAddress(err, sub.Email))
			d.Failed++
			continue
		}
		if err := p.Subscriptions.SetSubscriberSent(ctx, s.ID, fresh[0].at); err != nil {
			return d, err
		}
		d.Sent++
	}
	return d, nil
}

func (p *Portal) openSubscriber(sealed []byte) (*subscriber, error) {
	b, err := p.Keys.Open(nil, sealed, subscriberAAD)
	if err != nil {
		return nil, err
	}
	var sub subscriber
	return &sub, json.Unmarshal(b, &sub)
}

// DeliverEvery runs Deliver until ctx ends: every interval, and at once
// whenever kick receives.
func (p *Portal) DeliverEvery(ctx context.Context, interval time.Duration, kick <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := p.Deliver(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("portal: deliver updates", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
	}
}

// withoutAddress is a mail error as the log may hold it: a mail server's
// answer can repeat the recipient's address, which is the person's own.
func withoutAddress(err error, addr string) string {
	return strings.ReplaceAll(err.Error(), addr, "[address]")
}
