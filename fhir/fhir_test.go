package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

// collector is a labtrust.Sink that keeps what it is given.
type collector struct {
	events  []labtrust.Event
	rejects []labtrust.Reject
	// failAfter makes the sink fail once it has seen that many records.
	failAfter int
}

var errSinkFull = errors.New("sink full")

func (c *collector) check() error {
	if c.failAfter > 0 && len(c.events)+len(c.rejects) >= c.failAfter {
		return errSinkFull
	}
	return nil
}

func (c *collector) Event(_ context.Context, e labtrust.Event) error {
	if err := c.check(); err != nil {
		return err
	}
	c.events = append(c.events, e)
	return nil
}

func (c *collector) Reject(_ context.Context, r labtrust.Reject) error {
	if err := c.check(); err != nil {
		return err
	}
	c.rejects = append(c.rejects, r)
	return nil
}

func parseBytes(t testing.TB, b []byte) *collector {
	t.Helper()
	c := &collector{}
	if err := Parse(context.Background(), "test-src", bytes.NewReader(b), c); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func vectorFiles(t *testing.T) []string {
	var files []string
	for _, dir := range []string{"testdata/r4", "testdata/balp"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 11 {
		t.Fatalf("found %d vector files, want at least 11", len(files))
	}
	return files
}

// TestGolden parses every published R4 example and BALP example and compares
// the Event with its reviewed golden file.
func TestGolden(t *testing.T) {
	for _, f := range vectorFiles(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := parseBytes(t, b)
			if len(c.rejects) != 0 || len(c.events) != 1 {
				t.Fatalf("got %d events, rejects %+v; want exactly one event", len(c.events), c.rejects)
			}
			got, err := json.MarshalIndent(c.events[0], "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata/golden", name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("event differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			// The compact, one-line form of the same resource is NDJSON
			// with one line and must give the same event.
			var buf bytes.Buffer
			if err := json.Compact(&buf, b); err != nil {
				t.Fatal(err)
			}
			c2 := parseBytes(t, buf.Bytes())
			if len(c2.events) != 1 || !reflect.DeepEqual(c2.events[0], c.events[0]) {
				t.Errorf("compact form: got %+v, rejects %+v", c2.events, c2.rejects)
			}
		})
	}
}

// TestVectorsInBundleAndNDJSON feeds all vectors at once as a Bundle and as
// NDJSON and checks positions.
func TestVectorsInBundleAndNDJSON(t *testing.T) {
	files := vectorFiles(t)
	var bundle, nd bytes.Buffer
	bundle.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	var singles []labtrust.Event
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		singles = append(singles, parseBytes(t, b).events...)
		if i > 0 {
			bundle.WriteString(",")
		}
		bundle.WriteString(`{"resource":`)
		bundle.Write(b)
		bundle.WriteString("}")
		if err := json.Compact(&nd, b); err != nil {
			t.Fatal(err)
		}
		nd.WriteString("\r\n") // CRLF line endings are accepted
	}
	bundle.WriteString("]}")
	for name, in := range map[string][]byte{"bundle": bundle.Bytes(), "ndjson": nd.Bytes()} {
		c := parseBytes(t, in)
		if len(c.rejects) != 0 {
			t.Fatalf("%s: rejects %+v", name, c.rejects)
		}
		if !reflect.DeepEqual(c.events, singles) {
			t.Errorf("%s: events differ from parsing each file alone", name)
		}
	}
}

func TestBundle(t *testing.T) {
	b, err := os.ReadFile("testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	c := parseBytes(t, b)
	if len(c.events) != 1 {
		t.Fatalf("got %d events, want 1", len(c.events))
	}
	want := labtrust.Event{
		Time:      time.Date(2024, 3, 1, 9, 0, 0, 123000000, time.UTC),
		Source:    "test-src",
		Kind:      labtrust.KindAccess,
		Type:      labtrust.Code{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		Subtype:   []labtrust.Code{{System: "http://hl7.org/fhir/restful-interaction", Code: "read", Display: "read"}},
		Action:    labtrust.ActionRead,
		Actor:     labtrust.Actor{ID: "u-17", Name: "Lab Tech 17", Role: "IRCP", Site: "lab-a"},
		Patients:  []labtrust.PatientRef{{System: "Patient", ID: "p-42"}},
		Objects:   []labtrust.Object{{Type: "DiagnosticReport", ID: "DiagnosticReport/dr-9", Role: "3"}},
		Network:   "10.0.0.17",
		SourceRef: "b1",
	}
	if !reflect.DeepEqual(c.events[0], want) {
		t.Errorf("event:\n got %+v\nwant %+v", c.events[0], want)
	}
	wantRejects := []struct{ pos, reason string }{
		{"entry 2", "Bundle.entry[1].resource: missing"},
		{"entry 3", `resourceType is "Patient", want "AuditEvent"`},
	}
	if len(c.rejects) != len(wantRejects) {
		t.Fatalf("rejects: %+v", c.rejects)
	}
	for i, w := range wantRejects {
		r := c.rejects[i]
		if r.Position != w.pos || r.Reason != w.reason || r.Format != "fhir" || r.Source != "test-src" {
			t.Errorf("reject %d = %q %q %q, want %q %q", i, r.Format, r.Position, r.Reason, w.pos, w.reason)
		}
	}
	if !bytes.Equal(c.rejects[1].Raw, []byte(`{"resourceType": "Patient", "id": "p-42"}`)) {
		t.Errorf("entry 3 raw = %s", c.rejects[1].Raw)
	}
	assertRawReproduces(t, c.rejects)
}

// assertRawReproduces checks the quarantine contract: each reject's Raw,
// parsed alone, gives a reject with the same reason.
func assertRawReproduces(t *testing.T, rejects []labtrust.Reject) {
	t.Helper()
	for _, r := range rejects {
		if strings.Contains(r.Reason, "exceeds") {
			continue // Raw holds a prefix only
		}
		c := parseBytes(t, r.Raw)
		if len(c.events) != 0 || len(c.rejects) != 1 {
			t.Errorf("%s: raw alone gave %d events, %d rejects", r.Position, len(c.events), len(c.rejects))
			continue
		}
		got := c.rejects[0].Reason
		// Alone, an entry is a document, not a line.
		want := strings.Replace(r.Reason, "line is not valid JSON", "resource is not valid JSON", 1)
		if got != want && !strings.HasPrefix(r.Reason, "Bundle.entry") {
			t.Errorf("%s: raw alone gave reason %q, want %q", r.Position, got, want)
		}
		if !bytes.Equal(c.rejects[0].Raw, r.Raw) {
			t.Errorf("%s: raw alone gave a different Raw", r.Position)
		}
	}
}

func TestNDJSONMixed(t *testing.T) {
	b, err := os.ReadFile("testdata/mixed.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	long := append([]byte(`{"resourceType":"AuditEvent","id":"`), bytes.Repeat([]byte("x"), MaxLine)...)
	long = append(long, `"}`...)
	b = append(b, long...)
	b = append(b, '\n')
	good, err := os.ReadFile("testdata/mixed.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, bytes.SplitN(good, []byte("\n"), 2)[0]...) // line 10, no final newline

	c := parseBytes(t, b)
	wantRejects := []struct{ pos, reason string }{
		{"line 3", "line is not valid JSON: unexpected end at offset 424"},
		{"line 4", `resourceType is "Patient", want "AuditEvent"`},
		{"line 5", "AuditEvent.recorded: missing"},
		{"line 6", "AuditEvent.outcome: not one of 0, 4, 8, 12"},
		{"line 9", "line exceeds 1048576 bytes"},
	}
	if len(c.rejects) != len(wantRejects) {
		t.Fatalf("got %d rejects, want %d: %+v", len(c.rejects), len(wantRejects), summarize(c.rejects))
	}
	for i, w := range wantRejects {
		r := c.rejects[i]
		if r.Position != w.pos || r.Reason != w.reason || r.Format != Format {
			t.Errorf("reject %d = %q %q, want %q %q", i, r.Position, r.Reason, w.pos, w.reason)
		}
	}
	if n := len(c.rejects[4].Raw); n != MaxLine {
		t.Errorf("long line raw has %d bytes, want the first %d", n, MaxLine)
	}
	lines := bytes.Split(good, []byte("\n"))
	if !bytes.Equal(c.rejects[1].Raw, lines[3]) {
		t.Errorf("line 4 raw is not the line")
	}
	var ids []string
	for _, e := range c.events {
		ids = append(ids, e.SourceRef)
	}
	if want := []string{"n1", "n7", "n1"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("events %v, want %v", ids, want)
	}
	if c.events[1].Outcome != labtrust.OutcomeMinorFailure || c.events[1].Kind != labtrust.KindSecurity {
		t.Errorf("n7 = %+v", c.events[1])
	}
	assertRawReproduces(t, c.rejects)
}

func summarize(rs []labtrust.Reject) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Position+": "+r.Reason)
	}
	return out
}

// TestRejectReasons covers the required elements and type errors one by one.
func TestRejectReasons(t *testing.T) {
	base := `"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"identifier":{"value":"u"}}}],"source":{"observer":{"display":"s"}}`
	tests := []struct {
		in, reason string
	}{
		{`{"type":{"code":"rest"}}`, "resourceType: missing"},
		{`{"resourceType":"auditevent <script>"}`, `resourceType is not "AuditEvent"`},
		{`[1,2]`, "resource is an array, want an object"},
		{`{"resourceType":"AuditEvent","recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"display":"u"}}],"source":{"observer":{}}}`, "AuditEvent.type: missing"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","source":{"observer":{}}}`, "AuditEvent.agent: missing"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[]}`, "AuditEvent.agent: missing"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"display":"u"}}]}`, "AuditEvent.source: missing"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"display":"u"}}],"source":{"site":"x"}}`, "AuditEvent.source.observer: missing"},
		{`{` + base + `,"recorded":"yesterday"}`, "resource is not valid JSON: duplicate member name at offset 171"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T25:00:00Z","agent":[{}],"source":{"observer":{}}}`, "AuditEvent.recorded: not a valid instant"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01","agent":[{}],"source":{"observer":{}}}`, "AuditEvent.recorded: not a valid instant"},
		{`{` + base + `,"action":"X"}`, "AuditEvent.action: not one of C, R, U, D, E"},
		{`{` + base + `,"outcome":0}`, "AuditEvent.outcome: want a string, got a number"},
		{`{` + base + `,"subtype":[{"code":1}]}`, "AuditEvent.subtype[0].code: want a string, got a number"},
		{`{` + base + `,"entity":[{},{"what":{"identifier":{"value":7}}}]}`, "AuditEvent.entity[1].what.identifier.value: want a string, got a number"},
		{`{` + base + `,"entity":[{"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}}]}`, "AuditEvent.entity[0].what: patient entity has no identifier and no Patient reference"},
		{`{` + base + `,"entity":[{"query":"%%%"}]}`, "AuditEvent.entity[0].query: not valid base64"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{}}}`, "actor: no identifier"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"display":"u"}},"x"],"source":{"observer":{}}}`, "AuditEvent.agent[1]: want an object, got a string"},
		{`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"display":"u"}}],"source":{"observer":{}},"entity":[{"what":{"reference":"Patient/ "}}]}`, "patients[0]: empty identifier"},
		{`{"resourceType":"AuditEvent"`, "resource is not valid JSON: unexpected end at offset 28"},
		{`{"resourceType":"AuditEvent",}`, "resource is not valid JSON: expected a member name at offset 29"},
	}
	for _, tt := range tests {
		c := parseBytes(t, []byte(tt.in))
		if len(c.events) != 0 || len(c.rejects) != 1 {
			t.Errorf("%s: got %d events %d rejects", tt.in, len(c.events), len(c.rejects))
			continue
		}
		r := c.rejects[0]
		if r.Reason != tt.reason || r.Position != "resource" || !bytes.Equal(r.Raw, []byte(tt.in)) {
			t.Errorf("%s:\n got %q at %q\nwant %q", tt.in, r.Reason, r.Position, tt.reason)
		}
	}
}

// TestReasonsCarryNoValues plants a marker in the values of bad fields and
// checks that no reject reason repeats it.
func TestReasonsCarryNoValues(t *testing.T) {
	const pii = "JaneDoe1970"
	inputs := []string{
		`{"resourceType":"` + pii + `"}`,
		`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"` + pii + `","agent":[{"who":{"display":"u"}}],"source":{"observer":{}}}`,
		`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","action":"` + pii + `","agent":[{"who":{"display":"u"}}],"source":{"observer":{}}}`,
		`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","outcome":"` + pii + `","agent":[{"who":{"display":"u"}}],"source":{"observer":{}}}`,
		`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"display":"u"}}],"source":{"observer":{}},"entity":[{"query":"` + pii + `!"}]}`,
		`{"resourceType":"AuditEvent","name":"` + pii + `" x}`,
		`{"resourceType":"AuditEvent","name":"` + pii + "\x01" + `"}`,
		"{\"resourceType\":\"AuditEvent\",\"name\":\"" + pii + "\xff\"}",
	}
	for _, in := range inputs {
		c := parseBytes(t, []byte(in))
		if len(c.rejects) != 1 {
			t.Fatalf("%s: %d rejects", in, len(c.rejects))
		}
		if strings.Contains(c.rejects[0].Reason, pii) || strings.Contains(c.rejects[0].Reason, "Jane") {
			t.Errorf("reason %q repeats a value", c.rejects[0].Reason)
		}
	}
}

func TestShapes(t *testing.T) {
	one, err := os.ReadFile("testdata/r4/audit-event-example-login.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, one); err != nil {
		t.Fatal(err)
	}
	line := compact.String()
	tests := []struct {
		name, in string
		events   int
		pos      []string // positions of rejects
	}{
		{"empty", "", 0, nil},
		{"only blank lines", "\n  \n\t\r\n", 0, nil},
		{"pretty with leading blank lines", "\n\n" + string(one) + "\n\n", 1, nil},
		{"one line no newline", line, 1, nil},
		{"ndjson blank lines", "\n" + line + "\n\n" + line + "\n", 2, nil},
		{"ndjson bad first line", "{\"resourceType\":\n" + line + "\n" + line + "\n", 2, []string{"line 1"}},
		{"ndjson garbage first line", "hello\n" + line + "\n", 1, []string{"line 1"}},
		{"pretty broken", "{\n \"resourceType\": \"AuditEvent\",\n \"id\": \n}\n", 0, []string{"resource"}},
		{"bundle on a line", line + "\n" + `{"resourceType":"Bundle","entry":[]}` + "\n", 1, []string{"line 2"}},
		{"empty bundle", `{"resourceType":"Bundle","type":"collection"}`, 0, nil},
		{"bundle entry not array", `{"resourceType":"Bundle","entry":{}}`, 0, []string{"resource"}},
		{"top-level number", "42", 0, []string{"resource"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseBytes(t, []byte(tt.in))
			var pos []string
			for _, r := range c.rejects {
				pos = append(pos, r.Position)
			}
			if len(c.events) != tt.events || !reflect.DeepEqual(pos, tt.pos) {
				t.Errorf("got %d events, rejects %v; want %d, %v", len(c.events), summarize(c.rejects), tt.events, tt.pos)
			}
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestErrors(t *testing.T) {
	ioErr := errors.New("disk on fire")
	err := Parse(context.Background(), "s", errReader{ioErr}, &collector{})
	if !errors.Is(err, ioErr) {
		t.Errorf("read error: got %v", err)
	}

	line, err := Encode(sampleEvent(1))
	if err != nil {
		t.Fatal(err)
	}
	in := bytes.Repeat(append(line, '\n'), 10)
	c := &collector{failAfter: 3}
	err = Parse(context.Background(), "s", bytes.NewReader(in), c)
	if !errors.Is(err, errSinkFull) || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("sink error: got %v", err)
	}
	if len(c.events) != 3 {
		t.Errorf("got %d events before the sink failed, want 3", len(c.events))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in = bytes.Repeat(append(line, '\n'), 2*ctxCheckEvery)
	err = Parse(ctx, "s", bytes.NewReader(in), &collector{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

// sampleEvent builds a realistic lab access event, varied by i.
func sampleEvent(i int) labtrust.Event {
	n := itoa(i)
	return labtrust.Event{
		Time:    time.Date(2025, 5, 6, 7, 8, 9, 123456789, time.UTC).Add(time.Duration(i) * time.Second),
		Source:  "lis-main",
		Kind:    labtrust.KindAccess,
		Type:    labtrust.Code{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "Restful Operation"},
		Subtype: []labtrust.Code{{System: "http://hl7.org/fhir/restful-interaction", Code: "read", Display: "read"}},
		Action:  labtrust.ActionRead,
		Outcome: labtrust.OutcomeSuccess,
		Actor: labtrust.Actor{ID: "staff-" + n, Name: "Technologist " + n, Role: "LABTECH", Site: "Main Lab, Building C",
			AltID: "sess-" + n, UserType: "person"},
		Patients:  []labtrust.PatientRef{{System: "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14", ID: "MRN" + n}},
		Objects:   []labtrust.Object{{Type: "DiagnosticReport", ID: "DiagnosticReport/dr-" + n, Role: "3"}},
		Network:   "10.20.30." + itoa(i%250),
		Purpose:   []labtrust.Code{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: "TREAT", Display: "treatment"}},
		SourceRef: "ae-" + n,
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestEncodeRoundTrip(t *testing.T) {
	events := []labtrust.Event{sampleEvent(0), sampleEvent(7)}
	sec := labtrust.Event{
		Time:    time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC),
		Source:  "idp",
		Kind:    labtrust.KindSecurity,
		Type:    labtrust.Code{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110114", Display: "User Authentication"},
		Subtype: []labtrust.Code{{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110122", Display: "Login"}},
		Action:  labtrust.ActionExecute, Outcome: labtrust.OutcomeSeriousFailure,
		Actor:   labtrust.Actor{ID: `we"ird\id` + "\t<&>", UserType: "system", Role: "x"},
		Network: "ws-17.lab.example",
	}
	events = append(events, sec)
	odd := sampleEvent(3)
	odd.Actor = labtrust.Actor{Name: "Only A Name"}
	odd.Patients = []labtrust.PatientRef{{System: "Patient", ID: "p-1"}, {ID: "no-system"}}
	odd.Objects = []labtrust.Object{{Type: "Query", Role: "24", Query: "GET /Observation?patient=p-1&code=1234-5 ünïcödé"}, {ID: "Binary/1"}}
	odd.Purpose = nil
	odd.Network = ""
	odd.Actor.Site = ""
	odd.Subtype = nil
	odd.Action = ""
	odd.Type = labtrust.Code{Code: "rest"}
	events = append(events, odd)
	for i, e := range events {
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if bytes.ContainsAny(b, "\n") || !json.Valid(b) {
			t.Fatalf("%d: not one line of valid JSON: %s", i, b)
		}
		c := &collector{}
		if err := Parse(context.Background(), e.Source, bytes.NewReader(b), c); err != nil {
			t.Fatal(err)
		}
		if len(c.events) != 1 {
			t.Fatalf("%d: rejects %+v\n%s", i, c.rejects, b)
		}
		if !reflect.DeepEqual(c.events[0], e) {
			t.Errorf("%d: round trip:\n got %+v\nwant %+v\n%s", i, c.events[0], e, b)
		}
	}
	if _, err := Encode(labtrust.Event{Source: "s", Actor: labtrust.Actor{ID: "\xff"}}); err == nil {
		t.Error("Encode accepted invalid UTF-8")
	}
}

func TestEncodeSize(t *testing.T) {
	total := 0
	for i := 0; i < 100; i++ {
		b, err := Encode(sampleEvent(i))
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
	}
	if avg := total / 100; avg < 1300 || avg > 1900 {
		t.Errorf("average encoded size %d bytes, want about 1.5 KB", avg)
	}
}

func TestRefType(t *testing.T) {
	tests := []struct{ ref, typ, id string }{
		{"Patient/123", "Patient", "123"},
		{"https://x.org/fhir/Patient/123/_history/2", "Patient", "123"},
		{"Patient/123/", "Patient", "123"},
		{"#o1", "", ""},
		{"urn:uuid:1234", "", ""},
		{"Patient", "", ""},
		{"patient/1", "", ""},
		{"/1", "", ""},
	}
	for _, tt := range tests {
		typ, id, ok := refType(tt.ref)
		if typ != tt.typ || id != tt.id || ok != (tt.typ != "") {
			t.Errorf("refType(%q) = %q %q %v", tt.ref, typ, id, ok)
		}
	}
}

func TestJSONDuplicatesLargeObject(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 50000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + itoa(i) + `":1`)
	}
	var p jsonParser
	start := time.Now()
	if err := p.parse([]byte(b.String() + "}")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("50,000 members took %v", d)
	}
	err := p.parse([]byte(b.String() + `,"k49999":2}`))
	if err == nil || !strings.Contains(err.Error(), "duplicate member name") {
		t.Errorf("got %v, want a duplicate member name error", err)
	}
	if err := p.parse([]byte(`{"a":1,"b":{"a":2},"\u0061":3}`)); err == nil {
		t.Error("escaped duplicate accepted")
	}
}
