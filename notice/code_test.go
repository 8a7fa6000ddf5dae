package notice

import (
	"bytes"
	"testing"
)

// TestSortedCodes: codes made ahead for a breach are distinct, typeable
// and handed out in the order of their keyed hashes, so their index is
// filled in order.
func TestSortedCodes(t *testing.T) {
	blind := func(s string) []byte {
		h := []byte(s) // a stand-in keyed hash: any function of the code orders them
		return append(bytes.Repeat([]byte{h[len(h)-1]}, 8), h...)
	}
	s := NewService(nil, nil, blind, nil, nil)
	if got, err := s.sortedCodes(0); err != nil || len(got) != 0 {
		t.Fatalf("none: %v %v", got, err)
	}
	codes, err := s.sortedCodes(5000)
	if err != nil || len(codes) != 5000 {
		t.Fatalf("%d codes, %v", len(codes), err)
	}
	seen := map[[codeLen]byte]bool{}
	for i, c := range codes {
		if seen[c.code] {
			t.Fatalf("code %s twice", c.code)
		}
		seen[c.code] = true
		f := formatCode(c.code)
		if n, err := NormalizeCode(f); err != nil || n != f {
			t.Fatalf("code %q does not read back: %q %v", f, n, err)
		}
		if i > 0 && codes[i-1].order > c.order {
			t.Fatalf("codes %d and %d out of order", i-1, i)
		}
		if want := bytes.Repeat([]byte{c.code[codeLen-1]}, 8); c.order != uint64(want[0])*0x0101010101010101 {
			t.Fatalf("code %s ordered by %x, not its hash", f, c.order)
		}
	}
}
