// Package portal is the patients' side of the server: the incident status
// page with its timestamped updates, "Was I affected?" by notice code and
// date of birth (never SSN digits), and each person's notice. Pages are
// server-rendered in English and Spanish, work without JavaScript, and
// carry a strict Content-Security-Policy.
package portal

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/internal/ratelimit"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/store"
	"golang.org/x/mod/sumdb/note"
)

//go:embed templates static
var assets embed.FS

// Incidents reads the incidents the portal speaks of.
type Incidents interface {
	List(ctx context.Context) ([]*incident.Incident, error)
	Get(ctx context.Context, id int64) (*incident.Incident, error)
}

// Notices finds a person's notice by its code.
type Notices interface {
	Lookup(ctx context.Context, code string) (store.NoticeRow, *notice.Record, error)
	MonitoringCode(ctx context.Context, row store.NoticeRow) (string, error)
	ClaimMonitoring(ctx context.Context, row store.NoticeRow) error
}

// Feedback is where survey answers and call-back requests go (the store).
type Feedback interface {
	AddSurveyResponse(ctx context.Context, r store.SurveyResponse) error
	AddCallback(ctx context.Context, c store.Callback) (int64, error)
}

// Sealer seals the portal's session cookie (the vault's keyring).
type Sealer interface {
	Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error)
	Open(dst, sealed, aad []byte) ([]byte, error)
}

// Recorder puts a person's look-ups in the ledger.
type Recorder interface {
	Record(ctx context.Context, e labtrust.Event) error
}

// Portal serves the patient pages under /portal/.
type Portal struct {
	Incidents Incidents
	Notices   Notices
	Keys      Sealer
	Record    Recorder // nil: not recorded
	Lab       notice.Lab
	// Reports builds a patient's access report (with proofs) by MRN;
	// Verifier checks it with the ledger's public key, whose text form
	// (a note verifier key) LogKey is offered for offline checks.
	Reports  func(ctx context.Context, mrn string) (*accessreport.Report, error)
	Verifier note.Verifier
	LogKey   string
	// Feedback stores survey answers and call-back requests (nil: those
	// pages are off).
	Feedback Feedback
	// Subscriptions, Mail and Blind (a keyed hash, the keyring's Blind)
	// let people subscribe to the status page's updates by email; all
	// three and Lab.PortalURL are needed, else the form is not offered.
	Subscriptions Subscriptions
	Mail          Mailer
	Blind         func(string) []byte
	// Stats keeps daily counts of what people do on the portal, for the
	// console's chart (nil: not counted).
	Stats Stats
	// Laws add the person's state's paragraph to their notice (nil: none).
	Laws breach.Laws
	// Fonts set the letter a person downloads (zero: DefaultFonts).
	Fonts notice.Fonts
	Log   *slog.Logger
	// Secure marks the session cookie Secure (the server speaks TLS, or
	// sits behind a proxy that does).
	Secure bool
	// LookupLimit is how many look-ups one client address may make per
	// LookupWindow (defaults 20 per 10 minutes), and CodeLimit how many
	// wrong birth dates one code takes per window (default 5).
	LookupLimit, CodeLimit int
	LookupWindow           time.Duration
	Now                    func() time.Time

	statsMu sync.Mutex
	counts  map[string]int

	pages   map[string]*template.Template
	byAddr  *ratelimit.Window
	perCode *ratelimit.Window
	reports *ratelimit.Window
	// perEmail bounds the confirmation mails one address gets, so the
	// form cannot be used to flood someone's inbox.
	perEmail *ratelimit.Window
}

const cookieName = "labtrust_notice"

// SessionLength is how long a look-up stays open.
const SessionLength = 30 * time.Minute

// Handler returns the portal's routes.
func (p *Portal) Handler() (http.Handler, error) {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.LookupLimit <= 0 {
		p.LookupLimit = 20
	}
	if p.CodeLimit <= 0 {
		p.CodeLimit = 5
	}
	if p.LookupWindow <= 0 {
		p.LookupWindow = 10 * time.Minute
	}
	p.byAddr = ratelimit.New(p.LookupLimit, p.LookupWindow)
	p.reports = ratelimit.New(10, time.Hour)
	p.perEmail = ratelimit.New(3, 24*time.Hour)
	p.perCode = ratelimit.New(p.CodeLimit, p.LookupWindow)
	p.pages = map[string]*template.Template{}
	for _, name := range []string{"status", "lookup", "notice", "access", "report", "learn", "survey", "subscribe"} {
		t, err := template.New("").Funcs(template.FuncMap{"t": func(lang, key string) string { return text(lang, key) }}).
			ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		p.pages[name] = t
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /portal/static/", http.StripPrefix("/portal/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /portal/{$}", p.status)
	mux.HandleFunc("GET /portal/lookup", p.lookupPage)
	mux.HandleFunc("POST /portal/lookup", p.lookup)
	mux.HandleFunc("GET /portal/notice", p.noticePage)
	mux.HandleFunc("GET /portal/letter.pdf", p.letterPDF)
	mux.HandleFunc("POST /portal/leave", p.leave)
	mux.HandleFunc("GET /portal/report", p.reportPage)
	mux.HandleFunc("POST /portal/report", p.reportSuspicious)
	mux.HandleFunc("GET /portal/learn", p.learn)
	if p.subscribeOn() {
		mux.HandleFunc("POST /portal/subscribe", p.subscribe)
		mux.HandleFunc("GET /portal/subscribe/confirm", p.confirmPage)
		mux.HandleFunc("POST /portal/subscribe/confirm", p.confirm)
		mux.HandleFunc("GET /portal/unsubscribe", p.unsubscribePage)
		mux.HandleFunc("POST /portal/unsubscribe", p.unsubscribe)
	}
	if p.Feedback != nil {
		mux.HandleFunc("GET /portal/survey", p.surveyPage)
		mux.HandleFunc("POST /portal/survey", p.survey)
		mux.HandleFunc("POST /portal/callback", p.callback)
	}
	if p.Reports != nil {
		mux.HandleFunc("GET /portal/access", p.accessPage)
		mux.HandleFunc("GET /portal/access.json", p.accessJSON)
		mux.HandleFunc("GET /portal/log-key", p.logKey)
	}
	return headers(http.NewCrossOriginProtection().Handler(mux)), nil
}

func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// language picks English or Spanish: ?lang= first, then the browser's
// Accept-Language.
func language(r *http.Request) string {
	switch l := r.URL.Query().Get("lang"); l {
	case "en", "es":
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "es"):
			return "es"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "en"
}

type page struct {
	Lang, Other, Title, Error, Path string
	// Switch is this page in the other language (keeping a link token).
	Switch      string
	Lab         notice.Lab
	Incidents   []incidentView
	Code        string
	Notice      *noticeView
	Access      *accessView
	HasReport   bool
	Kinds       []string
	Form        map[string]string
	Done        bool
	HasFeedback bool
	Subscribe   bool
	Message     string
}

type accessView struct {
	Entries        []accessRow
	CheckpointSize uint64
	Pending        int
	Origin         string
}

type accessRow struct {
	At                      time.Time
	Who, Role, Action, What string
	Outcome                 string
	Index                   uint64
	Erased                  bool
}

type incidentView struct {
	ID      int64
	Title   string
	Status  string
	Updates []updateView
}

type updateView struct {
	At     time.Time
	Status string
	Text   string
}

type noticeView struct {
	Code       string
	Sections   []notice.Section
	Elements   []string
	Monitoring *notice.Monitoring
	NoCode     bool // an offer, but the pool is empty: call us
	EnrolBy    string
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, name string, status int, pg page) {
	pg.Lang = language(r)
	pg.Other = "es"
	if pg.Lang == "es" {
		pg.Other = "en"
	}
	pg.Lab, pg.Path = p.Lab, r.URL.Path
	q := url.Values{"lang": {pg.Other}}
	if t := r.URL.Query().Get("t"); t != "" && r.Method == http.MethodGet {
		q.Set("t", t) // the confirm and unsubscribe pages work from their link's token
	}
	pg.Switch = r.URL.Path + "?" + q.Encode()
	var b bytes.Buffer
	if err := p.pages[name].ExecuteTemplate(&b, "layout", pg); err != nil {
		p.Log.Error("portal: render", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// status lists the incidents with public updates, newest update first.
func (p *Portal) status(w http.ResponseWriter, r *http.Request) {
	p.renderStatus(w, r, http.StatusOK, "", "")
}

// renderStatus is the status page, with the subscription form's error or
// confirmation when it was just used.
func (p *Portal) renderStatus(w http.ResponseWriter, r *http.Request, code int, errText, message string) {
	lang := language(r)
	ins, err := p.Incidents.List(r.Context())
	if err != nil {
		p.fail(w, "incidents", err)
		return
	}
	var views []incidentView
	for _, in := range ins {
		if len(in.Updates) == 0 {
			continue // nothing public yet
		}
		v := incidentView{ID: in.ID, Status: in.Updates[len(in.Updates)-1].Status}
		for i := len(in.Updates) - 1; i >= 0; i-- {
			u := in.Updates[i]
			v.Updates = append(v.Updates, updateView{At: u.At, Status: u.Status, Text: u.Text[lang]})
		}
		views = append(views, v)
	}
	p.render(w, r, "status", code, page{Title: text(lang, "statusTitle"), Incidents: views, Error: errText, Message: message,
		Subscribe: p.subscribeOn(), Form: map[string]string{"email": r.PostFormValue("email")}})
}

func (p *Portal) lookupPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, "lookup", http.StatusOK, page{Title: text(language(r), "lookupTitle")})
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// lookup checks a notice code and date of birth. Every failure gives the
// same answer, so the form tells nobody whether a code exists; attempts
// are limited per client address and per code.
func (p *Portal) lookup(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	code := r.PostFormValue("code")
	fail := func(status int, key string) {
		switch status {
		case http.StatusTooManyRequests:
			p.count(MetricLookupLimited)
		case http.StatusUnauthorized:
			p.count(MetricLookupMiss)
		}
		p.render(w, r, "lookup", status, page{Title: text(lang, "lookupTitle"), Error: text(lang, key), Code: code})
	}
	if !p.byAddr.Allow(clientAddr(r)) {
		fail(http.StatusTooManyRequests, "tooMany")
		return
	}
	dob, err := birthDate(r)
	if err != nil {
		fail(http.StatusBadRequest, "badDate")
		return
	}
	norm, err := notice.NormalizeCode(code)
	if err != nil {
		fail(http.StatusBadRequest, "badCode")
		return
	}
	if !p.perCode.Allow(norm) {
		fail(http.StatusTooManyRequests, "tooMany")
		return
	}
	row, rec, err := p.Notices.Lookup(r.Context(), norm)
	if err != nil && !errors.Is(err, labtrust.ErrNotFound) {
		p.Log.Error("portal: lookup", "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	// Compare in constant time against a placeholder when the code is
	// unknown, so the answer takes as long either way.
	want := "0000-00-00"
	if rec != nil && rec.BirthDate != "" {
		want = rec.BirthDate
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(dob)) != 1 || rec == nil {
		fail(http.StatusUnauthorized, "notFound")
		return
	}
	if err := p.startSession(w, r, row, rec.Code); err != nil {
		p.Log.Error("portal: session", "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	p.record(r.Context(), rec, row, "portal-lookup")
	http.Redirect(w, r, "/portal/notice?lang="+lang, http.StatusSeeOther)
}

// birthDate reads the form's date of birth: one date field (YYYY-MM-DD)
// or day, month and year fields.
func birthDate(r *http.Request) (string, error) {
	if d := r.PostFormValue("dob"); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return "", err
		}
		return t.Format(time.DateOnly), nil
	}
	y, err1 := strconv.Atoi(r.PostFormValue("year"))
	m, err2 := strconv.Atoi(r.PostFormValue("month"))
	d, err3 := strconv.Atoi(r.PostFormValue("day"))
	if err1 != nil || err2 != nil || err3 != nil {
		return "", errors.New("no date")
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return "", errors.New("not a date")
	}
	return t.Format(time.DateOnly), nil
}

type session struct {
	Notice   int64     `json:"n"`
	Incident int64     `json:"i"`
	Code     string    `json:"c"`
	Expires  time.Time `json:"e"`
}

var sessionAAD = []byte("labtrust portal session v1")

func (p *Portal) startSession(w http.ResponseWriter, r *http.Request, row store.NoticeRow, code string) error {
	b, _ := json.Marshal(session{Notice: row.ID, Incident: row.Incident, Code: code, Expires: p.Now().Add(SessionLength)})
	sealed, err := p.Keys.Seal(r.Context(), nil, b, sessionAAD)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: "/portal/",
		HttpOnly: true, Secure: p.Secure, SameSite: http.SameSiteStrictMode, MaxAge: int(SessionLength.Seconds())})
	return nil
}

func (p *Portal) session(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil, false
	}
	b, err := p.Keys.Open(nil, raw, sessionAAD)
	if err != nil {
		return nil, false
	}
	var s session
	if json.Unmarshal(b, &s) != nil || p.Now().After(s.Expires) {
		return nil, false
	}
	return &s, true
}

// sessionLetter is the letter of the session's person, in the language
// they read the page in; without a session (or with one no longer
// matching its notice) it sends them to the look-up and says not ok.
func (p *Portal) sessionLetter(w http.ResponseWriter, r *http.Request, lang string) (*notice.Letter, store.NoticeRow, *notice.Record, *incident.Incident, bool) {
	s, ok := p.session(r)
	if !ok {
		http.Redirect(w, r, "/portal/lookup?lang="+lang, http.StatusSeeOther)
		return nil, store.NoticeRow{}, nil, nil, false
	}
	row, rec, err := p.Notices.Lookup(r.Context(), s.Code)
	if err != nil || row.ID != s.Notice {
		http.Redirect(w, r, "/portal/lookup?lang="+lang, http.StatusSeeOther)
		return nil, row, nil, nil, false
	}
	in, err := p.Incidents.Get(r.Context(), row.Incident)
	if err != nil {
		p.Log.Error("portal: incident", "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return nil, row, nil, nil, false
	}
	texts := map[string]notice.Text{}
	for k, t := range in.NoticeText {
		texts[k] = notice.Text{What: t.What, Doing: t.Doing}
	}
	shown := *rec
	shown.Language = lang // the page follows the reader's choice
	l := shown.Letter(p.Lab, texts, in.Discovered, p.Now())
	l.ForState(p.Laws, shown.State)
	return l, row, rec, in, true
}

// noticePage is the person's own notice: what happened, which of their
// data, what the lab is doing and what they can do.
func (p *Portal) noticePage(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	l, row, rec, in, ok := p.sessionLetter(w, r, lang)
	if !ok {
		return
	}
	l.Lab.PortalURL = "" // they are on it
	v := &noticeView{Code: rec.Code, Sections: l.Sections()}
	if m := in.Monitoring; m != nil {
		// Credit monitoring: their own code, given out (and recorded as
		// claimed) the first time they see it.
		code, err := p.Notices.MonitoringCode(r.Context(), row)
		switch {
		case errors.Is(err, store.ErrPoolEmpty):
			v.NoCode = true
		case err != nil:
			p.Log.Error("portal: monitoring code", "err", err)
			v.NoCode = true
		default:
			v.Monitoring = &notice.Monitoring{Vendor: m.Vendor, Months: m.Months, Code: code, URL: m.URL, EnrolBy: m.EnrolBy}
			v.EnrolBy = dateIn(lang, m.EnrolBy)
			p.count(MetricMonitoring)
			if err := p.Notices.ClaimMonitoring(r.Context(), row); err != nil {
				p.Log.Error("portal: claim monitoring", "err", err)
			}
		}
	}
	p.record(r.Context(), rec, row, "portal-notice-view")
	p.render(w, r, "notice", http.StatusOK, page{Title: text(lang, "noticeTitle"), Notice: v, HasReport: p.Reports != nil,
		HasFeedback: p.Feedback != nil, Message: text(lang, r.URL.Query().Get("done"))})
}

func (p *Portal) leave(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/portal/", MaxAge: -1, HttpOnly: true, Secure: p.Secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/portal/?lang="+language(r), http.StatusSeeOther)
}

// record puts the person's own look-up in the ledger, naming them, so it
// shows in their access report like any other access to their data.
func (p *Portal) record(ctx context.Context, rec *notice.Record, row store.NoticeRow, what string) {
	p.count(what)
	if p.Record == nil {
		return
	}
	p.Record.Record(ctx, labtrust.Event{Time: p.Now().UTC(), Source: "labtrust-portal", Kind: labtrust.KindAccess, Action: labtrust.ActionRead,
		Outcome: labtrust.OutcomeSuccess, Type: labtrust.Code{System: "https://labtrust.example/portal-action", Code: what},
		Actor:    labtrust.Actor{ID: "patient", UserType: "person", Role: "patient"},
		Patients: []labtrust.PatientRef{{ID: rec.MRN}}, SourceRef: "notice/" + strconv.FormatInt(row.ID, 10)})
}

// report builds and verifies the session's patient's access report.
func (p *Portal) report(w http.ResponseWriter, r *http.Request) (*notice.Record, store.NoticeRow, *accessreport.Report, *accessreport.Verified, bool) {
	lang := language(r)
	s, ok := p.session(r)
	if !ok {
		http.Redirect(w, r, "/portal/lookup?lang="+lang, http.StatusSeeOther)
		return nil, store.NoticeRow{}, nil, nil, false
	}
	row, rec, err := p.Notices.Lookup(r.Context(), s.Code)
	if err != nil || row.ID != s.Notice {
		http.Redirect(w, r, "/portal/lookup?lang="+lang, http.StatusSeeOther)
		return nil, store.NoticeRow{}, nil, nil, false
	}
	rep, err := p.Reports(r.Context(), rec.MRN)
	if err != nil {
		p.Log.Error("portal: access report", "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return nil, row, nil, nil, false
	}
	// The server checks what it hands out: a report that does not verify
	// is never shown as if it did.
	ver, err := accessreport.Verify(rep, p.Verifier)
	if err != nil {
		p.Log.Error("portal: access report does not verify", "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return nil, row, nil, nil, false
	}
	return rec, row, rep, ver, true
}

var actions = map[string]map[labtrust.Action]string{
	"en": {labtrust.ActionRead: "viewed", labtrust.ActionCreate: "created", labtrust.ActionUpdate: "changed", labtrust.ActionDelete: "deleted", labtrust.ActionExecute: "exported or printed"},
	"es": {labtrust.ActionRead: "consultó", labtrust.ActionCreate: "creó", labtrust.ActionUpdate: "modificó", labtrust.ActionDelete: "eliminó", labtrust.ActionExecute: "exportó o imprimió"},
}

// accessPage lists who accessed the person's record, from their report.
func (p *Portal) accessPage(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	rec, row, rep, ver, ok := p.report(w, r)
	if !ok {
		return
	}
	v := &accessView{CheckpointSize: ver.CheckpointSize, Pending: rep.Pending, Origin: rep.Origin}
	add := func(en *labtrust.Entry, erased bool) {
		e := &en.Event
		what := e.Type.Display
		if what == "" {
			what = e.Type.Code
		}
		var objs []string
		for _, o := range e.Objects {
			if o.Type != "" && o.Type != "Query" {
				objs = append(objs, o.Type)
			}
		}
		if len(objs) > 0 {
			what = strings.Join(objs, ", ")
		}
		outcome := text(lang, "ok")
		if e.Outcome != labtrust.OutcomeSuccess {
			outcome = text(lang, "refused")
		}
		who := e.Actor.Name
		if who == "" {
			who = e.Actor.ID
		}
		v.Entries = append(v.Entries, accessRow{At: e.Time, Who: who, Role: e.Actor.Role, Action: actions[lang][e.Action],
			What: what, Outcome: outcome, Index: en.Index, Erased: erased})
	}
	for _, en := range ver.Entries {
		add(en, false)
	}
	for _, en := range ver.Erased {
		add(en, true)
	}
	sort.Slice(v.Entries, func(i, j int) bool { return v.Entries[i].At.After(v.Entries[j].At) })
	p.record(r.Context(), rec, row, "portal-access-report")
	p.render(w, r, "access", http.StatusOK, page{Title: text(lang, "accessTitle"), Access: v})
}

// accessJSON hands the person their report, to check offline with
// labtrust-verify and the log's key.
func (p *Portal) accessJSON(w http.ResponseWriter, r *http.Request) {
	rec, row, rep, _, ok := p.report(w, r)
	if !ok {
		return
	}
	p.record(r.Context(), rec, row, "portal-access-report-download")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="my-access-report.json"`)
	rep.Write(w)
}

// logKey serves the ledger's public key (not secret).
func (p *Portal) logKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="ledger.vkey"`)
	w.Write([]byte(p.LogKey + "\n"))
}

// ReportKinds are the ways a suspicious contact reached someone.
var ReportKinds = []string{"call", "text", "email", "letter", "website", "other"}

func (p *Portal) reportPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, "report", http.StatusOK, page{Title: text(language(r), "reportTitle"), Kinds: ReportKinds})
}

// reportSuspicious takes a person's report of a call, text or email that
// claimed to be the lab, and puts it in the ledger as a report event, so
// detection sees it beside everything else (a wave of them is a phishing
// campaign riding on the breach).
func (p *Portal) reportSuspicious(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	form := map[string]string{"kind": r.PostFormValue("kind"), "from": strings.TrimSpace(r.PostFormValue("from")),
		"message": strings.TrimSpace(r.PostFormValue("message"))}
	fail := func(status int, key string) {
		p.render(w, r, "report", status, page{Title: text(lang, "reportTitle"), Kinds: ReportKinds, Form: form, Error: text(lang, key)})
	}
	if !p.reports.Allow(clientAddr(r)) {
		fail(http.StatusTooManyRequests, "tooMany")
		return
	}
	if !slicesContains(ReportKinds, form["kind"]) {
		fail(http.StatusBadRequest, "reportKind")
		return
	}
	if form["message"] == "" || len(form["message"]) > 4000 || len(form["from"]) > 200 {
		fail(http.StatusBadRequest, "reportMessageErr")
		return
	}
	if p.Record == nil {
		fail(http.StatusServiceUnavailable, "reportDown")
		return
	}
	// What they were told may hold their own data: it is sealed with the
	// event body like every other.
	e := labtrust.Event{Time: p.Now().UTC(), Source: "labtrust-portal", Kind: labtrust.KindReport, Action: labtrust.ActionCreate,
		Outcome: labtrust.OutcomeSuccess, Type: labtrust.Code{System: "https://labtrust.example/suspicious-contact", Code: form["kind"]},
		Actor: labtrust.Actor{ID: "public", UserType: "person"}, Network: clientAddr(r),
		Objects: []labtrust.Object{{Type: "Report", Role: "report", ID: form["from"], Query: form["message"]}}}
	if err := p.Record.Record(r.Context(), e); err != nil {
		p.Log.Error("portal: report", "err", err)
		fail(http.StatusServiceUnavailable, "reportDown")
		return
	}
	p.count(MetricSuspicious)
	p.render(w, r, "report", http.StatusOK, page{Title: text(lang, "reportTitle"), Done: true})
}

func slicesContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (p *Portal) learn(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, "learn", http.StatusOK, page{Title: text(language(r), "learnTitle")})
}

var monthsES = []string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}

func dateIn(lang string, t time.Time) string {
	if lang == "es" {
		return strconv.Itoa(t.Day()) + " de " + monthsES[t.Month()-1] + " de " + strconv.Itoa(t.Year())
	}
	return t.Format("January 2, 2006")
}

func (p *Portal) surveyPage(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	if _, ok := p.session(r); !ok {
		http.Redirect(w, r, "/portal/lookup?lang="+lang, http.StatusSeeOther)
		return
	}
	p.render(w, r, "survey", http.StatusOK, page{Title: text(lang, "surveyTitle")})
}

var commentAAD = []byte("labtrust survey comment v1")

// survey takes the short trust survey; the answers are counted by week for
// the console's chart, the comment sealed (people write their own data
// into comments).
func (p *Portal) survey(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	s, ok := p.session(r)
	if !ok {
		http.Redirect(w, r, "/portal/lookup?lang="+lang, http.StatusSeeOther)
		return
	}
	trust, err1 := strconv.Atoi(r.PostFormValue("trust"))
	clear, err2 := strconv.Atoi(r.PostFormValue("clear"))
	helped := r.PostFormValue("helped")
	if err1 != nil || err2 != nil || trust < 1 || trust > 5 || clear < 1 || clear > 5 || (helped != "yes" && helped != "no") {
		p.render(w, r, "survey", http.StatusBadRequest, page{Title: text(lang, "surveyTitle"), Error: text(lang, "surveyIncomplete")})
		return
	}
	resp := store.SurveyResponse{Incident: s.Incident, At: p.Now().UTC(), Trust: trust, Clear: clear, Helped: helped == "yes"}
	if c := strings.TrimSpace(r.PostFormValue("comment")); c != "" {
		if len(c) > 2000 {
			c = c[:2000]
		}
		sealed, err := p.Keys.Seal(r.Context(), nil, []byte(c), commentAAD)
		if err != nil {
			p.Log.Error("portal: seal comment", "err", err)
			http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
			return
		}
		resp.Comment = sealed
	}
	if err := p.Feedback.AddSurveyResponse(r.Context(), resp); err != nil {
		p.Log.Error("portal: survey", "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	p.count(MetricSurvey)
	p.render(w, r, "survey", http.StatusOK, page{Title: text(lang, "surveyTitle"), Done: true})
}

var callbackAAD = []byte("labtrust callback v1")

// Callback is what a call-back request holds (sealed).
type Callback struct {
	Phone    string `json:"phone"`
	When     string `json:"when,omitempty"`
	Topic    string `json:"topic,omitempty"`
	Language string `json:"language"`
}

// callback asks the helpline to call the person back.
func (p *Portal) callback(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	s, ok := p.session(r)
	if !ok {
		http.Redirect(w, r, "/portal/lookup?lang="+lang, http.StatusSeeOther)
		return
	}
	cb := Callback{Phone: strings.TrimSpace(r.PostFormValue("phone")), When: strings.TrimSpace(r.PostFormValue("when")),
		Topic: strings.TrimSpace(r.PostFormValue("topic")), Language: lang}
	digits := 0
	for _, c := range cb.Phone {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	if digits < 7 || len(cb.Phone) > 30 || len(cb.When) > 100 || len(cb.Topic) > 1000 {
		http.Redirect(w, r, "/portal/notice?lang="+lang+"&done=callbackBad#callback", http.StatusSeeOther)
		return
	}
	b, _ := json.Marshal(cb)
	sealed, err := p.Keys.Seal(r.Context(), nil, b, callbackAAD)
	if err == nil {
		_, err = p.Feedback.AddCallback(r.Context(), store.Callback{Incident: s.Incident, Notice: s.Notice, At: p.Now().UTC(), Body: sealed})
	}
	if err != nil {
		p.Log.Error("portal: callback", "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	p.count(MetricCallback)
	http.Redirect(w, r, "/portal/notice?lang="+lang+"&done=callbackThanks", http.StatusSeeOther)
}

// OpenCallback reads a sealed call-back request (the console).
func OpenCallback(k Sealer, body []byte) (*Callback, error) {
	b, err := k.Open(nil, body, callbackAAD)
	if err != nil {
		return nil, err
	}
	var cb Callback
	return &cb, json.Unmarshal(b, &cb)
}

// letterPDF is the person's letter, in the language they read the page
// in, with their credit-monitoring code.
func (p *Portal) letterPDF(w http.ResponseWriter, r *http.Request) {
	lang := language(r)
	l, row, rec, in, ok := p.sessionLetter(w, r, lang)
	if !ok {
		return
	}
	if m := in.Monitoring; m != nil {
		if code, err := p.Notices.MonitoringCode(r.Context(), row); err == nil {
			l.Monitoring = &notice.Monitoring{Vendor: m.Vendor, Months: m.Months, Code: code, URL: m.URL, EnrolBy: m.EnrolBy}
		}
	}
	fonts := p.Fonts
	if fonts.Regular == nil {
		fonts = notice.DefaultFonts()
	}
	pdf, err := l.PDF(fonts)
	if err != nil {
		p.Log.Error("portal: letter", "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	p.record(r.Context(), rec, row, "portal-letter-download")
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="notice-`+rec.Code+`.pdf"`)
	w.Write(pdf)
}
