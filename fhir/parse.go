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
	br    *bufio.Reader
	buf   []byte // holds a line that did not fit in br's buffer
	line  int    // number of the line last returned (1-based)
	eol   string // the line ending trimmed from the line last returned
	limit int    // longest line kept whole; 0 means MaxLine
}

// next returns the next line without its line ending ("\n" or "\r\n"). A
// line longer than the limit is cut to limit+1 bytes, so the caller can tell
// it was too long; the rest of it is read and dropped. The slice is valid
// until the next call. At the end of input next returns io.EOF, after the
// last line if that had no line ending.
func (lr *lineReader) next() ([]byte, error) {
	limit := lr.limit
	if limit == 0 {
		limit = MaxLine
	}
	b, err := lr.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(b) > 0) {
		lr.line++
		line := lr.trimEOL(b)
		return line[:min(len(line), limit+1)], nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	lr.buf = append(lr.buf[:0], b...)
	for {
		b, err = lr.br.ReadSlice('\n')
		// Keep limit+3 bytes: enough to see a line ending after limit+1
		// bytes of content.
		if room := limit + 3 - len(lr.buf); room > 0 {
			lr.buf = append(lr.buf, b[:min(len(b), room)]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		break
	}
	lr.line++
	line := lr.trimEOL(lr.buf)
	return line[:min(len(line), limit+1)], nil
}

func (lr *lineReader) trimEOL(b []byte) []byte {
	n := len(b)
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) < n {
		b = bytes.TrimSuffix(b, []byte("\r"))
	}
	lr.eol = "\r\n"[2-(n-len(b)):]
	return b
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

	// Find the first non-blank line; its shape decides the mode. It may
	// be a whole Bundle on one line, so it is kept up to MaxDocument.
	lr.limit = MaxDocument
	var first []byte
	for {
		b, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fhir: read: %w", err)
		}
		if !isBlank(b) {
			first = b
			break
		}
	}
	lr.limit = MaxLine
	firstLine := lr.line
	// Reading ahead may reuse br's buffer, which first points into.
	first = append(bytes.Clone(first), lr.eol...)
	more, err := hasMore(br)
	if err != nil {
		return fmt.Errorf("fhir: read: %w", err)
	}
	if !more {
		// A single line: one document (resource or Bundle), not NDJSON.
		if len(first) > MaxDocument {
			return s.reject("resource", "resource exceeds "+strconv.Itoa(MaxDocument)+" bytes", first[:MaxDocument])
		}
		return s.document(first)
	}
	line := first[:len(first)-len(lr.eol)]
	if len(line) > MaxLine {
		// Too long for an NDJSON line; pretty-printed documents do not
		// start with such a line.
		if err := s.ndjsonLine(firstLine, line); err != nil {
			return err
		}
		return s.ndjson(lr)
	}
	perr := s.p.parse(line)
	var se *syntaxError
	if perr == nil || !errors.As(perr, &se) || se.msg != "unexpected end" {
		// A complete value, or one broken in the middle: NDJSON.
		if err := s.ndjsonLine(firstLine, line); err != nil {
			return err
		}
		return s.ndjson(lr)
	}

	// The first line is an incomplete value: most likely a pretty-printed
	// resource or Bundle. Read it whole.
	doc := first
	rest, err := io.ReadAll(io.LimitReader(br, MaxDocument-int64(len(doc))+1))
	if err != nil {
		return fmt.Errorf("fhir: read: %w", err)
	}
	doc = append(doc, rest...)
	if len(doc) <= MaxDocument {
		err := s.p.parse(doc)
		if err == nil {
			return s.parsedDocument(doc)
		}
		if !looksLikeNDJSON(&s.p, doc) {
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

// hasMore reports whether anything but whitespace is left in br, without
// consuming anything. More whitespace than br buffers counts as more.
func hasMore(br *bufio.Reader) (bool, error) {
	for i := 0; ; i++ {
		b, err := br.Peek(i + 1)
		if err == io.EOF {
			return false, nil
		}
		if err == bufio.ErrBufferFull {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if c := b[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return true, nil
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
		b, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fhir: read: %w", err)
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
	if len(b) > MaxLine {
		return s.reject(pos, "line exceeds "+strconv.Itoa(MaxLine)+" bytes", b[:MaxLine])
	}
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
	return s.parsedDocument(doc)
}

// parsedDocument is document after s.p has parsed doc.
func (s *session) parsedDocument(doc []byte) error {
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
