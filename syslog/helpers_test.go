package syslog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

// recorder is a Sink that keeps everything it is given.
type recorder struct {
	mu      sync.Mutex
	events  []labtrust.Event
	rejects []labtrust.Reject
	changed chan struct{}
	fail    error // returned by every call when set
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) Event(ctx context.Context, e labtrust.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, e)
	r.notify()
	return nil
}

func (r *recorder) Reject(ctx context.Context, rj labtrust.Reject) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.rejects = append(r.rejects, rj)
	r.notify()
	return nil
}

func (r *recorder) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events), len(r.rejects)
}

// waitFor waits until the recorder holds at least events and rejects.
func (r *recorder) waitFor(t *testing.T, events, rejects int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		e, j := r.counts()
		if e >= events && j >= rejects {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("timed out with %d events and %d rejects, want %d and %d", e, j, events, rejects)
		}
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func frame(msgs ...string) []byte {
	var out []byte
	for _, m := range msgs {
		out = append(out, strconv.Itoa(len(m))...)
		out = append(out, ' ')
		out = append(out, m...)
	}
	return out
}

// selfSigned returns a server and a client TLS config for 127.0.0.1.
func selfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "labtrust test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}
