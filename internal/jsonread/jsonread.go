// Package jsonread is a small strict JSON reader over one buffer, for
// labtrust's hand-written decoders of the shapes it writes itself (the
// canonical ledger entry, sealed registry records). Those are read for
// every entry of a large scan, where encoding/json's reflection and its
// validating pre-pass cost about ten times as much. The readers built on
// it are checked against encoding/json by their tests.
package jsonread

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/labtrust/labtrust/internal/jsonstr"
)

// Reader reads JSON values from a buffer, one after another.
type Reader struct {
	b []byte
	i int
}

// New returns a reader at the start of b.
func New(b []byte) *Reader { return &Reader{b: b} }

// Whole reads all of b with read: anything after the value is an error.
func Whole[T any](b []byte, read func(d *Reader) (T, error)) (T, error) {
	d := New(b)
	v, err := read(d)
	if err == nil && len(d.Rest()) > 0 {
		err = d.Fail("trailing data")
	}
	return v, err
}

// Decode reads b with read (Whole), the shape json.Marshal writes, and
// hands anything read refuses to encoding/json (a value written before a
// field was added, say), so no value a version wrote becomes unreadable.
func Decode[T any](b []byte, read func(d *Reader) (T, error)) (T, error) {
	if v, err := Whole(b, read); err == nil {
		return v, nil
	}
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}

// ErrEnd is returned when the input ends inside a value.
var ErrEnd = errors.New("unexpected end")

// Offset is how many bytes have been read.
func (d *Reader) Offset() int { return d.i }

// Fail returns an error saying what was expected at the current offset
// (ErrEnd at the end of the input).
func (d *Reader) Fail(what string) error {
	if d.i >= len(d.b) {
		return ErrEnd
	}
	return fmt.Errorf("%s at offset %d", what, d.i)
}

// WS skips white space.
func (d *Reader) WS() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\t' || d.b[d.i] == '\n' || d.b[d.i] == '\r') {
		d.i++
	}
}

// Rest is what follows the values read, white space skipped.
func (d *Reader) Rest() []byte {
	d.WS()
	return d.b[d.i:]
}

func (d *Reader) expect(c byte) error {
	d.WS()
	if d.i >= len(d.b) || d.b[d.i] != c {
		return d.Fail(fmt.Sprintf("expected %q", c))
	}
	d.i++
	return nil
}

// Null reads a null if one is next and says whether it did.
func (d *Reader) Null() bool {
	d.WS()
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// Object reads {"key": value, ...}, calling fn to read each value.
func (d *Reader) Object(fn func(key string) error) error {
	return d.members('{', '}', func() error {
		k, err := d.Str()
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		return fn(k)
	})
}

// Array reads [value, ...], calling fn to read each value.
func (d *Reader) Array(fn func() error) error {
	return d.members('[', ']', fn)
}

// members reads open, then members each read by fn and separated by
// commas, then close.
func (d *Reader) members(open, close byte, fn func() error) error {
	if err := d.expect(open); err != nil {
		return err
	}
	d.WS()
	if d.i < len(d.b) && d.b[d.i] == close {
		d.i++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		d.WS()
		if d.i >= len(d.b) {
			return ErrEnd
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case close:
			d.i++
			return nil
		default:
			return d.Fail("expected , or " + string(close))
		}
	}
}

// Strings reads an array of strings; null is an empty (nil) list.
func (d *Reader) Strings() ([]string, error) {
	if d.Null() {
		return nil, nil
	}
	out := []string{}
	err := d.Array(func() error {
		s, err := d.Str()
		out = append(out, s)
		return err
	})
	return out, err
}

// Bool reads true or false.
func (d *Reader) Bool() (bool, error) {
	d.WS()
	switch {
	case len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
		return true, nil
	case len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
		return false, nil
	}
	return false, d.Fail("expected a boolean")
}

// Number reads an integer's digits (and sign).
func (d *Reader) Number() ([]byte, error) {
	d.WS()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return nil, d.Fail("expected an integer")
	}
	if d.b[digits] == '0' && d.i-digits > 1 {
		return nil, d.Fail("leading zero") // not JSON
	}
	return d.b[start:d.i], nil
}

// Uint reads a non-negative integer.
func (d *Reader) Uint() (uint64, error) {
	n, err := d.Number()
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(n), 10, 64)
}

// Int reads an integer.
func (d *Reader) Int() (int64, error) {
	n, err := d.Number()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(n), 10, 64)
}

// Str reads a JSON string: one copy, unescaping only when needed. It
// does not check UTF-8: its callers read what encoding/json or their own
// encoder wrote, which is valid.
func (d *Reader) Str() (string, error) {
	if err := d.expect('"'); err != nil {
		return "", err
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := string(d.b[start:d.i])
			d.i++
			return s, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return "", d.Fail("control character in a string")
		}
		d.i++
	}
	return "", ErrEnd
}

func (d *Reader) strEscaped(start int) (string, error) {
	out, next, err := jsonstr.Append(append([]byte(nil), d.b[start:d.i]...), d.b, d.i)
	d.i = next
	if err != nil {
		if err.EOF {
			return "", ErrEnd
		}
		return "", fmt.Errorf("%s at offset %d", err.Msg, err.Off)
	}
	return string(out), nil
}
