package notify_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/labtrust/labtrust/notify"
	"github.com/labtrust/labtrust/notify/notifytest"
)

func TestSMTP(t *testing.T) {
	srv := notifytest.Start(t)
	m := &notify.SMTP{Host: srv.Host, Port: srv.Port, Username: srv.User, Password: srv.Password, From: "labtrust@lab.example",
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"}}
	if err := m.Send(context.Background(), []string{"oncall@lab.example", "ciso@lab.example"}, "[high] Password spraying", "Five accounts from 203.0.113.9."); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || len(msgs[0].To) != 2 || msgs[0].User != "labtrust" || msgs[0].From != "labtrust@lab.example" {
		t.Fatalf("delivered %+v", msgs)
	}
	data := string(msgs[0].Data)
	if !strings.Contains(data, "Subject: [high] Password spraying") || !strings.Contains(data, "Five accounts from 203.0.113.9.") {
		t.Fatalf("message:\n%s", data)
	}
	// Mandatory TLS refuses a server whose certificate it does not trust.
	bad := *m
	bad.TLSConfig = nil
	if err := bad.Send(context.Background(), []string{"x@lab.example"}, "s", "b"); err == nil {
		t.Fatal("sent over an untrusted TLS connection")
	}
	wrong := *m
	wrong.Password = "nope"
	if err := wrong.Send(context.Background(), []string{"x@lab.example"}, "s", "b"); err == nil {
		t.Fatal("sent with a wrong password")
	}
	if len(srv.Messages()) != 1 {
		t.Fatal("a refused send delivered mail")
	}
}

// A failed send is described without the server's words or the address:
// the step, the reply and enhanced codes, and whether to try again.
func TestReason(t *testing.T) {
	srv := notifytest.Start(t)
	m := &notify.SMTP{Host: srv.Host, Port: srv.Port, Username: srv.User, Password: srv.Password, From: "labtrust@lab.example",
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"}}
	srv.RefuseRecipient("ana.garcia@example.org", 550, smtp.EnhancedCode{5, 1, 1})
	srv.RefuseRecipient("li@example.org", 451, smtp.EnhancedCode{4, 2, 2})
	for _, c := range []struct{ to, want string }{
		{"ana.garcia@example.org", "sending SMTP RCPT TO command: server replied 550 5.1.1 (permanent)"},
		{"li@example.org", "sending SMTP RCPT TO command: server replied 451 4.2.2 (temporary: may succeed later)"},
	} {
		err := m.Send(context.Background(), []string{c.to}, "Notice", "body")
		if err == nil || !strings.Contains(err.Error(), c.to) {
			t.Fatalf("send to %s: %v (the server's words name the address)", c.to, err)
		}
		if got := notify.Reason(err); got != c.want {
			t.Errorf("Reason = %q, want %q", got, c.want)
		}
	}
	// A server that is not there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	gone := *m
	gone.Port = port
	err = gone.Send(context.Background(), []string{"ana.garcia@example.org"}, "Notice", "body")
	if got := notify.Reason(err); err == nil || !strings.HasPrefix(got, "the mail server could not be reached") {
		t.Errorf("unreachable: Reason(%v) = %q", err, got)
	}
	// An untrusted certificate.
	bad := *m
	bad.TLSConfig = nil
	err = bad.Send(context.Background(), []string{"ana.garcia@example.org"}, "Notice", "body")
	if got := notify.Reason(err); err == nil || got != "TLS with the mail server failed" {
		t.Errorf("untrusted certificate: Reason(%v) = %q", err, got)
	}
	if got := notify.Reason(errors.New("550 <ana.garcia@example.org> unknown")); strings.Contains(got, "ana") {
		t.Errorf("an unknown error's words are repeated: %q", got)
	}
}

// Many messages go over one connection; a refused recipient does not end
// it; a connection the server closed is made again.
func TestConn(t *testing.T) {
	srv := notifytest.Start(t)
	m := &notify.SMTP{Host: srv.Host, Port: srv.Port, Username: srv.User, Password: srv.Password, From: "labtrust@lab.example",
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"}}
	srv.RefuseRecipient("gone@example.org", 550, smtp.EnhancedCode{5, 1, 1})
	ctx := context.Background()
	c := m.Conn()
	defer c.Close()
	for i, to := range []string{"a@example.org", "b@example.org", "gone@example.org", "c@example.org"} {
		err := c.SendWith(ctx, []string{to}, "Notice", "body", notify.Attachment{Name: "notice.pdf", Data: []byte("%PDF-1.7")})
		if (err != nil) != (to == "gone@example.org") {
			t.Fatalf("message %d to %s: %v", i, to, err)
		}
	}
	if got := srv.Sessions(); got != 1 {
		t.Fatalf("%d connections for four messages, want one", got)
	}
	srv.Hangup()
	if err := c.SendWith(ctx, []string{"d@example.org"}, "Notice", "body"); err != nil {
		t.Fatalf("after the server hung up: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, msg := range srv.Messages() {
		to = append(to, msg.To...)
	}
	if strings.Join(to, " ") != "a@example.org b@example.org c@example.org d@example.org" || srv.Sessions() != 2 {
		t.Fatalf("delivered to %v over %d connections", to, srv.Sessions())
	}
}
