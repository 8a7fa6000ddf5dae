// Package notice writes the notices a breach owes: each affected person's
// letter (PDF, in their language), with a unique notice code they use on
// the portal, and the resources state laws ask notices to carry.
package notice

import (
	"crypto/rand"
	"errors"
	"strings"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a code
// read aloud or retyped from paper survives the usual confusions.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewCode returns a random notice code of 12 symbols (60 bits) written
// XXXX-XXXX-XXXX. Sixty bits make guessing a live code hopeless at any
// rate the portal allows.
func NewCode() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	out := make([]byte, 0, 14)
	for i, c := range b {
		if i == 4 || i == 8 {
			out = append(out, '-')
		}
		out = append(out, crockford[c&31])
	}
	return string(out), nil
}

// ErrBadCode means a typed code is not a notice code's shape.
var ErrBadCode = errors.New("notice: a notice code has 12 letters and digits, like 7K3D-9QMX-2HFA")

// NormalizeCode reads a code as a person types it: any case, spaces or
// dashes anywhere, O for 0 and I or L for 1.
func NormalizeCode(s string) (string, error) {
	var out []byte
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(crockford, r) {
			return "", ErrBadCode
		}
		out = append(out, byte(r))
	}
	if len(out) != 12 {
		return "", ErrBadCode
	}
	return string(out[:4]) + "-" + string(out[4:8]) + "-" + string(out[8:]), nil
}
