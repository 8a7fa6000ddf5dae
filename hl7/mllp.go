package hl7

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MLLP (HL7 v2 Minimal Lower Layer Protocol, release 2) frames each message
// as <VT> message <FS><CR>.
const (
	startBlock = 0x0b
	endBlock   = 0x1c
	carriage   = 0x0d
)

// ErrFrame reports bytes that are not a well-formed MLLP frame. The reader
// resynchronizes at the next start byte, so one bad frame loses nothing
// after it.
var ErrFrame = errors.New("hl7: malformed MLLP frame")

// FrameReader reads MLLP frames from a stream.
type FrameReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// NewFrameReader reads frames of at most max bytes (MaxMessage if max <= 0).
func NewFrameReader(r io.Reader, max int) *FrameReader {
	if max <= 0 {
		max = MaxMessage
	}
	return &FrameReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next frame's message bytes, valid until the next call.
// It returns io.EOF at a clean end of stream, and an error wrapping
// ErrFrame (with the bad frame's bytes, at most max of them, as raw) when
// the frame is oversized, has bytes outside a frame before it, or ends
// without its end block; the caller may keep reading after ErrFrame.
func (fr *FrameReader) Next() (msg []byte, raw []byte, err error) {
	// Skip to the start block. Whitespace between frames is tolerated;
	// anything else is reported, once, as a bad frame.
	var junk []byte
	for {
		c, err := fr.br.ReadByte()
		if err != nil {
			if err == io.EOF && len(bytes.TrimSpace(junk)) > 0 {
				return nil, junk, fmt.Errorf("%w: %d bytes outside any frame at the end of the stream", ErrFrame, len(junk))
			}
			return nil, nil, err
		}
		if c == startBlock {
			break
		}
		if len(junk) < fr.max {
			junk = append(junk, c)
		}
	}
	if len(bytes.TrimSpace(junk)) > 0 {
		fr.br.UnreadByte()
		return nil, junk, fmt.Errorf("%w: %d bytes outside any frame", ErrFrame, len(junk))
	}
	fr.buf = fr.buf[:0]
	over := false
	for {
		chunk, err := fr.br.ReadSlice(endBlock)
		if len(fr.buf)+len(chunk) > fr.max+1 {
			over = true
			if room := fr.max + 1 - len(fr.buf); room > 0 {
				fr.buf = append(fr.buf, chunk[:room]...)
			}
		} else {
			fr.buf = append(fr.buf, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				return nil, fr.buf, fmt.Errorf("%w: the stream ended inside a frame", ErrFrame)
			}
			return nil, nil, err
		}
		break
	}
	// fr.buf ends with the end block; a carriage return must follow.
	c, err := fr.br.ReadByte()
	if err == nil && c != carriage {
		fr.br.UnreadByte()
	}
	body := fr.buf[:len(fr.buf)-1]
	if over {
		return nil, body[:min(len(body), fr.max)], fmt.Errorf("%w: larger than %d bytes", ErrFrame, fr.max)
	}
	if i := bytes.IndexByte(body, startBlock); i >= 0 {
		return nil, body, fmt.Errorf("%w: a start block inside the frame", ErrFrame)
	}
	return body, body, nil
}

// WriteFrame writes msg as one MLLP frame.
func WriteFrame(w io.Writer, msg []byte) error {
	buf := make([]byte, 0, len(msg)+3)
	buf = append(buf, startBlock)
	buf = append(buf, msg...)
	buf = append(buf, endBlock, carriage)
	_, err := w.Write(buf)
	return err
}
