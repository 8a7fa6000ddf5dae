package hl7

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/labtrust/labtrust"
)

// Server receives ADT messages over MLLP and acknowledges each one
// (original-mode acknowledgement) only after its sink returned: AA when it
// became a registry record, AE when it was quarantined, with the reason
// (which never holds a value from the message). A frame too damaged to
// parse is quarantined and answered with nothing, since there is no
// control ID to acknowledge; senders resend on timeout.
type Server struct {
	Source string
	Sink   labtrust.PatientSink
	// Other, if set, takes the messages that are not ADT (orders and
	// results): it stores them, or quarantines them and returns why (the
	// text of an AE acknowledgement). An error means nothing was stored:
	// no acknowledgement, so the sender resends.
	Other func(ctx context.Context, m *Message, raw []byte, pos string) (rejected string, err error)
	// IdleTimeout closes a connection that sends nothing for this long
	// (default 5 minutes; interface engines keep connections open).
	IdleTimeout time.Duration
	Log         *slog.Logger
	Now         func() time.Time

	mu    sync.Mutex // serializes sink calls: PatientSink is single-goroutine
	wg    sync.WaitGroup
	conns sync.Map
}

// Serve accepts connections on ln until ctx ends or ln fails, then closes
// open connections and waits for their handlers.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = 5 * time.Minute
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer func() {
		s.conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		s.wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("hl7: accept: %w", err)
		}
		s.wg.Add(1)
		s.conns.Store(c, struct{}{})
		go func() {
			defer s.wg.Done()
			defer s.conns.Delete(c)
			defer c.Close()
			if err := s.serveConn(ctx, c); err != nil && ctx.Err() == nil {
				s.Log.Warn("hl7 connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) error {
	fr := NewFrameReader(c, 0)
	n := 0
	for {
		c.SetReadDeadline(s.Now().Add(s.IdleTimeout))
		msg, raw, err := fr.Next()
		if err == io.EOF {
			return nil
		}
		n++
		pos := "message " + strconv.Itoa(n) + " from " + c.RemoteAddr().String()
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				return err
			}
			if err := s.reject(ctx, pos, err.Error(), raw); err != nil {
				return err
			}
			continue
		}
		m, perr := Parse(msg)
		if perr != nil {
			if err := s.reject(ctx, pos, perr.Error(), msg); err != nil {
				return err
			}
			continue
		}
		code, text := "AA", ""
		if s.Other != nil && m.Field("MSH", 9).Comp(1) != "ADT" {
			s.mu.Lock()
			why, err := s.Other(ctx, m, msg, pos)
			s.mu.Unlock()
			if err != nil {
				return fmt.Errorf("hl7: %s: %w", pos, err)
			}
			if why != "" {
				code, text = "AE", why
			}
			if err := WriteFrame(c, Ack(m, code, text, s.Now())); err != nil {
				return err
			}
			continue
		}
		rec, rerr := Record(m, s.Source)
		if rerr != nil {
			code, text = "AE", rerr.Error()
			if err := s.reject(ctx, pos, text, msg); err != nil {
				return err
			}
		} else {
			s.mu.Lock()
			err := s.Sink.Patient(ctx, rec)
			s.mu.Unlock()
			if err != nil {
				// Not stored: no acknowledgement, so the sender resends.
				return fmt.Errorf("hl7: %s: %w", pos, err)
			}
		}
		if err := WriteFrame(c, Ack(m, code, text, s.Now())); err != nil {
			return err
		}
	}
}

func (s *Server) reject(ctx context.Context, pos, reason string, raw []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rj := labtrust.Reject{Source: s.Source, Format: Format, Position: pos, Reason: reason, Raw: append([]byte(nil), raw...)}
	if err := s.Sink.Reject(ctx, rj); err != nil {
		return fmt.Errorf("hl7: %s: reject: %w", pos, err)
	}
	return nil
}
