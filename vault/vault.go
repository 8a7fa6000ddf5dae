// Package vault holds labtrust's data keys: AEAD data-encryption keys and the
// blind-index key, each wrapped by a key-encryption key (KEK). The KEK lives
// behind a one-method-pair interface so a local key file (the default), a
// HashiCorp Vault Transit key or a cloud KMS can hold it.
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// KEK wraps and unwraps data keys. Implementations MUST authenticate: Unwrap
// of a modified or foreign blob MUST fail.
type KEK interface {
	// ID names the key-encryption key (stored next to each wrapped key, so
	// a rotation of the KEK can find what to re-wrap).
	ID() string
	Wrap(ctx context.Context, plaintext []byte) ([]byte, error)
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
}

// Purpose says what a data key is for.
type Purpose string

const (
	PurposeData  Purpose = "data"  // AEAD for event bodies and quarantined raw bytes
	PurposeBlind Purpose = "blind" // HMAC key for blind indexes
)

// WrappedKey is a data key as stored: only ever in wrapped form.
type WrappedKey struct {
	ID      uint32
	Purpose Purpose
	KEKID   string
	Wrapped []byte
	Created time.Time
}

// KeyStore persists wrapped keys. SaveKey MUST be durable when it returns.
type KeyStore interface {
	LoadKeys(ctx context.Context) ([]WrappedKey, error)
	SaveKey(ctx context.Context, k WrappedKey) error
}

// WrongKEKError means the data keys were wrapped by another KEK than the
// one given: the configuration names the wrong KEK, or a rewrap to a new
// one has not been finished.
type WrongKEKError struct {
	Key       uint32
	WrappedBy string
	Given     string
}

func (e *WrongKEKError) Error() string {
	return fmt.Sprintf("vault: data key %d is wrapped by KEK %q, not by the configured %q", e.Key, e.WrappedBy, e.Given)
}

// Rewrap unwraps every stored data key with from and wraps it with to,
// returning the keys to store in place of the old ones (same IDs). The
// data keys themselves do not change, so nothing sealed needs re-sealing:
// this is how a lab moves its KEK to a KMS, or rotates the KEK.
func Rewrap(ctx context.Context, from, to KEK, store KeyStore) ([]WrappedKey, error) {
	keys, err := store.LoadKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault: load keys: %w", err)
	}
	out := make([]WrappedKey, 0, len(keys))
	for _, k := range keys {
		if k.KEKID != from.ID() {
			return nil, &WrongKEKError{Key: k.ID, WrappedBy: k.KEKID, Given: from.ID()}
		}
		raw, err := from.Unwrap(ctx, k.Wrapped)
		if err != nil {
			return nil, fmt.Errorf("vault: unwrap key %d with KEK %q: %w", k.ID, k.KEKID, err)
		}
		w, err := to.Wrap(ctx, raw)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("vault: wrap key %d with KEK %q: %w", k.ID, to.ID(), err)
		}
		// The new KEK must give the key back before the old wrapping is
		// replaced.
		back, err := to.Unwrap(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("vault: KEK %q cannot unwrap what it wrapped: %w", to.ID(), err)
		}
		clear(back)
		k.KEKID, k.Wrapped = to.ID(), w
		out = append(out, k)
	}
	return out, nil
}

// ErrDecrypt means a ciphertext failed authentication or names an unknown
// key: the stored bytes were changed, or the key that sealed them is gone.
var ErrDecrypt = errors.New("vault: ciphertext does not authenticate")

// Keyring seals and opens data with the active data key and computes blind
// indexes. It is safe for concurrent use.
type Keyring struct {
	mu      sync.RWMutex
	aeads   map[uint32]cipher.AEAD
	active  uint32
	blind   []byte
	kek     KEK
	store   KeyStore
	nextID  uint32
	sealed  atomic.Uint64 // messages sealed under the active key, for rotation by volume
	maxSeal uint64
}

// rotateAfter bounds messages per AES-GCM key with random 96-bit nonces,
// far below the 2^32 NIST SP 800-38D limit.
const rotateAfter = 1 << 30

// Open loads (or on first use creates) the data keys from store, unwrapping
// them with kek.
func Open(ctx context.Context, kek KEK, store KeyStore) (*Keyring, error) {
	kr := &Keyring{aeads: map[uint32]cipher.AEAD{}, kek: kek, store: store, maxSeal: rotateAfter}
	keys, err := store.LoadKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault: load keys: %w", err)
	}
	for _, k := range keys {
		if k.KEKID != kek.ID() {
			return nil, &WrongKEKError{Key: k.ID, WrappedBy: k.KEKID, Given: kek.ID()}
		}
		raw, err := kek.Unwrap(ctx, k.Wrapped)
		if err != nil {
			return nil, fmt.Errorf("vault: unwrap key %d with KEK %q: %w", k.ID, k.KEKID, err)
		}
		switch k.Purpose {
		case PurposeData:
			a, err := newAEAD(raw)
			if err != nil {
				return nil, err
			}
			kr.aeads[k.ID] = a
			if k.ID >= kr.active {
				kr.active = k.ID
			}
		case PurposeBlind:
			kr.blind = raw
		default:
			return nil, fmt.Errorf("vault: key %d has unknown purpose %q", k.ID, k.Purpose)
		}
		if k.ID >= kr.nextID {
			kr.nextID = k.ID + 1
		}
	}
	if kr.nextID == 0 {
		kr.nextID = 1
	}
	if kr.blind == nil {
		raw, err := kr.newKey(ctx, PurposeBlind)
		if err != nil {
			return nil, err
		}
		kr.blind = raw
	}
	if len(kr.aeads) == 0 {
		if err := kr.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: data key: %w", err)
	}
	return cipher.NewGCM(b)
}

func (kr *Keyring) newKey(ctx context.Context, p Purpose) ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("vault: random key: %w", err)
	}
	w, err := kr.kek.Wrap(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("vault: wrap new %s key: %w", p, err)
	}
	id := kr.nextID
	if err := kr.store.SaveKey(ctx, WrappedKey{ID: id, Purpose: p, KEKID: kr.kek.ID(), Wrapped: w, Created: time.Now().UTC()}); err != nil {
		return nil, fmt.Errorf("vault: save new %s key: %w", p, err)
	}
	kr.nextID++
	return raw, nil
}

// Rotate makes a new data key the active one. Older keys keep opening what
// they sealed.
func (kr *Keyring) Rotate(ctx context.Context) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.rotateLocked(ctx)
}

func (kr *Keyring) rotateLocked(ctx context.Context) error {
	id := kr.nextID
	raw, err := kr.newKey(ctx, PurposeData)
	if err != nil {
		return err
	}
	a, err := newAEAD(raw)
	if err != nil {
		return err
	}
	kr.aeads[id] = a
	kr.active = id
	kr.sealed.Store(0)
	return nil
}

// Overhead is how many bytes Seal adds to a plaintext.
const Overhead = 4 + 12 + 16

// Seal encrypts plaintext with the active data key, binding aad. The result
// is keyID(4) || nonce(12) || ciphertext+tag. dst is appended to.
func (kr *Keyring) Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error) {
	kr.mu.RLock()
	id, a := kr.active, kr.aeads[kr.active]
	over := kr.sealed.Add(1) > kr.maxSeal
	kr.mu.RUnlock()
	if over {
		kr.mu.Lock()
		if kr.sealed.Load() > kr.maxSeal {
			if err := kr.rotateLocked(ctx); err != nil {
				kr.mu.Unlock()
				return nil, err
			}
		}
		id, a = kr.active, kr.aeads[kr.active]
		kr.mu.Unlock()
	}
	var hdr [16]byte
	binary.BigEndian.PutUint32(hdr[:4], id)
	if _, err := rand.Read(hdr[4:]); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	dst = append(dst, hdr[:]...)
	return a.Seal(dst, hdr[4:], plaintext, aad), nil
}

// Open decrypts what Seal produced with the same aad. It returns ErrDecrypt
// if the bytes were altered, the aad differs, or the key is unknown.
func (kr *Keyring) Open(dst, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrDecrypt
	}
	id := binary.BigEndian.Uint32(sealed[:4])
	kr.mu.RLock()
	a := kr.aeads[id]
	kr.mu.RUnlock()
	if a == nil {
		return nil, ErrDecrypt
	}
	out, err := a.Open(dst, sealed[4:16], sealed[16:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}

// BlindSize is the length of a blind index value.
const BlindSize = 16

// Blind returns the blind index of a patient identifier: HMAC-SHA-256 under
// the blind-index key, truncated to 128 bits. Surrounding spaces are ignored
// so "MRN1 " and "MRN1" index alike.
func (kr *Keyring) Blind(id string) []byte {
	m := hmac.New(sha256.New, kr.blind)
	m.Write([]byte(strings.TrimSpace(id)))
	return m.Sum(nil)[:BlindSize]
}

// Blinder returns a function computing blind indexes that reuses one HMAC
// state; it is not safe for concurrent use, which makes it cheap in a loop.
func (kr *Keyring) Blinder() func(id string) []byte {
	m := hmac.New(sha256.New, kr.blind)
	return func(id string) []byte {
		m.Reset()
		m.Write([]byte(strings.TrimSpace(id)))
		return m.Sum(nil)[:BlindSize]
	}
}
