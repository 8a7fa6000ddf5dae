package csvsrc

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

// Format is the Reject.Format of everything this package rejects.
const Format = "csv"

// bufioSize is encoding/csv's read-ahead (bufio's default buffer size): the
// recorder may hold that much beyond the current row.
const bufioSize = 4096

// errRowTooLong is how the recorder stops encoding/csv from buffering a row
// without bound. It never leaves this package.
var errRowTooLong = errors.New("row too long")

// Parse reads a CSV export from r and hands each data row to sink: an Event
// for a row it understood, a Reject (Format "csv", Position "line N") for one
// it did not. No row is dropped: a row that cannot be read as CSV, names no
// usable value, or comes after a header that lacks a mapped column is
// rejected with a reason that names the line and column but never a cell's
// value. Raw of a Reject is the header line followed by the row's original
// bytes, so Parse of Raw with a corrected mapping ingests exactly that row.
//
// Memory is bounded by m.MaxRowBytes: Parse streams and keeps only the
// current row. A longer row is rejected (its Raw holds the header and the
// first MaxRowBytes bytes of the row) and parsing resumes after it.
//
// Parse returns an error if the mapping is invalid or source is empty (before
// reading anything), if reading r fails, if ctx is done, or if the sink
// returns an error; sink errors are wrapped, so errors.Is sees them. Parse
// does not modify m, so concurrent calls may share one Mapping.
func Parse(ctx context.Context, source string, m Mapping, r io.Reader, sink labtrust.Sink) error {
	if source == "" {
		return errors.New("csvsrc: source name is empty")
	}
	pl, err := compile(&m)
	if err != nil {
		return fmt.Errorf("csvsrc: mapping: %w", err)
	}
	p := &parser{plan: pl, source: source, sink: sink}
	p.newSegment(r, 0)
	return p.run(ctx)
}

// parser is the state of one Parse call.
type parser struct {
	*plan
	source string
	sink   labtrust.Sink
	in     io.Reader // the current segment's source

	// The input is read in segments: normally one, plus one more after each
	// row too long to read, because encoding/csv cannot resume mid-row.
	rec     *recorder
	cr      *csv.Reader
	segOff  int64 // input offset of the segment's first byte
	segLine int   // lines before the segment
	lines   int   // newlines before the current row

	headerDone bool
	headerRaw  []byte // the header line's bytes, the start of every Raw
	headerBad  string // why no column can be found, if so
}

func (p *parser) newSegment(r io.Reader, off int64) {
	p.in = r // what the recorder has not read yet
	p.rec = &recorder{r: r, base: off, start: off, limit: int64(p.maxRow) + bufioSize}
	p.cr = csv.NewReader(p.rec)
	p.cr.Comma = p.comma
	p.cr.Comment = p.comment
	p.cr.FieldsPerRecord = -1
	p.cr.LazyQuotes = false
	p.cr.ReuseRecord = true
	p.segOff = off
	p.segLine = p.lines
}

func (p *parser) run(ctx context.Context) error {
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		start := p.segOff + p.cr.InputOffset()
		row, err := p.cr.Read()
		if p.rec.tripped {
			if err := p.tooLong(ctx, start); err != nil {
				return err
			}
			continue
		}
		if err == io.EOF {
			return nil
		}
		var perr *csv.ParseError
		if err != nil && !errors.As(err, &perr) {
			return fmt.Errorf("csvsrc: reading input: %w", err)
		}
		end := p.segOff + p.cr.InputOffset()
		raw := p.rec.bytes(start, end)
		p.lines += bytes.Count(raw, nl)
		raw = raw[p.leading(raw):]
		var line int
		if perr != nil {
			line = p.segLine + perr.StartLine
		} else {
			line, _ = p.cr.FieldPos(0)
			line += p.segLine
		}
		err = p.row(ctx, line, row, perr, raw)
		p.rec.release(end)
		if err != nil {
			return err
		}
	}
}

var nl = []byte{'\n'}

// leading returns the length of the empty and comment lines that start b:
// encoding/csv skips them, so they belong to no row.
func (p *parser) leading(b []byte) int {
	n := 0
	for {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			return n
		}
		l := b[n : n+i+1]
		empty := len(l) == 1 || (len(l) == 2 && l[0] == '\r')
		if r, _ := utf8.DecodeRune(l); !empty && (p.comment == 0 || r != p.comment) {
			return n
		}
		n += i + 1
	}
}

// row turns one record into an Event or a Reject. raw is the record's bytes.
func (p *parser) row(ctx context.Context, line int, row []string, perr *csv.ParseError, raw []byte) error {
	if !p.headerDone && p.header {
		p.headerDone = true
		p.headerRaw = append([]byte(nil), raw...)
		if perr != nil {
			p.headerBad = fmt.Sprintf("the header (line %d) is malformed CSV, so no column can be found", line)
			return p.reject(ctx, line, "header: "+describeParseError(perr, p.segLine), nil)
		}
		p.resolve(row)
		return nil
	}
	switch {
	case p.headerBad != "":
		return p.reject(ctx, line, p.headerBad, raw)
	case perr != nil:
		return p.reject(ctx, line, describeParseError(perr, p.segLine), raw)
	case len(raw) > p.maxRow:
		return p.reject(ctx, line, fmt.Sprintf("row is longer than %d bytes (maxRowBytes)", p.maxRow), raw)
	}
	e, why := p.event(row)
	if why != "" {
		return p.reject(ctx, line, why, raw)
	}
	if err := p.sink.Event(ctx, e); err != nil {
		return fmt.Errorf("csvsrc: line %d: sink: %w", line, err)
	}
	return nil
}

// reject sends a Reject whose Raw is the header line followed by row (a
// standalone CSV file), or just the header when row is nil.
func (p *parser) reject(ctx context.Context, line int, why string, row []byte) error {
	raw := make([]byte, 0, len(p.headerRaw)+len(row)+1)
	raw = append(raw, p.headerRaw...)
	if len(row) > 0 && len(raw) > 0 && raw[len(raw)-1] != '\n' {
		raw = append(raw, '\n') // a header that ended the input had no newline
	}
	raw = append(raw, row...)
	pos := "line " + strconv.Itoa(line)
	rj := labtrust.Reject{Source: p.source, Format: Format, Position: pos, Reason: pos + ": " + why, Raw: raw}
	if err := p.sink.Reject(ctx, rj); err != nil {
		return fmt.Errorf("csvsrc: %s: sink: %w", pos, err)
	}
	return nil
}

// describeParseError says what encoding/csv found wrong, with positions but
// without the line's text.
func describeParseError(e *csv.ParseError, segLine int) string {
	return fmt.Sprintf("malformed CSV at line %d, byte %d: %v", segLine+e.Line, e.Column, e.Err)
}

// resolve finds each mapped column in the header. A column the header lacks
// or has twice is recorded in headerBad, so every row is rejected and none is
// read from the wrong column.
func (p *parser) resolve(header []string) {
	pos := make(map[string]int, len(header))
	dup := make(map[string]bool)
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // spreadsheet exports start with a BOM
		}
		h = strings.TrimSpace(h)
		if _, ok := pos[h]; ok {
			dup[h] = true
			continue
		}
		pos[h] = i
	}
	var missing, twice []string
	for _, f := range p.fields() {
		i, ok := pos[f.name]
		switch {
		case !ok:
			missing = append(missing, strconv.Quote(f.name))
		case dup[f.name]:
			twice = append(twice, strconv.Quote(f.name))
		default:
			f.idx = i
		}
	}
	switch {
	case len(missing) == 1:
		p.headerBad = "mapping names column " + missing[0] + ", which the header lacks"
	case len(missing) > 1:
		p.headerBad = "mapping names columns " + strings.Join(missing, ", ") + ", which the header lacks"
	case len(twice) > 0:
		p.headerBad = "the header has column " + strings.Join(twice, ", ") + " more than once, so the mapping is ambiguous"
	}
}

// fields lists the mapped columns, in configuration order.
func (p *parser) fields() []*field {
	fs := []*field{&p.time, &p.actorID, &p.actorName, &p.actorRole, &p.actorSite, &p.action, &p.outcome}
	for i := range p.patients {
		fs = append(fs, &p.patients[i])
	}
	fs = append(fs, &p.objectType, &p.objectID, &p.network, &p.purpose, &p.sourceRef)
	out := fs[:0]
	for _, f := range fs {
		if f.name != "" {
			out = append(out, f)
		}
	}
	return out
}

// tooLong handles a row longer than the limit: it rejects the row, skips to
// its end and starts a new segment after it. start is the input offset where
// the row (or the empty lines before it) begins.
func (p *parser) tooLong(ctx context.Context, start int64) error {
	held := p.rec.bytes(start, p.rec.base+int64(len(p.rec.buf)))
	lead := p.leading(held)
	p.lines += bytes.Count(held[:lead], nl)
	line := p.lines + 1
	held = held[lead:]
	first := held[:min(len(held), p.maxRow)]
	keep := append([]byte(nil), first...)

	// Under strict quoting a row ends at the first newline outside quotes,
	// so quote parity finds its end without holding it in memory.
	odd := false
	scan := func(b []byte) int {
		for i, c := range b {
			switch c {
			case '"':
				odd = !odd
			case '\n':
				if !odd {
					return i + 1
				}
			}
		}
		return -1
	}
	off := start + int64(lead)
	var tail []byte
	if i := scan(held); i >= 0 {
		p.lines += bytes.Count(held[:i], nl)
		off += int64(i)
		tail = append([]byte(nil), held[i:]...)
	} else {
		p.lines += bytes.Count(held, nl)
		off += int64(len(held))
		buf := make([]byte, 32<<10)
		for {
			n, err := p.in.Read(buf)
			if n > 0 {
				if i := scan(buf[:n]); i >= 0 {
					p.lines += bytes.Count(buf[:i], nl)
					off += int64(i)
					tail = append([]byte(nil), buf[i:n]...)
					break
				}
				p.lines += bytes.Count(buf[:n], nl)
				off += int64(n)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("csvsrc: reading input: %w", err)
			}
		}
	}

	why := fmt.Sprintf("row is longer than %d bytes (maxRowBytes); Raw holds its first %d bytes", p.maxRow, len(keep))
	var err error
	if !p.headerDone && p.header {
		p.headerDone = true
		p.headerBad = fmt.Sprintf("the header (line %d) is too long to read, so no column can be found", line)
		err = p.reject(ctx, line, "header: "+why, keep)
	} else if p.headerBad != "" {
		err = p.reject(ctx, line, p.headerBad, keep)
	} else {
		err = p.reject(ctx, line, why, keep)
	}
	p.newSegment(io.MultiReader(bytes.NewReader(tail), p.in), off)
	return err
}

// recorder keeps the bytes encoding/csv reads, so each row's original bytes
// can go into its Reject. It holds only the current row plus csv's read-ahead,
// and refuses to read on once the current row passes the limit.
type recorder struct {
	r       io.Reader
	buf     []byte // input bytes from offset base on
	base    int64  // input offset of buf[0]
	start   int64  // input offset of the current row; bytes before it are dead
	limit   int64  // most bytes held from start
	tripped bool   // the limit was hit; the current csv.Reader is unusable
}

func (t *recorder) Read(b []byte) (int, error) {
	if t.base+int64(len(t.buf))-t.start > t.limit {
		t.tripped = true
		return 0, errRowTooLong
	}
	// Drop dead bytes only when the buffer would otherwise grow: then the
	// copy is at most the live bytes, amortized over everything read.
	if dead := int(t.start - t.base); dead > 0 && cap(t.buf)-len(t.buf) < len(b) {
		n := copy(t.buf, t.buf[dead:])
		t.buf = t.buf[:n]
		t.base = t.start
	}
	n, err := t.r.Read(b)
	t.buf = append(t.buf, b[:n]...)
	return n, err
}

// bytes returns input bytes [from, to), which must not have been released.
func (t *recorder) bytes(from, to int64) []byte { return t.buf[from-t.base : to-t.base] }

// release marks bytes before off as no longer needed.
func (t *recorder) release(off int64) { t.start = off }
