package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// Webhook posts each new alert as JSON to the on-call system (a chat
// channel's incoming webhook, a pager). The alert holds no PHI, so it may
// leave the lab's network.
type Webhook struct {
	URL    string
	Client *http.Client
}

// webhookBody is what the receiver gets: the alert and where to triage it.
type webhookBody struct {
	Text  string         `json:"text"` // for chat webhooks that show "text"
	Alert labtrust.Alert `json:"alert"`
}

// Send posts a, retrying twice on failure.
func (w *Webhook) Send(ctx context.Context, a labtrust.Alert) error {
	body, err := json.Marshal(webhookBody{Text: fmt.Sprintf("[%s] %s (alert %d): %s", a.Severity, a.Title, a.ID, a.Explanation), Alert: a})
	if err != nil {
		return err
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("alert webhook: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			last = err
			continue
		}
		res.Body.Close()
		if res.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("status %s", res.Status)
	}
	return fmt.Errorf("alert webhook: %w", last)
}

// Sender sends mail (notify.SMTP).
type Sender interface {
	Send(ctx context.Context, to []string, subject, body string) error
}

// Mail emails each new alert to the on-call people, with a link to it in
// the console. The alert holds no PHI, so neither does the mail.
type Mail struct {
	Sender     Sender
	To         []string
	ConsoleURL string // e.g. https://labtrust.lab.internal/console
}

// Send mails one alert.
func (m *Mail) Send(ctx context.Context, a labtrust.Alert) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n\nSeverity: %s\nAlert: %d (%s)\nSeen: %s to %s UTC, %d matching event(s)\n",
		a.Explanation, a.Severity, a.ID, a.Rule, a.First.UTC().Format("2006-01-02 15:04:05"), a.Last.UTC().Format("2006-01-02 15:04:05"), a.Count)
	if a.Actor != "" {
		fmt.Fprintf(&b, "Account: %s\n", a.Actor)
	}
	if m.ConsoleURL != "" {
		fmt.Fprintf(&b, "\nTriage it: %s/alerts/%d\n", strings.TrimSuffix(m.ConsoleURL, "/"), a.ID)
	}
	b.WriteString("\nThis message holds no patient data; the ledger entries behind the alert are in the console.\n")
	return m.Sender.Send(ctx, m.To, fmt.Sprintf("[labtrust %s] %s", a.Severity, a.Title), b.String())
}
