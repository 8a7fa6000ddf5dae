// Package console is the staff console: server-rendered pages (html/template,
// embedded assets, stdlib ServeMux) for signing in with a second factor,
// ledger status, and patient lookup with the access history. Cross-origin
// form posts are refused (http.CrossOriginProtection), pages carry a strict
// Content-Security-Policy, and every page that shows PHI records a staff
// "view" event in the ledger.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/identity"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/internal/ratelimit"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/vault"
)

//go:embed templates static
var assets embed.FS

// LedgerStatus is what the overview shows about the ledger.
type LedgerStatus struct {
	Size, Checkpointed uint64
	Quarantine         int64
}

// Patients finds registry entries.
type Patients interface {
	Get(ctx context.Context, mrn string) (*registry.Entry, error)
}

// Console serves the staff pages under /console/.
type Console struct {
	ID       *identity.Service
	Patients Patients
	// History returns the events that touched a patient (merges followed).
	History func(ctx context.Context, mrn string) ([]labtrust.Event, error)
	Ledger  func(ctx context.Context) (LedgerStatus, error)
	// PasskeysOn says the identity service has passkeys set up.
	PasskeysOn bool
	// SSO, if set, offers single sign-on on the sign-in page.
	SSO *OIDC
	// Admin, if set, serves the staff, keys, quarantine and verify pages.
	Admin *Admin
	// Alerts, if set, serves the alert list and triage pages.
	Alerts Alerts
	// Incidents, if set, serves the incident, scope, assessment and
	// obligations pages.
	Incidents *Incidents
	Log       *slog.Logger

	// LoginLimit is how many sign-in and code attempts one client address
	// may make per LoginWindow (defaults: 20 per 5 minutes).
	LoginLimit  int
	LoginWindow time.Duration

	pages   map[string]*template.Template
	limiter *ratelimit.Window
}

const cookieName = "labtrust_session"

// Handler returns the console's routes, to mount at /console/.
func (c *Console) Handler() (http.Handler, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.LoginLimit <= 0 {
		c.LoginLimit = 20
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = 5 * time.Minute
	}
	c.limiter = ratelimit.New(c.LoginLimit, c.LoginWindow)
	c.pages = map[string]*template.Template{}
	for _, p := range []string{"login", "mfa", "enrol", "home", "ledger", "patients", "staff", "keys", "quarantine", "alerts", "alert", "incidents", "incident"} {
		t, err := template.ParseFS(assets, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, err
		}
		c.pages[p] = t
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/login", c.loginPage)
	mux.HandleFunc("POST /console/login", c.limited(c.login))
	mux.HandleFunc("GET /console/mfa", c.pending(c.mfaPage))
	mux.HandleFunc("POST /console/mfa", c.limited(c.pending(c.mfa)))
	mux.HandleFunc("GET /console/mfa/enrol", c.pending(c.enrolPage))
	mux.HandleFunc("POST /console/mfa/enrol", c.limited(c.pending(c.enrol)))
	mux.HandleFunc("POST /console/logout", c.logout)
	if c.SSO != nil {
		mux.HandleFunc("GET /console/oidc/login", c.oidcLogin)
		mux.HandleFunc("GET /console/oidc/callback", c.oidcCallback)
	}
	mux.HandleFunc("GET /console/{$}", c.signedIn(c.home))
	mux.HandleFunc("GET /console/ledger", c.signedIn(c.ledger))
	mux.HandleFunc("GET /console/patients", c.signedIn(c.patients))
	if c.PasskeysOn {
		mux.HandleFunc("GET /console/passkey/register/begin", c.signedInToken(c.passkeyRegisterBegin))
		mux.HandleFunc("POST /console/passkey/register/finish", c.signedInToken(c.passkeyRegisterFinish))
		mux.HandleFunc("GET /console/passkey/login/begin", c.pending(c.passkeyLoginBegin))
		mux.HandleFunc("POST /console/passkey/login/finish", c.limited(c.pending(c.passkeyLoginFinish)))
	}
	if c.Admin != nil {
		mux.HandleFunc("GET /console/staff", c.require(identity.PermManageStaff, c.staffPage))
		mux.HandleFunc("POST /console/staff", c.require(identity.PermManageStaff, c.staffCreate))
		mux.HandleFunc("POST /console/staff/{user}/role", c.require(identity.PermManageStaff, c.staffRole))
		mux.HandleFunc("POST /console/staff/{user}/disable", c.require(identity.PermManageStaff, c.staffDisable))
		mux.HandleFunc("GET /console/keys", c.require(identity.PermManageKeys, c.keysPage))
		mux.HandleFunc("POST /console/keys/rotate", c.require(identity.PermManageKeys, c.keysRotate))
		mux.HandleFunc("GET /console/quarantine", c.require(identity.PermManageSources, c.quarantinePage))
		mux.HandleFunc("POST /console/ledger/verify", c.require(identity.PermViewLedger, c.verify))
	}
	if c.Alerts != nil {
		mux.HandleFunc("GET /console/alerts", c.require(identity.PermViewAlerts, c.alertsPage))
		mux.HandleFunc("GET /console/alerts/{id}", c.require(identity.PermViewAlerts, c.alertPage))
		mux.HandleFunc("POST /console/alerts/{id}/status", c.require(identity.PermTriageAlerts, c.alertTriage))
	}
	if c.Incidents != nil {
		inc := func(h func(w http.ResponseWriter, r *http.Request, st *identity.Staff)) http.HandlerFunc {
			return c.require(identity.PermIncidents, h)
		}
		mux.HandleFunc("GET /console/incidents", inc(c.incidentsPage))
		mux.HandleFunc("POST /console/incidents", inc(c.incidentCreate))
		mux.HandleFunc("GET /console/incidents/{id}", inc(c.incidentPage))
		mux.HandleFunc("GET /console/incidents/{id}/manifest", inc(c.incidentManifest))
		mux.HandleFunc("GET /console/incidents/{id}/deadlines.ics", inc(c.incidentCalendar))
		mux.HandleFunc("GET /console/incidents/{id}/mailhouse.zip", inc(c.incidentMailHouse))
		mux.HandleFunc("POST /console/incidents/{id}/evidence/{eid}", inc(c.incidentEvidenceGet))
		for path, fn := range map[string]func(*http.Request, *identity.Staff, int64) (string, error){
			"status": c.incidentStatus, "note": c.incidentNote, "update": c.incidentUpdate,
			"notice-text": c.incidentNoticeText, "callback-done": c.incidentCallbackDone, "notices/approve": c.incidentNoticesApprove, "notices/prepare": c.incidentNoticesPrepare, "notices/email": c.incidentNoticesEmail, "lessons": c.incidentLessons, "playbook": c.incidentPlaybook,
			"task/{task}": c.incidentTask, "contact": c.incidentContact, "delay": c.incidentDelay, "indicators": c.incidentIndicators,
			"scope": c.incidentScope, "assess": c.incidentAssess, "evidence": c.incidentEvidenceAdd, "evidence/{eid}/transfer": c.incidentEvidenceTransfer,
		} {
			mux.HandleFunc("POST /console/incidents/{id}/"+path, inc(c.act(fn)))
		}
	}
	// Refuse cross-origin state-changing requests (CSRF), by the browser's
	// Sec-Fetch-Site and Origin headers.
	return headers(http.NewCrossOriginProtection().Handler(mux)), nil
}

func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

type page struct {
	Title, Error, Lang string
	Message            string
	Staff              *identity.Staff
	CanPHI, Admin      bool
	Can                map[string]bool // by permission name, for the templates
	SSO                *OIDC
	Accounts           []*identity.Staff
	Roles              []identity.Role
	Keys               []vault.KeyInfo
	KEK                string
	Quarantined        []store.QuarantineItem
	Sources            []Source
	Passkeys           bool // passkeys are on: load the script
	HasPasskey         bool
	// page-specific
	Secret, URL string
	Codes       []string
	Ledger      LedgerStatus
	MRN         string
	Patient     *registry.Entry
	History     []labtrust.Event
	Alerts      []labtrust.Alert
	Alert       *labtrust.Alert
	Filter      string
	Statuses    []labtrust.AlertStatus
	Chart       *Chart
	// incidents
	Incidents        []*incident.Incident
	Incident         *IncidentView
	Playbooks        []*incident.Playbook
	IncidentStatuses []incident.Status
	Today            string
}

func (c *Console) render(w http.ResponseWriter, name string, status int, p page) {
	if p.Lang == "" {
		p.Lang = "en"
	}
	p.Passkeys = c.PasskeysOn
	if p.Staff != nil {
		p.CanPHI = p.Staff.Role.Can(identity.PermViewPHI)
		p.Admin = c.Admin != nil
		p.Can = map[string]bool{}
		for _, perm := range []identity.Permission{identity.PermManageStaff, identity.PermManageKeys, identity.PermManageSources, identity.PermViewLedger, identity.PermViewAlerts, identity.PermTriageAlerts, identity.PermIncidents} {
			p.Can[string(perm)] = p.Staff.Role.Can(perm)
		}
		if c.Alerts == nil {
			p.Can[string(identity.PermViewAlerts)], p.Can[string(identity.PermTriageAlerts)] = false, false
		}
		if c.Incidents == nil {
			p.Can[string(identity.PermIncidents)] = false
		}
	}
	// Rendered whole before anything is sent, so a template error is a
	// clear 500, not half a page.
	var b bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		c.Log.Error("console: render", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side; it has been logged.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/console/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

func remote(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limited refuses attempts beyond the per-address limit.
func (c *Console) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !c.limiter.Allow(remote(r)) {
			w.Header().Set("Retry-After", strconv.Itoa(int(c.LoginWindow.Seconds())))
			c.render(w, "login", http.StatusTooManyRequests, page{Title: "Sign in", SSO: c.SSO,
				Error: "Too many attempts from your network. Wait a few minutes, then try again."})
			return
		}
		h(w, r)
	}
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, "login", http.StatusOK, page{Title: "Sign in", SSO: c.SSO})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	token, st, err := c.ID.Login(r.Context(), r.PostFormValue("username"), r.PostFormValue("password"), remote(r))
	switch {
	case errors.Is(err, identity.ErrMFARequired):
		c.setCookie(w, r, token, 0)
		http.Redirect(w, r, "/console/mfa/enrol", http.StatusSeeOther)
	case errors.Is(err, identity.ErrBadCredentials), errors.Is(err, identity.ErrLocked):
		c.render(w, "login", http.StatusUnauthorized, page{Title: "Sign in", SSO: c.SSO, Error: sentence(err)})
	case err != nil:
		c.fail(w, err)
	case st.Role.NeedsMFA():
		c.setCookie(w, r, token, 0)
		http.Redirect(w, r, "/console/mfa", http.StatusSeeOther)
	default:
		c.setCookie(w, r, token, 0)
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	}
}

// sentence turns an identity error into what the page says.
func sentence(err error) string {
	switch {
	case errors.Is(err, identity.ErrLocked):
		return "This account is locked for a while after repeated failures. Try again later or ask an administrator."
	case errors.Is(err, identity.ErrSessionExpired):
		return "Your session ended. Sign in again."
	}
	return "The username, password or code is not right."
}

func (c *Console) fail(w http.ResponseWriter, err error) {
	c.Log.Error("console", "err", err)
	c.render(w, "login", http.StatusInternalServerError, page{Title: "Something went wrong", Error: "Something went wrong on our side; it has been logged."})
}

// pending wraps pages for a session whose second factor is not done yet.
func (c *Console) pending(h func(w http.ResponseWriter, r *http.Request, token string, st *identity.Staff)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookieName)
		if err != nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		st, _, err := c.ID.Session(r.Context(), ck.Value)
		if err != nil {
			c.render(w, "login", http.StatusUnauthorized, page{Title: "Sign in", Error: sentence(err)})
			return
		}
		h(w, r, ck.Value, st)
	}
}

// signedIn wraps pages that need a complete sign-in.
func (c *Console) signedIn(h func(w http.ResponseWriter, r *http.Request, st *identity.Staff)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookieName)
		if err != nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		st, full, err := c.ID.Session(r.Context(), ck.Value)
		switch {
		case err != nil:
			c.render(w, "login", http.StatusUnauthorized, page{Title: "Sign in", Error: sentence(err)})
		case !full && !st.MFA:
			http.Redirect(w, r, "/console/mfa/enrol", http.StatusSeeOther)
		case !full:
			http.Redirect(w, r, "/console/mfa", http.StatusSeeOther)
		default:
			h(w, r, st)
		}
	}
}

func (c *Console) mfaPage(w http.ResponseWriter, r *http.Request, _ string, st *identity.Staff) {
	c.render(w, "mfa", http.StatusOK, page{Title: "Second factor", HasPasskey: c.ID.HasPasskey(r.Context(), st.ID)})
}

func (c *Console) mfa(w http.ResponseWriter, r *http.Request, token string, st *identity.Staff) {
	if _, err := c.ID.CompleteMFA(r.Context(), token, r.PostFormValue("code"), remote(r)); err != nil {
		c.render(w, "mfa", http.StatusUnauthorized, page{Title: "Second factor", Error: sentence(err)})
		return
	}
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) enrolPage(w http.ResponseWriter, r *http.Request, _ string, st *identity.Staff) {
	if st.MFA {
		http.Redirect(w, r, "/console/mfa", http.StatusSeeOther)
		return
	}
	url, secret, err := c.ID.EnrolTOTP(r.Context(), st.Username)
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, "enrol", http.StatusOK, page{Title: "Set up your second factor", Secret: secret, URL: url})
}

func (c *Console) enrol(w http.ResponseWriter, r *http.Request, token string, st *identity.Staff) {
	codes, err := c.ID.CompleteEnrolment(r.Context(), token, r.PostFormValue("code"), remote(r))
	if err != nil {
		c.render(w, "mfa", http.StatusUnauthorized, page{Title: "Second factor", Error: sentence(err) + " Sign in again to restart the set-up."})
		return
	}
	c.render(w, "enrol", http.StatusOK, page{Title: "Second factor active", Staff: st, Codes: codes})
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.ID.Logout(r.Context(), ck.Value)
	}
	c.setCookie(w, r, "", -1)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	ls, err := c.Ledger(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, "home", http.StatusOK, page{Title: "Overview", Staff: st, Ledger: ls})
}

func (c *Console) ledger(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	if !st.Role.Can(identity.PermViewLedger) && !st.Role.Can(identity.PermViewPHI) {
		c.render(w, "home", http.StatusForbidden, page{Title: "Not allowed", Staff: st, Error: "Your role cannot see this page."})
		return
	}
	ls, err := c.Ledger(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, "ledger", http.StatusOK, page{Title: "Ledger", Staff: st, Ledger: ls})
}

func (c *Console) patients(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	if !st.Role.Can(identity.PermViewPHI) {
		c.ID.Record(r.Context(), st.Username, "patient-view-denied", labtrust.ActionRead, labtrust.OutcomeMinorFailure, "role cannot see PHI")
		c.render(w, "home", http.StatusForbidden, page{Title: "Not allowed", Staff: st, Error: "Your role cannot see patient data."})
		return
	}
	p := page{Title: "Patients", Staff: st}
	// The MRN arrives in the query string of a GET the browser makes to
	// this origin only; it is never logged (the server logs no URLs).
	mrn := r.URL.Query().Get("mrn")
	if mrn == "" {
		c.render(w, "patients", http.StatusOK, p)
		return
	}
	p.MRN = mrn
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	// An outside responder sees only the patients in their incident's
	// scope; the refusal looks like a miss, so it tells them nothing.
	if st.Role == identity.RoleResponder && !c.inResponderScope(ctx, st, mrn) {
		c.ID.Record(ctx, st.Username, "patient-view-denied", labtrust.ActionRead, labtrust.OutcomeMinorFailure, "outside the responder's incident scope")
		p.Error = "No patient in the registry has that MRN."
		c.render(w, "patients", http.StatusNotFound, p)
		return
	}
	e, err := c.Patients.Get(ctx, mrn)
	switch {
	case errors.Is(err, labtrust.ErrNotFound), errors.Is(err, registry.ErrForgotten):
		p.Error = "No patient in the registry has that MRN."
		c.render(w, "patients", http.StatusNotFound, p)
		return
	case err != nil:
		c.fail(w, err)
		return
	}
	p.Patient = e
	if p.History, err = c.History(ctx, mrn); err != nil {
		c.fail(w, err)
		return
	}
	// Looking at a patient is itself an access: it goes to the ledger,
	// naming the patient, so it shows in their own access report.
	c.ID.RecordAccess(ctx, st.Username, remote(r), "patient-view", e.Patient.ID, labtrust.OutcomeSuccess)
	c.render(w, "patients", http.StatusOK, p)
}
