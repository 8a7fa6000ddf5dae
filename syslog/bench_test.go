package syslog

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/labtrust/labtrust"
)

// counter is a Sink that only counts, to measure the parser and transport.
type counter struct {
	n      atomic.Int64
	target int64
	done   chan struct{}
	once   sync.Once
}

func (c *counter) Event(context.Context, labtrust.Event) error   { c.add(); return nil }
func (c *counter) Reject(context.Context, labtrust.Reject) error { c.add(); return nil }
func (c *counter) add() {
	if c.n.Add(1) == c.target {
		c.once.Do(func() { close(c.done) })
	}
}

// benchATNA is an RFC 5424 message carrying an AuditMessage of about 1 KB.
var benchATNA = "<85>1 2024-01-01T00:00:00.000Z lis.lab.example.org lis 4242 IHE+RFC-3881 - " + auditMessage("MRN0012345678", "0")

func BenchmarkParseMessageATNA(b *testing.B) {
	raw := []byte(benchATNA)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMessage("lis", raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkParseMessagePlain(b *testing.B) {
	raw := []byte("<38>1 2024-01-01T00:00:01Z lab1 sshd 1 - - Failed password for invalid user root from 10.0.0.9 port 2 ssh2")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMessage("lis", raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkTLSIngest measures RFC 5425 ingest end to end: two TLS
// connections on 127.0.0.1 sending octet-counted ~1 KB AuditMessages to
// ServeStream and a counting sink.
func BenchmarkTLSIngest(b *testing.B) {
	serverTLS, clientTLS := selfSigned(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	const conns = 2
	perConn := b.N/conns + 1
	sink := &counter{target: int64(perConn * conns), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- ServeStream(ctx, tls.NewListener(ln, serverTLS), "lis", sink, nil) }()

	frameBytes := frame(benchATNA)
	batch := make([]byte, 0, 64*len(frameBytes))
	for range 64 {
		batch = append(batch, frameBytes...)
	}
	clients := make([]*tls.Conn, conns)
	for i := range clients {
		c, err := tls.Dial("tcp", ln.Addr().String(), clientTLS)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Handshake(); err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	b.SetBytes(int64(len(frameBytes)))
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			left := perConn
			for left > 0 {
				n := min(left, 64)
				if _, err := c.Write(batch[:n*len(frameBytes)]); err != nil {
					b.Error(err)
					return
				}
				left -= n
			}
		})
	}
	wg.Wait()
	<-sink.done
	b.StopTimer()
	b.ReportMetric(float64(sink.n.Load())/b.Elapsed().Seconds(), "events/s")
	for _, c := range clients {
		c.Close()
	}
	cancel()
	if err := <-served; err != nil {
		b.Fatal(err)
	}
}
