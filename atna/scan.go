package atna

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// This file holds a small, strict XML tokenizer tailored to AuditMessages.
// encoding/xml allocates a token per element and attribute and runs at a few
// tens of MB/s; audit repositories receive tens of thousands of messages a
// second, so the parser walks the bytes itself. It checks well-formedness
// (nesting, quoting, entity syntax, XML characters) but does not validate
// against a schema, expand DTDs, or resolve namespaces beyond stripping
// prefixes from element names.

// maxDepth bounds element nesting. AuditMessages are four levels deep at
// most (ParticipantObjectDescription children); the bound only stops
// pathological input from growing the stack.
const maxDepth = 64

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokStart
	tokEnd
	tokText
)

// rawValue is an attribute value or text run as it appears in the input,
// already checked for well-formedness. esc records whether decoding has to do
// anything beyond copying (entity or character references, whitespace that
// attribute-value normalization turns into spaces, CR line ends in text).
type rawValue struct {
	b     []byte
	esc   bool
	cdata bool // from a CDATA section: '&' is literal
}

// Modes for checkChars.
const (
	modeText = iota
	modeAttr
	modeCDATA
)

type attr struct {
	name []byte
	val  rawValue
}

type token struct {
	kind      tokKind
	name      []byte // element local name (prefix stripped) for start and end tags
	selfClose bool
	text      rawValue // for tokText
}

// syntaxError is a well-formedness error. It carries the byte offset where it
// was found and a description that never quotes the input.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return "XML syntax error at byte " + strconv.Itoa(e.off) + ": " + e.msg
}

type scanner struct {
	in     []byte
	pos    int
	stack  [][]byte // raw qualified names of open elements
	attrs  []attr   // attributes of the last start tag; reused between tags
	seenEl bool     // the root element has started
	done   bool     // the root element has ended
	stk    [8][]byte
	atb    [12]attr
}

func (s *scanner) init(in []byte) {
	s.in = in
	s.pos = 0
	s.stack = s.stk[:0]
	s.attrs = s.atb[:0]
}

func (s *scanner) errAt(off int, msg string) error { return &syntaxError{off: off, msg: msg} }

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// isNameByte reports whether b may appear in an XML name. Non-ASCII bytes are
// accepted wholesale: the input is valid UTF-8 and element names are only
// compared against ASCII constants.
func isNameByte(b byte) bool { return nameBytes[b] }

var nameBytes = func() (t [256]bool) {
	for i := range t {
		b := byte(i)
		t[i] = b >= 0x80 || b == '-' || b == '.' || b == '_' || b == ':' ||
			(b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
	}
	return t
}()

func isNameStart(b byte) bool {
	return b >= 0x80 || b == '_' || b == ':' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.in) && isSpace(s.in[s.pos]) {
		s.pos++
	}
}

func (s *scanner) name() ([]byte, error) {
	start := s.pos
	if s.pos >= len(s.in) || !isNameStart(s.in[s.pos]) {
		return nil, s.errAt(s.pos, "expected a name")
	}
	s.pos++
	for s.pos < len(s.in) && isNameByte(s.in[s.pos]) {
		s.pos++
	}
	return s.in[start:s.pos], nil
}

func localName(n []byte) []byte {
	if i := bytes.LastIndexByte(n, ':'); i >= 0 {
		return n[i+1:]
	}
	return n
}

// next returns the next token. The returned slices alias the input and the
// attribute slice is reused by the following call.
func (s *scanner) next() (token, error) {
	for {
		if s.pos >= len(s.in) {
			if len(s.stack) > 0 {
				return token{}, s.errAt(s.pos, "unexpected end of input inside an element")
			}
			if !s.seenEl {
				return token{}, s.errAt(s.pos, "no root element")
			}
			return token{kind: tokEOF}, nil
		}
		if s.in[s.pos] != '<' {
			start := s.pos
			end := bytes.IndexByte(s.in[s.pos:], '<')
			if end < 0 {
				end = len(s.in)
			} else {
				end += s.pos
			}
			s.pos = end
			if len(s.stack) == 0 {
				for i := start; i < end; i++ {
					if !isSpace(s.in[i]) {
						return token{}, s.errAt(i, "text outside the root element")
					}
				}
				continue
			}
			v, err := s.checkChars(start, end, modeText)
			if err != nil {
				return token{}, err
			}
			return token{kind: tokText, text: v}, nil
		}
		// Markup.
		rest := s.in[s.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			end := bytes.Index(rest[2:], []byte("?>"))
			if end < 0 {
				return token{}, s.errAt(s.pos, "unterminated processing instruction")
			}
			s.pos += 2 + end + 2
			continue
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return token{}, s.errAt(s.pos, "unterminated comment")
			}
			s.pos += 4 + end + 3
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			if len(s.stack) == 0 {
				return token{}, s.errAt(s.pos, "CDATA section outside the root element")
			}
			start := s.pos + 9
			end := bytes.Index(s.in[start:], []byte("]]>"))
			if end < 0 {
				return token{}, s.errAt(s.pos, "unterminated CDATA section")
			}
			v, err := s.checkChars(start, start+end, modeCDATA)
			if err != nil {
				return token{}, err
			}
			s.pos = start + end + 3
			return token{kind: tokText, text: v}, nil
		case bytes.HasPrefix(rest, []byte("<!")):
			// DOCTYPE and other declarations. Refusing them outright rules
			// out entity-expansion attacks and external entity fetches.
			return token{}, s.errAt(s.pos, "document type declarations are not allowed")
		case bytes.HasPrefix(rest, []byte("</")):
			at := s.pos
			s.pos += 2
			n, err := s.name()
			if err != nil {
				return token{}, err
			}
			s.skipSpace()
			if s.pos >= len(s.in) || s.in[s.pos] != '>' {
				return token{}, s.errAt(s.pos, "expected '>' to end an end tag")
			}
			s.pos++
			if len(s.stack) == 0 || !bytes.Equal(s.stack[len(s.stack)-1], n) {
				return token{}, s.errAt(at, "end tag does not match the open element")
			}
			s.stack = s.stack[:len(s.stack)-1]
			if len(s.stack) == 0 {
				s.done = true
			}
			return token{kind: tokEnd, name: localName(n)}, nil
		default:
			return s.startTag()
		}
	}
}

func (s *scanner) startTag() (token, error) {
	at := s.pos
	if s.done {
		return token{}, s.errAt(at, "second root element")
	}
	s.pos++ // '<'
	n, err := s.name()
	if err != nil {
		return token{}, err
	}
	s.attrs = s.attrs[:0]
	for {
		hadSpace := s.pos < len(s.in) && isSpace(s.in[s.pos])
		s.skipSpace()
		if s.pos >= len(s.in) {
			return token{}, s.errAt(s.pos, "unexpected end of input in a start tag")
		}
		c := s.in[s.pos]
		if c == '>' || c == '/' {
			self := c == '/'
			if self {
				if s.pos+1 >= len(s.in) || s.in[s.pos+1] != '>' {
					return token{}, s.errAt(s.pos, "expected '/>'")
				}
				s.pos += 2
			} else {
				s.pos++
			}
			s.seenEl = true
			if self {
				if len(s.stack) == 0 {
					s.done = true
				}
			} else {
				if len(s.stack) >= maxDepth {
					return token{}, s.errAt(at, "elements nested too deeply")
				}
				s.stack = append(s.stack, n)
			}
			return token{kind: tokStart, name: localName(n), selfClose: self}, nil
		}
		if !hadSpace {
			return token{}, s.errAt(s.pos, "expected whitespace before an attribute")
		}
		an, err := s.name()
		if err != nil {
			return token{}, err
		}
		s.skipSpace()
		if s.pos >= len(s.in) || s.in[s.pos] != '=' {
			return token{}, s.errAt(s.pos, "expected '=' after an attribute name")
		}
		s.pos++
		s.skipSpace()
		if s.pos >= len(s.in) || (s.in[s.pos] != '"' && s.in[s.pos] != '\'') {
			return token{}, s.errAt(s.pos, "expected a quoted attribute value")
		}
		q := s.in[s.pos]
		start := s.pos + 1
		end := bytes.IndexByte(s.in[start:], q)
		if end < 0 {
			return token{}, s.errAt(s.pos, "unterminated attribute value")
		}
		end += start
		v, err := s.checkChars(start, end, modeAttr)
		if err != nil {
			return token{}, err
		}
		for _, a := range s.attrs {
			if bytes.Equal(a.name, an) {
				return token{}, s.errAt(at, "duplicate attribute")
			}
		}
		s.attrs = append(s.attrs, attr{name: an, val: v})
		s.pos = end + 1
	}
}

// checkChars validates in[start:end] as character data: only XML characters,
// well-formed references (outside CDATA), and no '<' in attribute values. It
// reports whether decoding must do more than copy.
func (s *scanner) checkChars(start, end int, mode int) (rawValue, error) {
	b := s.in[start:end]
	esc := false
	inAttr := mode == modeAttr
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '&' && mode != modeCDATA:
			n, _, ok := parseRef(b[i:])
			if !ok {
				return rawValue{}, s.errAt(start+i, "malformed or undefined entity reference")
			}
			esc = true
			i += n - 1
		case c == '<' && inAttr:
			return rawValue{}, s.errAt(start+i, "'<' in an attribute value")
		case c < 0x20:
			if c != '\t' && c != '\n' && c != '\r' {
				return rawValue{}, s.errAt(start+i, "control character is not allowed in XML")
			}
			if inAttr || c == '\r' {
				esc = true
			}
		case c == 0xEF:
			// U+FFFE and U+FFFF are valid UTF-8 but not XML characters.
			if i+2 < len(b) && b[i+1] == 0xBF && (b[i+2] == 0xBE || b[i+2] == 0xBF) {
				return rawValue{}, s.errAt(start+i, "non-character U+FFFE or U+FFFF")
			}
		}
	}
	return rawValue{b: b, esc: esc, cdata: mode == modeCDATA}, nil
}

// parseRef parses an entity or character reference at the start of b and
// returns its length and the rune it stands for.
func parseRef(b []byte) (n int, r rune, ok bool) {
	semi := bytes.IndexByte(b, ';')
	if semi < 2 || semi > 12 {
		return 0, 0, false
	}
	body := b[1:semi]
	if body[0] == '#' {
		var v uint64
		var err error
		if len(body) > 1 && body[1] == 'x' {
			if len(body) == 2 {
				return 0, 0, false
			}
			v, err = strconv.ParseUint(string(body[2:]), 16, 32)
		} else {
			if len(body) == 1 {
				return 0, 0, false
			}
			v, err = strconv.ParseUint(string(body[1:]), 10, 32)
		}
		if err != nil || !isXMLChar(rune(v)) {
			return 0, 0, false
		}
		return semi + 1, rune(v), true
	}
	switch string(body) {
	case "lt":
		return semi + 1, '<', true
	case "gt":
		return semi + 1, '>', true
	case "amp":
		return semi + 1, '&', true
	case "quot":
		return semi + 1, '"', true
	case "apos":
		return semi + 1, '\'', true
	}
	return 0, 0, false
}

// isXMLChar reports whether r is a Char in the XML 1.0 production.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// str decodes a value checked by checkChars. Attribute values get XML
// attribute-value normalization (literal TAB, LF, CR and CRLF become one
// space each); text gets line-end normalization (CRLF and CR become LF).
func (v rawValue) str(inAttr bool) string {
	if !v.esc {
		return string(v.b)
	}
	out := make([]byte, 0, len(v.b))
	b := v.b
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '&' && !v.cdata:
			n, r, _ := parseRef(b[i:])
			out = utf8.AppendRune(out, r)
			i += n - 1
		case c == '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			if inAttr {
				out = append(out, ' ')
			} else {
				out = append(out, '\n')
			}
		case c == '\t' || c == '\n':
			if inAttr {
				out = append(out, ' ')
			} else {
				out = append(out, c)
			}
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
