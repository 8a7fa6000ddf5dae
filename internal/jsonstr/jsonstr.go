// Package jsonstr decodes the escapes of a JSON string (RFC 8259 section
// 7) for labtrust's hand-written JSON readers (FHIR, the canonical entry),
// exactly as encoding/json does, so the readers agree with it.
package jsonstr

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Error says what is wrong and at which offset of the input; EOF is set
// when the input ends inside the string.
type Error struct {
	Msg string
	Off int
	EOF bool
}

func (e *Error) Error() string { return e.Msg }

// Append decodes the rest of a string whose body continues at data[pos]
// (after the opening quote and anything already copied) up to and
// including its closing quote, appending the unescaped bytes to out. It
// returns the extended out and the offset after the closing quote. A lone
// or mismatched surrogate decodes to U+FFFD, as encoding/json does; UTF-8
// validity is the caller's to check.
func Append(out, data []byte, pos int) ([]byte, int, *Error) {
	for pos < len(data) {
		c := data[pos]
		switch {
		case c == '"':
			return out, pos + 1, nil
		case c < 0x20:
			return nil, pos, &Error{Msg: "control character in string", Off: pos}
		case c != '\\':
			out = append(out, c)
			pos++
			continue
		}
		pos++
		if pos >= len(data) {
			return nil, pos, &Error{Msg: "unexpected end", Off: pos, EOF: true}
		}
		e := data[pos]
		pos++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, err := hex4(data, pos)
			if err != nil {
				return nil, pos, err
			}
			pos += 4
			if utf16.IsSurrogate(r) {
				// A high surrogate must be followed by an escaped low
				// surrogate; anything else decodes to U+FFFD.
				paired := false
				if pos+1 < len(data) && data[pos] == '\\' && data[pos+1] == 'u' {
					r2, err := hex4(data, pos+2)
					if err != nil {
						return nil, pos, err
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r, paired = dec, true
						pos += 6
					}
				}
				if !paired {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, pos, &Error{Msg: "invalid escape", Off: pos - 1}
		}
	}
	return nil, pos, &Error{Msg: "unexpected end", Off: pos, EOF: true}
}

func hex4(data []byte, pos int) (rune, *Error) {
	var r rune
	for i := 0; i < 4; i++ {
		if pos+i >= len(data) {
			return 0, &Error{Msg: "unexpected end", Off: pos + i, EOF: true}
		}
		c := data[pos+i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, &Error{Msg: "invalid escape", Off: pos + i}
		}
	}
	return r, nil
}
