package ledger

import (
	"crypto/sha256"
)

// emptyRoot is the RFC 6962 hash of the empty tree: SHA-256 of nothing.
var emptyRoot = sha256.Sum256(nil)

// LeafHash returns the RFC 6962 leaf hash of an entry: SHA-256(0x00 || e).
func LeafHash(e []byte) [32]byte {
	// Commitments are 32 bytes: hash them from one stack buffer without the
	// allocation of a hash.Hash.
	if len(e) <= 64 {
		var buf [65]byte
		copy(buf[1:], e)
		return sha256.Sum256(buf[:1+len(e)])
	}
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(e)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// NodeHash returns the RFC 6962 interior node hash SHA-256(0x01 || l || r).
func NodeHash(l, r *[32]byte) [32]byte {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:33], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

func hashAt(b []byte, i int) *[32]byte { return (*[32]byte)(b[i*HashSize : (i+1)*HashSize]) }

// subtreeRoot returns the Merkle tree hash of a power-of-two number of
// consecutive hashes (concatenated in b), reducing in place in scratch, which
// must be at least len(b)/2 bytes.
func subtreeRoot(b []byte, scratch []byte) [32]byte {
	n := len(b) / HashSize
	if n == 1 {
		return *hashAt(b, 0)
	}
	src := b
	for n > 1 {
		n /= 2
		for i := 0; i < n; i++ {
			h := NodeHash(hashAt(src, 2*i), hashAt(src, 2*i+1))
			copy(scratch[i*HashSize:], h[:])
		}
		src = scratch[:n*HashSize]
	}
	return *hashAt(scratch, 0)
}

// tileRoot returns the Merkle tree hash of a full tile (256 hashes).
func tileRoot(tile []byte) [32]byte {
	var scratch [TileWidth / 2 * HashSize]byte
	return subtreeRoot(tile, scratch[:])
}

// edgeRoot computes the root of a tree from its right edge: edge[L] holds the
// hashes of the partial tile at level L (fewer than 256). Those partial tiles
// together cover, from the top level down, the part of the tree right of the
// last full top-level tile, which is exactly the RFC 6962 decomposition into
// perfect subtrees.
func edgeRoot(edge [][]byte) [32]byte {
	var scratch [TileWidth / 2 * HashSize]byte
	var subtrees [][32]byte // left to right
	for l := len(edge) - 1; l >= 0; l-- {
		b := edge[l]
		w := len(b) / HashSize
		off := 0
		for bit := TileHeight - 1; bit >= 0; bit-- {
			if w&(1<<bit) == 0 {
				continue
			}
			k := 1 << bit
			subtrees = append(subtrees, subtreeRoot(b[off*HashSize:(off+k)*HashSize], scratch[:]))
			off += k
		}
	}
	if len(subtrees) == 0 {
		return emptyRoot
	}
	acc := subtrees[len(subtrees)-1]
	for i := len(subtrees) - 2; i >= 0; i-- {
		acc = NodeHash(&subtrees[i], &acc)
	}
	return acc
}
