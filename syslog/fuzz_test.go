package syslog

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func seedMessages(f *testing.F) {
	for _, name := range []string{"rfc5424-examples.txt", "rfc3164-examples.txt"} {
		for _, l := range bytes.Split(readFile(f, name), []byte("\n")) {
			f.Add(l)
		}
	}
	f.Add([]byte("<85>1 2024-01-01T00:00:00Z h app - IHE+RFC-3881 - " + auditMessage("P1", "0")))
	f.Add([]byte("<38>Mar  9 08:07:06 lab1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port 40001 ssh2"))
	f.Add([]byte("Mar  9 08:07:06 lab1 sshd[4242]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.4  user=dave"))
	f.Add([]byte(`<134>1 2025-03-09T08:07:06Z app1 lis - - - user="kim \"x\" lee" src=192.0.2.9 action=login outcome=success`))
	f.Add([]byte("<85>Mar  9 08:07:06 lab1 sudo: judy : user NOT in sudoers ; TTY=pts/0"))
	f.Add([]byte("<13>Feb 29 12:00:00 h app: user=u action=login"))
}

// FuzzParseMessage checks that ParseMessage never panics, that its events
// are valid, and that an error never repeats a stretch of the message.
func FuzzParseMessage(f *testing.F) {
	seedMessages(f)
	p := Parser{Now: fixed("2025-01-01T00:00:00Z"), Location: time.UTC}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := p.ParseMessage("fuzz", raw)
		if err != nil {
			leaks(t, err.Error(), raw)
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("invalid event: %v", err)
		}
	})
}

// leaks fails if reason contains a 24-byte stretch of raw that is not part
// of the package's own vocabulary (field names the fuzzer may have copied).
func leaks(t *testing.T, reason string, raw []byte) {
	const w = 24
	for i := 0; i+w <= len(raw); i++ {
		s := string(raw[i : i+w])
		if strings.Contains(reason, s) && !strings.ContainsAny(s, "\x00") && !vocabulary(s) {
			t.Fatalf("error %q repeats message text %q", reason, s)
		}
	}
}

func vocabulary(s string) bool {
	for _, v := range []string{"ParticipantObjectIdentification", "EventIdentification", "ParticipantObjectQuery",
		"ParticipantObjectID", "EventOutcomeIndicator", "EventDateTime", "EventActionCode", "syslog: ", "atna: "} {
		if strings.Contains(v, s) || strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// FuzzParse feeds arbitrary streams through the framing layer: no panics,
// no reject larger than the limit, and every message accounted for in
// order.
func FuzzParse(f *testing.F) {
	f.Add(frame("<13>1 2024-01-01T00:00:00Z h a - - - user=u action=login", "x"))
	f.Add([]byte("12 short"))
	f.Add([]byte("<13>Jan  1 00:00:00 h a: user=u action=login\r\n\r\nnoise\n"))
	f.Add(append(frame("a"), "\r\n3 abc999999999 x"...))
	f.Add(readFile(f, "ihe-atna-octet-counted.log"))
	p := Parser{MaxMessageSize: 256, Now: fixed("2025-01-01T00:00:00Z"), Location: time.UTC}
	f.Fuzz(func(t *testing.T, in []byte) {
		sink := newRecorder()
		if err := p.Parse(context.Background(), "fuzz", bytes.NewReader(in), sink); err != nil {
			t.Fatalf("Parse: %v", err)
		}
		total := len(sink.events) + len(sink.rejects)
		if total > len(in) {
			t.Fatalf("%d records from %d bytes", total, len(in))
		}
		for _, r := range sink.rejects {
			if len(r.Raw) > 256 {
				t.Fatalf("reject keeps %d bytes", len(r.Raw))
			}
			if r.Position == "" || r.Reason == "" || (r.Format != FormatSyslog && r.Format != FormatATNA) {
				t.Fatalf("incomplete reject %+v", r)
			}
		}
	})
}
