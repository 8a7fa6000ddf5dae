// Package notify sends what labtrust tells people: today the on-call
// person's alert email; later the patients' breach notices.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
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
	m := mail.NewMsg()
	if err := m.From(s.From); err != nil {
		return fmt.Errorf("notify: from address: %w", err)
	}
	if err := m.To(to...); err != nil {
		return fmt.Errorf("notify: to address: %w", err)
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
			return fmt.Errorf("notify: attach %s: %w", f.Name, err)
		}
	}
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
		return fmt.Errorf("notify: TLS %q is not mandatory, opportunistic, implicit or none", s.TLS)
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
		return fmt.Errorf("notify: mail client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("notify: send mail via %s:%d: %w", s.Host, port, err)
	}
	return nil
}

func (s *SMTP) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 15 * time.Second
}
