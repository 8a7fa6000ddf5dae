package detect_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/detect"
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
