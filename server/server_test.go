package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/atna"
	"github.com/labtrust/labtrust/csvsrc"
	"github.com/labtrust/labtrust/fhir"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/server"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/syslog"
	"github.com/labtrust/labtrust/vault"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
)

const (
	origin = "labtrust.example/server-test"
	token  = "t0ken"
	// marker stands for PHI: it must never come back in a response body
	// or reach a log line. Every request made through env checks it.
	marker = "PHI-MARKER-123"
)

// testParsers wires the real parsers the way cmd/labtrust does. CSV
// mappings are mutable so a test can fix a mapping and retry.
type testParsers struct {
	mu      sync.Mutex
	formats map[string]string // configured sources and their formats
	csv     map[string]csvsrc.Mapping
}

var _ ingest.Parsers = (*testParsers)(nil)

func newTestParsers() *testParsers {
	return &testParsers{
		formats: map[string]string{"lis": "csv", "nomap": "csv"},
		csv:     map[string]csvsrc.Mapping{"lis": lisMapping(false)},
	}
}

func (p *testParsers) format(source string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.formats[source]
	return f, ok
}

func (p *testParsers) setMapping(source string, m csvsrc.Mapping) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.csv[source] = m
}

func (p *testParsers) Parser(source, format string) (ingest.Parser, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.formats[source]; ok && format == "" {
		format = f
	}
	switch format {
	case "fhir":
		return fhir.Parse, nil
	case "syslog":
		return syslog.Parse, nil
	case "atna":
		return atna.ParseDocument, nil
	case "csv":
		m, ok := p.csv[source]
		if !ok {
			return nil, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("source %q has no CSV column mapping", source),
				Hint: "add it under sources in labtrust.yaml"}
		}
		return func(ctx context.Context, source string, r io.Reader, sink labtrust.Sink) error {
			return csvsrc.Parse(ctx, source, m, r, sink)
		}, nil
	}
	return nil, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("unknown format %q", format), Hint: "use fhir, atna, syslog or csv"}
}

// lisMapping maps lisCSV. Without PRINT in the action map, PRINT rows are
// rejected: that is the "wrong mapping" a later fix corrects.
func lisMapping(withPrint bool) csvsrc.Mapping {
	header := true
	m := csvsrc.Mapping{
		Header:        &header,
		TimeLayout:    csvsrc.LayoutRFC3339,
		PatientSystem: "urn:oid:2.16.840.1.113883.19.5",
		ObjectType:    "DiagnosticReport",
		Columns:       csvsrc.Columns{Time: "time", ActorID: "user", Action: "action", PatientID: "mrn", SourceRef: "id"},
		ActionMap: map[string]csvsrc.ActionRule{
			"VIEW":  {Action: labtrust.ActionRead},
			"LOGIN": {Action: labtrust.ActionExecute},
		},
	}
	if withPrint {
		m.ActionMap["PRINT"] = csvsrc.ActionRule{Action: labtrust.ActionRead, Role: "print"}
	}
	return m
}

const lisCSV = "id,time,user,action,mrn\n" +
	"L-1,2026-10-01T09:00:00Z,tech1,VIEW,MRN-0001\n" +
	"L-2,2026-10-01T09:01:00Z,tech1,PRINT,MRN-0002\n" +
	"L-3,2026-10-01T09:02:00Z,tech2,LOGIN,\n"

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a running Server on a real pipeline, store, vault and ledger.
type env struct {
	url       string
	srv       *server.Server
	handler   http.Handler
	pipe      *ingest.Pipeline
	db        *store.DB
	keys      *vault.Keyring
	ledgerDir string
	verifier  note.Verifier
	parsers   *testParsers
	logs      *syncBuffer
	start     time.Time
	recorded  []string // API callers' actions
}

// newEnv starts a server on a fresh store and ledger in dsn. cfg, if given,
// adjusts the pipeline's configuration.
func newEnv(t testing.TB, dsn string, maxBody int64, cfg ...func(*ingest.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	e := &env{ledgerDir: filepath.Join(dir, "ledger"), parsers: newTestParsers(), logs: &syncBuffer{}, start: time.Now()}
	skey, vkey, err := ledger.NewKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if e.verifier, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	if e.db, err = store.Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	kek, err := vault.LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if e.keys, err = vault.Open(ctx, kek, e.db); err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.Open(ctx, e.ledgerDir, origin, signer)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pcfg := ingest.Config{CheckpointInterval: 20 * time.Millisecond, Metrics: ingest.NewMetrics(reg), Logger: log}
	for _, fn := range cfg {
		fn(&pcfg)
	}
	e.pipe, err = ingest.New(ctx, pcfg, e.db, lg, e.keys)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.pipe.Run(runCtx) }()
	e.srv = &server.Server{Pipeline: e.pipe, Store: e.db, Parsers: e.parsers, Formats: e.parsers.format, Token: token,
		LedgerDir: e.ledgerDir, Gatherer: reg, Log: log, MaxBody: maxBody, Alerts: e.db, Incidents: incidentsAPI(t, e),
		Record: func(_ context.Context, by, what string, _ labtrust.Action, detail string) {
			e.recorded = append(e.recorded, by+" "+what+" "+detail)
		}}
	e.handler = e.srv.Handler()
	hs := httptest.NewServer(e.handler)
	e.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
		if err := lg.Close(); err != nil {
			t.Errorf("ledger close: %v", err)
		}
		if err := e.db.Close(); err != nil {
			t.Errorf("store close: %v", err)
		}
		if strings.Contains(e.logs.String(), marker) {
			t.Errorf("the PHI marker reached the log:\n%s", e.logs.String())
		}
	})
	return e
}

// response is what a request returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request sends a request with the given headers (Authorization is not
// added) and checks what every response must hold: the security headers
// and no PHI marker.
func (e *env) request(t testing.TB, method, path string, body []byte, hdr map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	checkSecurityHeaders(t, method+" "+path, res.Header)
	if bytes.Contains(b, []byte(marker)) {
		t.Errorf("%s %s: the response body contains PHI:\n%s", method, path, b)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// api sends an authenticated request; contentType may be empty.
func (e *env) api(t testing.TB, method, path, contentType string, body []byte) response {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + token}
	if contentType != "" {
		h["Content-Type"] = contentType
	}
	return e.request(t, method, path, body, h)
}

func checkSecurityHeaders(t testing.TB, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: header %s = %q, want %q", what, k, got, v)
		}
	}
}

// decodeJSON decodes b as one JSON value with numbers kept exact.
func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("response is not JSON (%v):\n%s", err, b)
	}
	if dec.More() {
		t.Fatalf("response holds more than one JSON value:\n%s", b)
	}
	return v
}

// wantJSON checks status, the JSON content type, and that the body is
// exactly the JSON value want (no field more, none less).
func wantJSON(t testing.TB, r response, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	got, exp := decodeJSON(t, r.body), decodeJSON(t, []byte(want))
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("body:\n%s\nwant:\n%s", r.body, want)
	}
}

// errJSON is the body of an error response.
func errJSON(code, message, hint string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message, "hint": hint}})
	return string(b)
}

// items fetches a quarantine listing and checks every item's received
// time lies in the test's window, then replaces it with "T" so the rest can
// be compared exactly.
func (e *env) items(t testing.TB, query string) (int, []map[string]any) {
	t.Helper()
	r := e.api(t, "GET", "/api/v1/quarantine"+query, "", nil)
	if r.status != http.StatusOK {
		return r.status, nil
	}
	var out struct {
		Items []map[string]any `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil || out.Items == nil {
		t.Fatalf("listing %q: %v:\n%s", query, err, r.body)
	}
	for _, it := range out.Items {
		e.checkTime(t, it, "received")
		if _, ok := it["resolvedAt"]; ok {
			e.checkTime(t, it, "resolvedAt")
		}
	}
	return r.status, out.Items
}

func (e *env) checkTime(t testing.TB, m map[string]any, key string) {
	t.Helper()
	s, _ := m[key].(string)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || tm.Before(e.start.Truncate(time.Millisecond)) || tm.After(time.Now()) {
		t.Errorf("%s %q is not a time during the test (%v)", key, s, err)
	}
	m[key] = "T"
}

// item is the expected JSON form of a quarantine item (times as "T").
func item(id int64, source, format, position, reason, status string, attempts int, resolved bool) map[string]any {
	m := map[string]any{"id": json.Number(strconv.FormatInt(id, 10)), "source": source, "format": format, "position": position,
		"reason": reason, "received": "T", "status": status, "attempts": json.Number(strconv.Itoa(attempts))}
	if resolved {
		m["resolvedAt"] = "T"
	}
	return m
}

func wantItems(t testing.TB, got []map[string]any, want ...map[string]any) {
	t.Helper()
	if want == nil {
		want = []map[string]any{}
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("items:\n%s\nwant:\n%s", g, w)
	}
}

// collect is a Sink that keeps what a parser reports, to compute what the
// server must answer for the same input.
type collect struct {
	events  []labtrust.Event
	rejects []labtrust.Reject
}

func (c *collect) Event(_ context.Context, e labtrust.Event) error {
	c.events = append(c.events, e)
	return nil
}

func (c *collect) Reject(_ context.Context, r labtrust.Reject) error {
	c.rejects = append(c.rejects, r)
	return nil
}

// stored returns the events at [from, to) as the store holds them, opened
// with the vault's keys.
func (e *env) stored(t testing.TB, from, to uint64) []labtrust.Event {
	t.Helper()
	var out []labtrust.Event
	err := ingest.ReadEntries(context.Background(), e.db, e.keys, from, to, func(r *store.EventRow, rec frame.Record) error {
		en, err := labtrust.UnmarshalCanonical(rec.Canonical)
		if err != nil {
			return err
		}
		if en.Index != r.Index {
			return fmt.Errorf("row %d holds entry %d", r.Index, en.Index)
		}
		out = append(out, en.Event)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(out)) != to-from {
		t.Fatalf("store holds %d events in [%d, %d)", len(out), from, to)
	}
	return out
}

var t0 = time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)

// accessEvent is an Event that FHIR and ATNA both carry without loss.
func accessEvent(i int, source, patient string) labtrust.Event {
	return labtrust.Event{
		Time: t0.Add(time.Duration(i) * time.Minute), Source: source, Kind: labtrust.KindAccess,
		Type:   labtrust.Code{System: atna.SystemDCM, Code: "110110", Display: "Patient Record"},
		Action: labtrust.ActionRead, Outcome: labtrust.OutcomeSuccess,
		Actor:    labtrust.Actor{ID: fmt.Sprintf("u-%d", 100+i), Name: "Staff Member", Role: "pathologist", Site: "north", UserType: "person"},
		Patients: []labtrust.PatientRef{{System: "http://lab.example/mrn", ID: patient}},
		Objects:  []labtrust.Object{{Type: "DiagnosticReport", ID: fmt.Sprintf("DiagnosticReport/r%d", i), Role: "report"}},
		Network:  "10.1.2.3",
	}
}

func securityEvent(i int, source string) labtrust.Event {
	return labtrust.Event{
		Time: t0.Add(time.Duration(i) * time.Minute), Source: source, Kind: labtrust.KindSecurity,
		Type:    labtrust.Code{System: atna.SystemDCM, Code: "110114", Display: "User Authentication"},
		Subtype: []labtrust.Code{{System: atna.SystemDCM, Code: "110122", Display: "Login"}},
		Action:  labtrust.ActionExecute, Outcome: labtrust.OutcomeMinorFailure,
		Actor: labtrust.Actor{ID: "u-7", Role: "lab-tech"}, Network: "10.1.2.4",
	}
}

func encodeFHIR(t testing.TB, e labtrust.Event) string {
	t.Helper()
	b, err := fhir.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls cond until it holds or five seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var wwwAuth = `Bearer realm="labtrust"`

func TestAuth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		unauthorized := errJSON("unauthorized", "a valid bearer token is required",
			"send Authorization: Bearer <token>; the token is in the data directory's api.token file")
		protected := []struct{ method, path string }{
			{"GET", "/api/v1/quarantine"},
			{"GET", "/api/v1/quarantine/1"},
			{"POST", "/api/v1/quarantine/1/retry"},
			{"POST", "/api/v1/events?source=ehr"},
		}
		bad := map[string]map[string]string{
			"no header":      nil,
			"wrong token":    {"Authorization": "Bearer t0ken-not"},
			"token prefix":   {"Authorization": "Bearer t0k"},
			"empty token":    {"Authorization": "Bearer "},
			"basic scheme":   {"Authorization": "Basic dDBrZW46"},
			"bare token":     {"Authorization": token},
			"token in query": nil, // the token is only read from the header
		}
		for _, p := range protected {
			for name, h := range bad {
				path := p.path
				if name == "token in query" {
					sep := "?"
					if strings.Contains(path, "?") {
						sep = "&"
					}
					path += sep + "token=" + token
				}
				r := e.request(t, p.method, path, []byte("{}"), h)
				wantJSON(t, r, http.StatusUnauthorized, unauthorized)
				if got := r.header.Get("WWW-Authenticate"); got != wwwAuth {
					t.Errorf("%s %s (%s): WWW-Authenticate %q, want %q", p.method, path, name, got, wwwAuth)
				}
			}
		}
		// Nothing was ingested or quarantined by the refused requests.
		if s := e.pipe.Status(); s.Committed != 0 {
			t.Fatalf("refused requests stored %d events", s.Committed)
		}

		// The right token passes; the scheme is case-insensitive, the token not.
		r := e.api(t, "GET", "/api/v1/quarantine", "", nil)
		wantJSON(t, r, http.StatusOK, `{"items": []}`)
		if got := r.header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("WWW-Authenticate on success: %q", got)
		}
		for h, want := range map[string]int{"bearer " + token: 200, "BEARER " + token: 200, "Bearer T0KEN": 401, "Bearer  " + token: 401} {
			if r := e.request(t, "GET", "/api/v1/quarantine", nil, map[string]string{"Authorization": h}); r.status != want {
				t.Errorf("Authorization %q: %d, want %d", h, r.status, want)
			}
		}
		// A server without a token refuses every API request, even one
		// that sends an empty token.
		noToken := *e.srv
		noToken.Token = ""
		for _, h := range []string{"Bearer ", "Bearer"} {
			req := httptest.NewRequest("GET", "/api/v1/quarantine", nil)
			req.Header.Set("Authorization", h)
			rec := httptest.NewRecorder()
			noToken.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("server without a token, Authorization %q: %d", h, rec.Code)
			}
		}

		// Public endpoints need no token.
		for _, path := range []string{"/", "/healthz", "/metrics", "/ledger/checkpoint", "/api/v1/ledger/checkpoint"} {
			r := e.request(t, "GET", path, nil, nil)
			if r.status != http.StatusOK {
				t.Errorf("GET %s without a token: %d\n%s", path, r.status, r.body)
			}
		}
		r = e.request(t, "GET", "/healthz", nil, nil)
		var h map[string]any
		if err := json.Unmarshal(r.body, &h); err != nil {
			t.Fatal(err)
		}
		if age, ok := h["checkpointAgeSeconds"].(float64); !ok || age < 0 || age > 60 {
			t.Errorf("checkpointAgeSeconds = %v", h["checkpointAgeSeconds"])
		}
		h["checkpointAgeSeconds"] = 0.0
		if want := map[string]any{"status": "ok", "events": 0.0, "ledgerSize": 0.0, "checkpointSize": 0.0, "checkpointAgeSeconds": 0.0}; !reflect.DeepEqual(h, want) {
			t.Errorf("healthz = %s", r.body)
		}
		r = e.request(t, "GET", "/", nil, nil)
		if !strings.HasPrefix(string(r.body), "labtrust: PHI access ledger\n") || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("index: %q %q", r.header.Get("Content-Type"), r.body)
		}
		// Unknown paths and methods are refused, still with the headers.
		if r := e.request(t, "GET", "/nope", nil, nil); r.status != http.StatusNotFound {
			t.Errorf("GET /nope: %d", r.status)
		}
		if r := e.request(t, "GET", "/api/v1/events", nil, nil); r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET /api/v1/events: %d", r.status)
		}
		// Only the checkpoint and the tiles of the ledger directory are served.
		for _, path := range []string{"/ledger/checkpoints.log", "/ledger/", "/ledger/tile/../checkpoints.log"} {
			r := e.request(t, "GET", path, nil, nil)
			if r.status == http.StatusOK {
				t.Errorf("GET %s: 200, want it refused:\n%s", path, r.body)
			}
		}
	})
}

func TestPostFHIR(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		evs := []labtrust.Event{accessEvent(0, "ehr", "MRN-0001"), securityEvent(1, "ehr"), accessEvent(2, "ehr", "MRN-0002")}
		evs[0].SourceRef, evs[2].SourceRef = "ae-0", "ae-2"
		bad1 := `this is not json`
		bad2 := `{"resourceType":"AuditEvent","id":"ae-x"}`
		body := strings.Join([]string{encodeFHIR(t, evs[0]), bad1, encodeFHIR(t, evs[1]), "", bad2, encodeFHIR(t, evs[2])}, "\n") + "\n"

		var direct collect
		if err := fhir.Parse(context.Background(), "ehr", strings.NewReader(body), &direct); err != nil || len(direct.rejects) != 2 {
			t.Fatalf("direct parse: %v, %d rejects", err, len(direct.rejects))
		}

		r := e.api(t, "POST", "/api/v1/events?source=ehr", "application/fhir+ndjson", []byte(body))
		wantJSON(t, r, http.StatusOK, `{"accepted": 3, "quarantined": 2, "firstIndex": 0, "lastIndex": 2, "quarantineIds": [1, 2]}`)
		got := e.stored(t, 0, 3)
		for i := range evs {
			if !reflect.DeepEqual(got[i], evs[i]) {
				t.Errorf("stored event %d:\n%+v\nwant\n%+v", i, got[i], evs[i])
			}
		}
		_, items := e.items(t, "")
		wantItems(t, items,
			item(1, "ehr", "fhir", "line 2", direct.rejects[0].Reason, "pending", 0, false),
			item(2, "ehr", "fhir", "line 5", direct.rejects[1].Reason, "pending", 0, false))
		// The raw bytes are the rejected lines exactly, and only on request.
		for id, raw := range map[int64]string{1: bad1, 2: bad2} {
			r := e.api(t, "GET", fmt.Sprintf("/api/v1/quarantine/%d", id), "", nil)
			if bytes.Contains(r.body, []byte(`"raw"`)) {
				t.Errorf("item %d: raw sent without ?raw=1", id)
			}
			r = e.api(t, "GET", fmt.Sprintf("/api/v1/quarantine/%d?raw=1", id), "", nil)
			var it struct{ Raw string }
			if err := json.Unmarshal(r.body, &it); err != nil || it.Raw != base64.StdEncoding.EncodeToString([]byte(raw)) {
				t.Errorf("item %d raw = %q (%v), want base64 of %q", id, it.Raw, err, raw)
			}
		}

		// A Bundle, by content type application/fhir+json, on another source.
		bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":%s},{"resource":%s},{"resource":{"resourceType":"Patient"}}]}`,
			encodeFHIR(t, accessEvent(3, "ehr2", "MRN-0003")), encodeFHIR(t, securityEvent(4, "ehr2")))
		r = e.api(t, "POST", "/api/v1/events?source=ehr2", "application/fhir+json; charset=utf-8", []byte(bundle))
		wantJSON(t, r, http.StatusOK, `{"accepted": 2, "quarantined": 1, "firstIndex": 3, "lastIndex": 4, "quarantineIds": [3]}`)
		if got := e.stored(t, 3, 5); !reflect.DeepEqual(got, []labtrust.Event{accessEvent(3, "ehr2", "MRN-0003"), securityEvent(4, "ehr2")}) {
			t.Errorf("bundle events stored as %+v", got)
		}
		_, items = e.items(t, "?source=ehr2")
		if len(items) != 1 || items[0]["position"] != "entry 3" {
			t.Errorf("bundle quarantine: %v", items)
		}

		// An empty body is a successful no-op.
		r = e.api(t, "POST", "/api/v1/events?source=ehr", "application/x-ndjson", nil)
		wantJSON(t, r, http.StatusOK, `{"accepted": 0, "quarantined": 0}`)
	})
}

func TestPostATNASyslogCSV(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)

		// ATNA: one AuditMessage per request, by content type.
		ev := accessEvent(0, "pacs", "MRN-0001")
		xml, err := atna.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		r := e.api(t, "POST", "/api/v1/events?source=pacs", "application/xml", xml)
		wantJSON(t, r, http.StatusOK, `{"accepted": 1, "quarantined": 0, "firstIndex": 0, "lastIndex": 0}`)
		if got := e.stored(t, 0, 1); !reflect.DeepEqual(got[0], ev) {
			t.Errorf("ATNA event stored as\n%+v\nwant\n%+v", got[0], ev)
		}
		broken := []byte(`<AuditMessage><EventIdentification EventActionCode="R"/></AuditMessage>`)
		r = e.api(t, "POST", "/api/v1/events?source=pacs", "text/xml", broken)
		wantJSON(t, r, http.StatusOK, `{"accepted": 0, "quarantined": 1, "quarantineIds": [1]}`)
		_, perr := atna.Parse("pacs", broken)
		_, items := e.items(t, "?source=pacs")
		wantItems(t, items, item(1, "pacs", "atna", "document", perr.Error(), "pending", 0, false))

		// Syslog: sshd lines as text/plain; an unrecognized line is quarantined.
		lines := "<38>1 2026-10-01T08:00:00Z bastion sshd 1234 - - Accepted publickey for alice from 10.0.0.5 port 52144 ssh2\n" +
			"<38>1 2026-10-01T08:00:05Z bastion sshd 1234 - - Failed password for invalid user bob from 10.0.0.6 port 52145 ssh2\n" +
			"<38>1 2026-10-01T08:00:09Z bastion sshd 1234 - - Server listening on 0.0.0.0 port 22.\n"
		r = e.api(t, "POST", "/api/v1/events?source=bastion", "text/plain; charset=utf-8", []byte(lines))
		wantJSON(t, r, http.StatusOK, `{"accepted": 2, "quarantined": 1, "firstIndex": 1, "lastIndex": 2, "quarantineIds": [2]}`)
		got := e.stored(t, 1, 3)
		if got[0].Actor.ID != "alice" || got[0].Network != "10.0.0.5" || got[0].Outcome != labtrust.OutcomeSuccess ||
			got[1].Actor.ID != "bob" || got[1].Network != "10.0.0.6" || got[1].Outcome == labtrust.OutcomeSuccess ||
			got[0].Source != "bastion" || got[0].Kind != labtrust.KindSecurity {
			t.Errorf("syslog events stored as %+v", got)
		}
		_, items = e.items(t, "?source=bastion")
		if len(items) != 1 || items[0]["format"] != "syslog" || items[0]["position"] != "message 3" {
			t.Errorf("syslog quarantine: %v", items)
		}

		// CSV for the configured source "lis"; the configured format wins
		// over both the content type and ?format.
		for i, req := range []struct{ query, ct string }{
			{"", "text/csv"},
			{"&format=fhir", "application/fhir+json"},
		} {
			r = e.api(t, "POST", "/api/v1/events?source=lis"+req.query, req.ct, []byte(lisCSV))
			first := 3 + 2*i
			wantJSON(t, r, http.StatusOK, fmt.Sprintf(`{"accepted": 2, "quarantined": 1, "firstIndex": %d, "lastIndex": %d, "quarantineIds": [%d]}`,
				first, first+1, 3+i))
			got := e.stored(t, uint64(first), uint64(first+2))
			if got[0].SourceRef != "L-1" || got[1].SourceRef != "L-3" || got[0].Source != "lis" ||
				got[0].Patients[0] != (labtrust.PatientRef{System: "urn:oid:2.16.840.1.113883.19.5", ID: "MRN-0001"}) {
				t.Errorf("CSV events stored as %+v", got)
			}
		}
		// Unconfigured sources take ?format over the content type.
		r = e.api(t, "POST", "/api/v1/events?source=ehr&format=fhir", "text/csv", []byte(encodeFHIR(t, securityEvent(9, "ehr"))))
		wantJSON(t, r, http.StatusOK, `{"accepted": 1, "quarantined": 0, "firstIndex": 7, "lastIndex": 7}`)
	})
}

func TestPostErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		body := []byte(encodeFHIR(t, securityEvent(0, "ehr")))
		for _, c := range []struct {
			name, query, ct string
			want            string
		}{
			{"missing source", "", "application/fhir+ndjson",
				errJSON("invalid", "source is required", "POST /api/v1/events?source=NAME")},
			{"empty source", "?source=", "application/fhir+ndjson",
				errJSON("invalid", "source is required", "POST /api/v1/events?source=NAME")},
			{"unknown content type", "?source=ehr", "application/octet-stream",
				errJSON("invalid", "cannot tell the input format",
					"configure the source's format, pass ?format=fhir|atna|syslog|csv, or send a Content-Type such as application/fhir+ndjson")},
			{"no content type", "?source=ehr", "",
				errJSON("invalid", "cannot tell the input format",
					"configure the source's format, pass ?format=fhir|atna|syslog|csv, or send a Content-Type such as application/fhir+ndjson")},
			{"unknown format", "?source=ehr&format=hl7v2", "application/fhir+ndjson",
				errJSON("invalid", `unknown format "hl7v2"`, "use fhir, atna, syslog or csv")},
			{"csv source without mapping", "?source=nomap", "text/csv",
				errJSON("invalid", `source "nomap" has no CSV column mapping`, "add it under sources in labtrust.yaml")},
			{"csv format without mapping", "?source=ehr&format=csv", "text/csv",
				errJSON("invalid", `source "ehr" has no CSV column mapping`, "add it under sources in labtrust.yaml")},
		} {
			r := e.api(t, "POST", "/api/v1/events"+c.query, c.ct, body)
			wantJSON(t, r, http.StatusBadRequest, c.want)
		}
		if s := e.pipe.Status(); s.Committed != 0 {
			t.Fatalf("refused requests stored %d events", s.Committed)
		}
		if _, items := e.items(t, ""); len(items) != 0 {
			t.Fatalf("refused requests quarantined %v", items)
		}
	})
}

func TestBodyTooLarge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		const maxBody = 4096
		e := newEnv(t, dsn, maxBody)
		var body bytes.Buffer
		kept := 0
		for i := 0; body.Len() < 3*maxBody; i++ {
			body.WriteString(encodeFHIR(t, accessEvent(i, "ehr", fmt.Sprintf("MRN-%04d", i))))
			body.WriteByte('\n')
			if body.Len() <= maxBody {
				kept++
			}
		}
		if kept < 2 {
			t.Fatalf("test setup: only %d lines fit in %d bytes", kept, maxBody)
		}
		r := e.api(t, "POST", "/api/v1/events?source=ehr", "application/fhir+ndjson", body.Bytes())
		wantJSON(t, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(`{
			"error": {"code": "too_large", "message": "request body exceeds %d bytes; records before the limit were kept", "hint": "split the upload"},
			"summary": {"accepted": %d, "quarantined": 0, "firstIndex": 0, "lastIndex": %d}}`, maxBody, kept, kept-1))
		got := e.stored(t, 0, uint64(kept))
		for i := range got {
			if want := accessEvent(i, "ehr", fmt.Sprintf("MRN-%04d", i)); !reflect.DeepEqual(got[i], want) {
				t.Errorf("kept event %d = %+v", i, got[i])
			}
		}
		waitFor(t, "the kept events to be committed", func() bool { return e.pipe.Status().Committed == uint64(kept) })
		// An AuditMessage is read whole: over the limit nothing is kept.
		xml, err := atna.Encode(accessEvent(0, "pacs", "MRN-1"))
		if err != nil {
			t.Fatal(err)
		}
		xml = bytes.Replace(xml, []byte("<AuditMessage"), append(bytes.Repeat([]byte(" "), maxBody), "<AuditMessage"...), 1)
		r = e.api(t, "POST", "/api/v1/events?source=pacs", "application/xml", xml)
		wantJSON(t, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(`{
			"error": {"code": "too_large", "message": "request body exceeds %d bytes; records before the limit were kept", "hint": "split the upload"},
			"summary": {"accepted": 0, "quarantined": 0}}`, maxBody))
		// A body at the limit is accepted whole.
		small := []byte(encodeFHIR(t, securityEvent(0, "ehr")) + "\n")
		small = append(small, bytes.Repeat([]byte("\n"), maxBody-len(small))...)
		r = e.api(t, "POST", "/api/v1/events?source=ehr", "application/fhir+ndjson", small)
		wantJSON(t, r, http.StatusOK, fmt.Sprintf(`{"accepted": 1, "quarantined": 0, "firstIndex": %d, "lastIndex": %d}`, kept, kept))
	})
}

func TestQuarantineAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		// Two FHIR rejects on "ehr", then the LIS export under a mapping
		// that does not know PRINT: its PRINT row is quarantined.
		ndjson := encodeFHIR(t, securityEvent(0, "ehr")) + "\n{}\n[]\n"
		wantJSON(t, e.api(t, "POST", "/api/v1/events?source=ehr", "application/x-ndjson", []byte(ndjson)), http.StatusOK,
			`{"accepted": 1, "quarantined": 2, "firstIndex": 0, "lastIndex": 0, "quarantineIds": [1, 2]}`)
		wantJSON(t, e.api(t, "POST", "/api/v1/events?source=lis", "text/csv", []byte(lisCSV)), http.StatusOK,
			`{"accepted": 2, "quarantined": 1, "firstIndex": 1, "lastIndex": 2, "quarantineIds": [3]}`)

		var fhirRejects, csvRejects collect
		fhir.Parse(context.Background(), "ehr", strings.NewReader(ndjson), &fhirRejects)
		csvsrc.Parse(context.Background(), "lis", lisMapping(false), strings.NewReader(lisCSV), &csvRejects)
		if len(fhirRejects.rejects) != 2 || len(csvRejects.rejects) != 1 {
			t.Fatalf("direct parse: %d FHIR and %d CSV rejects", len(fhirRejects.rejects), len(csvRejects.rejects))
		}
		csvReason := csvRejects.rejects[0].Reason
		q1 := item(1, "ehr", "fhir", "line 2", fhirRejects.rejects[0].Reason, "pending", 0, false)
		q2 := item(2, "ehr", "fhir", "line 3", fhirRejects.rejects[1].Reason, "pending", 0, false)
		q3 := item(3, "lis", "csv", "line 3", csvReason, "pending", 0, false)

		// Listing, filters and paging.
		for _, c := range []struct {
			query string
			want  []map[string]any
		}{
			{"", []map[string]any{q1, q2, q3}},
			{"?source=ehr", []map[string]any{q1, q2}},
			{"?source=lis", []map[string]any{q3}},
			{"?source=other", nil},
			{"?status=pending", []map[string]any{q1, q2, q3}},
			{"?status=ingested", nil},
			{"?limit=1", []map[string]any{q1}},
			{"?limit=1000", []map[string]any{q1, q2, q3}},
			{"?limit=2&after=1", []map[string]any{q2, q3}},
			{"?after=2", []map[string]any{q3}},
			{"?after=3", nil},
			{"?source=ehr&after=1", []map[string]any{q2}},
		} {
			status, items := e.items(t, c.query)
			if status != http.StatusOK {
				t.Errorf("list %q: %d", c.query, status)
				continue
			}
			wantItems(t, items, c.want...)
		}
		limitErr := errJSON("invalid", "limit must be 1 to 1000", "")
		for _, q := range []string{"?limit=0", "?limit=-1", "?limit=1001", "?limit=ten", "?limit=1.5"} {
			wantJSON(t, e.api(t, "GET", "/api/v1/quarantine"+q, "", nil), http.StatusBadRequest, limitErr)
		}
		wantJSON(t, e.api(t, "GET", "/api/v1/quarantine?after=x", "", nil), http.StatusBadRequest,
			errJSON("invalid", "after must be an item id", ""))

		// Get: 404 for a missing id, 400 for a bad one, raw only with ?raw=1.
		notFound := errJSON("not_found", "no such item", "")
		wantJSON(t, e.api(t, "GET", "/api/v1/quarantine/99", "", nil), http.StatusNotFound, notFound)
		wantJSON(t, e.api(t, "GET", "/api/v1/quarantine/x", "", nil), http.StatusBadRequest, errJSON("invalid", "id must be a number", ""))
		get := func(query string) map[string]any {
			r := e.api(t, "GET", "/api/v1/quarantine/3"+query, "", nil)
			if r.status != http.StatusOK {
				t.Fatalf("get 3%s: %d %s", query, r.status, r.body)
			}
			m := decodeJSON(t, r.body).(map[string]any)
			e.checkTime(t, m, "received")
			if _, ok := m["resolvedAt"]; ok {
				e.checkTime(t, m, "resolvedAt")
			}
			return m
		}
		if got := get(""); !reflect.DeepEqual(got, q3) {
			t.Errorf("get 3 = %v, want %v", got, q3)
		}
		if got := get("?raw=yes"); !reflect.DeepEqual(got, q3) {
			t.Errorf("get 3?raw=yes = %v, want %v", got, q3)
		}
		withRaw := get("?raw=1")
		raw, err := base64.StdEncoding.DecodeString(withRaw["raw"].(string))
		if err != nil || !bytes.Equal(raw, csvRejects.rejects[0].Raw) {
			t.Errorf("raw = %q (%v), want %q", raw, err, csvRejects.rejects[0].Raw)
		}
		if !bytes.Contains(raw, []byte("L-2,2026-10-01T09:01:00Z,tech1,PRINT,MRN-0002")) {
			t.Errorf("raw %q does not hold the rejected row", raw)
		}
		delete(withRaw, "raw")
		if !reflect.DeepEqual(withRaw, q3) {
			t.Errorf("get 3?raw=1 = %v", withRaw)
		}

		// Retry under the wrong mapping: still pending, attempt counted,
		// and the reason is the one a parse of the raw record gives now
		// (its line number counts within the record: header, then row).
		var again collect
		csvsrc.Parse(context.Background(), "lis", lisMapping(false), bytes.NewReader(raw), &again)
		if len(again.rejects) != 1 {
			t.Fatalf("raw record parsed alone gives %d rejects", len(again.rejects))
		}
		retryReason := "on retry: " + again.rejects[0].Reason
		wantJSON(t, e.api(t, "POST", "/api/v1/quarantine/3/retry", "", nil), http.StatusOK,
			fmt.Sprintf(`{"id": 3, "ingested": false, "events": 0, "reason": %q}`, retryReason))
		q3["attempts"], q3["reason"] = json.Number("1"), retryReason
		if got := get(""); !reflect.DeepEqual(got, q3) {
			t.Errorf("after a failed retry: %v, want %v", got, q3)
		}
		// Fix the mapping: the retry ingests the row.
		e.parsers.setMapping("lis", lisMapping(true))
		wantJSON(t, e.api(t, "POST", "/api/v1/quarantine/3/retry", "", nil), http.StatusOK,
			`{"id": 3, "ingested": true, "events": 1, "firstIndex": 3}`)
		got := e.stored(t, 3, 4)[0]
		if got.SourceRef != "L-2" || got.Objects[0].Role != "print" || got.Patients[0].ID != "MRN-0002" {
			t.Errorf("retried row stored as %+v", got)
		}
		q3["status"], q3["attempts"], q3["resolvedAt"] = "ingested", json.Number("2"), "T"
		if got := get(""); !reflect.DeepEqual(got, q3) {
			t.Errorf("after the retry: %v, want %v", got, q3)
		}
		// A second retry is refused and ingests nothing.
		wantJSON(t, e.api(t, "POST", "/api/v1/quarantine/3/retry", "", nil), http.StatusConflict,
			errJSON("not_pending", "quarantine item 3 is ingested, not pending", ""))
		if s := e.pipe.Status(); s.Committed != 4 {
			t.Errorf("%d events committed after the refused retry, want 4", s.Committed)
		}
		_, items := e.items(t, "?status=ingested")
		wantItems(t, items, q3)
		_, items = e.items(t, "?status=pending")
		wantItems(t, items, q1, q2)
		// Retrying what is missing or malformed.
		wantJSON(t, e.api(t, "POST", "/api/v1/quarantine/99/retry", "", nil), http.StatusNotFound, notFound)
		wantJSON(t, e.api(t, "POST", "/api/v1/quarantine/x/retry", "", nil), http.StatusBadRequest, errJSON("invalid", "id must be a number", ""))
	})
}

// metricValue finds the sample line name{labels} in an exposition and
// returns its value.
func metricValue(t testing.TB, body, series string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.Fields(v)[0], 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, line)
			}
			return f, true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		ndjson := encodeFHIR(t, securityEvent(0, "ehr")) + "\n" + encodeFHIR(t, accessEvent(1, "ehr", "MRN-1")) + "\n{}\n" +
			encodeFHIR(t, securityEvent(2, "ehr")) + "\n"
		wantJSON(t, e.api(t, "POST", "/api/v1/events?source=ehr", "application/x-ndjson", []byte(ndjson)), http.StatusOK,
			`{"accepted": 3, "quarantined": 1, "firstIndex": 0, "lastIndex": 2, "quarantineIds": [1]}`)
		wantJSON(t, e.api(t, "POST", "/api/v1/events?source=lis", "text/csv", []byte(lisCSV)), http.StatusOK,
			`{"accepted": 2, "quarantined": 1, "firstIndex": 3, "lastIndex": 4, "quarantineIds": [2]}`)

		want := map[string]float64{
			`labtrust_events_ingested_total{source="ehr"}`:                  3,
			`labtrust_events_ingested_total{source="lis"}`:                  2,
			`labtrust_events_quarantined_total{format="fhir",source="ehr"}`: 1,
			`labtrust_events_quarantined_total{format="csv",source="lis"}`:  1,
		}
		var last response
		// The ingested counter is raised just after the acknowledgement,
		// so it may trail the response briefly.
		waitFor(t, "the ingest metrics", func() bool {
			last = e.request(t, "GET", "/metrics", nil, map[string]string{"Accept": "application/openmetrics-text; version=1.0.0"})
			for series, v := range want {
				if got, ok := metricValue(t, string(last.body), series); !ok || got != v {
					return false
				}
			}
			return true
		})
		if ct := last.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
			t.Errorf("Content-Type %q, want OpenMetrics", ct)
		}
		if !strings.HasSuffix(string(last.body), "# EOF\n") {
			t.Errorf("OpenMetrics exposition does not end with # EOF")
		}
		for _, s := range []string{"# TYPE labtrust_events_ingested counter", "labtrust_ingest_latency_seconds_count 2", "# TYPE labtrust_ledger_checkpoints counter"} {
			if !strings.Contains(string(last.body), s) {
				t.Errorf("exposition lacks %q:\n%s", s, last.body)
			}
		}
		// Without the Accept header the classic text format is served.
		r := e.request(t, "GET", "/metrics", nil, nil)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type %q, want the Prometheus text format", ct)
		}
		if v, ok := metricValue(t, string(r.body), `labtrust_events_ingested_total{source="ehr"}`); !ok || v != 3 {
			t.Errorf("text exposition: ehr ingested = %v, %v", v, ok)
		}
	})
}

// merkleRoot is the RFC 6962 Merkle tree hash of the leaves.
func merkleRoot(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return [32]byte{0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
			0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55}
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := merkleRoot(leaves[:k]), merkleRoot(leaves[k:])
	return ledger.NodeHash(&l, &r)
}

func TestLedgerFiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		// Before any event: the empty tree's checkpoint.
		r := e.request(t, "GET", "/ledger/checkpoint", nil, nil)
		cp, err := ledger.OpenCheckpoint(r.body, origin, e.verifier)
		if err != nil || cp.Size != 0 || r.status != http.StatusOK {
			t.Fatalf("initial checkpoint: %d %+v %v", r.status, cp, err)
		}

		var body strings.Builder
		const n = 40
		for i := 0; i < n; i++ {
			body.WriteString(encodeFHIR(t, accessEvent(i, "ehr", fmt.Sprintf("MRN-%d", i%5))) + "\n")
		}
		wantJSON(t, e.api(t, "POST", "/api/v1/events?source=ehr", "application/fhir+ndjson", []byte(body.String())), http.StatusOK,
			fmt.Sprintf(`{"accepted": %d, "quarantined": 0, "firstIndex": 0, "lastIndex": %d}`, n, n-1))
		waitFor(t, "a checkpoint covering the events", func() bool { return e.pipe.Status().CheckpointSize == n })

		var leaves [][32]byte
		var entries [][]byte
		if err := e.db.Commitments(context.Background(), 0, n, func(_ uint64, c [32]byte) error {
			entries = append(entries, bytes.Clone(c[:]))
			leaves = append(leaves, ledger.LeafHash(c[:]))
			return nil
		}); err != nil || len(leaves) != n {
			t.Fatalf("commitments: %d, %v", len(leaves), err)
		}
		root := merkleRoot(leaves)
		_, otherKey, err := ledger.NewKey(origin)
		if err != nil {
			t.Fatal(err)
		}
		otherVerifier, err := note.NewVerifier(otherKey)
		if err != nil {
			t.Fatal(err)
		}

		// Both checkpoint endpoints serve the signed note for the stored
		// entries, and it verifies with the ledger's key.
		for _, path := range []string{"/ledger/checkpoint", "/api/v1/ledger/checkpoint"} {
			r := e.request(t, "GET", path, nil, nil)
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
				t.Fatalf("GET %s: %d %q", path, r.status, r.header.Get("Content-Type"))
			}
			cp, err := ledger.OpenCheckpoint(r.body, origin, e.verifier)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			if cp.Origin != origin || cp.Size != n || cp.Root != root {
				t.Errorf("GET %s: checkpoint %+v, want size %d root %x", path, cp, n, root)
			}
			if _, err := ledger.OpenCheckpoint(r.body, "another.example/log", e.verifier); err == nil {
				t.Errorf("GET %s: checkpoint opened under a wrong origin", path)
			}
			if _, err := ledger.OpenCheckpoint(r.body, origin, otherVerifier); err == nil {
				t.Errorf("GET %s: checkpoint opened with another key", path)
			}
		}

		// The level-0 tile holds the leaf hashes; the entry bundle holds
		// the commitments. Both equal the files on disk.
		tile := e.request(t, "GET", "/ledger/"+ledger.TilePath(0, 0, n), nil, nil)
		if tile.status != http.StatusOK {
			t.Fatalf("tile: %d %s", tile.status, tile.body)
		}
		onDisk, err := os.ReadFile(filepath.Join(e.ledgerDir, filepath.FromSlash(ledger.TilePath(0, 0, n))))
		if err != nil || !bytes.Equal(tile.body, onDisk) {
			t.Errorf("tile differs from the file on disk (%v)", err)
		}
		var wantTile []byte
		for _, l := range leaves {
			wantTile = append(wantTile, l[:]...)
		}
		if !bytes.Equal(tile.body, wantTile) {
			t.Errorf("tile is not the leaf hashes of the stored commitments")
		}
		bundle := e.request(t, "GET", "/ledger/"+ledger.BundlePath(0, n), nil, nil)
		got, err := ledger.ParseBundle(bundle.body)
		if bundle.status != http.StatusOK || err != nil || !reflect.DeepEqual(got, entries) {
			t.Errorf("entry bundle: %d %v, %d entries", bundle.status, err, len(got))
		}
		for _, path := range []string{"/ledger/" + ledger.TilePath(0, 1, 0x100), "/ledger/tile/0/x999", "/ledger/" + ledger.TilePath(0, 0, n+1)} {
			if r := e.request(t, "GET", path, nil, nil); r.status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, r.status)
			}
		}

		// Health reflects the ledger.
		r = e.request(t, "GET", "/healthz", nil, nil)
		var h struct {
			Status                             string
			Events, LedgerSize, CheckpointSize uint64
		}
		if err := json.Unmarshal(r.body, &h); err != nil || h.Status != "ok" || h.Events != n || h.LedgerSize != n || h.CheckpointSize != n {
			t.Errorf("healthz: %s", r.body)
		}
	})
}

// TestStoreFailure: when the database goes away, ingest answers 500 with a
// generic message (the cause goes to the log only), health turns degraded,
// and the quarantine API fails the same way.
func TestStoreFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		wantJSON(t, e.api(t, "POST", "/api/v1/events?source=ehr", "application/fhir+ndjson", []byte(encodeFHIR(t, securityEvent(0, "ehr")))),
			http.StatusOK, `{"accepted": 1, "quarantined": 0, "firstIndex": 0, "lastIndex": 0}`)
		if err := e.db.Close(); err != nil {
			t.Fatal(err)
		}
		internal := errJSON("internal", "internal error; see the server log", "")
		wantJSON(t, e.api(t, "POST", "/api/v1/events?source=ehr", "application/fhir+ndjson", []byte(encodeFHIR(t, securityEvent(1, "ehr")))),
			http.StatusInternalServerError, internal)
		wantJSON(t, e.api(t, "GET", "/api/v1/quarantine", "", nil), http.StatusInternalServerError, internal)
		wantJSON(t, e.api(t, "GET", "/api/v1/quarantine/1", "", nil), http.StatusInternalServerError, internal)
		r := e.request(t, "GET", "/healthz", nil, nil)
		var h struct {
			Status string
			Events uint64
		}
		if err := json.Unmarshal(r.body, &h); err != nil || r.status != http.StatusServiceUnavailable || h.Status != "degraded" || h.Events != 1 {
			t.Errorf("healthz after the store failed: %d %s", r.status, r.body)
		}
		if !strings.Contains(e.logs.String(), "request failed") {
			t.Errorf("the cause was not logged:\n%s", e.logs.String())
		}
	})
}

// TestNoPHIInResponses posts records that carry a patient identifier in
// malformed ways, in every format, and walks every response they lead to:
// the env's request helper fails the test if the marker shows up in any
// body, and newEnv's cleanup if it reaches the log.
func TestNoPHIInResponses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		good := accessEvent(0, "ehr", marker)
		goodJSON := encodeFHIR(t, good)
		badTime := strings.Replace(goodJSON, `"recorded":"`, `"recorded":"x`, 1)
		if badTime == goodJSON {
			t.Fatal("test setup: no recorded element to break")
		}
		ndjson := strings.Join([]string{
			goodJSON,
			badTime,
			`{"resourceType":"AuditEvent","entity":[{"what":{"reference":"Patient/` + marker + `"}}]}`,
			`{"resourceType":"AuditEvent","` + marker + `":1}`,
			`{"resourceType":"AuditEvent","id":"` + marker + `","recorded":"` + marker + `"}`,
			marker + ` not json`,
			`{"resourceType":"` + marker + `"}`,
			"{\"resourceType\":\"AuditEvent\",\"id\":\"" + marker + "\xff\"}",
			`{"resourceType":"AuditEvent","id":"a","id":"` + marker + `"}`,
		}, "\n")
		badXML, err := atna.Encode(accessEvent(0, "pacs", marker))
		if err != nil {
			t.Fatal(err)
		}
		badXML = bytes.Replace(badXML, []byte("<EventIdentification"), []byte("<EventIdentificationX"), 1)
		posts := []struct{ source, ct, body string }{
			{"ehr", "application/fhir+ndjson", ndjson},
			{"ehr", "application/fhir+json", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"AuditEvent","id":"` + marker + `"}}]`},
			{"pacs", "application/xml", string(badXML)},
			{"pacs", "application/xml", `<AuditMessage><ActiveParticipant UserID="` + marker + `"/>`},
			{"pacs", "application/xml", `<` + marker + `/>`},
			{"bastion", "text/plain", "<38>1 2026-10-01T08:00:00Z bastion sshd 1 - - patient " + marker + " opened\n" + marker + "\n"},
			{"bastion", "text/plain", "<38>1 2026-13-01T08:00:00Z " + marker + " sshd 1 - - Accepted publickey for alice from 10.0.0.5 port 1 ssh2\n"},
			{"lis", "text/csv", "id,time,user,action,mrn\nL-1,not-a-time-" + marker + ",tech1,VIEW," + marker + "\nL-2,2026-10-01T09:00:00Z,tech1," + marker + "," + marker + "\n\"unterminated," + marker + "\n"},
			{"lis", "text/csv", "id,time,user,action\nL-1,2026-10-01T09:00:00Z,tech1,VIEW\n"},
		}
		quarantined := 0
		for _, p := range posts {
			r := e.api(t, "POST", "/api/v1/events?source="+p.source, p.ct, []byte(p.body))
			var sum ingest.Summary
			if err := json.Unmarshal(r.body, &sum); err != nil || r.status != http.StatusOK {
				t.Fatalf("POST %s %s: %d %s", p.source, p.ct, r.status, r.body)
			}
			quarantined += sum.Quarantined
		}
		status, items := e.items(t, "?limit=1000")
		if status != http.StatusOK || len(items) != quarantined || quarantined < 15 {
			t.Fatalf("%d items listed, %d quarantined", len(items), quarantined)
		}
		for _, it := range items {
			id := it["id"].(json.Number).String()
			e.api(t, "GET", "/api/v1/quarantine/"+id, "", nil)
			r := e.api(t, "POST", "/api/v1/quarantine/"+id+"/retry", "", nil)
			if r.status != http.StatusOK {
				t.Errorf("retry %s: %d %s", id, r.status, r.body)
			}
			// The raw bytes are PHI by design, and only ever sent encoded
			// to an authenticated caller who asked for them.
			r = e.api(t, "GET", "/api/v1/quarantine/"+id+"?raw=1", "", nil)
			var withRaw struct{ Raw string }
			json.Unmarshal(r.body, &withRaw)
			if raw, _ := base64.StdEncoding.DecodeString(withRaw.Raw); !bytes.Contains(raw, []byte(marker)) && it["source"] != "lis" {
				t.Errorf("item %s: raw %q does not hold the record", id, raw)
			}
		}
		e.items(t, "?limit=1000") // the reasons after the retries
	})
}

// BenchmarkPostEvents measures ingest over HTTP: FHIR NDJSON requests of
// 1000 events each, acknowledged when durable (SQLite).
func BenchmarkPostEvents(b *testing.B) {
	e := newEnv(b, filepath.Join(b.TempDir(), "bench.db"), 0)
	const per = 1000
	var body bytes.Buffer
	for i := 0; i < per; i++ {
		body.WriteString(encodeFHIR(b, accessEvent(i, "ehr", fmt.Sprintf("MRN-%d", i%97))))
		body.WriteByte('\n')
	}
	b.SetBytes(int64(body.Len()))
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("POST", e.url+"/api/v1/events?source=ehr", bytes.NewReader(body.Bytes()))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/fhir+ndjson")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
}

// FuzzPostEvents feeds arbitrary bodies to the ingest endpoint in every
// format: the answer is always a well-formed JSON summary or error, never a
// server error, and never repeats the PHI marker. Every input runs the whole
// ingest path, so executions are slow; run it with -fuzzminimizetime=3s.
func FuzzPostEvents(f *testing.F) {
	// No background checkpoints: code the pipeline runs on its own timer
	// would show as coverage unrelated to the input, and the fuzzer would
	// chase it.
	e := newEnv(f, filepath.Join(f.TempDir(), "fuzz.db"), 2048, func(c *ingest.Config) { c.CheckpointInterval = time.Hour })
	seeds := []struct {
		kind byte
		body string
	}{
		{0, encodeFHIR(f, accessEvent(0, "ehr", marker)) + "\n{}\n"},
		{1, `{"resourceType":"Bundle","entry":[{"resource":` + encodeFHIR(f, securityEvent(1, "ehr")) + `}]}`},
		{2, `<AuditMessage><EventIdentification EventActionCode="R"/></AuditMessage>`},
		{3, "<38>1 2026-10-01T08:00:00Z bastion sshd 1234 - - Accepted publickey for alice from 10.0.0.5 port 52144 ssh2\n"},
		{4, lisCSV},
		{4, "id,time\n" + marker},
		{0, strings.Repeat(encodeFHIR(f, securityEvent(2, "ehr"))+"\n", 5)},
		{3, "12 <38>1 - - -"},
	}
	for _, s := range seeds {
		f.Add(s.kind, []byte(s.body))
	}
	if x, err := atna.Encode(accessEvent(3, "pacs", "MRN-1")); err == nil {
		f.Add(byte(2), x)
	}
	kinds := []struct{ source, ct string }{
		{"ehr", "application/fhir+ndjson"},
		{"ehr", "application/fhir+json"},
		{"pacs", "application/xml"},
		{"bastion", "text/plain"},
		{"lis", "text/csv"},
	}
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		k := kinds[int(kind)%len(kinds)]
		req := httptest.NewRequest("POST", "/api/v1/events?source="+k.source, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", k.ct)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		checkSecurityHeaders(t, "fuzz", rec.Header())
		var sum ingest.Summary
		var out struct {
			Error   *struct{ Code, Message, Hint string } `json:"error"`
			Summary *ingest.Summary                       `json:"summary"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || json.Unmarshal(rec.Body.Bytes(), &sum) != nil {
			t.Fatalf("status %d, body is not JSON: %v\n%s", rec.Code, err, rec.Body.Bytes())
		}
		if bytes.Contains(rec.Body.Bytes(), []byte(marker)) && !bytes.Contains(body, []byte(marker)) {
			t.Fatalf("marker in the response of a body without it")
		}
		if bytes.Contains(rec.Body.Bytes(), []byte(marker)) {
			t.Fatalf("a response repeats the input:\n%s", rec.Body.Bytes())
		}
		switch rec.Code {
		case http.StatusOK:
		case http.StatusRequestEntityTooLarge:
			if len(body) <= 2048 || out.Error == nil || out.Error.Code != "too_large" || out.Summary == nil {
				t.Fatalf("413 for %d bytes: %s", len(body), rec.Body.Bytes())
			}
			sum = *out.Summary
		default:
			t.Fatalf("status %d for a %d-byte %s body:\n%s", rec.Code, len(body), k.ct, rec.Body.Bytes())
		}
		if sum.Quarantined != len(sum.Quarantine) || sum.Accepted < 0 {
			t.Fatalf("inconsistent summary %+v", sum)
		}
		if sum.Accepted == 0 && (sum.First != nil || sum.Last != nil) ||
			sum.Accepted > 0 && (sum.First == nil || sum.Last == nil || *sum.Last-*sum.First+1 != uint64(sum.Accepted)) {
			t.Fatalf("indices do not match the count: %+v", sum)
		}
	})
}

// TestAlertsAPI: list, filter, read and triage alerts with the API token;
// triage is recorded.
func TestAlertsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, 0)
		ctx := context.Background()
		at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
		if _, _, err := e.db.RaiseAlerts(ctx, []labtrust.Alert{
			{Rule: "password_spraying", Title: "Password spraying", Severity: "high", Explanation: "five accounts", Key: "k1", First: at, Last: at, Count: 5, Entries: []uint64{1, 2, 3}},
			{Rule: "export_burst", Title: "Export burst", Severity: "high", Explanation: "six exports", Actor: "u9", Key: "k2", First: at, Last: at.Add(time.Minute), Count: 6, Entries: []uint64{7}},
		}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if r := e.request(t, "GET", "/api/v1/alerts", nil, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("without a token: %d", r.status)
		}
		var list struct {
			Alerts []labtrust.Alert `json:"alerts"`
		}
		r := e.api(t, "GET", "/api/v1/alerts", "", nil)
		if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 || len(list.Alerts) != 2 || list.Alerts[0].Rule != "export_burst" {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		r = e.api(t, "GET", "/api/v1/alerts?status=confirmed", "", nil)
		if !strings.Contains(string(r.body), `"alerts": []`) {
			t.Fatalf("filter: %s", r.body)
		}
		if r := e.api(t, "GET", "/api/v1/alerts?status=closed", "", nil); r.status != 400 {
			t.Fatalf("bad status: %d", r.status)
		}
		id := list.Alerts[1].ID
		if r := e.api(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/status", id), "application/json", []byte(`{"status":"benign"}`)); r.status != 400 {
			t.Fatalf("benign without reason: %d %s", r.status, r.body)
		}
		r = e.api(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/status", id), "application/json", []byte(`{"status":"benign","reason":"red team exercise","by":"soar"}`))
		var got labtrust.Alert
		if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || got.Status != labtrust.AlertBenign || got.UpdatedBy != "api:soar" || got.Reason != "red team exercise" {
			t.Fatalf("triage: %d %s", r.status, r.body)
		}
		if len(e.recorded) != 1 || !strings.Contains(e.recorded[0], "alert-triage alert") {
			t.Fatalf("recorded %v", e.recorded)
		}
		if r := e.api(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/status", id), "application/json", []byte(`{"status":"confirmed","allowFor":"24h"}`)); r.status != 400 {
			t.Fatalf("allowFor with confirmed: %d", r.status)
		}
		r = e.api(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/status", id), "application/json", []byte(`{"status":"benign","reason":"red team","allowFor":"24h"}`))
		if es, _ := e.db.AllowList(ctx); r.status != 200 || len(es) != 1 || es[0].Rule != "password_spraying" || es[0].CreatedBy != "api" {
			t.Fatalf("allowFor: %d %+v", r.status, es)
		}
		if r := e.api(t, "GET", "/api/v1/alerts/999", "", nil); r.status != 404 {
			t.Fatalf("missing alert: %d", r.status)
		}
	})
}
