package syslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/labtrust/labtrust"
)

// ServeStream serves ln with the zero Parser. See Parser.ServeStream.
func ServeStream(ctx context.Context, ln net.Listener, source string, sink labtrust.Sink, log *slog.Logger) error {
	var p Parser
	return p.ServeStream(ctx, ln, source, sink, log)
}

// ServeUDP serves pc with the zero Parser. See Parser.ServeUDP.
func ServeUDP(ctx context.Context, pc net.PacketConn, source string, sink labtrust.Sink, log *slog.Logger) error {
	var p Parser
	return p.ServeUDP(ctx, pc, source, sink, log)
}

// ServeStream accepts connections on ln and reads each with Parse, with
// positions "message N from ADDR" (N counts per connection). For RFC 5425
// the caller wraps ln with tls.NewListener; plain TCP works the same way.
// At most MaxConns connections are served at once.
//
// sink is called from one goroutine per connection and may block; a
// blocked sink stops reading from that connection, which pushes back on
// the sender through TCP.
//
// When ctx ends, ServeStream closes ln and every connection, waits for the
// connection goroutines, and returns nil. If the sink returns an error,
// ServeStream stops the same way and returns that error (wrapped): a sink
// that cannot store is not a reason to keep accepting data. An Accept
// error that is not temporary is returned too. Connection errors (a failed
// TLS handshake, a reset) are logged and end only that connection. log may
// be nil; nothing logged contains message content.
func (p *Parser) ServeStream(ctx context.Context, ln net.Listener, source string, sink labtrust.Sink, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	maxConns := p.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	slots := make(chan struct{}, maxConns)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		failure error
	)
	fail := func(err error) {
		errOnce.Do(func() { failure = err })
		cancel()
	}
	var backoff time.Duration
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		c, err := ln.Accept()
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				break
			}
			if temporary(err) {
				// Out of file descriptors and similar: wait and retry, as
				// net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("syslog: accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
				}
				continue
			}
			fail(fmt.Errorf("syslog: accept: %w", err))
			break
		}
		backoff = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			p.serveConn(ctx, c, source, sink, log, fail)
		}()
	}
	wg.Wait()
	return failure
}

func (p *Parser) serveConn(ctx context.Context, c net.Conn, source string, sink labtrust.Sink, log *slog.Logger, fail func(error)) {
	peer := c.RemoteAddr().String()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	var r interface{ Read([]byte) (int, error) } = c
	if p.IdleTimeout > 0 {
		r = &idleReader{c: c, d: p.IdleTimeout}
	}
	err := p.parseStream(ctx, source, r, sink, " from "+peer)
	var se *sinkError
	switch {
	case errors.As(err, &se):
		if ctx.Err() == nil {
			log.Error("syslog: sink failed; stopping the listener", "peer", peer, "err", se.err)
		}
		fail(se)
	case err != nil && ctx.Err() == nil:
		log.Warn("syslog: connection ended with an error", "peer", peer, "err", err)
	default:
		log.Debug("syslog: connection closed", "peer", peer)
	}
}

// temporary reports whether an Accept error will likely clear by itself:
// a timeout, running out of file descriptors, or a connection aborted
// before it was accepted.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS)
}

// idleReader sets a fresh read deadline before each read.
type idleReader struct {
	c net.Conn
	d time.Duration
}

func (r *idleReader) Read(b []byte) (int, error) {
	if err := r.c.SetReadDeadline(time.Now().Add(r.d)); err != nil {
		return 0, err
	}
	return r.c.Read(b)
}

// ServeUDP reads RFC 5426 datagrams from pc, one message each, with
// positions "message N from ADDR" (N counts all datagrams). A datagram
// larger than MaxMessageSize is rejected. sink is called from this
// goroutine only; while it blocks, datagrams queue in the socket buffer
// and the kernel drops what does not fit, as UDP syslog always has.
//
// When ctx ends, ServeUDP returns nil; it interrupts the pending read with
// a past read deadline and leaves pc open for the caller to close. It
// returns the first sink error (wrapped) or a read error that is not
// temporary. log may be nil.
func (p *Parser) ServeUDP(ctx context.Context, pc net.PacketConn, source string, sink labtrust.Sink, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop := context.AfterFunc(ctx, func() { pc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	st := &streamState{p: p, source: source, sink: sink, max: p.maxSize()}
	buf := make([]byte, st.max+1)
	for {
		k, addr, err := pc.ReadFrom(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if k == 0 {
				return errors.New("syslog: udp read: " + err.Error())
			}
			// Some systems report an oversized datagram as an error along
			// with the part that fit; it is handled below.
		}
		st.from = " from " + addrString(addr)
		if k > st.max {
			err = st.tooLarge(ctx, buf[:st.max])
		} else {
			err = st.handle(ctx, buf[:k])
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	return a.String()
}
