// Package server is labtrust's HTTP face for this stage: the versioned ingest
// and quarantine API (bearer token), /healthz, /metrics (OpenMetrics), and
// the ledger's checkpoint and tiles as static files for witnesses and
// partners (they hold commitments only, no PHI).
package server

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Quarantine is what the server needs from the store for the quarantine API.
type Quarantine interface {
	ListQuarantine(ctx context.Context, f store.QuarantineFilter) ([]store.QuarantineItem, error)
	ingest.QuarantineStore
}

// Server wires the handlers. All fields are required except Log.
type Server struct {
	Pipeline *ingest.Pipeline
	Store    Quarantine
	Parsers  ingest.Parsers
	Formats  func(source string) (format string, ok bool) // a configured source's format
	// RetryPatient retries a quarantined patient record into the registry;
	// it returns nil for an item that is not one.
	RetryPatient func(ctx context.Context, id int64) (any, error)
	Token        string // bearer token for /api/v1
	LedgerDir    string
	Gatherer     prometheus.Gatherer
	Log          *slog.Logger
	// MaxBody bounds one ingest request (default 256 MiB).
	MaxBody int64
	// Console, if set, serves the staff console under /console/.
	Console http.Handler
	// Portal, if set, serves the patient portal under /portal/.
	Portal http.Handler
	// Alerts, if set, serves /api/v1/alerts.
	Alerts Alerts
	// Incidents, if set, serves /api/v1/incidents.
	Incidents *Incidents
	// Record, if set, puts an API caller's action in the ledger.
	Record func(ctx context.Context, by, what string, action labtrust.Action, detail string)
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.MaxBody == 0 {
		s.MaxBody = 256 << 20
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("POST /api/v1/events", s.auth(s.postEvents))
	mux.HandleFunc("GET /api/v1/quarantine", s.auth(s.listQuarantine))
	mux.HandleFunc("GET /api/v1/quarantine/{id}", s.auth(s.getQuarantine))
	mux.HandleFunc("POST /api/v1/quarantine/{id}/retry", s.auth(s.retryQuarantine))
	if s.Alerts != nil {
		mux.HandleFunc("GET /api/v1/alerts", s.auth(s.listAlerts))
		mux.HandleFunc("GET /api/v1/alerts/{id}", s.auth(s.getAlert))
		mux.HandleFunc("POST /api/v1/alerts/{id}/status", s.auth(s.triageAlert))
	}
	if s.Incidents != nil {
		mux.HandleFunc("GET /api/v1/incidents", s.auth(s.listIncidents))
		mux.HandleFunc("POST /api/v1/incidents", s.auth(s.createIncident))
		mux.HandleFunc("GET /api/v1/incidents/{id}", s.auth(s.getIncident))
		mux.HandleFunc("GET /api/v1/incidents/{id}/obligations", s.auth(s.incidentObligations))
	}
	mux.HandleFunc("GET /api/v1/ledger/checkpoint", s.checkpoint)
	ledger := http.StripPrefix("/ledger/", noStoreErrors(http.FileServer(http.Dir(s.LedgerDir))))
	mux.Handle("GET /ledger/checkpoint", ledger)
	mux.Handle("GET /ledger/tile/", ledger)
	if s.Portal != nil {
		mux.Handle("/portal/", s.Portal)
	}
	if s.Console != nil {
		mux.Handle("/console/", s.Console)
	}
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// noStoreErrors keeps Cache-Control: no-store on h's error responses.
// http.FileServer deletes Cache-Control before writing an error (Go 1.23+),
// and a 404 is cacheable by default, so without this a cache in front of the
// server could keep answering "no such tile" after the tile is written.
func noStoreErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(noStoreOnError{w}, r)
	})
}

type noStoreOnError struct{ http.ResponseWriter }

func (w noStoreOnError) WriteHeader(code int) {
	if code >= 400 {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w noStoreOnError) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 9110 section 11.1), the token is not.
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		if !ok || s.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="labtrust"`)
			writeErr(w, http.StatusUnauthorized, &labtrust.Error{Code: "unauthorized", Message: "a valid bearer token is required",
				Hint: "send Authorization: Bearer <token>; the token is in the data directory's api.token file"})
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeErr(w http.ResponseWriter, status int, e *labtrust.Error) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message, "hint": e.Hint}})
}

// fail maps an error to a status and a message safe to show; details go to
// the server log (they carry no PHI: parsers and stores name fields, not
// values).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var le *labtrust.Error
	switch {
	case errors.Is(err, labtrust.ErrPushback):
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, &labtrust.Error{Code: "pushback", Message: "ingest is at capacity", Hint: "retry after a second"})
	case errors.Is(err, labtrust.ErrNotFound):
		writeErr(w, http.StatusNotFound, &labtrust.Error{Code: "not_found", Message: "no such item"})
	case errors.As(err, &le):
		writeErr(w, http.StatusConflict, le)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeErr(w, http.StatusServiceUnavailable, &labtrust.Error{Code: "timeout", Message: "the request ended before its events were acknowledged", Hint: "resend; nothing was acknowledged"})
	default:
		s.Log.Error("request failed", "path", r.URL.Path, "err", err)
		writeErr(w, http.StatusInternalServerError, &labtrust.Error{Code: "internal", Message: "internal error; see the server log"})
	}
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "labtrust: PHI access ledger")
	fmt.Fprintln(w, "GET  /healthz                      health and ledger status")
	fmt.Fprintln(w, "GET  /metrics                      OpenMetrics")
	fmt.Fprintln(w, "POST /api/v1/events?source=NAME    ingest FHIR AuditEvent JSON/NDJSON, ATNA XML, syslog lines or CSV (bearer token)")
	fmt.Fprintln(w, "GET  /api/v1/quarantine            rejected records (bearer token)")
	fmt.Fprintln(w, "GET  /api/v1/incidents             incidents; POST opens one (bearer token)")
	fmt.Fprintln(w, "GET  /api/v1/incidents/ID/obligations  notices owed and their deadlines (bearer token)")
	fmt.Fprintln(w, "GET  /ledger/checkpoint            latest signed checkpoint (C2SP tlog-checkpoint)")
	fmt.Fprintln(w, "GET  /ledger/tile/...              C2SP tlog-tiles")
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	st := s.Pipeline.Status()
	status, code := "ok", http.StatusOK
	if st.Broken != nil {
		status, code = "degraded", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{
		"status": status, "events": st.Committed, "ledgerSize": st.LedgerSize,
		"checkpointSize": st.CheckpointSize, "checkpointAgeSeconds": st.CheckpointAge.Seconds(),
	})
}

func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request) {
	note := s.Pipeline.LatestCheckpoint()
	if note == nil {
		writeErr(w, http.StatusNotFound, &labtrust.Error{Code: "not_found", Message: "no checkpoint yet"})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(note)
}

// formatFor picks the parser format: the configured source's, else the
// format query parameter, else the content type.
func (s *Server) formatFor(r *http.Request, source string) (string, error) {
	if f, ok := s.Formats(source); ok {
		return f, nil
	}
	if f := r.URL.Query().Get("format"); f != "" {
		return f, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/fhir+json", "application/json", "application/fhir+ndjson", "application/x-ndjson", "application/ndjson":
		return "fhir", nil
	case "application/xml", "text/xml":
		return "atna", nil
	case "text/csv":
		return "csv", nil
	case "text/plain", "application/syslog":
		return "syslog", nil
	}
	return "", &labtrust.Error{Code: "invalid", Message: "cannot tell the input format",
		Hint: "configure the source's format, pass ?format=fhir|atna|syslog|csv, or send a Content-Type such as application/fhir+ndjson"}
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	source := r.URL.Query().Get("source")
	if source == "" {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "source is required", Hint: "POST /api/v1/events?source=NAME"})
		return
	}
	format, err := s.formatFor(r, source)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.(*labtrust.Error))
		return
	}
	parse, err := s.Parsers.Parser(source, format)
	if err != nil {
		var le *labtrust.Error
		if errors.As(err, &le) {
			writeErr(w, http.StatusBadRequest, le)
			return
		}
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	b := s.Pipeline.NewBatcher()
	body := http.MaxBytesReader(w, r.Body, s.MaxBody)
	perr := parse(ctx, source, body, b)
	sum, ferr := b.Flush(ctx)
	if perr != nil {
		var mbe *http.MaxBytesError
		if errors.As(perr, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": map[string]string{
				"code": "too_large", "message": fmt.Sprintf("request body exceeds %d bytes; records before the limit were kept", s.MaxBody),
				"hint": "split the upload"}, "summary": sum})
			return
		}
		if ferr == nil {
			s.Log.Error("ingest stopped early", "source", source, "err", perr)
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": map[string]string{
				"code": "read_failed", "message": "reading the request failed part way; the summary says what was kept"}, "summary": sum})
			return
		}
	}
	if ferr != nil {
		s.fail(w, r, ferr)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

type quarantineJSON struct {
	ID         int64      `json:"id"`
	Source     string     `json:"source"`
	Format     string     `json:"format"`
	Position   string     `json:"position"`
	Reason     string     `json:"reason"`
	Received   time.Time  `json:"received"`
	Status     string     `json:"status"`
	Attempts   int        `json:"attempts"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
	Raw        string     `json:"raw,omitempty"` // base64, only on request
}

func toJSON(it store.QuarantineItem) quarantineJSON {
	q := quarantineJSON{ID: it.ID, Source: it.Source, Format: it.Format, Position: it.Position, Reason: it.Reason,
		Received: it.Received, Status: it.Status, Attempts: it.Attempts}
	if !it.ResolvedAt.IsZero() {
		t := it.ResolvedAt
		q.ResolvedAt = &t
	}
	return q
}

func (s *Server) listQuarantine(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.QuarantineFilter{Source: q.Get("source"), Status: q.Get("status"), Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "limit must be 1 to 1000"})
			return
		}
		f.Limit = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "after must be an item id"})
			return
		}
		f.After = n
	}
	items, err := s.Store.ListQuarantine(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]quarantineJSON, 0, len(items))
	for _, it := range items {
		out = append(out, toJSON(it))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func pathID(r *http.Request) (int64, error) {
	return strconv.ParseInt(r.PathValue("id"), 10, 64)
}

func (s *Server) getQuarantine(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "id must be a number"})
		return
	}
	it, err := s.Store.GetQuarantine(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := toJSON(it)
	if r.URL.Query().Get("raw") == "1" {
		raw, err := s.Pipeline.OpenQuarantined(it)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out.Raw = base64.StdEncoding.EncodeToString(raw)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) retryQuarantine(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, &labtrust.Error{Code: "invalid", Message: "id must be a number"})
		return
	}
	if s.RetryPatient != nil {
		res, err := s.RetryPatient(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if res != nil {
			writeJSON(w, http.StatusOK, res)
			return
		}
	}
	res, err := s.Pipeline.Retry(r.Context(), s.Store, s.Parsers, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
