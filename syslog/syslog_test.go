package syslog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func fixed(s string) func() time.Time { return func() time.Time { return at(s) } }

func authEvent(tm, user, network, site string, outcome labtrust.Outcome, sub labtrust.Code) labtrust.Event {
	return labtrust.Event{
		Time: at(tm), Source: "hosts", Kind: labtrust.KindSecurity,
		Type: typeUserAuth, Subtype: []labtrust.Code{sub}, Action: labtrust.ActionExecute,
		Outcome: outcome, Actor: labtrust.Actor{ID: user, Site: site}, Network: network,
	}
}

func lines(t *testing.T, name string) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, name)))
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// The examples of RFC 5424 section 6.5 and RFC 3164 section 5.4: the su
// failure is a security event; the others are valid syslog this package has
// no mapping for, or (the last RFC 3164 one) not parseable.
func TestRFCExamples(t *testing.T) {
	p := Parser{Now: fixed("2003-11-01T00:00:00Z"), Location: time.UTC}
	ex5424 := lines(t, "rfc5424-examples.txt")
	ex3164 := lines(t, "rfc3164-examples.txt")
	if len(ex5424) != 4 || len(ex3164) != 4 {
		t.Fatalf("want 4 examples each, have %d and %d", len(ex5424), len(ex3164))
	}
	tests := []struct {
		raw     []byte
		want    labtrust.Event
		wantErr error
	}{
		{ex5424[0], authEvent("2003-10-11T22:14:15.003Z", "lonvick", "", "mymachine.example.com", labtrust.OutcomeMinorFailure, subLogin), nil},
		{ex5424[1], labtrust.Event{}, ErrUnrecognized},
		{ex5424[2], labtrust.Event{}, ErrUnrecognized},
		{ex5424[3], labtrust.Event{}, ErrUnrecognized},
		{ex3164[0], authEvent("2003-10-11T22:14:15Z", "lonvick", "", "mymachine", labtrust.OutcomeMinorFailure, subLogin), nil},
		{ex3164[1], labtrust.Event{}, ErrUnrecognized},
		{ex3164[2], labtrust.Event{}, ErrUnrecognized},
		{ex3164[3], labtrust.Event{}, ErrNoHeader},
	}
	for i, tc := range tests {
		got, err := p.ParseMessage("hosts", tc.raw)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%d: error %v, want %v", i, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: %v", i, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d:\n got %+v\nwant %+v", i, got, tc.want)
		}
	}
}

func TestSecurityLines(t *testing.T) {
	p := Parser{Now: fixed("2025-03-10T12:00:00Z"), Location: time.UTC}
	const ts = "2025-03-09T08:07:06Z"
	tests := []struct {
		line string
		want labtrust.Event
	}{
		{"<38>Mar  9 08:07:06 lab1 sshd[4242]: Accepted publickey for alice from 10.1.2.3 port 51514 ssh2: ED25519 SHA256:abc",
			authEvent(ts, "alice", "10.1.2.3", "lab1", 0, subLogin)},
		{"Mar  9 08:07:06 lab1 sshd[4242]: Accepted password for bob from 2001:db8::7 port 22 ssh2",
			authEvent(ts, "bob", "2001:db8::7", "lab1", 0, subLogin)},
		{"<38>1 2025-03-09T08:07:06Z lab1 sshd 4242 - - Failed password for carol from 10.9.9.9 port 40000 ssh2",
			authEvent(ts, "carol", "10.9.9.9", "lab1", 4, subLogin)},
		{"<38>Mar  9 08:07:06 lab1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port 40001 ssh2",
			authEvent(ts, "admin", "203.0.113.5", "lab1", 8, subLogin)},
		{"<38>Mar  9 08:07:06 lab1 sshd[4242]: Invalid user oracle from 203.0.113.5 port 40002",
			authEvent(ts, "oracle", "203.0.113.5", "lab1", 8, subLogin)},
		{"<86>Mar  9 08:07:06 lab1 sshd[4242]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.4  user=dave",
			authEvent(ts, "dave", "198.51.100.4", "lab1", 4, subLogin)},
		{"<86>Mar  9 08:07:06 lab1 sudo: pam_unix(sudo:auth): authentication failure; logname=erin uid=1000 euid=0 tty=/dev/pts/0 ruser=erin rhost=",
			authEvent(ts, "erin", "", "lab1", 4, subLogin)},
		{"<86>Mar  9 08:07:06 lab1 sshd[4242]: pam_unix(sshd:session): session opened for user frank(uid=1001) by (uid=0)",
			authEvent(ts, "frank", "", "lab1", 0, subLogin)},
		{"<86>Mar  9 08:07:06 lab1 sshd[4242]: pam_unix(sshd:session): session opened for user frank by (uid=0)",
			authEvent(ts, "frank", "", "lab1", 0, subLogin)},
		{"<86>Mar  9 08:07:06 lab1 sshd[4242]: pam_unix(sshd:session): session closed for user frank",
			authEvent(ts, "frank", "", "lab1", 0, subLogout)},
		{"<34>Mar  9 08:07:06 lab1 su[99]: FAILED SU (to root) grace on pts/1",
			authEvent(ts, "grace", "", "lab1", 4, subLogin)},
		{"<34>Mar  9 08:07:06 lab1 su[99]: FAILED su for root by heidi",
			authEvent(ts, "heidi", "", "lab1", 4, subLogin)},
		{"<85>Mar  9 08:07:06 lab1 sudo:     ivan : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/ivan ; USER=root ; COMMAND=/usr/bin/id",
			authEvent(ts, "ivan", "", "lab1", 4, subLogin)},
		{"<85>Mar  9 08:07:06 lab1 sudo: judy : user NOT in sudoers ; TTY=pts/0 ; PWD=/home/judy ; USER=root ; COMMAND=/bin/sh",
			authEvent(ts, "judy", "", "lab1", 4, subLogin)},
		{`<134>1 2025-03-09T08:07:06+00:00 app1 lis - - - ts=x user="kim lee" src=192.0.2.9 action=login outcome=success`,
			authEvent(ts, "kim lee", "192.0.2.9", "app1", 0, subLogin)},
		{`<134>1 2025-03-09T08:07:06Z app1 lis - - - user=kim action=LOGOUT`,
			authEvent(ts, "kim", "", "app1", 0, subLogout)},
		{`<134>1 2025-03-09T08:07:06Z app1 lis - - - action=failure user=kim src_ip=192.0.2.9`,
			authEvent(ts, "kim", "192.0.2.9", "app1", 4, subLogin)},
		{`<134>1 2025-03-09T08:07:06Z app1 lis - - - action=login user=kim outcome=denied`,
			authEvent(ts, "kim", "", "app1", 4, subLogin)},
		{`<134>1 2025-03-09T08:07:06Z app1 lis - - - action=login user=kim outcome=invalid_user`,
			authEvent(ts, "kim", "", "app1", 8, subLogin)},
		// A UTF-8 BOM before MSG, as RFC 5424 allows.
		{"<134>1 2025-03-09T08:07:06Z app1 lis - - - \ufeffaction=login user=kim",
			authEvent(ts, "kim", "", "app1", 0, subLogin)},
	}
	for _, tc := range tests {
		got, err := p.ParseMessage("hosts", []byte(tc.line))
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}

	unrecognized := []string{
		"<38>Mar  9 08:07:06 lab1 sshd[4242]: Disconnected from user alice 10.1.2.3 port 51514",
		"<85>Mar  9 08:07:06 lab1 sudo: ivan : TTY=pts/0 ; PWD=/home/ivan ; USER=root ; COMMAND=/usr/bin/id",
		"<134>1 2025-03-09T08:07:06Z app1 lis - - - user=kim action=print",
		"<134>1 2025-03-09T08:07:06Z app1 lis - - - user=kim action=login outcome=maybe",
		"<134>1 2025-03-09T08:07:06Z app1 lis - - - action=login",
		"<134>1 2025-03-09T08:07:06Z app1 lis - - -",
		"<38>Mar  9 08:07:06 lab1 sshd[1]: Accepted password for",
	}
	for _, line := range unrecognized {
		_, err := p.ParseMessage("hosts", []byte(line))
		if !errors.Is(err, ErrUnrecognized) {
			t.Errorf("%q: error %v, want ErrUnrecognized", line, err)
		}
	}
	// Recognized but without a user: the event would have no actor.
	_, err := p.ParseMessage("hosts", []byte("<38>Mar  9 08:07:06 lab1 sshd[1]: Invalid user  from 203.0.113.5 port 1"))
	if err == nil || !strings.Contains(err.Error(), "actor: no identifier") {
		t.Errorf("empty user: error %v", err)
	}
}

func TestRFC3164Year(t *testing.T) {
	tests := []struct{ now, line, want string }{
		{"2024-01-02T00:00:00Z", "<13>Dec 31 23:59:59 h app: user=u action=login", "2023-12-31T23:59:59Z"},
		{"2023-12-31T23:00:00Z", "<13>Jan  1 00:00:01 h app: user=u action=login", "2024-01-01T00:00:01Z"},
		{"2025-06-01T00:00:00Z", "<13>Feb 29 12:00:00 h app: user=u action=login", "2024-02-29T12:00:00Z"},
		{"2025-06-01T00:00:00Z", "<13>Jun  1 00:00:00 h app: user=u action=login", "2025-06-01T00:00:00Z"},
		{"2025-06-01T00:00:00Z", "<13>2025-05-31T22:00:00-02:00 h app: user=u action=login", "2025-06-01T00:00:00Z"},
	}
	for _, tc := range tests {
		p := Parser{Now: fixed(tc.now), Location: time.UTC}
		e, err := p.ParseMessage("s", []byte(tc.line))
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if !e.Time.Equal(at(tc.want)) {
			t.Errorf("%q at %s: time %s, want %s", tc.line, tc.now, e.Time, tc.want)
		}
	}
	// The Location places the wall clock.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	p := Parser{Now: fixed("2025-07-01T00:00:00Z"), Location: ny}
	e, err := p.ParseMessage("s", []byte("<13>Jul  1 08:00:00 h app: user=u action=login"))
	if err != nil {
		t.Fatal(err)
	}
	if want := at("2025-07-01T12:00:00Z"); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("time %s, want %s in UTC", e.Time, want)
	}
	// NILVALUE timestamp: the receive time.
	p = Parser{Now: fixed("2025-07-01T00:00:00.5Z")}
	e, err = p.ParseMessage("s", []byte("<13>1 - h app - - - user=u action=login"))
	if err != nil {
		t.Fatal(err)
	}
	if !e.Time.Equal(at("2025-07-01T00:00:00.5Z")) {
		t.Errorf("NILVALUE time %s", e.Time)
	}
}

func TestATNAInSyslog(t *testing.T) {
	sink := newRecorder()
	if err := Parse(context.Background(), "arr", bytes.NewReader(readFile(t, "ihe-atna-octet-counted.log")), sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.rejects) != 0 {
		t.Fatalf("rejects: %+v", sink.rejects)
	}
	if len(sink.events) != 3 {
		t.Fatalf("%d events, want 3", len(sink.events))
	}
	wantTimes := []string{"2010-12-17T21:12:04.287Z", "2013-10-17T21:12:04.287Z", "2015-03-05T10:52:31.356Z"}
	for i, e := range sink.events {
		if !e.Time.Equal(at(wantTimes[i])) {
			t.Errorf("event %d time %s, want %s (from the AuditMessage)", i, e.Time, wantTimes[i])
		}
		if e.Source != "arr" {
			t.Errorf("event %d source %q", i, e.Source)
		}
	}
	if e := sink.events[0]; e.Kind != labtrust.KindSecurity || e.Type.Code != "110114" || e.Actor.Site != "End User" {
		t.Errorf("event 0: %+v", e)
	}
	if e := sink.events[2]; e.Kind != labtrust.KindAccess || len(e.Patients) != 1 || len(e.Objects) != 1 || e.Objects[0].Role != "query" {
		t.Errorf("event 2: %+v", e)
	}

	// A sender that writes a broken header (a real one wrote a timestamp
	// without seconds) still gets its AuditMessage read.
	doc := readFile(t, "ihe-atna-octet-counted.log")
	i := bytes.Index(doc, []byte("<?xml"))
	j := bytes.Index(doc, []byte("</AuditMessage>"))
	broken := "<85>1 2023-02-08T15:22.603Z matchbox.test - - IHE+RFC-3881 - " + string(doc[i:j+len("</AuditMessage>")])
	e, err := ParseMessage("arr", []byte(broken))
	if err != nil {
		t.Fatalf("broken header: %v", err)
	}
	if !e.Time.Equal(at(wantTimes[0])) {
		t.Errorf("broken header: time %s", e.Time)
	}
}

func TestParseStreamOctetCounted(t *testing.T) {
	atnaMsg := "<85>1 2024-01-01T00:00:00Z h app - IHE+RFC-3881 - " + auditMessage("SECRETPATIENT", "0")
	badATNA := "<85>1 2024-01-01T00:00:00Z h app - IHE+RFC-3881 - " + auditMessage("SECRETPATIENT", "7")
	plain := "<38>1 2024-01-01T00:00:01Z lab1 sshd 1 - - Accepted password for alice from 10.0.0.1 port 2"
	garbage := "SECRET garbage line"
	unknown := "<38>1 2024-01-01T00:00:01Z lab1 app 1 - - SECRET patient data"
	stream := frame(atnaMsg, plain, badATNA) // CRLF between frames is tolerated
	stream = append(stream, "\r\n"...)
	stream = append(stream, frame(garbage, unknown)...)
	stream = append(stream, "12 short"...) // truncated frame: framing error

	p := Parser{MaxMessageSize: 4096}
	sink := newRecorder()
	if err := p.Parse(context.Background(), "s", bytes.NewReader(stream), sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 2 || len(sink.rejects) != 4 {
		t.Fatalf("%d events, %d rejects; want 2 and 4: %+v", len(sink.events), len(sink.rejects), sink.rejects)
	}
	if sink.events[0].Kind != labtrust.KindAccess || sink.events[1].Actor.ID != "alice" {
		t.Errorf("events: %+v", sink.events)
	}
	want := []struct {
		format, pos, reason string
		raw                 string
	}{
		{FormatATNA, "message 3", "EventOutcomeIndicator: not one of 0, 4, 8, 12", badATNA},
		{FormatSyslog, "message 4", ErrNoHeader.Error(), garbage},
		{FormatSyslog, "message 5", ErrUnrecognized.Error(), unknown},
		{FormatSyslog, "message 6", "framing error at byte", "12 short"},
	}
	for i, w := range want {
		r := sink.rejects[i]
		if r.Format != w.format || r.Position != w.pos || !strings.Contains(r.Reason, w.reason) || string(r.Raw) != w.raw || r.Source != "s" {
			t.Errorf("reject %d: %+v, want %+v", i, r, w)
		}
		if strings.Contains(r.Reason, "SECRET") {
			t.Errorf("reject %d reason leaks message text: %q", i, r.Reason)
		}
	}
	// Raw reproduces the outcome.
	for _, r := range sink.rejects[:3] {
		if _, err := p.ParseMessage("s", r.Raw); err == nil || err.Error() != r.Reason {
			t.Errorf("ParseMessage(Raw) = %v, want %q", err, r.Reason)
		}
	}
}

func TestParseStreamFraming(t *testing.T) {
	p := Parser{MaxMessageSize: 64}
	ok := "<38>1 2024-01-01T00:00:01Z h a - - - user=u action=login"
	big := "<38>1 2024-01-01T00:00:01Z h a - - - user=u action=login " + strings.Repeat("x", 100)
	tests := []struct {
		name    string
		in      string
		events  int
		reasons []string
	}{
		{"empty", "", 0, nil},
		{"oversize then ok", string(frame(big, ok)), 1, []string{"larger than 64 bytes"}},
		{"bad length", string(frame(ok)) + "1x2 abc" + string(frame(ok)), 1, []string{"not a number followed by a space"}},
		{"zero length", "0 " + ok, 0, []string{"frame length is zero"}},
		{"long length", "1234567890 x", 0, []string{"more than 9 digits"}},
		{"eof in length", string(frame(ok)) + "12", 1, []string{"stream ends inside a frame length"}},
		{"truncated oversize", "100 abc", 0, []string{"stream ends inside a frame"}},
		{"oversize at eof", "70 " + strings.Repeat("y", 70), 0, []string{"larger than 64 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := newRecorder()
			if err := p.Parse(context.Background(), "s", strings.NewReader(tc.in), sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.events) != tc.events || len(sink.rejects) != len(tc.reasons) {
				t.Fatalf("%d events, %d rejects (%+v); want %d and %d", len(sink.events), len(sink.rejects), sink.rejects, tc.events, len(tc.reasons))
			}
			for i, r := range sink.rejects {
				if !strings.Contains(r.Reason, tc.reasons[i]) {
					t.Errorf("reject %d reason %q, want %q", i, r.Reason, tc.reasons[i])
				}
				if len(r.Raw) > 64 {
					t.Errorf("reject %d keeps %d bytes, more than the maximum", i, len(r.Raw))
				}
			}
		})
	}
	// The rest of a broken stream is one reject holding the remaining bytes.
	sink := newRecorder()
	in := string(frame(ok)) + "x" + ok + "\n" + ok
	if err := p.Parse(context.Background(), "s", strings.NewReader(in), sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.rejects) != 1 || string(sink.rejects[0].Raw) != ("x" + ok + "\n" + ok)[:64] ||
		sink.rejects[0].Position != "message 2" || !strings.Contains(sink.rejects[0].Reason, fmt.Sprintf("at byte %d:", len(frame(ok)))) {
		t.Errorf("rejects: %+v", sink.rejects)
	}
}

func TestParseStreamLines(t *testing.T) {
	p := Parser{MaxMessageSize: 80, Now: fixed("2024-06-01T00:00:00Z"), Location: time.UTC}
	in := "Jun  1 10:00:00 lab1 sshd[1]: Accepted password for alice from 10.0.0.1 port 2\r\n" +
		"\n" +
		"\r\n" +
		"<13>Jun  1 10:00:01 lab1 app: " + strings.Repeat("z", 100) + "\n" +
		"not syslog at all\n" +
		"<13>Jun  1 10:00:02 lab1 app: user=bob action=logout" // no final newline
	sink := newRecorder()
	if err := p.Parse(context.Background(), "s", strings.NewReader(in), sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 2 || len(sink.rejects) != 2 {
		t.Fatalf("%d events %d rejects: %+v", len(sink.events), len(sink.rejects), sink.rejects)
	}
	if e := sink.events[0]; e.Actor.ID != "alice" || e.Actor.Site != "lab1" || !e.Time.Equal(at("2024-06-01T10:00:00Z")) {
		t.Errorf("event 0: %+v", e)
	}
	if e := sink.events[1]; e.Actor.ID != "bob" || e.Subtype[0] != subLogout {
		t.Errorf("event 1: %+v", e)
	}
	if r := sink.rejects[0]; r.Position != "message 2" || !strings.Contains(r.Reason, "larger than 80") || len(r.Raw) != 80 {
		t.Errorf("reject 0: %+v", r)
	}
	if r := sink.rejects[1]; r.Position != "message 3" || string(r.Raw) != "not syslog at all" {
		t.Errorf("reject 1: %+v", r)
	}
}

func TestParseSinkErrorAndContext(t *testing.T) {
	boom := errors.New("disk full")
	sink := newRecorder()
	sink.fail = boom
	err := Parse(context.Background(), "s", strings.NewReader("not syslog\n"), sink)
	if !errors.Is(err, boom) {
		t.Errorf("error %v, want the sink's", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Parse(ctx, "s", strings.NewReader("not syslog\n"), newRecorder())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// auditMessage is a small DICOM-form AuditMessage naming one patient.
func auditMessage(patient, outcome string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><AuditMessage>` +
		`<EventIdentification EventActionCode="R" EventDateTime="2024-01-01T00:00:00.123+01:00" EventOutcomeIndicator="` + outcome + `">` +
		`<EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/></EventIdentification>` +
		`<ActiveParticipant UserID="labuser" UserIsRequestor="true" NetworkAccessPointID="10.0.0.5" NetworkAccessPointTypeCode="2">` +
		`<RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/></ActiveParticipant>` +
		`<AuditSourceIdentification AuditEnterpriseSiteID="Main Lab" AuditSourceID="lis"/>` +
		`<ParticipantObjectIdentification ParticipantObjectID="` + patient + `" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">` +
		`<ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/>` +
		`<ParticipantObjectName>Doe^Jane</ParticipantObjectName></ParticipantObjectIdentification>` +
		`<ParticipantObjectIdentification ParticipantObjectID="DiagnosticReport/1234567890" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3">` +
		`<ParticipantObjectIDTypeCode csd-code="DiagnosticReport" codeSystemName="99LAB" originalText="DiagnosticReport"/></ParticipantObjectIdentification>` +
		`</AuditMessage>`
}

// A stream resumed after a frame's trailing newline still reads as octet
// counting: leading line ends do not decide the framing.
func TestOctetCountingAfterLeadingNewlines(t *testing.T) {
	sink := newRecorder()
	in := append([]byte("\r\n\n"), readFile(t, "ihe-atna-octet-counted.log")...)
	if err := Parse(context.Background(), "arr", bytes.NewReader(in), sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.rejects) != 0 || len(sink.events) != 3 {
		t.Fatalf("%d events, %d rejects; want 3 events: %+v", len(sink.events), len(sink.rejects), sink.rejects)
	}
}
