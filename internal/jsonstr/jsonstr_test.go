package jsonstr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	for _, c := range []struct {
		in, want string
		next     int
	}{
		{`abc"rest`, "abc", 4},
		{`a\"b\\c\/d\n\t\u00e9"`, "a\"b\\c/d\n\té", 21},
		{`\ud83e\uddea"`, "🧪", 13},
		{`\ud83e x"`, "\uFFFD x", 9},     // lone high surrogate
		{`\ud83e\u0041"`, "\uFFFDA", 13}, // high surrogate then a non-surrogate
		{`\udc00"`, "\uFFFD", 7},         // lone low surrogate
	} {
		got, next, err := Append(nil, []byte(c.in), 0)
		if err != nil || string(got) != c.want || next != c.next {
			t.Errorf("%q: %q next %d err %v, want %q next %d", c.in, got, next, err, c.want, c.next)
		}
	}
	for _, c := range []struct {
		in  string
		eof bool
	}{{`abc`, true}, {`a\`, true}, {`\u12`, true}, {"a\x01\"", false}, {`\x"`, false}, {`\u12g4"`, false}} {
		if _, _, err := Append(nil, []byte(c.in), 0); err == nil || err.EOF != c.eof {
			t.Errorf("%q: error %v (EOF %v)", c.in, err, c.eof)
		}
	}
}

// FuzzAppend checks the decoder against encoding/json on whole strings.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{`abc"`, `\u00e9\n"`, `\ud83e\uddea"`, `\ud83e"`, `\"\\\/"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, next, err := Append(nil, b, 0)
		var want string
		jerr := json.Unmarshal(append([]byte{'"'}, b[:max(next, 0)]...), &want)
		if err != nil {
			return
		}
		if jerr != nil {
			// encoding/json also refuses invalid UTF-8 only by replacing it.
			if utf8.Valid(b[:next]) {
				t.Fatalf("accepted %q, encoding/json refuses: %v", b[:next], jerr)
			}
			return
		}
		if utf8.Valid(got) && string(got) != want {
			t.Fatalf("%q: got %q, encoding/json %q", b[:next], got, want)
		}
	})
}
