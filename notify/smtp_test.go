package notify_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

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
