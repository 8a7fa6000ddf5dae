package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
)

// Incidents serves /api/v1/incidents: a SOAR or ticketing system opens
// incidents from alerts and reads the obligations' deadlines. Notes,
// evidence and the scope's patients stay in the console.
type Incidents struct {
	Service *incident.Service
	Laws    breach.Laws
}

// incidentSummary is an incident without its notes, evidence or contacts.
type incidentSummary struct {
	ID         int64           `json:"id"`
	Title      string          `json:"title"`
	Severity   string          `json:"severity"`
	Status     incident.Status `json:"status"`
	Discovered time.Time       `json:"discovered"`
	Opened     time.Time       `json:"opened"`
	Playbooks  []string        `json:"playbooks"`
	Alerts     []int64         `json:"alerts"`
	OpenTasks  int             `json:"openTasks"`
	Scope      *breach.Summary `json:"scope,omitempty"`
	NoticeOwed *bool           `json:"noticeOwed,omitempty"` // the latest assessment's outcome
}

func summarize(in *incident.Incident) incidentSummary {
	s := incidentSummary{ID: in.ID, Title: in.Title, Severity: in.Severity, Status: in.Status, Discovered: in.Discovered,
		Opened: in.Opened, Playbooks: in.Playbooks, Alerts: in.Alerts}
	if s.Playbooks == nil {
		s.Playbooks = []string{}
	}
	if s.Alerts == nil {
		s.Alerts = []int64{}
	}
	for _, t := range in.Tasks {
		if !t.Done {
			s.OpenTasks++
		}
	}
	if in.Scope != nil {
		sum := in.Scope.Summary
		s.Scope = &sum
	}
	if a := in.Assessment(); a != nil {
		owed := a.Outcome.Breach
		s.NoticeOwed = &owed
	}
	return s
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	ins, err := s.Incidents.Service.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]incidentSummary, 0, len(ins))
	for _, in := range ins {
		out = append(out, summarize(in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "id must be a number"})
		return
	}
	in, err := s.Incidents.Service.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, summarize(in))
}

// createIncident opens an incident: {"title": "...", "severity": "high",
// "playbook": "ransomware", "alerts": [12], "discovered": "2026-11-02"}.
func (s *Server) createIncident(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title      string  `json:"title"`
		Summary    string  `json:"summary"`
		Severity   string  `json:"severity"`
		Playbook   string  `json:"playbook"`
		Alerts     []int64 `json:"alerts"`
		Discovered string  `json:"discovered"`
		Entity     string  `json:"entity"`
		By         string  `json:"by"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "the body is not an incident: " + err.Error()})
		return
	}
	n := incident.NewIncident{Title: body.Title, Summary: body.Summary, Severity: body.Severity, Playbook: body.Playbook,
		Alerts: body.Alerts, Entity: breach.Entity(body.Entity)}
	if body.Discovered != "" {
		d, err := time.Parse(time.DateOnly, body.Discovered)
		if err != nil {
			writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "discovered must be a date (YYYY-MM-DD)"})
			return
		}
		n.Discovered = d
	}
	by := "api"
	if body.By != "" {
		by = "api:" + body.By
	}
	in, err := s.Incidents.Service.Create(r.Context(), by, n)
	if err != nil {
		var le *labtrust.Error
		if errors.As(err, &le) && le.Code == "invalid" {
			writeErr(w, http.StatusBadRequest, le)
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, summarize(in))
}

// incidentObligations lists the notices owed with their deadlines.
func (s *Server) incidentObligations(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "id must be a number"})
		return
	}
	_, obs, err := s.Incidents.Service.Obligations(r.Context(), id, s.Incidents.Laws)
	if err != nil {
		var le *labtrust.Error
		if errors.As(err, &le) && le.Code == "invalid" {
			writeErr(w, http.StatusConflict, le)
			return
		}
		s.fail(w, r, err)
		return
	}
	if obs == nil {
		obs = []breach.Obligation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"obligations": obs})
}
