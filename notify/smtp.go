// Package notify sends what labtrust tells people: today the on-call
// person's alert email; later the patients' breach notices.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTP is an outgoing mail server. TLS is "mandatory" (STARTTLS required,
// the default), "opportunistic" or "none" (only for a relay on the same
// host); "implicit" is SMTPS on port 465.
type SMTP struct {
	Host     string
	Port     int // default 587 (465 for implicit TLS)
	Username string
	Password string
	TLS      string
	From     string
	// TLSConfig overrides the TLS settings (a private CA, say).
	TLSConfig *tls.Config
	Timeout   time.Duration
}

// Attachment is a file sent with a message.
type Attachment struct {
	Name string
	Data []byte
}

// Send sends one plain-text message to each address in to.
func (s *SMTP) Send(ctx context.Context, to []string, subject, body string) error {
	return s.SendWith(ctx, to, subject, body)
}

// SendWith sends one plain-text message with attachments.
func (s *SMTP) SendWith(ctx context.Context, to []string, subject, body string, files ...Attachment) error {
	return s.send(ctx, to, subject, body, nil, files)
}

// SendHeaders sends one plain-text message with extra header fields, such
// as List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058).
func (s *SMTP) SendHeaders(ctx context.Context, to []string, subject, body string, headers map[string]string) error {
	return s.send(ctx, to, subject, body, headers, nil)
}

func (s *SMTP) send(ctx context.Context, to []string, subject, body string, headers map[string]string, files []Attachment) error {
	if len(to) == 0 {
		return nil
	}
	m, err := s.message(to, subject, body, headers, files)
	if err != nil {
		return err
	}
	c, port, err := s.client()
	if err != nil {
		return err
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("notify: send mail via %s:%d: %w", s.Host, port, err)
	}
	return nil
}

func (s *SMTP) message(to []string, subject, body string, headers map[string]string, files []Attachment) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(s.From); err != nil {
		return nil, fmt.Errorf("notify: from address: %w", err)
	}
	if err := m.To(to...); err != nil {
		return nil, fmt.Errorf("notify: to address: %w", err)
	}
	m.Subject(subject)
	m.SetDate()
	m.SetMessageID()
	for k, v := range headers {
		m.SetGenHeader(mail.Header(k), v)
	}
	m.SetBodyString(mail.TypeTextPlain, body)
	for _, f := range files {
		if err := m.AttachReader(f.Name, bytes.NewReader(f.Data)); err != nil {
			return nil, fmt.Errorf("notify: attach %s: %w", f.Name, err)
		}
	}
	return m, nil
}

// client returns a client for the server, not connected, and its port.
func (s *SMTP) client() (*mail.Client, int, error) {
	opts := []mail.Option{mail.WithTimeout(s.timeout())}
	port := s.Port
	switch s.TLS {
	case "", "mandatory":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "opportunistic":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "implicit":
		opts = append(opts, mail.WithSSL())
		if port == 0 {
			port = 465
		}
	default:
		return nil, 0, fmt.Errorf("notify: TLS %q is not mandatory, opportunistic, implicit or none", s.TLS)
	}
	if port == 0 {
		port = 587
	}
	opts = append(opts, mail.WithPort(port))
	if s.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(s.TLSConfig))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	c, err := mail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, 0, fmt.Errorf("notify: mail client: %w", err)
	}
	return c, port, nil
}

// Conn sends many messages over one connection to the server: a breach's
// notice emails are thousands, and a connection each is a TCP and TLS
// handshake and a login each, which mail servers also limit. It connects
// when first used, and again, once, when the server has closed the
// connection since (an idle timeout, a limit of messages per connection).
// Not safe for concurrent use; Close it when done.
type Conn struct {
	s    *SMTP
	c    *mail.Client
	port int
}

// Conn returns a connection to the server, not yet made.
func (s *SMTP) Conn() *Conn { return &Conn{s: s} }

// SendWith sends one plain-text message with attachments.
func (c *Conn) SendWith(ctx context.Context, to []string, subject, body string, files ...Attachment) error {
	if len(to) == 0 {
		return nil
	}
	m, err := c.s.message(to, subject, body, nil, files)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if c.c == nil {
			cl, port, err := c.s.client()
			if err != nil {
				return err
			}
			if err := cl.DialWithContext(ctx); err != nil {
				return fmt.Errorf("notify: connect to %s:%d: %w", c.s.Host, port, err)
			}
			c.c, c.port = cl, port
		}
		err := c.c.Send(m)
		if err == nil {
			return nil
		}
		var se *mail.SendError
		if attempt == 0 && errors.As(err, &se) && se.Reason == mail.ErrConnCheck {
			c.c.Close()
			c.c = nil
			continue
		}
		return fmt.Errorf("notify: send mail via %s:%d: %w", c.s.Host, c.port, err)
	}
}

// Close ends the connection (QUIT).
func (c *Conn) Close() error {
	if c.c == nil {
		return nil
	}
	err := c.c.Close()
	c.c = nil
	return err
}

func (s *SMTP) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 15 * time.Second
}

// Reason says why a send failed without the server's own words or the
// addresses, which may name the recipient (a patient's email is PHI and
// logs are not the place for it): the SMTP step that failed, the reply
// code and enhanced status code, and whether trying again may succeed;
// or that the server could not be reached, timed out or failed TLS.
func Reason(err error) string {
	var se *mail.SendError
	if errors.As(err, &se) {
		var b strings.Builder
		b.WriteString(se.Reason.String())
		if c := se.ErrorCode(); c > 0 {
			fmt.Fprintf(&b, ": server replied %d", c)
			if es := se.EnhancedStatusCode(); es != "" && enhancedStatus.MatchString(es) {
				b.WriteString(" " + es)
			}
		}
		if se.IsTemp() {
			b.WriteString(" (temporary: may succeed later)")
		} else {
			b.WriteString(" (permanent)")
		}
		return b.String()
	}
	var netErr net.Error
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "the mail server did not answer in time"
	case errors.As(err, &certErr), errors.As(err, &recErr):
		return "TLS with the mail server failed"
	case errors.As(err, &opErr):
		return "the mail server could not be reached (" + opErr.Op + ")"
	}
	return "failed (the server's message is not logged: it may name the recipient)"
}

// enhancedStatus is an RFC 3463 status code: nothing else of the reply is
// repeated.
var enhancedStatus = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)
