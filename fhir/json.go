package fhir

import (
	"strconv"
	"unicode/utf8"

	"github.com/labtrust/labtrust/internal/jsonstr"
)

// This file holds a small strict JSON (RFC 8259) parser that builds a flat,
// reusable tree. encoding/json into typed structs could not reach the
// throughput target (see BenchmarkParseNDJSON), and none of the fast JSON
// modules is in go.mod; the parser only has to build a tree that the mapper
// walks once, so it can reuse its node slice across records and point into
// the input instead of copying.

type kind uint8

const (
	kNull kind = iota
	kFalse
	kTrue
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kFalse, kTrue:
		return "a boolean"
	case kNumber:
		return "a number"
	case kString:
		return "a string"
	case kArray:
		return "an array"
	default:
		return "an object"
	}
}

// node is one JSON value. Nodes are stored in document order: the children
// of node i are i+1, nodes[i+1].skip, ... up to nodes[i].skip.
type node struct {
	kind  kind
	key   []byte // member name when the parent is an object (unescaped)
	val   []byte // string value (unescaped) or number literal
	start int32  // offset of the value's first byte in the input
	end   int32  // offset just past the value's last byte
	skip  int32  // index of the first node after this value's subtree
}

// smallObject is the member count up to which duplicate names are found by
// scanning the members already parsed.
const smallObject = 16

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

// syntaxError locates a JSON syntax error by byte offset. Its message never
// quotes the input, which may hold PHI.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.off) }

// jsonParser parses one JSON text at a time into nodes. It is reused across
// records; a parse invalidates the nodes of the previous one.
type jsonParser struct {
	data  []byte
	pos   int
	nodes []node
}

// parse parses data as exactly one JSON value surrounded by optional
// whitespace. The nodes point into data, which must not change while they
// are in use.
func (p *jsonParser) parse(data []byte) error {
	p.data = data
	p.pos = 0
	// Compact FHIR JSON has a value every 16 bytes or so; sizing up front
	// spares large documents the repeated copying of append growth.
	if want := len(data) / 16; cap(p.nodes) < want {
		p.nodes = make([]node, 0, want)
	}
	p.nodes = p.nodes[:0]
	p.skipWS()
	if err := p.value(nil, 0); err != nil {
		return err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return &syntaxError{"unexpected data after the top-level value", p.pos}
	}
	return nil
}

func (p *jsonParser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) eof() error { return &syntaxError{"unexpected end", p.pos} }

func (p *jsonParser) value(key []byte, depth int) error {
	if p.pos >= len(p.data) {
		return p.eof()
	}
	idx := len(p.nodes)
	p.nodes = append(p.nodes, node{key: key, start: int32(p.pos)})
	c := p.data[p.pos]
	switch {
	case c == '{':
		if depth >= maxDepth {
			return &syntaxError{"nesting too deep", p.pos}
		}
		p.nodes[idx].kind = kObject
		p.pos++
		members := 0
		var seen map[string]struct{}
		p.skipWS()
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			break
		}
		for {
			if p.pos >= len(p.data) {
				return p.eof()
			}
			if p.data[p.pos] != '"' {
				return &syntaxError{"expected a member name", p.pos}
			}
			keyPos := p.pos
			k, err := p.str()
			if err != nil {
				return err
			}
			// RFC 8259 leaves duplicate names undefined and FHIR forbids
			// them; rejecting them means no two readers can disagree about
			// which "recorded" counts. Small objects (all of FHIR's) are
			// scanned; large ones use a set, so hostile input with many
			// names stays linear.
			members++
			if members <= smallObject {
				for c := int32(idx + 1); c < int32(len(p.nodes)); c = p.nodes[c].skip {
					if string(p.nodes[c].key) == string(k) {
						return &syntaxError{"duplicate member name", keyPos}
					}
				}
			} else {
				if seen == nil {
					seen = make(map[string]struct{}, 2*smallObject)
					for c := int32(idx + 1); c < int32(len(p.nodes)); c = p.nodes[c].skip {
						seen[string(p.nodes[c].key)] = struct{}{}
					}
				}
				if _, dup := seen[string(k)]; dup {
					return &syntaxError{"duplicate member name", keyPos}
				}
				seen[string(k)] = struct{}{}
			}
			p.skipWS()
			if p.pos >= len(p.data) {
				return p.eof()
			}
			if p.data[p.pos] != ':' {
				return &syntaxError{"expected ':'", p.pos}
			}
			p.pos++
			p.skipWS()
			if err := p.value(k, depth+1); err != nil {
				return err
			}
			p.skipWS()
			if p.pos >= len(p.data) {
				return p.eof()
			}
			if p.data[p.pos] == ',' {
				p.pos++
				p.skipWS()
				continue
			}
			if p.data[p.pos] == '}' {
				p.pos++
				break
			}
			return &syntaxError{"expected ',' or '}'", p.pos}
		}
	case c == '[':
		if depth >= maxDepth {
			return &syntaxError{"nesting too deep", p.pos}
		}
		p.nodes[idx].kind = kArray
		p.pos++
		p.skipWS()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			break
		}
		for {
			if err := p.value(nil, depth+1); err != nil {
				return err
			}
			p.skipWS()
			if p.pos >= len(p.data) {
				return p.eof()
			}
			if p.data[p.pos] == ',' {
				p.pos++
				p.skipWS()
				continue
			}
			if p.data[p.pos] == ']' {
				p.pos++
				break
			}
			return &syntaxError{"expected ',' or ']'", p.pos}
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		p.nodes[idx].kind = kString
		p.nodes[idx].val = s
	case c == '-' || (c >= '0' && c <= '9'):
		if err := p.number(); err != nil {
			return err
		}
		p.nodes[idx].kind = kNumber
		p.nodes[idx].val = p.data[p.nodes[idx].start:p.pos]
	case c == 't':
		if err := p.literal("true"); err != nil {
			return err
		}
		p.nodes[idx].kind = kTrue
	case c == 'f':
		if err := p.literal("false"); err != nil {
			return err
		}
		p.nodes[idx].kind = kFalse
	case c == 'n':
		if err := p.literal("null"); err != nil {
			return err
		}
		p.nodes[idx].kind = kNull
	default:
		return &syntaxError{"invalid character", p.pos}
	}
	p.nodes[idx].end = int32(p.pos)
	p.nodes[idx].skip = int32(len(p.nodes))
	return nil
}

func (p *jsonParser) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if p.pos >= len(p.data) {
			return p.eof()
		}
		if p.data[p.pos] != lit[i] {
			return &syntaxError{"invalid character", p.pos}
		}
		p.pos++
	}
	return nil
}

func (p *jsonParser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

func (p *jsonParser) number() error {
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.pos >= len(p.data) {
		return p.eof()
	}
	switch c := p.data[p.pos]; {
	case c == '0':
		p.pos++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return &syntaxError{"invalid number", p.pos}
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.pos >= len(p.data) {
			return p.eof()
		}
		if p.digits() == 0 {
			return &syntaxError{"invalid number", p.pos}
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.pos >= len(p.data) {
			return p.eof()
		}
		if p.digits() == 0 {
			return &syntaxError{"invalid number", p.pos}
		}
	}
	return nil
}

// str parses a string starting at the opening quote and returns its
// unescaped bytes: a sub-slice of the input when there are no escapes (the
// common case), else a fresh copy.
func (p *jsonParser) str() ([]byte, error) {
	p.pos++ // opening quote
	start := p.pos
	ascii := true
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := p.data[start:p.pos]
			if !ascii && !utf8.Valid(s) {
				return nil, &syntaxError{"invalid UTF-8 in string", start}
			}
			p.pos++
			return s, nil
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			return nil, &syntaxError{"control character in string", p.pos}
		case c >= 0x80:
			ascii = false
		}
		p.pos++
	}
	return nil, p.eof()
}

func (p *jsonParser) strEscaped(start int) ([]byte, error) {
	out := make([]byte, 0, p.pos-start+16)
	out = append(out, p.data[start:p.pos]...)
	out, next, jerr := jsonstr.Append(out, p.data, p.pos)
	p.pos = next
	if jerr != nil {
		if jerr.EOF {
			return nil, p.eof()
		}
		return nil, &syntaxError{jerr.Msg, jerr.Off}
	}
	if !utf8.Valid(out) {
		return nil, &syntaxError{"invalid UTF-8 in string", start}
	}
	return out, nil
}

// get returns the index of the first member of object i named key, or -1.
// It returns -1 when i is not an object.
func (p *jsonParser) get(i int32, key string) int32 {
	if i < 0 || p.nodes[i].kind != kObject {
		return -1
	}
	end := p.nodes[i].skip
	for c := i + 1; c < end; c = p.nodes[c].skip {
		if string(p.nodes[c].key) == key {
			return c
		}
	}
	return -1
}
