package demo

import "math/bits"

// The generator needs random values that can be recomputed for any entity
// (patient i, order j at site s, staff k on day d) without replaying a
// sequence, so every draw starts from a key derived from the seed and the
// entity's coordinates. splitmix64 is used because seeding costs nothing and
// its finalizer is a bijection, which also gives unique opaque event ids.

// Tags separate the key spaces of unrelated draws.
const (
	tagPatient uint64 = iota + 1
	tagPatientDetail
	tagStaff
	tagOrder
	tagLag
	tagShift
	tagDay
	tagAnomaly
	tagSourceRef
	tagCalib
	tagSchedule
)

// mix is the splitmix64 finalizer; it is a bijection on uint64.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

const golden = 0x9e3779b97f4a7c15

// key derives the key of one entity from the seed, a tag and two coordinates.
func key(seed, tag, a, b uint64) uint64 {
	return mix(mix(mix(seed^(tag*golden))+a*golden) + b)
}

// rng is a splitmix64 stream; the zero value is usable but callers seed it
// with key.
type rng struct{ s uint64 }

func newRNG(k uint64) rng { return rng{s: k} }

func (r *rng) next() uint64 {
	r.s += golden
	return mix(r.s)
}

// intn returns a value in [0, n); n must be > 0.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// int64n returns a value in [0, n); n must be > 0.
func (r *rng) int64n(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// float returns a value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// pick returns an element of a non-empty slice.
func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// weighted returns an index drawn with the given (non-negative, not all zero)
// weights.
func weighted(r *rng, ws []float64) int {
	var total float64
	for _, w := range ws {
		total += w
	}
	x := r.float() * total
	for i, w := range ws {
		if x < w {
			return i
		}
		x -= w
	}
	return len(ws) - 1
}
