package detect_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/detect"
	"github.com/labtrust/labtrust/notify"
	"github.com/labtrust/labtrust/notify/notifytest"
)

func TestWebhook(t *testing.T) {
	var calls atomic.Int32
	var got struct {
		Text  string         `json:"text"`
		Alert labtrust.Alert `json:"alert"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable) // the first try fails
			return
		}
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	a := labtrust.Alert{ID: 7, Title: "Password spraying", Severity: "high", Explanation: "five accounts from 203.0.113.9", Entries: []uint64{1, 2}}
	if err := (&detect.Webhook{URL: srv.URL}).Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || got.Alert.ID != 7 || !strings.HasPrefix(got.Text, "[high] Password spraying (alert 7)") {
		t.Fatalf("%d calls, got %+v", calls.Load(), got)
	}
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer dead.Close()
	if err := (&detect.Webhook{URL: dead.URL}).Send(context.Background(), a); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("a failing receiver: %v", err)
	}
}

func TestMail(t *testing.T) {
	srv := notifytest.Start(t)
	m := &detect.Mail{Sender: &notify.SMTP{Host: srv.Host, Port: srv.Port, Username: srv.User, Password: srv.Password, From: "labtrust@lab.example",
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs, ServerName: "127.0.0.1"}}, To: []string{"oncall@lab.example"}, ConsoleURL: "https://labtrust.lab.internal/console/"}
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	a := labtrust.Alert{ID: 12, Rule: "export_burst", Title: "Burst of patient data exports by one account", Severity: "high",
		Explanation: "Five or more exports by one account within an hour.", Actor: "u0014", First: at, Last: at.Add(40 * time.Minute), Count: 6}
	if err := m.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	data := string(msgs[0].Data)
	for _, want := range []string{"Subject: [labtrust high] Burst of patient data exports by one account", "Account: u0014",
		"Triage it: https://labtrust.lab.internal/console/alerts/12", "6 matching event(s)"} {
		if !strings.Contains(strings.ReplaceAll(data, "=\r\n", ""), want) {
			t.Errorf("mail lacks %q:\n%s", want, data)
		}
	}
}
