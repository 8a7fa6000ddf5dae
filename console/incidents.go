package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/identity"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/portal"
	"github.com/labtrust/labtrust/store"
	"golang.org/x/mod/sumdb/note"
)

// Incidents serves the incident pages: list, open, playbooks and tasks,
// timeline, evidence, contacts and delays, scope, assessment and the
// obligations with their clocks.
type Incidents struct {
	Service *incident.Service
	// Notices prepares the notices from the scope; NoticeCounts and
	// MonitoringCounts read their delivery and the code pool.
	Notices          *notice.Service
	NoticeCounts     func(ctx context.Context, incident int64) ([]store.NoticeCount, error)
	MonitoringCounts func(ctx context.Context, incident int64) (total, given, claimed int, err error)
	// Survey sums the portal's trust survey by week; Callbacks lists the
	// call-back requests (sealed by Keys), CloseCallback marks one done.
	Survey        func(ctx context.Context, incident int64) ([]store.SurveyWeek, error)
	Callbacks     func(ctx context.Context, incident int64) ([]store.Callback, error)
	CloseCallback func(ctx context.Context, id int64) error
	// Subscribers counts the people subscribed to the status page's
	// updates by email (confirmed, and waiting for confirmation).
	Subscribers func(ctx context.Context) (confirmed, pending int, err error)
	// SendEmails starts emailing the incident's prepared notices on the
	// server and says how many it will go through; MailHouse writes its
	// mail-house files as a zip. Nil: not offered (no mail server, or the
	// lab's name and toll-free number are not configured).
	SendEmails func(ctx context.Context, incident int64) (int, error)
	MailHouse  func(ctx context.Context, incident int64, w io.Writer) error
	// PortalStats reads the portal's daily counts.
	PortalStats func(ctx context.Context, from time.Time) ([]store.PortalStat, error)
	Keys        portal.Sealer
	Scoper      *breach.Scoper
	// Checkpoint returns the latest signed checkpoint note.
	Checkpoint func() []byte
	Signer     note.Signer
	Laws       breach.Laws
}

// IncidentView is what the incident page shows.
type IncidentView struct {
	*incident.Incident
	Obligations    []ObligationView
	ObError        string
	Owed           int
	Playbooks      []*incident.Playbook
	Kinds          []string
	UpdateStatuses []string
	Factors        []breach.Factor
	Elements       []breach.Element
	Exceptions     []breach.Exception
	OpenTasks      int
	Scope          *breach.Summary
	States         []StateCount
	NoticeCounts   []store.NoticeCount
	NoticeTotal    int
	NoticeChart    *Chart
	Pool           [3]int // codes, given, claimed
	CanApprove     bool
	// CanSend: the viewer's role sees PHI, so sends and downloads letters;
	// EmailOn and MailHouseOn: the server can.
	CanSend, EmailOn, MailHouseOn bool
	Langs                         []string
	SurveyChart                   *Chart
	Subscribed                    [2]int // confirmed, pending; nil Subscribers: [-1, 0]
	PortalChart                   *Chart
	Callbacks                     []CallbackView
	// Timeline merges the incident's own entries with its alerts.
	Timeline   []incident.Entry
	Responders []*identity.Staff
}

// ObligationView is an obligation with its clock.
type ObligationView struct {
	breach.Obligation
	Clock   string
	Overdue bool
	Soon    bool // within 7 days
}

// StateCount is one row of the scope's residence table.
type StateCount struct {
	State string
	Count int
}

// inResponderScope says whether mrn is in the latest scope of the
// responder's incident.
func (c *Console) inResponderScope(ctx context.Context, st *identity.Staff, mrn string) bool {
	if c.Incidents == nil {
		return false
	}
	id, err := strconv.ParseInt(st.Incident, 10, 64)
	if err != nil {
		return false
	}
	if c.Incidents.Scoper == nil {
		return false
	}
	in, err := c.Incidents.Service.InScope(ctx, id, c.Incidents.Scoper.Blind(mrn))
	return err == nil && in
}

// mayOpen says whether st may see incident id: responders only their own.
func mayOpen(st *identity.Staff, id int64) bool {
	if st.Role != identity.RoleResponder {
		return true
	}
	return st.Incident == strconv.FormatInt(id, 10)
}

func (c *Console) incidentsPage(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	c.showIncidents(w, r, st, http.StatusOK, "")
}

func (c *Console) showIncidents(w http.ResponseWriter, r *http.Request, st *identity.Staff, status int, problem string) {
	all, err := c.Incidents.Service.List(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	var ins []*incident.Incident
	for _, in := range all {
		if mayOpen(st, in.ID) {
			ins = append(ins, in)
		}
	}
	c.ID.Record(r.Context(), st.Username, "incident-list", labtrust.ActionRead, labtrust.OutcomeSuccess, "")
	c.render(w, "incidents", status, page{Title: "Incidents", Staff: st, Error: problem, Incidents: ins, Playbooks: c.playbookList(),
		Today: time.Now().UTC().Format(time.DateOnly)})
}

func (c *Console) playbookList() []*incident.Playbook {
	var out []*incident.Playbook
	for _, k := range []string{"ransomware", "phishing", "insider", "lost-device", "business-associate", "misdirected"} {
		if pb := c.Incidents.Service.Playbooks()[k]; pb != nil {
			out = append(out, pb)
		}
	}
	return out
}

func (c *Console) incidentCreate(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	if st.Role == identity.RoleResponder {
		http.Error(w, "Responders work on the incident they were given.", http.StatusForbidden)
		return
	}
	n := incident.NewIncident{Title: r.PostFormValue("title"), Summary: r.PostFormValue("summary"), Severity: r.PostFormValue("severity"),
		Playbook: r.PostFormValue("playbook"), Entity: breach.Entity(r.PostFormValue("entity")), CoveredEntity: r.PostFormValue("covered_entity")}
	if d := r.PostFormValue("discovered"); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			c.showIncidents(w, r, st, http.StatusBadRequest, "The discovery date must be a date (YYYY-MM-DD).")
			return
		}
		n.Discovered = t
	}
	if a := r.PostFormValue("alert"); a != "" {
		id, err := strconv.ParseInt(a, 10, 64)
		if err == nil {
			n.Alerts = []int64{id}
		}
	}
	in, err := c.Incidents.Service.Create(r.Context(), st.Username, n)
	if err != nil {
		if msg, ok := userError(err); ok {
			c.showIncidents(w, r, st, http.StatusBadRequest, msg)
			return
		}
		c.fail(w, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/incidents/%d", in.ID), http.StatusSeeOther)
}

// userError returns the message of an error meant for the user.
func userError(err error) (string, bool) {
	var le *labtrust.Error
	if errors.As(err, &le) && le.Code == "invalid" {
		return sentenceOf(le.Message), true
	}
	return "", false
}

func sentenceOf(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, ")") {
		s += "."
	}
	return s
}

func (c *Console) incidentID(w http.ResponseWriter, r *http.Request, st *identity.Staff) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || !mayOpen(st, id) {
		c.showIncidents(w, r, st, http.StatusNotFound, "No incident you may see has that number.")
		return 0, false
	}
	return id, true
}

func (c *Console) incidentPage(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	id, ok := c.incidentID(w, r, st)
	if !ok {
		return
	}
	c.showIncident(w, r, st, id, http.StatusOK, r.URL.Query().Get("done"), "")
}

func (c *Console) showIncident(w http.ResponseWriter, r *http.Request, st *identity.Staff, id int64, status int, msg, problem string) {
	ctx := r.Context()
	in, err := c.Incidents.Service.Get(ctx, id)
	if errors.Is(err, labtrust.ErrNotFound) {
		c.showIncidents(w, r, st, http.StatusNotFound, "No incident you may see has that number.")
		return
	}
	if err != nil {
		c.fail(w, err)
		return
	}
	v := &IncidentView{Incident: in, Playbooks: c.playbookList(), Kinds: incident.ContactKinds, UpdateStatuses: incident.UpdateStatuses, Factors: breach.Factors, Exceptions: breach.Exceptions,
		Elements: []breach.Element{breach.ElementName, breach.ElementAddress, breach.ElementDOB, breach.ElementSSN, breach.ElementContact,
			breach.ElementHealthInsurance, breach.ElementOrders, breach.ElementResults, breach.ElementDiagnoses, breach.ElementDriversLicense, breach.ElementFinancialAccount}}
	for _, t := range in.Tasks {
		if !t.Done {
			v.OpenTasks++
		}
	}
	if in.Scope != nil {
		sum := in.Scope.Summary
		v.Scope = &sum
		for _, s := range sortedKeys(sum.ByState) {
			v.States = append(v.States, StateCount{State: s, Count: sum.ByState[s]})
		}
		_, obs, err := c.Incidents.Service.Obligations(ctx, id, c.Incidents.Laws)
		if err != nil {
			v.ObError = err.Error()
		}
		now := time.Now()
		for _, o := range obs {
			ov := ObligationView{Obligation: o, Clock: "-"}
			if o.Status == breach.StatusOwed {
				v.Owed++
				ov.Clock = breach.Clock(o.Due, now)
				ov.Overdue = !o.Due.IsZero() && o.Due.Before(now)
				ov.Soon = !ov.Overdue && !o.Due.IsZero() && o.Due.Sub(now) < 7*24*time.Hour
			}
			v.Obligations = append(v.Obligations, ov)
		}
	}
	if c.Incidents.NoticeCounts != nil {
		if v.NoticeCounts, err = c.Incidents.NoticeCounts(ctx, id); err != nil {
			c.fail(w, err)
			return
		}
		v.NoticeChart, v.NoticeTotal = noticeChart(v.NoticeCounts)
	}
	if c.Incidents.MonitoringCounts != nil {
		v.Pool[0], v.Pool[1], v.Pool[2], _ = c.Incidents.MonitoringCounts(ctx, id)
	}
	v.Subscribed[0] = -1
	if c.Incidents.Subscribers != nil {
		if v.Subscribed[0], v.Subscribed[1], err = c.Incidents.Subscribers(ctx); err != nil {
			c.fail(w, err)
			return
		}
	}
	if c.Incidents.PortalStats != nil {
		now := time.Now()
		stats, err := c.Incidents.PortalStats(ctx, now.AddDate(0, 0, -13))
		if err != nil {
			c.fail(w, err)
			return
		}
		v.PortalChart = portalChart(stats, now)
	}
	if c.Incidents.Survey != nil {
		weeks, err := c.Incidents.Survey(ctx, id)
		if err != nil {
			c.fail(w, err)
			return
		}
		v.SurveyChart = surveyChart(weeks)
	}
	// Call-back requests hold phone numbers: only roles that see PHI.
	if c.Incidents.Callbacks != nil && st.Role.Can(identity.PermViewPHI) {
		cbs, err := c.Incidents.Callbacks(ctx, id)
		if err != nil {
			c.fail(w, err)
			return
		}
		for _, cb := range cbs {
			body, err := portal.OpenCallback(c.Incidents.Keys, cb.Body)
			if err != nil {
				c.fail(w, err)
				return
			}
			v.Callbacks = append(v.Callbacks, CallbackView{ID: cb.ID, At: cb.At, Status: cb.Status, Callback: *body})
		}
	}
	v.CanApprove = st.Role == identity.RoleDirector
	v.CanSend = st.Role.Can(identity.PermViewPHI)
	v.EmailOn, v.MailHouseOn = c.Incidents.SendEmails != nil, c.Incidents.MailHouse != nil
	v.Langs = []string{"en", "es"}
	v.Timeline = append(v.Timeline, in.Timeline...)
	if c.Alerts != nil {
		for _, aid := range in.Alerts {
			a, err := c.Alerts.GetAlert(ctx, aid)
			if err != nil {
				continue
			}
			v.Timeline = append(v.Timeline, incident.Entry{At: a.First, By: "detection", Action: "alert",
				Text: fmt.Sprintf("Alert %d first seen: %s (%d matching events until %s)", a.ID, a.Title, a.Count, a.Last.Format("2006-01-02 15:04"))})
		}
	}
	sort.SliceStable(v.Timeline, func(i, j int) bool { return v.Timeline[i].At.Before(v.Timeline[j].At) })
	if staff, err := c.ID.List(ctx); err == nil {
		for _, s := range staff {
			if s.Role == identity.RoleResponder && s.Incident == strconv.FormatInt(id, 10) {
				v.Responders = append(v.Responders, s)
			}
		}
	}
	c.ID.Record(ctx, st.Username, "incident-view", labtrust.ActionRead, labtrust.OutcomeSuccess, "incident "+strconv.FormatInt(id, 10))
	c.render(w, "incident", status, page{Title: fmt.Sprintf("Incident %d", id), Staff: st, Incident: v, Message: msg, Error: problem,
		IncidentStatuses: incident.Statuses})
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// act wraps a POST on an incident: it runs fn and shows the page again
// with fn's message, or the user's error.
func (c *Console) act(fn func(r *http.Request, st *identity.Staff, id int64) (string, error)) func(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	return func(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
		id, ok := c.incidentID(w, r, st)
		if !ok {
			return
		}
		msg, err := fn(r, st, id)
		if err != nil {
			if m, ok := userError(err); ok {
				c.showIncident(w, r, st, id, http.StatusBadRequest, "", m)
				return
			}
			if errors.Is(err, labtrust.ErrNotFound) {
				c.showIncident(w, r, st, id, http.StatusNotFound, "", "That item is not part of this incident.")
				return
			}
			c.fail(w, err)
			return
		}
		// Post/redirect/get, so a reload does not repeat the action.
		http.Redirect(w, r, fmt.Sprintf("/console/incidents/%d?done=%s", id, urlQuery(msg)), http.StatusSeeOther)
	}
}

func urlQuery(s string) string { return url.QueryEscape(s) }

func (c *Console) incidentStatus(r *http.Request, st *identity.Staff, id int64) (string, error) {
	s := incident.Status(r.PostFormValue("status"))
	_, err := c.Incidents.Service.SetStatus(r.Context(), st.Username, id, s, r.PostFormValue("note"))
	return "The incident is now " + string(s) + ".", err
}

func (c *Console) incidentUpdate(r *http.Request, st *identity.Staff, id int64) (string, error) {
	_, err := c.Incidents.Service.PostUpdate(r.Context(), st.Username, id, r.PostFormValue("status"), r.PostFormValue("en"), r.PostFormValue("es"))
	return "Public update posted on the portal.", err
}

func (c *Console) incidentNoticeText(r *http.Request, st *identity.Staff, id int64) (string, error) {
	lang := r.PostFormValue("lang")
	_, err := c.Incidents.Service.SetNoticeText(r.Context(), st.Username, id, lang, r.PostFormValue("what"), r.PostFormValue("doing"))
	return "Notice text saved (" + lang + ").", err
}

func (c *Console) incidentNoticesApprove(r *http.Request, st *identity.Staff, id int64) (string, error) {
	if st.Role != identity.RoleDirector {
		return "", &labtrust.Error{Code: "invalid", Message: "the lab director approves the notices"}
	}
	_, err := c.Incidents.Service.ApproveNotices(r.Context(), st.Username, id)
	return "Notices approved.", err
}

// incidentNoticesEmail emails the notices, in the background: letters
// carry PHI, so only roles that see it send them.
func (c *Console) incidentNoticesEmail(r *http.Request, st *identity.Staff, id int64) (string, error) {
	if !st.Role.Can(identity.PermViewPHI) {
		return "", &labtrust.Error{Code: "invalid", Message: "your role does not send notices (they carry patients' data)"}
	}
	if c.Incidents.SendEmails == nil {
		return "", &labtrust.Error{Code: "invalid", Message: "email is not set up: the server needs --smtp-host and the lab's name and toll-free number"}
	}
	n, err := c.Incidents.SendEmails(r.Context(), id)
	if err != nil {
		return "", err
	}
	c.ID.Record(r.Context(), st.Username, "notices-email", labtrust.ActionExecute, labtrust.OutcomeSuccess, fmt.Sprintf("incident %d: emailing up to %d notices", id, n))
	return fmt.Sprintf("Emailing the notices of the %d people who gave an address, on the server; reload to see them move to sent.", n), nil
}

// lazyHeaders sets the download's headers at its first byte, so an error
// before it can still be a page.
type lazyHeaders struct {
	w       http.ResponseWriter
	set     func(http.Header)
	started bool
}

func (l *lazyHeaders) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.set(l.w.Header())
	}
	return l.w.Write(p)
}

// incidentMailHouse downloads the mail-house files (CSV and PDF batches)
// as a zip.
func (c *Console) incidentMailHouse(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	id, ok := c.incidentID(w, r, st)
	if !ok {
		return
	}
	if !st.Role.Can(identity.PermViewPHI) || c.Incidents.MailHouse == nil {
		c.showIncident(w, r, st, id, http.StatusForbidden, "", "Your role does not download the letters (they carry patients' data), or the lab's name and toll-free number are not configured.")
		return
	}
	lw := &lazyHeaders{w: w, set: func(h http.Header) {
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="incident-%d-mailhouse.zip"`, id))
	}}
	if err := c.Incidents.MailHouse(r.Context(), id, lw); err != nil {
		if lw.started {
			c.Log.Error("mail-house zip", "incident", id, "err", err)
			return
		}
		if m, ok := userError(err); ok {
			c.showIncident(w, r, st, id, http.StatusConflict, "", m)
			return
		}
		c.fail(w, err)
		return
	}
	c.ID.Record(r.Context(), st.Username, "notices-export", labtrust.ActionExecute, labtrust.OutcomeSuccess, fmt.Sprintf("incident %d: mail-house files downloaded", id))
}

func (c *Console) incidentNoticesPrepare(r *http.Request, st *identity.Staff, id int64) (string, error) {
	in, err := c.Incidents.Service.Get(r.Context(), id)
	if err != nil {
		return "", err
	}
	if in.Scope == nil {
		return "", &labtrust.Error{Code: "invalid", Message: "compute the scope first"}
	}
	p, err := c.Incidents.Notices.PrepareFrom(r.Context(), id, notice.ScopeSource{
		Each: func(fn func([]breach.Affected) error) error {
			return c.Incidents.Service.ScopePatients(r.Context(), id, fn)
		},
		Total:         in.Scope.Summary.Patients,
		WholeRegistry: breach.CoversRegistry(in.Indicators), // a hint: the notices are the same either way
	}, nil)
	if err != nil {
		return "", err
	}
	c.ID.Record(r.Context(), st.Username, "notices-prepare", labtrust.ActionCreate, labtrust.OutcomeSuccess, fmt.Sprintf("incident %d: %d notices", id, p.Added))
	return fmt.Sprintf("%d notices prepared (%d by mail, %d substitute; %d in Spanish).", p.Added, p.Mail, p.Substitute, p.Spanish), nil
}

// CallbackView is a call-back request, opened.
type CallbackView struct {
	ID     int64
	At     time.Time
	Status string
	portal.Callback
}

func (c *Console) incidentCallbackDone(r *http.Request, st *identity.Staff, id int64) (string, error) {
	if !st.Role.Can(identity.PermViewPHI) || c.Incidents.CloseCallback == nil {
		return "", &labtrust.Error{Code: "invalid", Message: "your role does not handle call-back requests"}
	}
	cb, err := strconv.ParseInt(r.PostFormValue("callback"), 10, 64)
	if err != nil {
		return "", labtrust.ErrNotFound
	}
	if err := c.Incidents.CloseCallback(r.Context(), cb); err != nil {
		return "", err
	}
	c.ID.Record(r.Context(), st.Username, "callback-done", labtrust.ActionUpdate, labtrust.OutcomeSuccess, fmt.Sprintf("callback %d", cb))
	return "Call-back marked done.", nil
}

// surveyChart draws the average trust answer per week.
func surveyChart(weeks []store.SurveyWeek) *Chart {
	if len(weeks) == 0 {
		return nil
	}
	if len(weeks) > 12 {
		weeks = weeks[len(weeks)-12:]
	}
	const barW, gap, plotH = 56, 12, 120
	ch := &Chart{Title: "Trust survey: average answer (1 to 5) by week", Width: len(weeks) * (barW + gap), Height: plotH + 40}
	total, sum := 0, 0
	for i, wk := range weeks {
		avg := float64(wk.TrustSum) / float64(wk.N)
		h := int(avg * plotH / 5)
		x := i * (barW + gap)
		ch.Bars = append(ch.Bars, Bar{Label: wk.Week.Format("Jan 2"), Count: wk.N, X: x, Y: plotH - h + 16, W: barW, H: h, LabelX: x + barW/2,
			High: avg < 2.5, CountY: plotH - h + 12,
			Description: fmt.Sprintf("Week of %s: %d answers, trust %.1f of 5, notice clarity %.1f of 5, %d%% got the help they needed",
				wk.Week.Format("January 2"), wk.N, avg, float64(wk.ClearSum)/float64(wk.N), 100*wk.Helped/wk.N)})
		total += wk.N
		sum += wk.TrustSum
	}
	ch.Summary = fmt.Sprintf("%d answers over %d weeks; average trust %.1f of 5. Bar height is the week's average, the number the answers.",
		total, len(weeks), float64(sum)/float64(total))
	return ch
}

// noticeChart draws the notices by delivery status.
// portalChart shows the portal's last 14 days: bars are look-ups that
// found a notice; a day is marked when failed and refused look-ups
// outnumber them (someone may be guessing codes).
func portalChart(stats []store.PortalStat, now time.Time) *Chart {
	const days, barW, gap, plotH = 14, 40, 8, 120
	today := now.UTC().Truncate(24 * time.Hour)
	by := make([]map[string]int, days)
	for i := range by {
		by[i] = map[string]int{}
	}
	total := map[string]int{}
	for _, s := range stats {
		d := int(today.Sub(s.Day) / (24 * time.Hour))
		if d < 0 || d >= days {
			continue
		}
		by[days-1-d][s.Metric] += s.N
		total[s.Metric] += s.N
	}
	if len(total) == 0 {
		return nil
	}
	top := 1
	for _, m := range by {
		top = max(top, m[portal.MetricLookup])
	}
	ch := &Chart{Title: "Patient portal: look-ups that found a notice, by day", Width: days * (barW + gap), Height: plotH + 40}
	for i, m := range by {
		day := today.AddDate(0, 0, i-days+1)
		n := m[portal.MetricLookup]
		h := n * plotH / top
		x := i * (barW + gap)
		failed := m[portal.MetricLookupMiss] + m[portal.MetricLookupLimited]
		ch.Bars = append(ch.Bars, Bar{Label: day.Format("Jan 2"), Count: n, X: x, Y: plotH - h + 16, W: barW, H: h, LabelX: x + barW/2,
			High: failed > max(10, n), CountY: plotH - h + 12,
			Description: fmt.Sprintf("%s: %d look-ups found their notice, %d did not, %d refused by the limits; %d notices and %d access reports viewed, %d letters downloaded, %d monitoring codes shown",
				day.Format("January 2"), n, m[portal.MetricLookupMiss], m[portal.MetricLookupLimited], m[portal.MetricNoticeView], m[portal.MetricAccessReport],
				m[portal.MetricLetter], m[portal.MetricMonitoring])})
	}
	ch.Summary = fmt.Sprintf("Last 14 days: %d look-ups found a notice, %d did not and %d were refused by the limits; %d access reports viewed, %d letters downloaded, %d monitoring codes shown, %d suspicious contacts reported, %d call-backs asked, %d email subscriptions.",
		total[portal.MetricLookup], total[portal.MetricLookupMiss], total[portal.MetricLookupLimited], total[portal.MetricAccessReport], total[portal.MetricLetter],
		total[portal.MetricMonitoring], total[portal.MetricSuspicious], total[portal.MetricCallback], total[portal.MetricSubscribe])
	return ch
}

func noticeChart(cs []store.NoticeCount) (*Chart, int) {
	order := []string{notice.StatusPrepared, notice.StatusSent, notice.StatusDelivered, notice.StatusReturned, notice.StatusBounced}
	by := map[string]int{}
	total := 0
	for _, c := range cs {
		by[c.Status] += c.N
		total += c.N
	}
	if total == 0 {
		return nil, 0
	}
	const barW, gap, plotH = 70, 16, 120
	top := 1
	for _, n := range by {
		top = max(top, n)
	}
	ch := &Chart{Title: "Notices by delivery status", Width: len(order) * (barW + gap), Height: plotH + 40,
		Summary: fmt.Sprintf("%d notices: %d prepared, %d sent, %d delivered, %d returned, %d bounced.", total,
			by[notice.StatusPrepared], by[notice.StatusSent], by[notice.StatusDelivered], by[notice.StatusReturned], by[notice.StatusBounced])}
	for i, st := range order {
		n := by[st]
		h := n * plotH / top
		x := i * (barW + gap)
		ch.Bars = append(ch.Bars, Bar{Label: st, Count: n, X: x, Y: plotH - h + 16, W: barW, H: h, LabelX: x + barW/2,
			High: st == notice.StatusReturned || st == notice.StatusBounced, CountY: plotH - h + 12, Description: fmt.Sprintf("%s: %d", st, n)})
	}
	return ch, total
}

func (c *Console) incidentNote(r *http.Request, st *identity.Staff, id int64) (string, error) {
	_, err := c.Incidents.Service.AddNote(r.Context(), st.Username, id, r.PostFormValue("note"))
	return "Note added.", err
}

func (c *Console) incidentLessons(r *http.Request, st *identity.Staff, id int64) (string, error) {
	_, err := c.Incidents.Service.SetLessons(r.Context(), st.Username, id, r.PostFormValue("lessons"))
	return "Lessons learned recorded.", err
}

func (c *Console) incidentPlaybook(r *http.Request, st *identity.Staff, id int64) (string, error) {
	_, err := c.Incidents.Service.ApplyPlaybook(r.Context(), st.Username, id, r.PostFormValue("playbook"))
	return "Playbook applied.", err
}

func (c *Console) incidentTask(r *http.Request, st *identity.Staff, id int64) (string, error) {
	tid, err := strconv.Atoi(r.PathValue("task"))
	if err != nil {
		return "", labtrust.ErrNotFound
	}
	done := r.PostFormValue("done") == "1"
	_, err = c.Incidents.Service.SetTask(r.Context(), st.Username, id, tid, done, r.PostFormValue("owner"))
	if done {
		return fmt.Sprintf("Task %d done.", tid), err
	}
	return fmt.Sprintf("Task %d updated.", tid), err
}

func (c *Console) incidentContact(r *http.Request, st *identity.Staff, id int64) (string, error) {
	ct := incident.Contact{Kind: r.PostFormValue("kind"), Org: r.PostFormValue("org"), Person: r.PostFormValue("person"),
		Channel: r.PostFormValue("channel"), Summary: r.PostFormValue("summary"), Reference: r.PostFormValue("reference")}
	_, err := c.Incidents.Service.AddContact(r.Context(), st.Username, id, ct)
	return "Contact recorded.", err
}

func (c *Console) incidentDelay(r *http.Request, st *identity.Staff, id int64) (string, error) {
	d := breach.Delay{Agency: r.PostFormValue("agency"), Oral: r.PostFormValue("oral") == "1"}
	if u := r.PostFormValue("until"); u != "" {
		t, err := time.Parse(time.DateOnly, u)
		if err != nil {
			return "", &labtrust.Error{Code: "invalid", Message: "the end date must be a date (YYYY-MM-DD)"}
		}
		d.Until = t
	}
	in, err := c.Incidents.Service.RequestDelay(r.Context(), st.Username, id, d, r.PostFormValue("official"), r.PostFormValue("reference"))
	if err != nil {
		return "", err
	}
	return "Delay recorded: notices are held until " + in.Delay.End().Format(time.DateOnly) + ".", nil
}

func (c *Console) incidentIndicators(r *http.Request, st *identity.Staff, id int64) (string, error) {
	var from, to time.Time
	var err error
	if f := r.PostFormValue("from"); f != "" {
		if from, err = time.Parse(time.DateOnly, f); err != nil {
			return "", &labtrust.Error{Code: "invalid", Message: "the window's start must be a date (YYYY-MM-DD)"}
		}
	}
	if t := r.PostFormValue("to"); t != "" {
		if to, err = time.Parse(time.DateOnly, t); err != nil {
			return "", &labtrust.Error{Code: "invalid", Message: "the window's end must be a date (YYYY-MM-DD)"}
		}
		to = to.Add(24*time.Hour - time.Nanosecond)
	}
	var ins []breach.Indicator
	for _, k := range []breach.IndicatorKind{breach.IndicatorAccount, breach.IndicatorAddress, breach.IndicatorSystem, breach.IndicatorFeed} {
		for _, v := range strings.FieldsFunc(r.PostFormValue(string(k)), func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' }) {
			ins = append(ins, breach.Indicator{Kind: k, Value: v, From: from, To: to})
		}
	}
	var els []breach.Element
	for _, e := range r.PostForm["element"] {
		els = append(els, breach.Element(e))
	}
	if mrns := strings.FieldsFunc(r.PostFormValue("records"), func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' }); len(mrns) > 0 {
		ins = append(ins, breach.Indicator{Kind: breach.IndicatorRecords, MRNs: mrns, Elements: els})
	}
	if r.PostFormValue("registry") == "yes" {
		ins = append(ins, breach.Indicator{Kind: breach.IndicatorRegistry, Elements: els})
	}
	if len(ins) == 0 {
		return "", &labtrust.Error{Code: "invalid", Message: "give at least one account, address, system, feed, record set, or the whole registry"}
	}
	_, err = c.Incidents.Service.SetIndicators(r.Context(), st.Username, id, ins)
	return fmt.Sprintf("%d indicators set.", len(ins)), err
}

func (c *Console) incidentScope(r *http.Request, st *identity.Staff, id int64) (string, error) {
	start := time.Now()
	ref, err := c.Incidents.Service.ComputeScope(r.Context(), st.Username, id, c.Incidents.Scoper, c.Incidents.Checkpoint(), c.Incidents.Signer)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Scope computed in %s: %d patients.", time.Since(start).Round(time.Millisecond), ref.Summary.Patients), nil
}

func (c *Console) incidentAssess(r *http.Request, st *identity.Staff, id int64) (string, error) {
	a := breach.Assessment{Secured: r.PostFormValue("secured") == "1", Exception: r.PostFormValue("exception"),
		Ransomware: r.PostFormValue("ransomware") == "1", Ratings: map[string]breach.Rating{}, Rationale: map[string]string{}}
	for _, f := range breach.Factors {
		if v := r.PostFormValue("rating_" + f.Key); v != "" {
			a.Ratings[f.Key] = breach.Rating(v)
		}
		if v := strings.TrimSpace(r.PostFormValue("why_" + f.Key)); v != "" {
			a.Rationale[f.Key] = v
		}
	}
	for _, e := range strings.FieldsFunc(r.PostFormValue("evidence"), func(r rune) bool { return r == ',' || r == ' ' }) {
		if n, err := strconv.ParseInt(e, 10, 64); err == nil {
			a.Evidence = append(a.Evidence, n)
		}
	}
	in, err := c.Incidents.Service.Assess(r.Context(), st.Username, id, a)
	if err != nil {
		return "", err
	}
	if in.Assessment().Outcome.Breach {
		return "Assessment recorded: notice is owed.", nil
	}
	return "Assessment recorded: no notice owed under HIPAA.", nil
}

func (c *Console) incidentEvidenceAdd(r *http.Request, st *identity.Staff, id int64) (string, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, incident.MaxEvidence+1<<20)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return "", &labtrust.Error{Code: "invalid", Message: "choose a file (at most 64 MiB)"}
	}
	defer f.Close()
	name := r.PostFormValue("name")
	if name == "" {
		name = hdr.Filename
	}
	ev, err := c.Incidents.Service.AddEvidence(r.Context(), st.Username, id, name, r.PostFormValue("description"), f)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Evidence %d sealed (SHA-256 %s).", ev.ID, ev.SHA256), nil
}

func (c *Console) incidentEvidenceTransfer(r *http.Request, st *identity.Staff, id int64) (string, error) {
	eid, err := strconv.ParseInt(r.PathValue("eid"), 10, 64)
	if err != nil {
		return "", labtrust.ErrNotFound
	}
	_, err = c.Incidents.Service.TransferEvidence(r.Context(), st.Username, id, eid, r.PostFormValue("to"), r.PostFormValue("purpose"))
	return "Hand-over recorded.", err
}

// incidentEvidenceGet sends an evidence file, checked against its
// SHA-256, after recording why it was opened.
func (c *Console) incidentEvidenceGet(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	id, ok := c.incidentID(w, r, st)
	if !ok {
		return
	}
	eid, err := strconv.ParseInt(r.PathValue("eid"), 10, 64)
	if err != nil {
		c.showIncident(w, r, st, id, http.StatusNotFound, "", "That item is not part of this incident.")
		return
	}
	ev, b, err := c.Incidents.Service.OpenEvidence(r.Context(), st.Username, id, eid, r.PostFormValue("purpose"))
	if err != nil {
		if m, ok := userError(err); ok {
			c.showIncident(w, r, st, id, http.StatusBadRequest, "", m)
			return
		}
		if errors.Is(err, labtrust.ErrNotFound) {
			c.showIncident(w, r, st, id, http.StatusNotFound, "", "That item is not part of this incident.")
			return
		}
		c.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"evidence-%d.bin\"", ev.ID))
	w.Header().Set("X-Content-SHA256", ev.SHA256)
	w.Write(b)
}

// incidentCalendar sends the owed deadlines as an iCalendar file.
func (c *Console) incidentCalendar(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	id, ok := c.incidentID(w, r, st)
	if !ok {
		return
	}
	_, obs, err := c.Incidents.Service.Obligations(r.Context(), id, c.Incidents.Laws)
	if err != nil {
		if m, ok := userError(err); ok {
			c.showIncident(w, r, st, id, http.StatusConflict, "", m)
			return
		}
		c.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"incident-%d-deadlines.ics\"", id))
	w.Write(breach.ICS(id, obs, time.Now()))
}

// incidentManifest sends the latest scope's signed manifest (no PHI).
func (c *Console) incidentManifest(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	id, ok := c.incidentID(w, r, st)
	if !ok {
		return
	}
	in, err := c.Incidents.Service.Get(r.Context(), id)
	if err == nil && in.Scope == nil {
		c.showIncident(w, r, st, id, http.StatusNotFound, "", "No scope has been computed yet.")
		return
	}
	if err != nil {
		c.fail(w, err)
		return
	}
	c.ID.Record(r.Context(), st.Username, "scope-manifest", labtrust.ActionExecute, labtrust.OutcomeSuccess, "incident "+strconv.FormatInt(id, 10))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"scope-incident-%d.json\"", id))
	// Streamed: a registry-wide scope's manifest is over a gigabyte. An
	// error part-way leaves a file that does not verify; it is logged.
	if err := c.Incidents.Service.WriteManifest(r.Context(), id, w); err != nil {
		c.Log.Error("scope manifest", "incident", id, "err", err)
	}
}
