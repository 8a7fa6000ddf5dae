package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/identity"
	"github.com/labtrust/labtrust/store"
)

// Alerts is what the alert pages read and triage (the store).
type Alerts interface {
	ListAlerts(ctx context.Context, f store.AlertFilter) ([]labtrust.Alert, error)
	GetAlert(ctx context.Context, id int64) (labtrust.Alert, error)
	SetAlertStatus(ctx context.Context, id int64, s labtrust.AlertStatus, reason, by string) error
	AllowLike(ctx context.Context, alertID int64, reason, by string, expires time.Time) (store.AllowEntry, error)
}

var statuses = []labtrust.AlertStatus{labtrust.AlertNew, labtrust.AlertInvestigating, labtrust.AlertBenign, labtrust.AlertConfirmed}

func (c *Console) alertsPage(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	f := labtrust.AlertStatus(r.URL.Query().Get("status"))
	if f != "" && !f.Valid() {
		f = ""
	}
	as, err := c.Alerts.ListAlerts(r.Context(), store.AlertFilter{Status: f, Limit: 500})
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, "alerts", http.StatusOK, page{Title: "Alerts", Staff: st, Alerts: as, Filter: string(f), Statuses: statuses, Chart: alertChart(as, time.Now())})
}

// Chart is a bar chart drawn as SVG on the server (no script).
type Chart struct {
	Title, Summary string
	Bars           []Bar
	Width, Height  int
}

// Bar is one bar, already placed.
type Bar struct {
	Label       string
	Count       int
	X, Y, W, H  int
	LabelX      int
	High        bool // the day had high or critical alerts
	CountY      int
	Description string
}

// alertChart counts the alerts last seen on each of the last 14 days.
func alertChart(as []labtrust.Alert, now time.Time) *Chart {
	const days, barW, gap, plotH = 14, 32, 8, 120
	today := now.UTC().Truncate(24 * time.Hour)
	counts := make([]int, days)
	high := make([]bool, days)
	for _, a := range as {
		d := int(today.Sub(a.Last.UTC().Truncate(24*time.Hour)) / (24 * time.Hour))
		if d < 0 || d >= days {
			continue
		}
		counts[days-1-d]++
		if a.Severity == "high" || a.Severity == "critical" {
			high[days-1-d] = true
		}
	}
	top, total := 1, 0
	for _, n := range counts {
		top, total = max(top, n), total+n
	}
	ch := &Chart{Title: "Alerts by the day they were last seen, last 14 days", Width: days * (barW + gap), Height: plotH + 40,
		Summary: fmt.Sprintf("%d alerts in the last 14 days; the busiest day had %d.", total, slices.Max(counts))}
	for i, n := range counts {
		day := today.AddDate(0, 0, i-(days-1))
		h := n * plotH / top
		x := i * (barW + gap)
		ch.Bars = append(ch.Bars, Bar{Label: day.Format("Jan 2"), Count: n, X: x, Y: plotH - h + 16, W: barW, H: h, LabelX: x + barW/2,
			High: high[i], CountY: plotH - h + 12, Description: fmt.Sprintf("%s: %d alert(s)", day.Format("Monday January 2"), n)})
	}
	return ch
}

func (c *Console) alertPage(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	c.showAlert(w, r, st, http.StatusOK, "", "")
}

func (c *Console) showAlert(w http.ResponseWriter, r *http.Request, st *identity.Staff, status int, msg, problem string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.render(w, "alerts", http.StatusNotFound, page{Title: "Alerts", Staff: st, Error: "No alert has that number.", Statuses: statuses})
		return
	}
	a, err := c.Alerts.GetAlert(r.Context(), id)
	if errors.Is(err, labtrust.ErrNotFound) {
		c.render(w, "alerts", http.StatusNotFound, page{Title: "Alerts", Staff: st, Error: "No alert has that number.", Statuses: statuses})
		return
	}
	if err != nil {
		c.fail(w, err)
		return
	}
	c.ID.Record(r.Context(), st.Username, "alert-view", labtrust.ActionRead, labtrust.OutcomeSuccess, "alert "+strconv.FormatInt(id, 10))
	c.render(w, "alert", status, page{Title: "Alert " + strconv.FormatInt(id, 10), Staff: st, Alert: &a, Statuses: statuses, Message: msg, Error: problem})
}

func (c *Console) alertTriage(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.showAlert(w, r, st, http.StatusNotFound, "", "")
		return
	}
	s := labtrust.AlertStatus(r.PostFormValue("status"))
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	switch {
	case !s.Valid():
		c.showAlert(w, r, st, http.StatusBadRequest, "", "Choose a status.")
		return
	case s == labtrust.AlertBenign && reason == "":
		c.showAlert(w, r, st, http.StatusBadRequest, "", "Explain why the alert is benign: the reason is kept with it.")
		return
	}
	if err := c.Alerts.SetAlertStatus(r.Context(), id, s, reason, st.Username); err != nil {
		if errors.Is(err, labtrust.ErrNotFound) {
			c.showAlert(w, r, st, http.StatusNotFound, "", "")
			return
		}
		c.fail(w, err)
		return
	}
	c.ID.Record(r.Context(), st.Username, "alert-triage", labtrust.ActionUpdate, labtrust.OutcomeSuccess, "alert "+strconv.FormatInt(id, 10)+": "+string(s))
	msg := "The alert is now " + string(s) + "."
	if days, _ := strconv.Atoi(r.PostFormValue("allow_days")); s == labtrust.AlertBenign && r.PostFormValue("allow") == "1" && days > 0 {
		days = min(days, 90)
		e, err := c.Alerts.AllowLike(r.Context(), id, reason, st.Username, time.Now().Add(time.Duration(days)*24*time.Hour))
		if err != nil {
			c.fail(w, err)
			return
		}
		c.ID.Record(r.Context(), st.Username, "alert-allow", labtrust.ActionCreate, labtrust.OutcomeSuccess,
			"rule "+e.Rule+" for "+e.Actor+" until "+e.Expires.Format(time.RFC3339))
		msg += " The same rule for the same account or address is allowed until " + e.Expires.Format("2006-01-02 15:04") + " UTC."
	}
	c.showAlert(w, r, st, http.StatusOK, msg, "")
}
