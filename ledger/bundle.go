package ledger

import (
	"encoding/binary"
	"fmt"
)

// BundleError says where an entry bundle is malformed.
type BundleError struct {
	Entry  int    // position of the entry within the bundle
	Offset int    // byte offset of that entry's length prefix
	Reason string // what is wrong, never the entry's content
}

func (e *BundleError) Error() string {
	return fmt.Sprintf("entry bundle: entry %d at byte %d: %s", e.Entry, e.Offset, e.Reason)
}

// ParseBundle splits an entry bundle into its entries. The entries alias b.
// It returns a *BundleError if b ends inside an entry or its length prefix,
// or holds more than 256 entries.
func ParseBundle(b []byte) ([][]byte, error) {
	var out [][]byte
	n, err := walkBundle(b, func(i int, e []byte) { out = append(out, e) })
	if err != nil {
		return nil, err
	}
	if n > TileWidth {
		return nil, &BundleError{Entry: TileWidth, Offset: bundleOffset(b, TileWidth), Reason: "more than 256 entries"}
	}
	return out, nil
}

// walkBundle calls fn for each complete entry of b in order and returns how
// many there were, or a *BundleError at the first malformed entry (after
// calling fn for those before it).
func walkBundle(b []byte, fn func(i int, e []byte)) (int, error) {
	off, i := 0, 0
	for off < len(b) {
		if len(b)-off < 2 {
			return i, &BundleError{Entry: i, Offset: off, Reason: "truncated length prefix"}
		}
		n := int(binary.BigEndian.Uint16(b[off:]))
		if len(b)-off-2 < n {
			return i, &BundleError{Entry: i, Offset: off, Reason: fmt.Sprintf("length %d runs past the end of the bundle (%d bytes left)", n, len(b)-off-2)}
		}
		fn(i, b[off+2:off+2+n])
		off += 2 + n
		i++
	}
	return i, nil
}

// bundleOffset returns the byte offset of entry k in a well-formed prefix of b.
func bundleOffset(b []byte, k int) int {
	off := 0
	for i := 0; i < k && off+2 <= len(b); i++ {
		off += 2 + int(binary.BigEndian.Uint16(b[off:]))
	}
	return off
}

// appendBundleEntry appends e with its length prefix; len(e) must be at most
// MaxEntrySize.
func appendBundleEntry(b, e []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
	return append(b, e...)
}
