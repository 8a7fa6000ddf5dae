package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/store"
)

// Alerts is what the alert API reads and triages.
type Alerts interface {
	ListAlerts(ctx context.Context, f store.AlertFilter) ([]labtrust.Alert, error)
	GetAlert(ctx context.Context, id int64) (labtrust.Alert, error)
	SetAlertStatus(ctx context.Context, id int64, s labtrust.AlertStatus, reason, by string) error
	AllowLike(ctx context.Context, alertID int64, reason, by string, expires time.Time) (store.AllowEntry, error)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st := labtrust.AlertStatus(q.Get("status"))
	if st != "" && !st.Valid() {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "unknown status", Hint: "new, investigating, benign or confirmed"})
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "limit must be 1 to 10000"})
			return
		}
		limit = n
	}
	as, err := s.Alerts.ListAlerts(r.Context(), store.AlertFilter{Status: st, Rule: q.Get("rule"), Limit: limit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if as == nil {
		as = []labtrust.Alert{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": as})
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "id must be a number"})
		return
	}
	a, err := s.Alerts.GetAlert(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// triage moves an alert: {"status": "benign", "reason": "..."}. The API
// token is a machine's, so the change is recorded as by "api".
func (s *Server) triageAlert(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "id must be a number"})
		return
	}
	var body struct {
		Status   labtrust.AlertStatus `json:"status"`
		Reason   string               `json:"reason"`
		By       string               `json:"by"`
		AllowFor string               `json:"allowFor"` // with benign: allow the same rule and group this long ("168h")
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "the body is not JSON with status and reason"})
		return
	}
	if !body.Status.Valid() {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "unknown status", Hint: "new, investigating, benign or confirmed"})
		return
	}
	if body.Status == labtrust.AlertBenign && body.Reason == "" {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "an alert explained as benign needs the explanation in reason"})
		return
	}
	var allowFor time.Duration
	if body.AllowFor != "" {
		d, err := time.ParseDuration(body.AllowFor)
		if err != nil || d <= 0 || d > 90*24*time.Hour || body.Status != labtrust.AlertBenign {
			writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "allowFor goes with benign, as a duration up to 2160h"})
			return
		}
		allowFor = d
	}
	by := "api"
	if body.By != "" {
		by = "api:" + body.By
	}
	if err := s.Alerts.SetAlertStatus(r.Context(), id, body.Status, body.Reason, by); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Record != nil {
		s.Record(r.Context(), by, "alert-triage", labtrust.ActionUpdate, "alert "+strconv.FormatInt(id, 10)+": "+string(body.Status))
	}
	if allowFor > 0 {
		e, err := s.Alerts.AllowLike(r.Context(), id, body.Reason, by, time.Now().Add(allowFor))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if s.Record != nil {
			s.Record(r.Context(), by, "alert-allow", labtrust.ActionCreate, "rule "+e.Rule+" for "+e.Actor+" until "+e.Expires.Format(time.RFC3339))
		}
	}
	a, err := s.Alerts.GetAlert(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}
