package ledger

import (
	"strconv"
)

// TileHeight is the height of every tile: a full tile holds 2^8 = 256 hashes
// (or, for an entry bundle, 256 entries).
const TileHeight = 8

// TileWidth is the number of hashes in a full tile.
const TileWidth = 1 << TileHeight

// HashSize is the size of a tree hash.
const HashSize = 32

// MaxEntrySize is the largest entry a bundle can hold (its length prefix is a
// big-endian uint16).
const MaxEntrySize = 1<<16 - 1

const (
	checkpointFile = "checkpoint"
	historyFile    = "checkpoints.log"
	lockFile       = ".lock"
)

// appendIndex appends N in the C2SP tile path encoding: 3-digit groups, all
// but the last prefixed with "x" (1234067 -> x001/x234/067).
func appendIndex(b []byte, n uint64) []byte {
	var groups [7]uint64 // 2^64 < 1000^7
	k := 0
	for {
		groups[k] = n % 1000
		k++
		n /= 1000
		if n == 0 {
			break
		}
	}
	for i := k - 1; i >= 0; i-- {
		if i > 0 {
			b = append(b, 'x')
		}
		g := groups[i]
		b = append(b, byte('0'+g/100), byte('0'+g/10%10), byte('0'+g%10))
		if i > 0 {
			b = append(b, '/')
		}
	}
	return b
}

func appendWidth(b []byte, w int) []byte {
	if w > 0 && w < TileWidth {
		b = append(b, ".p/"...)
		b = strconv.AppendInt(b, int64(w), 10)
	}
	return b
}

// TilePath returns the slash-separated path, relative to the ledger
// directory, of the hash tile at level, index n and width w (1..256; 256 is a
// full tile and has no .p/ suffix).
func TilePath(level int, n uint64, w int) string {
	b := make([]byte, 0, 40)
	b = append(b, "tile/"...)
	b = strconv.AppendInt(b, int64(level), 10)
	b = append(b, '/')
	b = appendIndex(b, n)
	return string(appendWidth(b, w))
}

// BundlePath returns the slash-separated path, relative to the ledger
// directory, of entry bundle n with width w (1..256; 256 is a full bundle).
func BundlePath(n uint64, w int) string {
	b := make([]byte, 0, 40)
	b = append(b, "tile/entries/"...)
	b = appendIndex(b, n)
	return string(appendWidth(b, w))
}

// tileAt returns the index and width of the partial tile at level for a tree
// of the given size; w is 0 when the level has no partial tile.
func partialAt(size uint64, level int) (n uint64, w int) {
	c := size >> (TileHeight * uint(level))
	return c >> TileHeight, int(c % TileWidth)
}

// levelsFor returns the number of tile levels a tree of the given size has
// (levels with at least one hash).
func levelsFor(size uint64) int {
	l := 0
	for size>>(TileHeight*uint(l)) > 0 {
		l++
	}
	return l
}
