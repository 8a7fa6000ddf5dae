package csvsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"go.yaml.in/yaml/v3"
)

// collect is a Sink that keeps everything, in order.
type collect struct {
	events  []labtrust.Event
	rejects []labtrust.Reject
	order   []string // "event" or "reject", to check nothing is reordered
}

func (c *collect) Event(_ context.Context, e labtrust.Event) error {
	c.events = append(c.events, e)
	c.order = append(c.order, "event")
	return nil
}

func (c *collect) Reject(_ context.Context, r labtrust.Reject) error {
	c.rejects = append(c.rejects, r)
	c.order = append(c.order, "reject")
	return nil
}

func parseString(t *testing.T, m Mapping, in string) *collect {
	t.Helper()
	var c collect
	if err := Parse(context.Background(), "lis", m, strings.NewReader(in), &c); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return &c
}

const hdr = "accessed_at,user,action,result,mrn,note\n"

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseRows(t *testing.T) {
	// Cells that look like PHI: no reason may repeat them.
	const secret = "MRN-SECRET-42"
	tests := []struct {
		name   string
		row    string
		want   *labtrust.Event // nil: a reject is expected
		reason string
	}{
		{
			name: "view",
			row:  "2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\n",
			want: &labtrust.Event{Time: utc("2025-03-03 08:01"), Source: "lis", Kind: labtrust.KindAccess, Action: "R",
				Actor: labtrust.Actor{ID: "jdoe"}, Patients: []labtrust.PatientRef{{ID: "MRN-1"}}},
		},
		{
			name: "print has an object role, denied is minor failure",
			row:  "2025-03-03 08:01,jdoe,PRINT,DENIED,MRN-1,\n",
			want: &labtrust.Event{Time: utc("2025-03-03 08:01"), Source: "lis", Kind: labtrust.KindAccess, Action: "R",
				Outcome: 4, Actor: labtrust.Actor{ID: "jdoe"}, Patients: []labtrust.PatientRef{{ID: "MRN-1"}},
				Objects: []labtrust.Object{{Role: "print"}}},
		},
		{
			name: "case-insensitive match, spaces trimmed, quoted cell",
			row:  " 2025-03-03 08:01 ,\"jdoe\",view,ok, MRN-1 ,\"a, b\"\n",
			want: &labtrust.Event{Time: utc("2025-03-03 08:01"), Source: "lis", Kind: labtrust.KindAccess, Action: "R",
				Actor: labtrust.Actor{ID: "jdoe"}, Patients: []labtrust.PatientRef{{ID: "MRN-1"}}},
		},
		{
			name: "no patient derives security",
			row:  "2025-03-03 08:01,jdoe,EDIT,OK,,\n",
			want: &labtrust.Event{Time: utc("2025-03-03 08:01"), Source: "lis", Kind: labtrust.KindSecurity, Action: "U",
				Actor: labtrust.Actor{ID: "jdoe"}},
		},
		{
			name: "last row without newline",
			row:  "2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,",
			want: &labtrust.Event{Time: utc("2025-03-03 08:01"), Source: "lis", Kind: labtrust.KindAccess, Action: "R",
				Actor: labtrust.Actor{ID: "jdoe"}, Patients: []labtrust.PatientRef{{ID: "MRN-1"}}},
		},
		{
			name: "multi-line quoted note",
			row:  "2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\"line one\nline two\"\n",
			want: &labtrust.Event{Time: utc("2025-03-03 08:01"), Source: "lis", Kind: labtrust.KindAccess, Action: "R",
				Actor: labtrust.Actor{ID: "jdoe"}, Patients: []labtrust.PatientRef{{ID: "MRN-1"}}},
		},
		{name: "bad time", row: "03/03/2025 08:01,jdoe,VIEW,OK," + secret + ",\n",
			reason: `line 2: column "accessed_at": cannot parse time with layout "2006-01-02 15:04"`},
		{name: "empty time", row: ",jdoe,VIEW,OK," + secret + ",\n",
			reason: `line 2: column "accessed_at": empty`},
		{name: "time before 1970", row: "1899-12-31 00:00,jdoe,VIEW,OK," + secret + ",\n",
			reason: `line 2: column "accessed_at": time is before 1970 or after 9999`},
		{name: "unknown action", row: "2025-03-03 08:01,jdoe,ARCHIVE-" + secret + ",OK," + secret + ",\n",
			reason: `line 2: column "action": value is not in actionMap`},
		{name: "empty action", row: "2025-03-03 08:01,jdoe,,OK," + secret + ",\n",
			reason: `line 2: column "action": value is not in actionMap`},
		{name: "unknown outcome", row: "2025-03-03 08:01,jdoe,VIEW,MAYBE," + secret + ",\n",
			reason: `line 2: column "result": value is not in outcomeMap`},
		{name: "no actor", row: "2025-03-03 08:01,,VIEW,OK," + secret + ",\n",
			reason: `line 2: actor: no identifier`},
		{name: "short row", row: "2025-03-03 08:01,jdoe,VIEW\n",
			reason: `line 2: column "result": the row has only 3 fields`},
		{name: "invalid UTF-8", row: "2025-03-03 08:01,j\xffdoe,VIEW,OK," + secret + ",\n",
			reason: `line 2: column "user": not valid UTF-8`},
		{name: "bare quote", row: "2025-03-03 08:01,jdoe,VIEW,OK," + secret + "\"x,\n",
			reason: `line 2: malformed CSV at line 2, byte 44: bare " in non-quoted-field`},
		{name: "text after closing quote", row: "2025-03-03 08:01,\"jdoe\"x,VIEW,OK," + secret + ",\n",
			reason: `line 2: malformed CSV at line 2, byte 23: extraneous or missing " in quoted-field`},
		{name: "unclosed quote at end of input", row: "2025-03-03 08:01,jdoe,VIEW,OK,\"" + secret + ",\n",
			reason: `line 2: malformed CSV at line 2, byte 47: extraneous or missing " in quoted-field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseString(t, baseMapping(), hdr+tt.row)
			if len(c.events)+len(c.rejects) != 1 {
				t.Fatalf("got %d events and %d rejects, want exactly one", len(c.events), len(c.rejects))
			}
			if tt.want != nil {
				if len(c.events) != 1 {
					t.Fatalf("want an event, got reject %q", c.rejects[0].Reason)
				}
				if !reflect.DeepEqual(c.events[0], *tt.want) {
					t.Fatalf("event\n got %+v\nwant %+v", c.events[0], *tt.want)
				}
				return
			}
			if len(c.rejects) != 1 {
				t.Fatalf("want a reject, got event %+v", c.events[0])
			}
			r := c.rejects[0]
			if r.Reason != tt.reason {
				t.Errorf("reason\n got %q\nwant %q", r.Reason, tt.reason)
			}
			if r.Position != "line 2" || r.Format != "csv" || r.Source != "lis" {
				t.Errorf("reject position/format/source = %q %q %q", r.Position, r.Format, r.Source)
			}
			if strings.Contains(r.Reason, secret) || strings.Contains(r.Reason, "jdoe") || strings.Contains(r.Reason, "03/03") {
				t.Errorf("reason repeats a cell value: %q", r.Reason)
			}
			if want := hdr + tt.row; string(r.Raw) != want {
				t.Errorf("raw\n got %q\nwant %q", r.Raw, want)
			}
		})
	}
}

// TestParseLinesAndResync checks positions across comments, blank lines,
// CRLF and multi-line rows, and that a malformed row does not stop the rows
// after it.
func TestParseLinesAndResync(t *testing.T) {
	m := baseMapping()
	m.Comment = "#"
	in := "# exported by LIS 4.2\r\n" + // line 1
		"\r\n" + // 2
		strings.ReplaceAll(hdr, "\n", "\r\n") + // 3
		"2025-03-03 08:01,u1,VIEW,OK,MRN-1,\"multi\r\nline\"\r\n" + // 4-5
		"\r\n" + // 6
		"# a comment between rows\r\n" + // 7
		"2025-03-03 08:02,u2,VIEW,OK,MRN-2,bad\"quote\r\n" + // 8
		"2025-03-03 08:03,u3,NOPE,OK,MRN-3,\r\n" + // 9
		"2025-03-03 08:04,u4,\"VIEW\"oops,OK,MRN-4,\r\n" + // 10
		"2025-03-03 08:05,u5,EDIT,OK,MRN-5,\r\n" // 11
	c := parseString(t, m, in)
	if got, want := strings.Join(c.order, " "), "event reject reject reject event"; got != want {
		t.Fatalf("order = %q, want %q", got, want)
	}
	var pos []string
	for _, r := range c.rejects {
		pos = append(pos, r.Position)
	}
	if got := strings.Join(pos, ","); got != "line 8,line 9,line 10" {
		t.Errorf("positions = %s", got)
	}
	if c.events[0].Actor.ID != "u1" || c.events[1].Actor.ID != "u5" {
		t.Errorf("events are from %q and %q", c.events[0].Actor.ID, c.events[1].Actor.ID)
	}
	// Raw carries the header and the row, not the comment and blank lines
	// before either.
	wantRaw := strings.ReplaceAll(hdr, "\n", "\r\n") + "2025-03-03 08:02,u2,VIEW,OK,MRN-2,bad\"quote\r\n"
	if string(c.rejects[0].Raw) != wantRaw {
		t.Errorf("raw = %q, want %q", c.rejects[0].Raw, wantRaw)
	}
	// Every Raw re-ingests as exactly one record on its own.
	for _, r := range c.rejects {
		again := parseString(t, m, string(r.Raw))
		if len(again.rejects) != 1 || len(again.events) != 0 {
			t.Errorf("re-parse of %s: %d events %d rejects", r.Position, len(again.events), len(again.rejects))
			continue
		}
		if got, want := strings.TrimPrefix(again.rejects[0].Reason, "line 2: "), strings.SplitN(r.Reason, ": ", 2)[1]; got != want &&
			!strings.HasPrefix(got, "malformed CSV") {
			t.Errorf("re-parse reason %q, first time %q", got, want)
		}
	}
}

// TestRetryAfterMappingFix is the quarantine round trip: a mapping that names
// a column the export lacks rejects every row; Parse of each Raw with the
// fixed mapping yields exactly the events a correct first run would have.
func TestRetryAfterMappingFix(t *testing.T) {
	in, err := os.ReadFile("testdata/lis-export.csv")
	if err != nil {
		t.Fatal(err)
	}
	good := loadSampleMapping(t)
	wrong := good
	wrong.Columns.Time = "access_time" // the LIS calls it accessed_at
	wrong.Columns.Network = "terminal"

	first := parseString(t, wrong, string(in))
	if len(first.events) != 0 || len(first.rejects) != 30 {
		t.Fatalf("wrong mapping: %d events, %d rejects; want 0 and 30", len(first.events), len(first.rejects))
	}
	for i, r := range first.rejects {
		want := fmt.Sprintf(`line %d: mapping names columns "access_time", "terminal", which the header lacks`, i+2)
		if r.Reason != want {
			t.Fatalf("reject %d reason %q, want %q", i, r.Reason, want)
		}
	}

	direct := parseString(t, good, string(in))
	var retried collect
	for _, r := range first.rejects {
		if err := Parse(context.Background(), "lis", good, bytes.NewReader(r.Raw), &retried); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(retried.events, direct.events) {
		t.Fatalf("retried events differ from a direct parse:\n got %d events\nwant %d", len(retried.events), len(direct.events))
	}
	if len(retried.rejects) != len(direct.rejects) {
		t.Fatalf("retry left %d rejects, direct parse %d", len(retried.rejects), len(direct.rejects))
	}
	for i := range retried.rejects {
		// Reasons match except for the line number, which is 2 in a Raw.
		a := strings.SplitN(retried.rejects[i].Reason, ": ", 2)[1]
		b := strings.SplitN(direct.rejects[i].Reason, ": ", 2)[1]
		if a != b || !bytes.Equal(retried.rejects[i].Raw, direct.rejects[i].Raw) {
			t.Errorf("reject %d: retry %q / direct %q", i, a, b)
		}
	}
}

func TestHeaderLacksOneColumn(t *testing.T) {
	m := baseMapping()
	m.Columns.Network = "ip"
	c := parseString(t, m, hdr+"2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\n2025-03-03 08:02,jdoe,VIEW,OK,MRN-1,\n")
	if len(c.rejects) != 2 || len(c.events) != 0 {
		t.Fatalf("%d rejects %d events", len(c.rejects), len(c.events))
	}
	if want := `line 3: mapping names column "ip", which the header lacks`; c.rejects[1].Reason != want {
		t.Errorf("reason %q, want %q", c.rejects[1].Reason, want)
	}
}

func TestHeaderAmbiguous(t *testing.T) {
	c := parseString(t, baseMapping(), "accessed_at,user,action,result,mrn,mrn\n2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,MRN-2\n")
	if len(c.rejects) != 1 {
		t.Fatalf("%d rejects", len(c.rejects))
	}
	if want := `line 2: the header has column "mrn" more than once, so the mapping is ambiguous`; c.rejects[0].Reason != want {
		t.Errorf("reason %q", c.rejects[0].Reason)
	}
}

func TestHeaderMalformed(t *testing.T) {
	c := parseString(t, baseMapping(), "accessed_at,us\"er,action\n2025-03-03 08:01,jdoe,VIEW\n")
	if len(c.rejects) != 2 || len(c.events) != 0 {
		t.Fatalf("%d rejects %d events", len(c.rejects), len(c.events))
	}
	if want := `line 1: header: malformed CSV at line 1, byte 15: bare " in non-quoted-field`; c.rejects[0].Reason != want {
		t.Errorf("header reason %q", c.rejects[0].Reason)
	}
	if want := `line 2: the header (line 1) is malformed CSV, so no column can be found`; c.rejects[1].Reason != want {
		t.Errorf("row reason %q", c.rejects[1].Reason)
	}
	if want := "accessed_at,us\"er,action\n2025-03-03 08:01,jdoe,VIEW\n"; string(c.rejects[1].Raw) != want {
		t.Errorf("row raw %q", c.rejects[1].Raw)
	}
}

func TestHeaderBOMAndEmptyInput(t *testing.T) {
	c := parseString(t, baseMapping(), "\uFEFF"+hdr+"2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\n")
	if len(c.events) != 1 {
		t.Fatalf("BOM header: %d events, rejects %+v", len(c.events), c.rejects)
	}
	for _, in := range []string{"", "\n\n", hdr, strings.TrimSuffix(hdr, "\n")} {
		c := parseString(t, baseMapping(), in)
		if len(c.order) != 0 {
			t.Errorf("input %q produced %v", in, c.order)
		}
	}
}

func TestNoHeader(t *testing.T) {
	m := Mapping{
		Header:     new(false),
		Delimiter:  ";",
		TimeLayout: "unix",
		Columns:    Columns{Time: "1", ActorName: "2", PatientID: "3", PatientIDs: []string{"4"}, Outcome: "5"},
		Kind:       labtrust.KindAccess,
	}
	in := "1741000000;Dr Who;P1;P2;0\n" +
		"1741000000.25;Dr Who;P1;P1;12\n" + // same patient twice: named once
		"1741000000;Dr Who;;;0\n" + // kind access without patient
		"1741000000;Dr Who;P1\n" + // too short for column 4
		"1741000000;Dr Who;P1;;3\n" // not an outcome code
	c := parseString(t, m, in)
	if len(c.events) != 2 {
		t.Fatalf("%d events, rejects %+v", len(c.events), c.rejects)
	}
	want0 := labtrust.Event{Time: time.Unix(1741000000, 0).UTC(), Source: "lis", Kind: labtrust.KindAccess,
		Actor: labtrust.Actor{Name: "Dr Who"}, Patients: []labtrust.PatientRef{{ID: "P1"}, {ID: "P2"}}}
	if !reflect.DeepEqual(c.events[0], want0) {
		t.Errorf("event 0\n got %+v\nwant %+v", c.events[0], want0)
	}
	if e := c.events[1]; e.Time != time.Unix(1741000000, 250_000_000).UTC() || len(e.Patients) != 1 || e.Outcome != 12 {
		t.Errorf("event 1 = %+v", e)
	}
	wantReasons := []string{
		"line 3: patients: an access event must name at least one patient",
		"line 4: column 5: the row has only 3 fields",
		"line 5: column 5: value is not one of 0 4 8 12 (and outcomeMap is empty)",
	}
	for i, r := range c.rejects {
		if i >= len(wantReasons) || r.Reason != wantReasons[i] {
			t.Errorf("reject %d: %q", i, r.Reason)
		}
	}
	// Without a header, Raw is just the row.
	if string(c.rejects[1].Raw) != "1741000000;Dr Who;P1\n" {
		t.Errorf("raw %q", c.rejects[1].Raw)
	}
}

func TestTimeLayouts(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	tests := []struct {
		layout, zone, cell string
		want               time.Time // zero: rejected
	}{
		{"", "", "2025-03-03T08:01:02Z", time.Date(2025, 3, 3, 8, 1, 2, 0, time.UTC)},
		{"rfc3339", "America/Chicago", "2025-03-03T08:01:02.123456+01:00", time.Date(2025, 3, 3, 7, 1, 2, 123456000, time.UTC)},
		{"rfc3339", "", "2025-03-03 08:01:02", time.Time{}},
		{"2006-01-02 15:04:05", "America/Chicago", "2025-07-01 08:00:00", time.Date(2025, 7, 1, 8, 0, 0, 0, chicago).UTC()},
		{"02.01.2006 15:04", "", "01.07.2025 08:00", time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)},
		{"unixms", "", "1741000000123", time.UnixMilli(1741000000123).UTC()},
		{"unixms", "", "1741000000.5", time.Time{}},
		{"unix", "", "1741000000.000000001", time.Unix(1741000000, 1).UTC()},
		{"unix", "", "1741000000.", time.Time{}},
		{"unix", "", "+1741000000", time.Time{}},
		{"unix", "", "1741000000.0000000001", time.Time{}},
		{"unix", "", "99999999999999", time.Time{}}, // after 9999
	}
	for _, tt := range tests {
		m := baseMapping()
		m.TimeLayout, m.TimeZone = tt.layout, tt.zone
		c := parseString(t, m, hdr+tt.cell+",jdoe,VIEW,OK,MRN-1,\n")
		switch {
		case tt.want.IsZero() && len(c.rejects) != 1:
			t.Errorf("%s %q: accepted as %v", tt.layout, tt.cell, c.events[0].Time)
		case !tt.want.IsZero() && len(c.events) != 1:
			t.Errorf("%s %q: rejected: %s", tt.layout, tt.cell, c.rejects[0].Reason)
		case !tt.want.IsZero() && (!c.events[0].Time.Equal(tt.want) || c.events[0].Time.Location() != time.UTC):
			t.Errorf("%s %q: got %v, want %v", tt.layout, tt.cell, c.events[0].Time, tt.want)
		}
	}
}

func TestTooLongRow(t *testing.T) {
	m := baseMapping()
	m.MaxRowBytes = 64
	long := "2025-03-03 08:01,jdoe,VIEW,OK,MRN-1," + strings.Repeat("x", 20000) + "\n"
	unclosed := "2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\"" + strings.Repeat("y\n", 10000) + "\"\n"
	justOver := "2025-03-03 08:01,jdoe,VIEW,OK,MRN-1," + strings.Repeat("z", 40) + "\n"
	ok := "2025-03-03 08:02,jdoe,VIEW,OK,MRN-1,\n"
	in := hdr + ok + long + ok + unclosed + ok + justOver + ok
	c := parseString(t, m, in)
	if got, want := strings.Join(c.order, " "), "event reject event reject event reject event"; got != want {
		t.Fatalf("order = %q, want %q; rejects %+v", got, want, c.rejects)
	}
	wantPos := []string{"line 3", "line 5", "line 10007"}
	for i, r := range c.rejects {
		if r.Position != wantPos[i] {
			t.Errorf("reject %d at %s, want %s", i, r.Position, wantPos[i])
		}
		if !strings.Contains(r.Reason, "longer than 64 bytes") {
			t.Errorf("reject %d reason %q", i, r.Reason)
		}
		if len(r.Raw) > len(hdr)+len(justOver) {
			t.Errorf("reject %d raw is %d bytes", i, len(r.Raw))
		}
	}
	if !bytes.HasPrefix(c.rejects[0].Raw, []byte(hdr+long[:64])) {
		t.Errorf("raw of a too-long row does not start with header and row: %q", c.rejects[0].Raw)
	}
}

// TestBoundedMemory streams a large input whose every row is too long (an
// unclosed quote) and checks that the recorder never holds much more than
// one row, whatever the input size.
func TestBoundedMemory(t *testing.T) {
	m := baseMapping()
	m.MaxRowBytes = 1024
	body := io.MultiReader(strings.NewReader(hdr+"2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\"open\n"),
		io.LimitReader(repeatReader('a'), 32<<20))
	var c collect
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := Parse(context.Background(), "lis", m, body, &c); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if len(c.rejects) != 1 || len(c.rejects[0].Raw) > len(hdr)+1024 {
		t.Fatalf("%d rejects", len(c.rejects))
	}
	// Holding the 32 MiB row would allocate at least that much.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("parsing a 32 MiB row allocated %d bytes", alloc)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

var errBoom = errors.New("boom")

type failingSink struct {
	collect
	failAfter int
}

func (f *failingSink) Event(ctx context.Context, e labtrust.Event) error {
	if len(f.order) >= f.failAfter {
		return errBoom
	}
	return f.collect.Event(ctx, e)
}

func (f *failingSink) Reject(ctx context.Context, r labtrust.Reject) error {
	if len(f.order) >= f.failAfter {
		return fmt.Errorf("wrapped: %w", labtrust.ErrPushback)
	}
	return f.collect.Reject(ctx, r)
}

func TestErrors(t *testing.T) {
	row := "2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\n"
	bad := "nope,jdoe,VIEW,OK,MRN-1,\n"

	s := &failingSink{failAfter: 1}
	err := Parse(context.Background(), "lis", baseMapping(), strings.NewReader(hdr+row+row+row), s)
	if !errors.Is(err, errBoom) || len(s.order) != 1 || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("event sink error: %v after %d", err, len(s.order))
	}
	s = &failingSink{failAfter: 0}
	err = Parse(context.Background(), "lis", baseMapping(), strings.NewReader(hdr+bad), s)
	if !errors.Is(err, labtrust.ErrPushback) {
		t.Errorf("reject sink error: %v", err)
	}

	var c collect
	err = Parse(context.Background(), "lis", baseMapping(), io.MultiReader(strings.NewReader(hdr+row), iotestErr{}), &c)
	if !errors.Is(err, errBoom) || len(c.events) != 1 {
		t.Errorf("read error: %v, %d events", err, len(c.events))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Parse(ctx, "lis", baseMapping(), strings.NewReader(hdr+row), &c); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}

	if err := Parse(context.Background(), "", baseMapping(), strings.NewReader(hdr+row), &c); err == nil {
		t.Error("empty source accepted")
	}
	m := baseMapping()
	m.TimeLayout = "rfc3999"
	if err := Parse(context.Background(), "lis", m, strings.NewReader(hdr+row), &c); err == nil || !strings.Contains(err.Error(), `timeLayout: unknown name "rfc3999"`) {
		t.Errorf("bad mapping: %v", err)
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errBoom }

func loadSampleMapping(t testing.TB) Mapping {
	t.Helper()
	b, err := os.ReadFile("testdata/lis-mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m Mapping
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSampleExport(t *testing.T) {
	f, err := os.Open("testdata/lis-export.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c collect
	if err := Parse(context.Background(), "lis-main", loadSampleMapping(t), f, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.events) != 28 || len(c.rejects) != 2 {
		t.Fatalf("%d events, %d rejects; want 28 and 2", len(c.events), len(c.rejects))
	}
	wantRejects := []string{
		`line 16: column "action": value is not in actionMap`,
		`line 22: column "accessed_at": cannot parse time with layout "2006-01-02 15:04:05"`,
	}
	for i, r := range c.rejects {
		if r.Reason != wantRejects[i] {
			t.Errorf("reject %d: %q, want %q", i, r.Reason, wantRejects[i])
		}
	}
	const mrnSystem = "urn:oid:2.16.840.1.113883.19.5"
	treat := []labtrust.Code{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: "TREAT"}}
	mls := labtrust.Actor{ID: "mkhan", Name: "Morgan Khan", Role: "MLS", Site: "Main Lab"}
	byRef := map[string]labtrust.Event{}
	kinds := map[labtrust.Kind]int{}
	for _, e := range c.events {
		byRef[e.SourceRef] = e
		kinds[e.Kind]++
		if _, err := (&labtrust.Entry{Event: e}).MarshalCanonical(); err != nil {
			t.Errorf("%s: canonical: %v", e.SourceRef, err)
		}
	}
	if kinds[labtrust.KindAccess] != 19 || kinds[labtrust.KindSecurity] != 9 {
		t.Errorf("kinds = %v", kinds)
	}
	want := map[string]labtrust.Event{
		// CST is UTC-6 on 3 March.
		"A-10011": {Time: time.Date(2025, 3, 3, 15, 10, 44, 0, time.UTC), Source: "lis-main", Kind: labtrust.KindAccess,
			Action: "R", Actor: mls, Network: "10.20.1.31", SourceRef: "A-10011", Purpose: treat,
			Patients: []labtrust.PatientRef{{System: mrnSystem, ID: "MRN-000105"}, {System: mrnSystem, ID: "MRN-000106"}},
			Objects:  []labtrust.Object{{Type: "DiagnosticReport", ID: "ACC-25-0004"}}},
		"A-10009": {Time: time.Date(2025, 3, 3, 15, 2, 55, 0, time.UTC), Source: "lis-main", Kind: labtrust.KindSecurity,
			Action: "E", Outcome: 4, Actor: mls, Network: "10.20.1.31", SourceRef: "A-10009"},
		"A-10006": {Time: time.Date(2025, 3, 3, 14, 20, 47, 0, time.UTC), Source: "lis-main", Kind: labtrust.KindAccess,
			Action: "R", Actor: labtrust.Actor{ID: "asmith", Name: "Alex Smith", Role: "Pathologist", Site: "Main Lab"},
			Network: "10.20.1.22", SourceRef: "A-10006", Purpose: treat,
			Patients: []labtrust.PatientRef{{System: mrnSystem, ID: "MRN-000102"}},
			Objects:  []labtrust.Object{{Type: "DiagnosticReport", ID: "ACC-25-0002", Role: "print"}}},
		"A-10024": {Time: time.Date(2025, 3, 3, 18, 30, 44, 0, time.UTC), Source: "lis-main", Kind: labtrust.KindAccess,
			Action: "R", Outcome: 8, Actor: mls, Network: "10.20.1.31", SourceRef: "A-10024", Purpose: treat,
			Patients: []labtrust.PatientRef{{System: mrnSystem, ID: "MRN-000111"}},
			Objects:  []labtrust.Object{{Type: "DiagnosticReport", ID: "ACC-25-0010"}}},
	}
	for ref, w := range want {
		if got := byRef[ref]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s\n got %+v\nwant %+v", ref, got, w)
		}
	}
}
