package notice

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/store"
)

// Text is the letter as a plain-text email: its subject and body, the
// same sections as the PDF.
func (l *Letter) Text() (subject, body string) {
	var b strings.Builder
	w := wordsFor(l.Language)
	b.WriteString(w.code + ": " + l.Code + "\n\n")
	for _, sec := range l.Sections() {
		if sec.Heading != "" {
			b.WriteString(strings.ToUpper(sec.Heading) + "\n")
		}
		for _, p := range sec.Body {
			if p != "" {
				b.WriteString(p + "\n")
			}
		}
		for _, it := range sec.Items {
			b.WriteString("  - " + it + "\n")
		}
		b.WriteString("\n")
	}
	subject = "Notice of a data breach (notice code " + l.Code + ")"
	if l.Language == "es" {
		subject = "Aviso de una violación de datos (código " + l.Code + ")"
	}
	return subject, b.String()
}

// Emails sends each prepared notice whose person gave an email address:
// the letter as text with its PDF attached, in their language, with their
// credit-monitoring code. Each sent notice is marked sent; a failure is
// counted and the notice stays prepared, to be tried again or mailed.
type Emails struct {
	Service *Service
	// Rows streams the incident's notices (the store's Notices).
	Rows       func(ctx context.Context, incident int64, fn func(store.NoticeRow) error) error
	Lab        Lab
	Texts      map[string]Text
	Discovered time.Time
	Date       time.Time
	Monitoring *Monitoring // the offer without a code; nil: none
	Fonts      Fonts
	// Laws add each state's paragraph to its residents' letters (nil: none).
	Laws breach.Laws
	// Send mails one message with one attachment (notify.SMTP's SendWith,
	// adapted).
	Send      func(ctx context.Context, to, subject, body, file string, pdf []byte) error
	SetStatus func(ctx context.Context, id int64, status string, at time.Time) error
	Progress  func(done int)
	Log       *slog.Logger
	// Reason says why a send failed without naming the recipient
	// (notify.Reason); nil: nothing is said.
	Reason func(error) string
}

// Run sends the incident's emails.
func (e *Emails) Run(ctx context.Context, incident int64) (sent, failed int, err error) {
	log := e.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	done := 0
	err = e.Rows(ctx, incident, func(r store.NoticeRow) error {
		if r.Status != StatusPrepared {
			return nil
		}
		done++
		if e.Progress != nil {
			e.Progress(done)
		}
		rec, err := e.Service.Open(r)
		if err != nil {
			return err
		}
		if rec.Email == "" {
			return nil
		}
		l := rec.Letter(e.Lab, e.Texts, e.Discovered, e.Date)
		l.ForState(e.Laws, rec.State)
		if e.Monitoring != nil {
			code, err := e.Service.MonitoringCode(ctx, r)
			if err != nil {
				return err
			}
			m := *e.Monitoring
			m.Code = code
			l.Monitoring = &m
		}
		pdf, err := l.PDF(e.Fonts)
		if err != nil {
			return err
		}
		subject, body := l.Text()
		if err := e.Send(ctx, rec.Email, subject, body, "notice-"+rec.Code+".pdf", pdf); err != nil {
			// The server's error may echo the address: log the notice and
			// a reason that cannot.
			reason := "not given"
			if e.Reason != nil {
				reason = e.Reason(err)
			}
			log.Warn("a notice email failed", "notice", r.ID, "reason", reason)
			failed++
			return nil
		}
		if err := e.SetStatus(ctx, r.ID, StatusSent, time.Now()); err != nil {
			return err
		}
		sent++
		return nil
	})
	return sent, failed, err
}
