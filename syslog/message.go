// Package syslog receives syslog (RFC 5424 and RFC 3164 messages, framed as
// in RFC 5425/6587 over TLS or TCP, or one per UDP datagram as in RFC 5426)
// and turns each message into a labtrust.Event or a labtrust.Reject.
//
// A message whose MSG is an XML AuditMessage (IHE ATNA, ITI-20) is handed
// to atna.Parse. Other messages are classified as plain security lines
// (sshd, pam_unix, su, sudo, key=value) into KindSecurity events; anything
// else is rejected. Errors and rejects never quote the message: they name
// what was wrong and where.
package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	syslogmsg "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/atna"
)

// DefaultMaxMessageSize is the largest message accepted when
// Parser.MaxMessageSize is zero.
const DefaultMaxMessageSize = 64 << 10

// DefaultMaxConns is the connection limit of ServeStream when
// Parser.MaxConns is zero.
const DefaultMaxConns = 256

// Reject formats.
const (
	FormatSyslog = "syslog"
	FormatATNA   = "atna"
)

// ErrUnrecognized is returned (wrapped) for a message that has a syslog
// header but is neither an AuditMessage nor a security line this package
// knows.
var ErrUnrecognized = errors.New("syslog: message is neither an AuditMessage nor a recognized security line")

// ErrNoHeader is returned for a message that has neither an RFC 5424 nor an
// RFC 3164 header (nor is a bare AuditMessage).
var ErrNoHeader = errors.New("syslog: message has no RFC 5424 or RFC 3164 header")

// Parser holds the settings for reading syslog. The zero value is ready to
// use; the package-level functions use it. A Parser must not be changed
// while it is in use, and may be used by many goroutines at once.
type Parser struct {
	// Now returns the current time. RFC 3164 timestamps carry no year: the
	// year that puts the timestamp closest to Now is taken. Messages whose
	// RFC 5424 timestamp is the NILVALUE get Now as their time. Nil means
	// time.Now.
	Now func() time.Time
	// Location is the time zone RFC 3164 timestamps are read in (they carry
	// none). Nil means time.Local, the usual choice when senders and
	// labtrust share a site.
	Location *time.Location
	// MaxMessageSize bounds one message in bytes; larger messages are
	// rejected. Zero means DefaultMaxMessageSize.
	MaxMessageSize int
	// MaxConns bounds the connections ServeStream serves at once; further
	// connections wait in the listener's backlog. Zero means
	// DefaultMaxConns.
	MaxConns int
	// IdleTimeout, when positive, closes a stream connection that sends
	// nothing for that long. Zero means connections may stay idle.
	IdleTimeout time.Duration
}

func (p *Parser) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Parser) location() *time.Location {
	if p.Location != nil {
		return p.Location
	}
	return time.Local
}

func (p *Parser) maxSize() int {
	if p.MaxMessageSize > 0 {
		return p.MaxMessageSize
	}
	return DefaultMaxMessageSize
}

// ParseMessage parses one syslog message (no framing) with the zero Parser.
// See Parser.ParseMessage.
func ParseMessage(source string, raw []byte) (labtrust.Event, error) {
	var p Parser
	return p.ParseMessage(source, raw)
}

// ParseMessage parses one syslog message without framing: as RFC 5424,
// else as RFC 3164 (with or without the PRI part, as written to local log
// files). If the MSG, after an optional UTF-8 BOM and white space, is an XML
// AuditMessage, the Event is atna.Parse's (its time is the AuditMessage's).
// Otherwise the MSG is classified as a security line (see package doc) into
// a KindSecurity event timed by the syslog header; unrecognized messages
// return an error wrapping ErrUnrecognized. Errors never contain message
// text.
func (p *Parser) ParseMessage(source string, raw []byte) (labtrust.Event, error) {
	e, _, err := p.parse(source, raw)
	return e, err
}

var bom = []byte("\xef\xbb\xbf")

// header is what classification needs from either syslog format.
type header struct {
	time     time.Time
	hasTime  bool
	hostname string
	app      string
	msg      []byte
}

// parse returns the event, or the Reject format and the error.
func (p *Parser) parse(source string, raw []byte) (labtrust.Event, string, error) {
	h, err := p.header(raw)
	if err != nil {
		return labtrust.Event{}, FormatSyslog, err
	}
	msg := bytes.TrimPrefix(h.msg, bom)
	msg = bytes.TrimLeft(msg, " \t\r\n")
	if isAuditMessage(msg) {
		e, err := atna.Parse(source, msg)
		if err != nil {
			return labtrust.Event{}, FormatATNA, err
		}
		return e, "", nil
	}
	e, ok := classify(h.app, bytes.TrimRight(msg, " \t\r\n"))
	if !ok {
		return labtrust.Event{}, FormatSyslog, ErrUnrecognized
	}
	e.Source = source
	if h.hasTime {
		e.Time = h.time
	} else {
		e.Time = p.now().UTC()
	}
	e.Actor.Site = h.hostname
	if err := e.Validate(); err != nil {
		return labtrust.Event{}, FormatSyslog, fmt.Errorf("syslog: security line: %w", err)
	}
	return e, "", nil
}

// auditMessageStart returns the index of an XML declaration or
// AuditMessage start tag in raw, or -1.
func auditMessageStart(raw []byte) int {
	if i := bytes.Index(raw, []byte("<?xml")); i >= 0 {
		return i
	}
	return bytes.Index(raw, []byte("<AuditMessage"))
}

func isAuditMessage(msg []byte) bool {
	return bytes.HasPrefix(msg, []byte("<?xml")) || bytes.HasPrefix(msg, []byte("<AuditMessage"))
}

// header splits raw into header fields and MSG. The leodido machines are
// created per call: they are small, and sharing one would serialize every
// connection on its mutex.
func (p *Parser) header(raw []byte) (header, error) {
	if len(raw) > 0 && raw[0] == '<' && len(raw) > 1 && raw[1] >= '0' && raw[1] <= '9' {
		// The machines can return neither message nor error; check both.
		if m, err := rfc5424.NewMachine().Parse(raw); err == nil {
			if sm, ok := m.(*rfc5424.SyslogMessage); ok && sm != nil {
				return p.fromBase(&sm.Base, false, raw)
			}
		}
		m, err := rfc3164.NewMachine(rfc3164.WithRFC3339(), rfc3164.WithSecondFractions(),
			rfc3164.WithLenientDay(), rfc3164.WithEmbeddedNewlines()).Parse(raw)
		if sm, ok := m.(*rfc3164.SyslogMessage); ok && err == nil && sm != nil {
			return p.fromBase(&sm.Base, true, raw)
		}
		// Some ATNA senders write a malformed header (a timestamp without
		// seconds, say). The AuditMessage carries its own time, so it is
		// still read rather than lost.
		if i := auditMessageStart(raw); i >= 0 {
			return header{msg: raw[i:]}, nil
		}
		return header{}, ErrNoHeader
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(raw, bom), " \t\r\n")
	if isAuditMessage(trimmed) {
		// A bare AuditMessage, as in a file of collected messages: it
		// carries its own time.
		return header{msg: trimmed}, nil
	}
	// Local log files (auth.log, secure) hold RFC 3164 lines without PRI.
	if len(raw) >= 15 && raw[0] >= 'A' && raw[0] <= 'Z' {
		withPRI := make([]byte, 0, len(raw)+4)
		withPRI = append(append(withPRI, "<13>"...), raw...)
		m, err := rfc3164.NewMachine(rfc3164.WithSecondFractions(), rfc3164.WithLenientDay(),
			rfc3164.WithEmbeddedNewlines()).Parse(withPRI)
		if sm, ok := m.(*rfc3164.SyslogMessage); ok && err == nil && sm != nil {
			return p.fromBase(&sm.Base, true, raw)
		}
	}
	return header{}, ErrNoHeader
}

// fromBase copies the header fields out of a parsed message. raw is the
// input: MSG usually ends it, and slicing raw avoids copying a 1 KB
// AuditMessage again.
func (p *Parser) fromBase(b *syslogmsg.Base, bsd bool, raw []byte) (header, error) {
	var h header
	if b.Hostname != nil {
		h.hostname = *b.Hostname
	}
	if b.Appname != nil {
		h.app = *b.Appname
	}
	if b.Message != nil {
		if m := *b.Message; len(m) <= len(raw) && string(raw[len(raw)-len(m):]) == m {
			h.msg = raw[len(raw)-len(m):]
		} else {
			h.msg = []byte(m)
		}
	}
	if b.Timestamp != nil {
		t := *b.Timestamp
		if bsd && t.Year() == 0 {
			var ok bool
			if t, ok = closestYear(p.now(), t, p.location()); !ok {
				return header{}, errors.New("syslog: timestamp: February 29 is in no year near the current one")
			}
		}
		h.time, h.hasTime = t.UTC(), true
	}
	return h, nil
}

// closestYear places an RFC 3164 Stamp (parsed in UTC with year 0) in loc,
// in the year that puts it closest to now. Years without the date (February
// 29) are skipped.
func closestYear(now, stamp time.Time, loc *time.Location) (time.Time, bool) {
	y := now.In(loc).Year()
	var best time.Time
	found := false
	for cand := y - 4; cand <= y+4; cand++ {
		t := time.Date(cand, stamp.Month(), stamp.Day(), stamp.Hour(), stamp.Minute(), stamp.Second(), stamp.Nanosecond(), loc)
		if t.Month() != stamp.Month() || t.Day() != stamp.Day() {
			continue
		}
		if !found || absDur(t.Sub(now)) < absDur(best.Sub(now)) {
			best, found = t, true
		}
	}
	return best, found
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
