// Package hl7 reads HL7 version 2 messages in their ER7 ("pipe and hat")
// encoding, framed by MLLP over TCP or one after another in files, and maps
// ADT messages to registry records. No maintained Go HL7v2 library is
// served here, so the parser is written for this package and fuzzed.
//
// The parser is strict where a mistake could attach data to the wrong
// patient (segment structure, encoding characters, character set) and
// lenient where real interfaces differ harmlessly (segment terminators
// \r, \n or \r\n; trailing empty fields). Errors name the segment and
// field, never a value, because values are PHI.
package hl7

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Message is a parsed ER7 message. Fields are split on demand and their
// escapes decoded when read, so parsing costs one pass over the bytes.
type Message struct {
	Segments []Segment
	delims   delims
}

// Segment is one segment: its three-letter ID and its raw fields.
type Segment struct {
	ID     string
	fields [][]byte // fields[n] is field n; fields[0] is the ID
	msh    bool
}

type delims struct {
	field, comp, rep, esc, sub byte
}

// Error locates a problem by segment and field, never by value.
type Error struct {
	Where  string // e.g. "PID-3", "segment 4", "MSH-2"
	Reason string
}

func (e *Error) Error() string { return e.Where + ": " + e.Reason }

func errf(where, format string, args ...any) error {
	return &Error{Where: where, Reason: fmt.Sprintf(format, args...)}
}

// MaxMessage is the largest message Parse accepts.
const MaxMessage = 4 << 20

// Parse parses one ER7 message. Segments may end with \r (the standard),
// \n or \r\n. The message must start with MSH. Text is UTF-8; a message whose
// MSH-18 declares ISO 8859-1 ("8859/1") is converted to UTF-8 first.
func Parse(b []byte) (*Message, error) {
	if len(b) > MaxMessage {
		return nil, errf("message", "larger than %d bytes", MaxMessage)
	}
	b = bytes.TrimLeft(b, "\r\n")
	if len(b) < 8 || string(b[:3]) != "MSH" {
		return nil, errf("message", "does not start with an MSH segment")
	}
	d := delims{field: b[3], comp: b[4], rep: b[5], esc: b[6], sub: b[7]}
	if err := d.check(); err != nil {
		return nil, err
	}
	m := &Message{delims: d}
	lines := splitSegments(b)
	m.Segments = make([]Segment, 0, len(lines))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		seg, err := parseSegment(line, d, i == 0)
		if err != nil {
			return nil, errf("segment "+strconv.Itoa(i+1), "%s", err.(*Error).Reason)
		}
		m.Segments = append(m.Segments, seg)
	}
	switch cs := strings.ToUpper(m.Field("MSH", 18).String()); cs {
	case "8859/1":
		m.latin1()
	case "", "ASCII", "UNICODE UTF-8", "UNICODE", "UTF-8":
	default:
		return nil, errf("MSH-18", "character set %q is not supported (UTF-8, ASCII or 8859/1)", cs)
	}
	for _, s := range m.Segments {
		for n, f := range s.fields {
			if !utf8.Valid(f) {
				return nil, errf(s.ID+"-"+strconv.Itoa(n), "not valid UTF-8 (declare MSH-18 8859/1 for Latin-1 text)")
			}
		}
	}
	return m, nil
}

func (d delims) check() error {
	all := []byte{d.field, d.comp, d.rep, d.esc, d.sub}
	for i, c := range all {
		if c < 0x20 || c >= 0x7f || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == ' ' {
			return errf("MSH-2", "encoding characters must be distinct punctuation")
		}
		for _, o := range all[:i] {
			if o == c {
				return errf("MSH-2", "encoding characters must be distinct punctuation")
			}
		}
	}
	return nil
}

func splitSegments(b []byte) [][]byte {
	n := bytes.Count(b, []byte{'\r'}) + bytes.Count(b, []byte{'\n'}) + 1
	out := make([][]byte, 0, n)
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i])
		b = b[i+1:]
	}
	return out
}

func parseSegment(line []byte, d delims, first bool) (Segment, error) {
	if len(line) < 3 {
		return Segment{}, errf("", "segment ID must be three characters")
	}
	id := line[:3]
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return Segment{}, errf("", "segment ID must be three upper-case letters or digits")
		}
	}
	if len(line) > 3 && line[3] != d.field {
		return Segment{}, errf("", "segment ID must be followed by the field separator")
	}
	if (string(id) == "MSH") != first {
		if first {
			return Segment{}, errf("", "the first segment must be MSH")
		}
		return Segment{}, errf("", "MSH may only be the first segment")
	}
	s := Segment{ID: string(id), msh: first}
	if first {
		// MSH-1 is the field separator itself and MSH-2 the encoding
		// characters, up to the next field separator.
		rest := line[4:]
		enc, after, _ := bytes.Cut(rest, []byte{d.field})
		if len(enc) < 4 {
			return Segment{}, errf("", "MSH-2 must hold at least four encoding characters")
		}
		s.fields = append(s.fields, id, []byte{d.field}, enc)
		if len(rest) > len(enc) {
			s.fields = append(s.fields, bytes.Split(after, []byte{d.field})...)
		}
		return s, nil
	}
	s.fields = bytes.Split(line, []byte{d.field})
	return s, nil
}

// latin1 re-encodes every field from ISO 8859-1 to UTF-8.
func (m *Message) latin1() {
	for i := range m.Segments {
		for n, f := range m.Segments[i].fields {
			ascii := true
			for _, c := range f {
				if c >= 0x80 {
					ascii = false
					break
				}
			}
			if ascii {
				continue
			}
			out := make([]byte, 0, len(f)+8)
			for _, c := range f {
				out = utf8.AppendRune(out, rune(c))
			}
			m.Segments[i].fields[n] = out
		}
	}
}

// Segment returns the first segment with the given ID, or nil.
func (m *Message) Segment(id string) *Segment {
	for i := range m.Segments {
		if m.Segments[i].ID == id {
			return &m.Segments[i]
		}
	}
	return nil
}

// All returns every segment with the given ID, in order.
func (m *Message) All(id string) []*Segment {
	var out []*Segment
	for i := range m.Segments {
		if m.Segments[i].ID == id {
			out = append(out, &m.Segments[i])
		}
	}
	return out
}

// Field returns field n of the first segment with the given ID; an absent
// segment or field is an empty Field.
func (m *Message) Field(id string, n int) Field {
	s := m.Segment(id)
	if s == nil {
		return Field{d: m.delims}
	}
	return m.FieldOf(s, n)
}

// FieldOf returns field n (1-based, as the standard numbers them) of s.
func (m *Message) FieldOf(s *Segment, n int) Field {
	if n <= 0 || n >= len(s.fields) {
		return Field{d: m.delims}
	}
	if s.msh && n <= 2 {
		// MSH-1 and MSH-2 are the delimiters themselves, not data to split.
		return Field{raw: s.fields[n], d: m.delims, literal: true}
	}
	return Field{raw: s.fields[n], d: m.delims}
}

// Field is one field's raw bytes; its methods split and unescape them.
type Field struct {
	raw     []byte
	d       delims
	literal bool
}

// IsEmpty reports whether the field holds nothing.
func (f Field) IsEmpty() bool { return len(f.raw) == 0 }

// IsNull reports the explicit null "" (which, in an update, clears a value).
func (f Field) IsNull() bool { return string(f.raw) == `""` }

// Reps returns the field's repetitions.
func (f Field) Reps() []Field {
	if f.literal || len(f.raw) == 0 {
		return []Field{f}
	}
	parts := bytes.Split(f.raw, []byte{f.d.rep})
	out := make([]Field, len(parts))
	for i, p := range parts {
		out[i] = Field{raw: p, d: f.d}
	}
	return out
}

// Comp returns component n (1-based) of the field's first repetition,
// unescaped.
func (f Field) Comp(n int) string { return f.Sub(n, 1) }

// Sub returns subcomponent s of component n (both 1-based) of the field's
// first repetition, unescaped.
func (f Field) Sub(n, s int) string {
	if f.literal {
		if n == 1 && s == 1 {
			return string(f.raw)
		}
		return ""
	}
	b := f.raw
	if i := bytes.IndexByte(b, f.d.rep); i >= 0 {
		b = b[:i]
	}
	b = nth(b, f.d.comp, n)
	b = nth(b, f.d.sub, s)
	return f.d.unescape(b)
}

// String returns the whole first repetition unescaped, delimiters and all:
// for single-valued fields.
func (f Field) String() string {
	if f.literal {
		return string(f.raw)
	}
	b := f.raw
	if i := bytes.IndexByte(b, f.d.rep); i >= 0 {
		b = b[:i]
	}
	if f.IsNull() {
		return ""
	}
	return f.d.unescape(b)
}

func nth(b []byte, sep byte, n int) []byte {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(b, sep)
		if j < 0 {
			return nil
		}
		b = b[j+1:]
	}
	if j := bytes.IndexByte(b, sep); j >= 0 {
		b = b[:j]
	}
	return b
}

// unescape decodes HL7 escape sequences (section 2.7): delimiters (\F\ \S\
// \T\ \R\ \E\), hexadecimal data (\Xhh..\), line breaks (\.br\). Formatting
// and character-set escapes are dropped; an unknown or unterminated escape
// is kept as written.
func (d delims) unescape(b []byte) string {
	i := bytes.IndexByte(b, d.esc)
	if i < 0 {
		if string(b) == `""` {
			return ""
		}
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b))
	for {
		out.Write(b[:i])
		b = b[i+1:]
		j := bytes.IndexByte(b, d.esc)
		if j < 0 {
			out.WriteByte(d.esc)
			out.Write(b)
			return out.String()
		}
		seq := b[:j]
		switch {
		case len(seq) == 1 && seq[0] == 'F':
			out.WriteByte(d.field)
		case len(seq) == 1 && seq[0] == 'S':
			out.WriteByte(d.comp)
		case len(seq) == 1 && seq[0] == 'T':
			out.WriteByte(d.sub)
		case len(seq) == 1 && seq[0] == 'R':
			out.WriteByte(d.rep)
		case len(seq) == 1 && seq[0] == 'E':
			out.WriteByte(d.esc)
		case string(seq) == ".br":
			out.WriteByte('\n')
		case len(seq) == 1 && (seq[0] == 'H' || seq[0] == 'N'):
			// highlighting on/off: formatting only
		case len(seq) > 1 && seq[0] == 'X' && len(seq)%2 == 1 && isHex(seq[1:]):
			for k := 1; k+1 < len(seq); k += 2 {
				out.WriteByte(unhex(seq[k])<<4 | unhex(seq[k+1]))
			}
		case len(seq) > 1 && (seq[0] == 'C' || seq[0] == 'M' || seq[0] == 'Z' || seq[0] == '.'):
			// character-set switches and local or formatting escapes
		default:
			out.WriteByte(d.esc)
			out.Write(seq)
			out.WriteByte(d.esc)
		}
		b = b[j+1:]
		i = bytes.IndexByte(b, d.esc)
		if i < 0 {
			out.Write(b)
			s := out.String()
			if !utf8.ValidString(s) {
				// \X..\ may have written bytes that are not UTF-8 text.
				return strings.ToValidUTF8(s, "\uFFFD")
			}
			return s
		}
	}
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// Escape encodes s for use as a component or subcomponent value.
func (d delims) escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case d.field:
			b.WriteString(string(d.esc) + "F" + string(d.esc))
		case d.comp:
			b.WriteString(string(d.esc) + "S" + string(d.esc))
		case d.sub:
			b.WriteString(string(d.esc) + "T" + string(d.esc))
		case d.rep:
			b.WriteString(string(d.esc) + "R" + string(d.esc))
		case d.esc:
			b.WriteString(string(d.esc) + "E" + string(d.esc))
		case '\r', '\n':
			b.WriteString(string(d.esc) + ".br" + string(d.esc))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
