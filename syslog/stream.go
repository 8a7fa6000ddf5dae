package syslog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/labtrust/labtrust"
)

// sinkError marks an error returned by the Sink, so servers can tell it from
// a connection that merely broke.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return "syslog: sink: " + e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// Parse reads a stream of messages with the zero Parser. See Parser.Parse.
func Parse(ctx context.Context, source string, r io.Reader, sink labtrust.Sink) error {
	var p Parser
	return p.Parse(ctx, source, r, sink)
}

// Parse reads a file or stream of syslog messages and hands each to sink:
// sink.Event for each message ParseMessage understands, sink.Reject
// otherwise (Format "atna" for an AuditMessage that failed, else "syslog";
// Position "message N", counting from 1; Raw the message without framing).
//
// If the stream starts with a digit it is read as octet-counted frames
// (RFC 5425, RFC 6587 3.4.1: "LEN SP MSG"); line ends between frames are
// tolerated. Otherwise each line (LF, optionally CR LF) is one message and
// empty lines are skipped. A message longer than MaxMessageSize is rejected
// with Raw cut to MaxMessageSize bytes, and reading goes on. A framing error
// that leaves the rest of the stream unreadable (a bad length, a truncated
// frame) rejects what remains, up to MaxMessageSize bytes, as one Reject,
// and Parse returns nil.
//
// Parse returns the first error from the sink (wrapped), a read error, or
// ctx's error if ctx ends first; it returns nil at the end of the stream.
func (p *Parser) Parse(ctx context.Context, source string, r io.Reader, sink labtrust.Sink) error {
	return p.parseStream(ctx, source, r, sink, "")
}

// streamState carries what the framing loops share.
type streamState struct {
	p      *Parser
	source string
	sink   labtrust.Sink
	from   string // " from ADDR" for listeners
	n      int    // messages seen so far
	max    int
}

func (p *Parser) parseStream(ctx context.Context, source string, r io.Reader, sink labtrust.Sink, from string) error {
	st := &streamState{p: p, source: source, sink: sink, from: from, max: p.maxSize()}
	br := bufio.NewReaderSize(r, st.max+2)
	// Line ends before the first frame (a sender that ends every frame with
	// a newline, resumed mid-stream) do not decide the framing.
	var first []byte
	var err error
	for {
		first, err = br.Peek(1)
		if err != nil || (first[0] != '\n' && first[0] != '\r') {
			break
		}
		br.Discard(1)
	}
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("syslog: read: %w", err)
	}
	if first[0] >= '0' && first[0] <= '9' {
		return st.octetCounted(ctx, br)
	}
	return st.lines(ctx, br)
}

func (st *streamState) position() string {
	return "message " + strconv.Itoa(st.n) + st.from
}

// handle parses one message and passes the result to the sink.
func (st *streamState) handle(ctx context.Context, msg []byte) error {
	st.n++
	e, format, err := st.p.parse(st.source, msg)
	if err != nil {
		return st.reject(ctx, format, err.Error(), msg)
	}
	if err := st.sink.Event(ctx, e); err != nil {
		return &sinkError{err}
	}
	return nil
}

func (st *streamState) reject(ctx context.Context, format, reason string, raw []byte) error {
	r := labtrust.Reject{
		Source:   st.source,
		Format:   format,
		Position: st.position(),
		Reason:   reason,
		Raw:      bytes.Clone(raw),
	}
	if r.Raw == nil {
		r.Raw = []byte{}
	}
	if err := st.sink.Reject(ctx, r); err != nil {
		return &sinkError{err}
	}
	return nil
}

func (st *streamState) tooLarge(ctx context.Context, raw []byte) error {
	st.n++
	return st.reject(ctx, FormatSyslog, "syslog: message is larger than "+strconv.Itoa(st.max)+" bytes; kept its first "+
		strconv.Itoa(len(raw))+" bytes", raw)
}

func (st *streamState) lines(ctx context.Context, br *bufio.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if err := st.tooLarge(ctx, line[:min(len(line), st.max)]); err != nil {
				return err
			}
			// Skip the rest of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("syslog: read: %w", err)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("syslog: read: %w", err)
		}
		msg := bytes.TrimSuffix(line, []byte("\n"))
		msg = bytes.TrimSuffix(msg, []byte("\r"))
		if len(msg) > st.max {
			if herr := st.tooLarge(ctx, msg[:st.max]); herr != nil {
				return herr
			}
		} else if len(msg) > 0 {
			if herr := st.handle(ctx, msg); herr != nil {
				return herr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// maxLenDigits bounds the MSG-LEN field. Nine digits allow lengths up to
// 999,999,999, far above any MaxMessageSize, so an oversized but honest
// frame can still be skipped.
const maxLenDigits = 9

func (st *streamState) octetCounted(ctx context.Context, br *bufio.Reader) error {
	buf := make([]byte, st.max)
	var off int64 // bytes consumed so far, for framing error positions
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Tolerate line ends between frames; some senders add them.
		for {
			c, err := br.ReadByte()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("syslog: read: %w", err)
			}
			if c != '\n' && c != '\r' {
				if err := br.UnreadByte(); err != nil {
					return fmt.Errorf("syslog: read: %w", err)
				}
				break
			}
			off++
		}
		frameStart := off
		var digits [maxLenDigits + 1]byte
		nd := 0
		length := 0
		bad := ""
		for {
			c, err := br.ReadByte()
			if err == io.EOF {
				bad = "stream ends inside a frame length"
				break
			}
			if err != nil {
				return fmt.Errorf("syslog: read: %w", err)
			}
			off++
			if c == ' ' && nd > 0 {
				break
			}
			digits[nd] = c
			nd++
			if c < '0' || c > '9' {
				bad = "frame length is not a number followed by a space"
				break
			}
			if nd > maxLenDigits {
				bad = "frame length has more than " + strconv.Itoa(maxLenDigits) + " digits"
				break
			}
			length = length*10 + int(c-'0')
		}
		if bad == "" && length == 0 {
			bad = "frame length is zero"
		}
		if bad != "" {
			return st.framingError(ctx, br, digits[:nd], frameStart, bad)
		}
		if length > st.max {
			if k, err := io.ReadFull(br, buf); err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					return fmt.Errorf("syslog: read: %w", err)
				}
				head := append(append(digits[:nd:nd], ' '), buf[:k]...)
				return st.framingError(ctx, br, head, frameStart, "stream ends inside a frame")
			}
			if err := st.tooLarge(ctx, buf); err != nil {
				return err
			}
			if _, err := br.Discard(length - st.max); err != nil {
				if err == io.EOF {
					return nil
				}
				return fmt.Errorf("syslog: read: %w", err)
			}
			off += int64(length)
			continue
		}
		k, err := io.ReadFull(br, buf[:length])
		off += int64(k)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			head := append(append(digits[:nd:nd], ' '), buf[:k]...)
			return st.framingError(ctx, br, head, frameStart, "stream ends inside a frame")
		}
		if err != nil {
			return fmt.Errorf("syslog: read: %w", err)
		}
		if err := st.handle(ctx, buf[:length]); err != nil {
			return err
		}
	}
}

// framingError rejects the rest of the stream, starting with the bytes of
// the broken frame already read, as one Reject, keeping at most max bytes.
func (st *streamState) framingError(ctx context.Context, br *bufio.Reader, head []byte, at int64, why string) error {
	raw := make([]byte, 0, min(st.max, len(head)+br.Buffered()))
	raw = append(raw, head[:min(len(head), st.max)]...)
	truncated := len(head) > st.max
	if !truncated {
		rest := make([]byte, st.max-len(raw)+1)
		k, err := io.ReadFull(br, rest)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return fmt.Errorf("syslog: read: %w", err)
		}
		if k > len(rest)-1 {
			k = len(rest) - 1
			truncated = true
		}
		raw = append(raw, rest[:k]...)
	}
	reason := "syslog: framing error at byte " + strconv.FormatInt(at, 10) + ": " + why + "; the rest of the stream is rejected"
	if truncated {
		reason += " (kept its first " + strconv.Itoa(len(raw)) + " bytes)"
	}
	st.n++
	return st.reject(ctx, FormatSyslog, reason, raw)
}
