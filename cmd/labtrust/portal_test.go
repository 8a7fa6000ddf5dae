package main

import (
	"io"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labtrust/labtrust/notify/notifytest"
)

// TestServePortalSubscribe: with a mail server configured, the demo's
// portal takes a subscription, mails the confirmation link (on the public
// address), and mails a public update posted from the CLI beside the
// running server.
func TestServePortalSubscribe(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mail := notifytest.Start(t)
	ca := filepath.Join(dir, "smtp-ca.pem")
	os.WriteFile(ca, mail.CertPEM, 0o600)
	pw := filepath.Join(dir, "smtp-password")
	os.WriteFile(pw, []byte(mail.Password+"\n"), 0o600)
	t.Setenv("LABTRUST_SMTP_PASSWORD_FILE", pw)
	srv := startServer(t, "--data", data, "--demo", "--demo-patients", "200", "--demo-events", "2000",
		"--smtp-host", "127.0.0.1", "--smtp-port", strconv.Itoa(mail.Port), "--smtp-user", mail.User, "--smtp-ca", ca,
		"--public-url", "https://portal.lab.example", "--update-mail-every", "200ms")
	defer func() {
		srv.cmd.Process.Signal(syscall.SIGTERM)
		srv.cmd.Wait()
	}()
	post := func(path string, form url.Values) string {
		t.Helper()
		res, err := http.PostForm("http://"+srv.addr+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
		}
		return string(b)
	}
	if body := post("/portal/subscribe?lang=en", url.Values{"email": {"pat@example.com"}}); !strings.Contains(body, "Check your inbox") {
		t.Fatalf("subscribe: %s", body)
	}
	msgs := mail.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d confirmation mails", len(msgs))
	}
	d := strings.ReplaceAll(string(msgs[0].Data), "=\r\n", "")
	m := regexp.MustCompile(`https://portal\.lab\.example/portal/subscribe/confirm\?lang=en&(?:amp;)?t=([A-Za-z0-9_-]+)`).FindStringSubmatch(strings.ReplaceAll(d, "=3D", "="))
	if m == nil {
		t.Fatalf("no confirmation link on the public address:\n%s", d)
	}
	if body := post("/portal/subscribe/confirm?lang=en", url.Values{"t": {m[1]}}); !strings.Contains(body, "we will email you each new update") {
		t.Fatalf("confirm: %s", body)
	}
	if out := mustRun(t, "incident", "update", "1", "--status", "investigating", "--en", "We are looking into an export.", "--es", "Investigamos una exportación.", "--data", data); !strings.Contains(out, "public update posted") {
		t.Fatalf("incident update: %s", out)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		msgs = mail.Messages()
		if len(msgs) == 2 {
			d := strings.ReplaceAll(string(msgs[1].Data), "=\r\n", "")
			msg, err := netmail.ReadMessage(strings.NewReader(string(msgs[1].Data)))
			if err != nil || !strings.Contains(d, "We are looking into an export.") || !strings.HasPrefix(msg.Header.Get("List-Unsubscribe"), "<https://portal.lab.example/portal/unsubscribe?") {
				t.Fatalf("update mail:\n%s", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no update mail (%d messages)", len(msgs))
		}
	}
}
