package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestServeTLS runs RFC 5425 end to end: a self-signed certificate on
// 127.0.0.1:0, octet-counted RFC 5424 messages carrying AuditMessages, plain
// security lines and garbage, plus a client that does not speak TLS.
func TestServeTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := Parser{MaxMessageSize: 8 << 10}
	sink := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.ServeStream(ctx, tls.NewListener(ln, serverTLS), "arr", sink, testLogger(t)) }()

	// A client that is not TLS: its connection fails and the server goes on.
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Write([]byte("12 not a TLS hello\n")); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	conn, err := tls.Dial("tcp", ln.Addr().String(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	atnaMsg := "<85>1 2024-01-01T00:00:00Z h app - IHE+RFC-3881 - \ufeff" + auditMessage("PAT-1", "0")
	plain := "<38>1 2024-01-01T00:00:01Z lab1 sshd 1 - - Failed password for invalid user root from 10.0.0.9 port 2 ssh2"
	garbage := "SECRET nonsense"
	var stream []byte
	for range 5 {
		stream = append(stream, frame(atnaMsg, plain, garbage)...)
	}
	stream = append(stream, frame(strings.Repeat("o", 9<<10))...) // too large
	stream = append(stream, frame(atnaMsg)...)
	if _, err := conn.Write(stream); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, 11, 6)
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStream returned %v after a clean shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeStream did not return after cancel")
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.events) != 11 || len(sink.rejects) != 6 {
		t.Fatalf("%d events, %d rejects", len(sink.events), len(sink.rejects))
	}
	var access, security int
	for _, e := range sink.events {
		switch {
		case e.Kind == "access" && e.Patients[0].ID == "PAT-1" && e.Actor.Site == "Main Lab":
			access++
		case e.Kind == "security" && e.Actor.ID == "root" && e.Outcome == 8 && e.Network == "10.0.0.9":
			security++
		default:
			t.Errorf("unexpected event %+v", e)
		}
	}
	if access != 6 || security != 5 {
		t.Errorf("%d access and %d security events, want 6 and 5", access, security)
	}
	local := conn.LocalAddr().String()
	for i, r := range sink.rejects {
		if !strings.HasSuffix(r.Position, " from "+local) {
			t.Errorf("reject %d position %q does not name the peer %s", i, r.Position, local)
		}
		if strings.Contains(r.Reason, "SECRET") {
			t.Errorf("reject %d reason leaks text: %q", i, r.Reason)
		}
	}
	if r := sink.rejects[0]; r.Position != "message 3 from "+local || string(r.Raw) != garbage {
		t.Errorf("first reject %+v", r)
	}
	if r := sink.rejects[5]; r.Position != "message 16 from "+local || !strings.Contains(r.Reason, "larger than 8192") {
		t.Errorf("last reject %+v", r)
	}
}

func TestServeStreamSinkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("ledger unavailable")
	sink := newRecorder()
	sink.fail = boom
	done := make(chan error, 1)
	go func() { done <- ServeStream(context.Background(), ln, "s", sink, nil) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Errorf("ServeStream returned %v, want the sink error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeStream did not stop on a sink error")
	}
	// The listener is closed.
	if c2, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c2.Close()
		t.Error("listener still accepts after ServeStream returned")
	}
}

func TestServeStreamLimits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := Parser{MaxConns: 1, IdleTimeout: 300 * time.Millisecond}
	sink := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.ServeStream(ctx, ln, "s", sink, testLogger(t)) }()

	line := []byte("<13>1 2024-01-01T00:00:00Z h a - - - user=u action=login\n")
	first, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Write(line); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, 1, 0)
	// With one slot taken, the second connection is not served until the
	// first is closed by the idle timeout.
	second, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := second.Write(line); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sink.waitFor(t, 2, 0)
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("second connection was served while the first held the only slot")
	}
	// The idle timeout closed the first connection.
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.Read(make([]byte, 1)); err == nil {
		t.Error("first connection still open")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	p := Parser{MaxMessageSize: 4096}
	sink := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.ServeUDP(ctx, pc, "udp-src", sink, testLogger(t)) }()

	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs := []string{
		"<85>1 2024-01-01T00:00:00Z h app - IHE+RFC-3881 - " + auditMessage("PAT-9", "0"),
		"<38>Jan  1 00:00:01 lab1 sshd[7]: Accepted publickey for alice from 10.0.0.1 port 22 ssh2",
		"garbage",
		strings.Repeat("b", 5000),
	}
	for _, m := range msgs {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	sink.waitFor(t, 2, 2)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeUDP did not return after cancel")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.events[0].Patients[0].ID != "PAT-9" || sink.events[1].Actor.ID != "alice" || sink.events[1].Source != "udp-src" {
		t.Errorf("events %+v", sink.events)
	}
	from := " from " + c.LocalAddr().String()
	if r := sink.rejects[0]; r.Position != "message 3"+from || !bytes.Equal(r.Raw, []byte("garbage")) {
		t.Errorf("reject 0 %+v", r)
	}
	if r := sink.rejects[1]; r.Position != "message 4"+from || len(r.Raw) != 4096 || !strings.Contains(r.Reason, "larger than 4096") {
		t.Errorf("reject 1 position %q reason %q len %d", r.Position, r.Reason, len(r.Raw))
	}
}
