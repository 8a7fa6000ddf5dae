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

const codeLen = 12

// NewCode returns a random notice code of 12 symbols (60 bits) written
// XXXX-XXXX-XXXX. Sixty bits make guessing a live code hopeless at any
// rate the portal allows.
func NewCode() (string, error) {
	var c [1]noticeCode
	if err := newCodes(c[:]); err != nil {
		return "", err
	}
	return formatCode(c[0].code), nil
}

// newCodes fills codes with random symbols, reading the system's random
// source a few thousand codes at a time.
func newCodes(codes []noticeCode) error {
	var buf [4096 * codeLen]byte
	for start := 0; start < len(codes); start += 4096 {
		part := codes[start:min(start+4096, len(codes))]
		b := buf[:len(part)*codeLen]
		if _, err := rand.Read(b); err != nil {
			return err
		}
		for i := range part {
			for j := range codeLen {
				part[i].code[j] = crockford[b[i*codeLen+j]&31]
			}
		}
	}
	return nil
}

func formatCode(c [codeLen]byte) string {
	out := make([]byte, 0, codeLen+2)
	out = append(out, c[:4]...)
	out = append(out, '-')
	out = append(out, c[4:8]...)
	out = append(out, '-')
	out = append(out, c[8:]...)
	return string(out)
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
