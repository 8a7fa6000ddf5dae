package fhir

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

// Format is the labtrust.Reject.Format of every reject this package emits.
const Format = "fhir"

// MaxLine is the longest NDJSON line Parse accepts, without its line
// ending. A longer line becomes a reject whose Raw holds its first MaxLine
// bytes.
const MaxLine = 1 << 20

// MaxDocument is the largest single resource or Bundle (a JSON text that is
// not NDJSON) Parse reads into memory.
const MaxDocument = 64 << 20

// ctxCheckEvery is how many records pass between context checks; checking
// per record would cost more than the rest of a small record's handling.
const ctxCheckEvery = 256

// Parse reads FHIR R4 AuditEvents from r and hands each to sink. It detects
// the shape of the input:
//
//   - NDJSON: one resource per line, blank lines skipped. Lines are read one
//     at a time, so memory stays bounded by MaxLine whatever the stream's
//     length. Positions are "line N" (1-based).
//   - a single AuditEvent (pretty-printed or not). Position "resource".
//   - a Bundle of any type whose entry[].resource are AuditEvents. Positions
//     are "entry N" (1-based).
//
// Every record becomes exactly one sink.Event or one sink.Reject. A
// Reject has Format "fhir", a Reason naming the element and the problem but
// never a value from the record, and Raw bytes that, given alone to Parse,
// reproduce the record: the NDJSON line (without its line ending), the
// entry's resource, or the whole input. A Bundle found on an NDJSON line is
// rejected (NDJSON carries resources, not Bundles); its Raw, parsed alone,
// yields the Bundle's entries.
//
// Parse returns an error only when reading r fails, ctx is done, or the
// sink returns an error; parsing stops at the first such error. Raw and the
// Event's strings are fresh copies the sink may keep.
func Parse(ctx context.Context, source string, r io.Reader, sink labtrust.Sink) error {
	s := &session{ctx: ctx, source: source, sink: sink}
	s.m.p = &s.p
	return s.run(r)
}

type session struct {
	ctx    context.Context
	source string
	sink   labtrust.Sink
	p      jsonParser
	m      mapper
	n      int // records handed to the sink, for context checks
}

func (s *session) reject(pos, reason string, raw []byte) error {
	if err := s.tick(); err != nil {
		return err
	}
	rj := labtrust.Reject{Source: s.source, Format: Format, Position: pos, Reason: reason, Raw: bytes.Clone(raw)}
	if err := s.sink.Reject(s.ctx, rj); err != nil {
		return fmt.Errorf("fhir: %s: reject: %w", pos, err)
	}
	return nil
}

func (s *session) event(pos string, ev labtrust.Event) error {
	if err := s.tick(); err != nil {
		return err
	}
	if err := s.sink.Event(s.ctx, ev); err != nil {
		return fmt.Errorf("fhir: %s: event: %w", pos, err)
	}
	return nil
}

func (s *session) tick() error {
	s.n++
	if s.n%ctxCheckEvery == 0 {
		if err := s.ctx.Err(); err != nil {
			return fmt.Errorf("fhir: %w", err)
		}
	}
	return nil
}

// lineReader reads lines with bounded memory.
type lineReader struct {
	br   *bufio.Reader
	buf  []byte // holds a line that did not fit in br's buffer
	line int    // number of the line last returned (1-based)
}

// next returns the next line without its "\n" (a trailing "\r" is kept;
// callers trim it). long reports a line over MaxLine, whose first MaxLine
// bytes are returned. The slice is valid until the next call. At the end of
// input next returns io.EOF, after the last line if that had no "\n".
func (lr *lineReader) next() (line []byte, long bool, err error) {
	b, err := lr.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(b) > 0) {
		lr.line++
		return trimEOL(b), len(trimEOL(b)) > MaxLine, nil
	}
	if err != bufio.ErrBufferFull {
		return nil, false, err
	}
	lr.buf = append(lr.buf[:0], b...)
	for {
		b, err = lr.br.ReadSlice('\n')
		if len(lr.buf) <= MaxLine+1 {
			room := MaxLine + 2 - len(lr.buf) // +2 keeps "\r\n" distinguishable
			lr.buf = append(lr.buf, b[:min(len(b), room)]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return nil, false, err
		}
		break
	}
	lr.line++
	line = trimEOL(lr.buf)
	if len(line) > MaxLine {
		return line[:MaxLine], true, nil
	}
	return line, false, nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func (s *session) run(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	lr := &lineReader{br: br}

	// Find the first non-blank line; its shape decides the mode.
	var first []byte
	var long bool
	for {
		b, l, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fhir: read: %w", err)
		}
		if !isBlank(b) {
			first, long = b, l
			break
		}
	}
	firstLine := lr.line

	if !long {
		perr := s.p.parse(first)
		if perr == nil {
			// A complete value on the first line: a one-line document if
			// nothing but whitespace follows, else NDJSON. Reading ahead
			// may reuse br's buffer, which first points into.
			first = bytes.Clone(first)
			more, err := hasMore(br)
			if err != nil {
				return fmt.Errorf("fhir: read: %w", err)
			}
			if !more {
				return s.document(first)
			}
			if err := s.ndjsonLine(lr.line, first); err != nil {
				return err
			}
			return s.ndjson(lr)
		}
		var se *syntaxError
		if !errors.As(perr, &se) || se.msg != "unexpected end" {
			// Broken in the middle: treat as a bad NDJSON line.
			if err := s.ndjsonLine(lr.line, first); err != nil {
				return err
			}
			return s.ndjson(lr)
		}
	}

	// The first line is an incomplete value (or too long to tell): most
	// likely a pretty-printed resource or a large Bundle. Read it whole.
	doc := make([]byte, 0, len(first)+1<<10)
	doc = append(doc, first...)
	doc = append(doc, '\n')
	rest, err := io.ReadAll(io.LimitReader(br, MaxDocument-int64(len(doc))+1))
	if err != nil {
		return fmt.Errorf("fhir: read: %w", err)
	}
	doc = append(doc, rest...)
	if len(doc) <= MaxDocument {
		if err := s.p.parse(doc); err == nil || !looksLikeNDJSON(&s.p, doc) {
			return s.document(doc)
		}
	} else if !looksLikeNDJSON(&s.p, doc) {
		// Too large to hold. Reject it as one record and drain the rest so
		// the caller sees the whole input consumed.
		if _, err := io.Copy(io.Discard, br); err != nil {
			return fmt.Errorf("fhir: read: %w", err)
		}
		return s.reject("resource", "resource exceeds "+strconv.Itoa(MaxDocument)+" bytes", doc[:MaxDocument])
	}
	// Not one document but lines that stand alone: NDJSON whose first line
	// is damaged. Stream on from what was read.
	lr2 := &lineReader{br: bufio.NewReaderSize(io.MultiReader(bytes.NewReader(doc), br), 64<<10), line: firstLine - 1}
	return s.ndjson(lr2)
}

// hasMore reports whether anything but whitespace is left in br, consuming
// only whitespace.
func hasMore(br *bufio.Reader) (bool, error) {
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return true, br.UnreadByte()
		}
	}
}

// looksLikeNDJSON reports whether some line after the first of doc is a
// complete JSON object on its own, which a pretty-printed document never
// has at its top level.
func looksLikeNDJSON(p *jsonParser, doc []byte) bool {
	lines := bytes.Split(doc, []byte("\n"))
	for _, l := range lines[1:] {
		l = bytes.TrimSpace(l)
		if len(l) < 2 || l[0] != '{' || l[len(l)-1] != '}' {
			continue
		}
		if p.parse(l) == nil {
			return true
		}
	}
	return false
}

func (s *session) ndjson(lr *lineReader) error {
	for {
		b, long, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fhir: read: %w", err)
		}
		pos := "line " + strconv.Itoa(lr.line)
		if long {
			if err := s.reject(pos, "line exceeds "+strconv.Itoa(MaxLine)+" bytes", b); err != nil {
				return err
			}
			continue
		}
		if isBlank(b) {
			continue
		}
		if err := s.ndjsonLine(lr.line, b); err != nil {
			return err
		}
	}
}

func (s *session) ndjsonLine(n int, b []byte) error {
	pos := "line " + strconv.Itoa(n)
	if err := s.p.parse(b); err != nil {
		return s.reject(pos, "line is not valid JSON: "+err.Error(), b)
	}
	ev, reason := s.m.mapAuditEvent(0, s.source)
	if reason != "" {
		return s.reject(pos, reason, b)
	}
	return s.event(pos, ev)
}

// document handles a whole JSON text: a Bundle or a single resource.
func (s *session) document(doc []byte) error {
	if err := s.p.parse(doc); err != nil {
		return s.reject("resource", "resource is not valid JSON: "+err.Error(), doc)
	}
	p := &s.p
	if p.nodes[0].kind == kObject {
		if rt := p.get(0, "resourceType"); rt >= 0 && string(p.nodes[rt].val) == "Bundle" {
			return s.bundle(doc)
		}
	}
	ev, reason := s.m.mapAuditEvent(0, s.source)
	if reason != "" {
		return s.reject("resource", reason, doc)
	}
	return s.event("resource", ev)
}

func (s *session) bundle(doc []byte) error {
	p := &s.p
	entries := p.get(0, "entry")
	if entries < 0 || p.nodes[entries].kind == kNull {
		return nil // an empty Bundle holds no records
	}
	if p.nodes[entries].kind != kArray {
		return s.reject("resource", "Bundle.entry: want an array, got "+p.nodes[entries].kind.String(), doc)
	}
	i := 0
	for c := entries + 1; c < p.nodes[entries].skip; c = p.nodes[c].skip {
		pos := "entry " + strconv.Itoa(i+1)
		entry := doc[p.nodes[c].start:p.nodes[c].end]
		res := p.get(c, "resource")
		if res < 0 || p.nodes[res].kind == kNull {
			if err := s.reject(pos, "Bundle.entry["+strconv.Itoa(i)+"].resource: missing", entry); err != nil {
				return err
			}
			i++
			continue
		}
		raw := doc[p.nodes[res].start:p.nodes[res].end]
		ev, reason := s.m.mapAuditEvent(res, s.source)
		var err error
		if reason != "" {
			err = s.reject(pos, reason, raw)
		} else {
			err = s.event(pos, ev)
		}
		if err != nil {
			return err
		}
		i++
	}
	return nil
}
