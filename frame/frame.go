// Package frame packs consecutive ledger entries' bodies (each a random
// nonce followed by the canonical event bytes) into one compressed, sealed
// unit: a frame. Events from one lab repeat most of their text (codes,
// systems, site and role names), so a frame of a few dozen compresses about
// fivefold, and one AEAD seal and one database row per frame replace one
// of each per event. The frame's first index and entry count are bound as
// associated data, so frames cannot be moved, truncated or swapped
// unnoticed.
//
// Compression happens before encryption, so a frame's sealed length depends
// on its contents. Only someone who can read the database sees those
// lengths, and a frame mixes many events of different patients; the README's
// security notes discuss this.
package frame

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/labtrust/labtrust"
)

// Size is the default number of entries per frame: past ~64 the ratio
// gains little, while reading one entry back opens its whole frame.
const Size = 64

// version leads the plaintext so the layout can change later.
const version = 1

// maxPlain bounds a frame's plaintext, so a corrupt length cannot make
// Open allocate without limit.
const maxPlain = 64 << 20

// Record is one entry's body.
type Record struct {
	Nonce     []byte // labtrust.NonceSize bytes
	Canonical []byte
}

// Sealer seals with the current data key (the vault's Keyring).
type Sealer interface {
	Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error)
}

// Opener opens what a Sealer sealed.
type Opener interface {
	Open(dst, sealed, aad []byte) ([]byte, error)
}

// AAD binds a frame to its place in the ledger.
func AAD(first uint64, count int) []byte {
	b := make([]byte, 0, 20)
	b = append(b, "ltframe1"...)
	b = binary.BigEndian.AppendUint64(b, first)
	return binary.BigEndian.AppendUint32(b, uint32(count))
}

// Encode returns the compressed plaintext of recs, appended to dst.
func Encode(dst []byte, recs []Record) []byte {
	n := 1
	for _, r := range recs {
		n += binary.MaxVarintLen32 + len(r.Nonce) + len(r.Canonical)
	}
	plain := make([]byte, 0, n)
	plain = append(plain, version)
	for _, r := range recs {
		plain = binary.AppendUvarint(plain, uint64(len(r.Canonical)))
		plain = append(plain, r.Nonce...)
		plain = append(plain, r.Canonical...)
	}
	need := s2.MaxEncodedLen(len(plain))
	if cap(dst)-len(dst) < need {
		d := make([]byte, len(dst), len(dst)+need)
		copy(d, dst)
		dst = d
	}
	out := s2.Encode(dst[len(dst):cap(dst)], plain)
	return dst[:len(dst)+len(out)]
}

// Seal compresses and seals recs as the frame starting at index first.
func Seal(ctx context.Context, s Sealer, first uint64, recs []Record) ([]byte, error) {
	if len(recs) == 0 {
		return nil, errors.New("frame: no records")
	}
	for i, r := range recs {
		if len(r.Nonce) != labtrust.NonceSize {
			return nil, fmt.Errorf("frame: entry %d: nonce is %d bytes, want %d", first+uint64(i), len(r.Nonce), labtrust.NonceSize)
		}
	}
	z := Encode(nil, recs)
	sealed, err := s.Seal(ctx, make([]byte, 0, len(z)+64), z, AAD(first, len(recs)))
	if err != nil {
		return nil, fmt.Errorf("frame at %d: seal: %w", first, err)
	}
	return sealed, nil
}

// Open authenticates and decodes the frame starting at index first with
// count entries. The records alias one fresh buffer.
func Open(o Opener, first uint64, count int, sealed []byte) ([]Record, error) {
	var r Reader
	return r.Open(o, first, count, sealed)
}

// Reader opens frames one after another, reusing its buffers: what a scan
// over many frames uses instead of Open.
type Reader struct {
	z, plain []byte
	recs     []Record
}

// Open is the package's Open, but the records alias the Reader's buffers
// and are valid only until its next call.
func (r *Reader) Open(o Opener, first uint64, count int, sealed []byte) ([]Record, error) {
	z, err := o.Open(r.z[:0], sealed, AAD(first, count))
	if err != nil {
		return nil, fmt.Errorf("frame at %d: %w", first, err)
	}
	r.z = z
	return r.decode(first, count, z)
}

// Decode parses a frame's compressed plaintext (what Encode wrote), which
// must hold exactly count records.
func Decode(first uint64, count int, z []byte) ([]Record, error) {
	var r Reader
	return r.decode(first, count, z)
}

func (r *Reader) decode(first uint64, count int, z []byte) ([]Record, error) {
	n, err := s2.DecodedLen(z)
	if err != nil {
		return nil, fmt.Errorf("frame at %d: %w", first, err)
	}
	if n > maxPlain {
		return nil, fmt.Errorf("frame at %d: plaintext of %d bytes exceeds the %d-byte limit", first, n, maxPlain)
	}
	if cap(r.plain) < n {
		r.plain = make([]byte, n)
	}
	plain, err := s2.Decode(r.plain[:n], z)
	if err != nil {
		return nil, fmt.Errorf("frame at %d: decompress: %w", first, err)
	}
	if len(plain) == 0 || plain[0] != version {
		return nil, fmt.Errorf("frame at %d: unknown frame version", first)
	}
	if count < 0 || count > len(plain) {
		return nil, fmt.Errorf("frame at %d: implausible entry count %d", first, count)
	}
	recs := r.recs[:0]
	if cap(recs) < count {
		recs = make([]Record, 0, count)
	}
	p := plain[1:]
	for len(p) > 0 {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)) {
			return nil, fmt.Errorf("frame at %d: entry %d: bad length", first, len(recs))
		}
		p = p[k:]
		if uint64(len(p)) < labtrust.NonceSize+l {
			return nil, fmt.Errorf("frame at %d: entry %d is truncated", first, len(recs))
		}
		recs = append(recs, Record{Nonce: p[:labtrust.NonceSize:labtrust.NonceSize], Canonical: p[labtrust.NonceSize : labtrust.NonceSize+l : labtrust.NonceSize+l]})
		p = p[labtrust.NonceSize+l:]
	}
	if len(recs) != count {
		return nil, fmt.Errorf("frame at %d: holds %d entries, its row says %d", first, len(recs), count)
	}
	r.recs = recs
	return recs, nil
}
