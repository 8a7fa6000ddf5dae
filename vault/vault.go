// Package vault holds labtrust's data keys as Tink keysets: an AEAD keyset
// (AES-256-GCM keys; the primary seals, every enabled key opens) and a PRF
// keyset (HMAC-SHA-256) for blind indexes. Each keyset is stored only
// encrypted by a key-encryption key (KEK), which lives behind a small
// interface so a local key file (the default), a HashiCorp Vault Transit
// key or an AWS KMS key can hold it. Rotation adds a new primary key to the
// AEAD keyset; what older keys sealed keeps opening until they are retired.
//
// Data directories created before the move to Tink hold raw AES-GCM data
// keys and a raw HMAC blind-index key ("data" and "blind" rows). Those keep
// opening what they sealed, and the raw blind key keeps indexing (HMAC-
// SHA-256 is what Tink's HMAC PRF computes, so nothing changes), while new
// sealing goes to a Tink keyset.
package vault

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/prf/hmacprf"
	"github.com/tink-crypto/tink-go/v2/secretdata"
	"github.com/tink-crypto/tink-go/v2/tink"
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
	PurposeAEADKeyset Purpose = "aead-keyset" // Tink AEAD keyset: event frames, quarantined records, fields
	PurposePRFKeyset  Purpose = "prf-keyset"  // Tink PRF keyset: blind indexes
	PurposeData       Purpose = "data"        // pre-Tink raw AES-256-GCM key: opens what it sealed
	PurposeBlind      Purpose = "blind"       // pre-Tink raw HMAC key: keeps indexing
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
		var w []byte
		if k.Purpose == PurposeAEADKeyset || k.Purpose == PurposePRFKeyset {
			h, err := keyset.ReadWithContext(ctx, keyset.NewBinaryReader(bytes.NewReader(k.Wrapped)), kekAEAD{from}, keysetAAD)
			if err != nil {
				return nil, fmt.Errorf("vault: %s %d does not decrypt with KEK %q: %w", k.Purpose, k.ID, k.KEKID, ErrDecrypt)
			}
			var buf bytes.Buffer
			if err := h.WriteWithContext(ctx, keyset.NewBinaryWriter(&buf), kekAEAD{to}, keysetAAD); err != nil {
				return nil, fmt.Errorf("vault: encrypt %s %d with KEK %q: %w", k.Purpose, k.ID, to.ID(), err)
			}
			w = buf.Bytes()
			// The new KEK must give the keyset back before the old
			// wrapping is replaced.
			if _, err := keyset.ReadWithContext(ctx, keyset.NewBinaryReader(bytes.NewReader(w)), kekAEAD{to}, keysetAAD); err != nil {
				return nil, fmt.Errorf("vault: KEK %q cannot decrypt what it encrypted: %w", to.ID(), err)
			}
		} else {
			raw, err := from.Unwrap(ctx, k.Wrapped)
			if err != nil {
				return nil, fmt.Errorf("vault: unwrap key %d with KEK %q: %w", k.ID, k.KEKID, err)
			}
			w, err = to.Wrap(ctx, raw)
			clear(raw)
			if err != nil {
				return nil, fmt.Errorf("vault: wrap key %d with KEK %q: %w", k.ID, to.ID(), err)
			}
			back, err := to.Unwrap(ctx, w)
			if err != nil {
				return nil, fmt.Errorf("vault: KEK %q cannot unwrap what it wrapped: %w", to.ID(), err)
			}
			clear(back)
		}
		k.KEKID, k.Wrapped = to.ID(), w
		out = append(out, k)
	}
	return out, nil
}

// ErrDecrypt means a ciphertext failed authentication or names an unknown
// key: the stored bytes were changed, or the key that sealed them is gone.
var ErrDecrypt = errors.New("vault: ciphertext does not authenticate")

// Keyring seals and opens data with the AEAD keyset and computes blind
// indexes. It is safe for concurrent use.
type Keyring struct {
	mu      sync.RWMutex
	handle  *keyset.Handle // the AEAD keyset
	aead    tink.AEAD
	aeadRow uint32 // store row of the current AEAD keyset
	legacy  map[uint32]cipher.AEAD
	blind   []byte    // the HMAC-SHA-256 blind-index key
	blindID uint32    // its ID in the PRF keyset (0 for a pre-Tink key)
	macs    sync.Pool // HMAC states under blind, for Blind
	kek     KEK
	store   KeyStore
	nextID  uint32
	sealed  atomic.Uint64 // messages sealed under the primary key, for rotation by volume
	maxSeal uint64
}

// rotateAfter bounds messages per AES-GCM key with random 96-bit nonces,
// far below the 2^32 NIST SP 800-38D limit.
const rotateAfter = 1 << 30

// keysetAAD binds a stored keyset to its use.
var keysetAAD = []byte("labtrust keyset v1")

// kekAEAD lets Tink encrypt keysets with a KEK.
type kekAEAD struct{ kek KEK }

func (k kekAEAD) EncryptWithContext(ctx context.Context, pt, ad []byte) ([]byte, error) {
	if !bytes.Equal(ad, keysetAAD) {
		return nil, errors.New("vault: unexpected keyset associated data")
	}
	return k.kek.Wrap(ctx, pt)
}

func (k kekAEAD) DecryptWithContext(ctx context.Context, ct, ad []byte) ([]byte, error) {
	if !bytes.Equal(ad, keysetAAD) {
		return nil, errors.New("vault: unexpected keyset associated data")
	}
	return k.kek.Unwrap(ctx, ct)
}

// Open loads (or on first use creates) the keysets from store, decrypting
// them with kek.
func Open(ctx context.Context, kek KEK, store KeyStore) (*Keyring, error) {
	kr := &Keyring{legacy: map[uint32]cipher.AEAD{}, kek: kek, store: store, maxSeal: rotateAfter}
	keys, err := store.LoadKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault: load keys: %w", err)
	}
	var aeadKS, prfKS *WrappedKey
	for i := range keys {
		k := &keys[i]
		if k.KEKID != kek.ID() {
			return nil, &WrongKEKError{Key: k.ID, WrappedBy: k.KEKID, Given: kek.ID()}
		}
		if k.ID >= kr.nextID {
			kr.nextID = k.ID + 1
		}
		switch k.Purpose {
		case PurposeAEADKeyset:
			if aeadKS == nil || k.ID > aeadKS.ID {
				aeadKS = k
			}
			continue
		case PurposePRFKeyset:
			if prfKS == nil || k.ID > prfKS.ID {
				prfKS = k
			}
			continue
		}
		raw, err := kek.Unwrap(ctx, k.Wrapped)
		if err != nil {
			return nil, fmt.Errorf("vault: unwrap key %d with KEK %q: %w", k.ID, k.KEKID, ErrDecrypt)
		}
		switch k.Purpose {
		case PurposeData:
			b, err := aes.NewCipher(raw)
			if err != nil {
				return nil, fmt.Errorf("vault: key %d: %w", k.ID, err)
			}
			g, err := cipher.NewGCM(b)
			if err != nil {
				return nil, err
			}
			kr.legacy[k.ID] = g
		case PurposeBlind:
			kr.blind = raw
		default:
			return nil, fmt.Errorf("vault: key %d has unknown purpose %q", k.ID, k.Purpose)
		}
	}
	if kr.nextID == 0 {
		kr.nextID = 1
	}
	if aeadKS != nil {
		h, err := kr.readKeyset(ctx, aeadKS)
		if err != nil {
			return nil, err
		}
		if err := kr.use(h, aeadKS.ID); err != nil {
			return nil, err
		}
	} else {
		h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
		if err != nil {
			return nil, fmt.Errorf("vault: new AEAD keyset: %w", err)
		}
		id, err := kr.saveKeyset(ctx, h, PurposeAEADKeyset)
		if err != nil {
			return nil, err
		}
		if err := kr.use(h, id); err != nil {
			return nil, err
		}
	}
	if kr.blind == nil {
		var h *keyset.Handle
		if prfKS != nil {
			if h, err = kr.readKeyset(ctx, prfKS); err != nil {
				return nil, err
			}
		} else {
			if h, err = keyset.NewHandle(prf.HMACSHA256PRFKeyTemplate()); err != nil {
				return nil, fmt.Errorf("vault: new PRF keyset: %w", err)
			}
			if _, err := kr.saveKeyset(ctx, h, PurposePRFKeyset); err != nil {
				return nil, err
			}
		}
		if kr.blind, kr.blindID, err = hmacKey(h); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

func (kr *Keyring) readKeyset(ctx context.Context, k *WrappedKey) (*keyset.Handle, error) {
	h, err := keyset.ReadWithContext(ctx, keyset.NewBinaryReader(bytes.NewReader(k.Wrapped)), kekAEAD{kr.kek}, keysetAAD)
	if err != nil {
		return nil, fmt.Errorf("vault: %s %d does not decrypt with KEK %q: %w", k.Purpose, k.ID, k.KEKID, ErrDecrypt)
	}
	return h, nil
}

func (kr *Keyring) saveKeyset(ctx context.Context, h *keyset.Handle, p Purpose) (uint32, error) {
	var buf bytes.Buffer
	if err := h.WriteWithContext(ctx, keyset.NewBinaryWriter(&buf), kekAEAD{kr.kek}, keysetAAD); err != nil {
		return 0, fmt.Errorf("vault: encrypt %s with KEK %q: %w", p, kr.kek.ID(), err)
	}
	id := kr.nextID
	if err := kr.store.SaveKey(ctx, WrappedKey{ID: id, Purpose: p, KEKID: kr.kek.ID(), Wrapped: buf.Bytes(), Created: time.Now().UTC()}); err != nil {
		return 0, fmt.Errorf("vault: save %s: %w", p, err)
	}
	kr.nextID++
	return id, nil
}

func (kr *Keyring) use(h *keyset.Handle, row uint32) error {
	a, err := aead.New(h)
	if err != nil {
		return fmt.Errorf("vault: AEAD keyset: %w", err)
	}
	kr.handle, kr.aead, kr.aeadRow = h, a, row
	return nil
}

// Rotate adds a new AES-256-GCM key to the AEAD keyset and makes it the
// primary. Older keys keep opening what they sealed.
func (kr *Keyring) Rotate(ctx context.Context) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.rotateLocked(ctx)
}

// rotateLocked changes the newest stored keyset, not this process's copy:
// another process (the CLI beside a running server) may have rotated
// since. Saving under the next free row ID makes two concurrent rotations
// collide on the primary key instead of one silently dropping the other's
// key; the loser reloads and tries again.
func (kr *Keyring) rotateLocked(ctx context.Context) error {
	return kr.updateLocked(ctx, func(m *keyset.Manager) error {
		id, err := m.Add(aead.AES256GCMKeyTemplate())
		if err != nil {
			return err
		}
		return m.SetPrimary(id)
	})
}

// updateLocked applies change to the newest stored AEAD keyset and saves
// the result as a new row.
func (kr *Keyring) updateLocked(ctx context.Context, change func(*keyset.Manager) error) error {
	for attempt := 0; ; attempt++ {
		if err := kr.reloadLocked(ctx); err != nil {
			return err
		}
		m := keyset.NewManagerFromHandle(kr.handle)
		if err := change(m); err != nil {
			return fmt.Errorf("vault: change the AEAD keyset: %w", err)
		}
		h, err := m.Handle()
		if err != nil {
			return fmt.Errorf("vault: change the AEAD keyset: %w", err)
		}
		row, err := kr.saveKeyset(ctx, h, PurposeAEADKeyset)
		if errors.Is(err, labtrust.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		if err := kr.use(h, row); err != nil {
			return err
		}
		kr.sealed.Store(0)
		return nil
	}
}

// Reload picks up a keyset another process saved (a rotation or a
// retirement by the CLI while the server runs). The server calls it
// periodically, which is what makes rotation need no restart.
func (kr *Keyring) Reload(ctx context.Context) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.reloadLocked(ctx)
}

func (kr *Keyring) reloadLocked(ctx context.Context) error {
	keys, err := kr.store.LoadKeys(ctx)
	if err != nil {
		return fmt.Errorf("vault: load keys: %w", err)
	}
	var newest *WrappedKey
	for i := range keys {
		k := &keys[i]
		if k.ID >= kr.nextID {
			kr.nextID = k.ID + 1
		}
		if k.Purpose == PurposeAEADKeyset && (newest == nil || k.ID > newest.ID) {
			newest = k
		}
	}
	if newest == nil || newest.ID == kr.aeadRow {
		return nil
	}
	if newest.KEKID != kr.kek.ID() {
		return &WrongKEKError{Key: newest.ID, WrappedBy: newest.KEKID, Given: kr.kek.ID()}
	}
	h, err := kr.readKeyset(ctx, newest)
	if err != nil {
		return err
	}
	return kr.use(h, newest.ID)
}

// Retire removes a non-primary key from the AEAD keyset: what it sealed no
// longer opens, so run re-encryption first (labtrust keys reencrypt), which
// reports what each key still seals.
func (kr *Keyring) Retire(ctx context.Context, keyID uint32) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	return kr.updateLocked(ctx, func(m *keyset.Manager) error {
		if kr.handle.KeysetInfo().GetPrimaryKeyId() == keyID {
			return errors.New("the primary key cannot be retired: rotate first")
		}
		if err := m.Disable(keyID); err != nil {
			return err
		}
		return m.Delete(keyID)
	})
}

// KeyInfo describes one key without its material.
type KeyInfo struct {
	Purpose Purpose
	ID      uint32 // the key's ID inside its keyset (Tink), or its store row (pre-Tink)
	Primary bool
	Status  string // enabled, disabled
	Type    string
}

// Info lists the keys, primary first within each keyset.
func (kr *Keyring) Info() []KeyInfo {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	var out []KeyInfo
	ki := kr.handle.KeysetInfo()
	for _, k := range ki.GetKeyInfo() {
		out = append(out, KeyInfo{Purpose: PurposeAEADKeyset, ID: k.GetKeyId(), Primary: k.GetKeyId() == ki.GetPrimaryKeyId(),
			Status: strings.ToLower(k.GetStatus().String()), Type: k.GetTypeUrl()})
	}
	for id := range kr.legacy {
		out = append(out, KeyInfo{Purpose: PurposeData, ID: id, Status: "enabled", Type: "AES-256-GCM (pre-Tink, opens only)"})
	}
	if kr.blindID == 0 {
		out = append(out, KeyInfo{Purpose: PurposeBlind, Primary: true, Status: "enabled", Type: "HMAC-SHA-256 (pre-Tink)"})
	} else {
		out = append(out, KeyInfo{Purpose: PurposePRFKeyset, ID: kr.blindID, Primary: true, Status: "enabled", Type: "HMAC-SHA-256 PRF"})
	}
	return out
}

// Seal encrypts plaintext with the primary key, binding aad, and appends
// the result (Tink's: a 5-byte key prefix, nonce, ciphertext and tag) to
// dst.
func (kr *Keyring) Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error) {
	if kr.sealed.Add(1) > kr.maxSeal {
		kr.mu.Lock()
		if kr.sealed.Load() > kr.maxSeal {
			if err := kr.rotateLocked(ctx); err != nil {
				kr.mu.Unlock()
				return nil, err
			}
		}
		kr.mu.Unlock()
	}
	kr.mu.RLock()
	a := kr.aead
	kr.mu.RUnlock()
	ct, err := a.Encrypt(plaintext, aad)
	if err != nil {
		return nil, fmt.Errorf("vault: seal: %w", err)
	}
	return append(dst, ct...), nil
}

// tinkPrefix starts every ciphertext of a Tink keyset key with the TINK
// output prefix; pre-Tink ciphertexts start with a 4-byte big-endian key
// row, whose first byte is 0 for any row below 2^24.
const tinkPrefix = 0x01

// Open decrypts what Seal produced with the same aad. It returns ErrDecrypt
// if the bytes were altered, the aad differs, or the key is unknown or
// retired.
func (kr *Keyring) Open(dst, sealed, aad []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, ErrDecrypt
	}
	if sealed[0] == tinkPrefix {
		kr.mu.RLock()
		a := kr.aead
		kr.mu.RUnlock()
		pt, err := a.Decrypt(sealed, aad)
		if err != nil {
			return nil, ErrDecrypt
		}
		return append(dst, pt...), nil
	}
	if len(sealed) < legacyOverhead {
		return nil, ErrDecrypt
	}
	id := binary.BigEndian.Uint32(sealed[:4])
	kr.mu.RLock()
	a := kr.legacy[id]
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

// Overhead is how many bytes Seal adds to a plaintext.
const Overhead = 5 + 12 + 16

const legacyOverhead = 4 + 12 + 16

// KeyOf returns the ID of the key that sealed a ciphertext (the Tink key
// ID, or the pre-Tink key row), and whether it is the primary: what
// re-encryption uses to find what to re-seal.
func (kr *Keyring) KeyOf(sealed []byte) (id uint32, primary bool) {
	if len(sealed) < 5 {
		return 0, false
	}
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	if sealed[0] == tinkPrefix {
		id = binary.BigEndian.Uint32(sealed[1:5])
		return id, id == kr.handle.KeysetInfo().GetPrimaryKeyId()
	}
	return binary.BigEndian.Uint32(sealed[:4]), false
}

// BlindSize is the length of a blind index value.
const BlindSize = 16

// Blind returns the blind index of a patient identifier: HMAC-SHA-256 under
// the blind-index key, truncated to 128 bits. Surrounding spaces are ignored
// so "MRN1 " and "MRN1" index alike.
//
// The keyed HMAC state is taken from a pool: making one (two SHA-256
// blocks of key) cost as much as the hash itself, and ten million notice
// codes are hashed from many goroutines.
func (kr *Keyring) Blind(id string) []byte {
	m, _ := kr.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, kr.blind)
	}
	out := blindWith(m, id)
	kr.macs.Put(m)
	return out
}

// blindWith computes id's blind index with m, an HMAC under the
// blind-index key.
func blindWith(m hash.Hash, id string) []byte {
	m.Reset()
	m.Write([]byte(strings.TrimSpace(id)))
	return m.Sum(nil)[:BlindSize]
}

// Blinder returns a function computing blind indexes that reuses one HMAC
// state; it is not safe for concurrent use, which makes it cheap in a loop.
func (kr *Keyring) Blinder() func(id string) []byte {
	m := hmac.New(sha256.New, kr.blind)
	return func(id string) []byte { return blindWith(m, id) }
}

// hmacKey returns the primary key of a PRF keyset, which must be
// HMAC-SHA-256. Blind indexes are computed with the standard library's HMAC
// on it rather than through Tink's PRF set, which builds a new HMAC state
// for every call (4x slower, and ingest computes one per patient per event);
// both compute HMAC-SHA-256, so the output is the same.
func hmacKey(h *keyset.Handle) ([]byte, uint32, error) {
	e, err := h.Primary()
	if err != nil {
		return nil, 0, fmt.Errorf("vault: PRF keyset: %w", err)
	}
	k, ok := e.Key().(*hmacprf.Key)
	if !ok {
		return nil, 0, fmt.Errorf("vault: PRF keyset: primary key is %T, want HMAC", e.Key())
	}
	if p, ok := k.Parameters().(*hmacprf.Parameters); !ok || p.HashType() != hmacprf.SHA256 {
		return nil, 0, errors.New("vault: PRF keyset: primary key is not HMAC-SHA-256")
	}
	return k.KeyBytes().Data(insecuresecretdataaccess.Token{}), e.KeyID(), nil
}

// fieldKeyParams are per-record keys: AES-256-GCM, 12-byte IV, 16-byte
// tag, no key-ID prefix (each record has exactly one key).
var fieldKeyParams = func() *aesgcm.Parameters {
	p, err := aesgcm.NewParameters(aesgcm.ParametersOpts{KeySizeInBytes: 32, IVSizeInBytes: 12, TagSizeInBytes: 16, Variant: aesgcm.VariantNoPrefix})
	if err != nil {
		panic(err)
	}
	return p
}()

// NewRecordKey makes a fresh data key for one record (a patient's), and
// returns its AEAD and the key sealed by the keyring, bound to owner.
// Deleting the sealed key crypto-shreds everything it sealed.
func (kr *Keyring) NewRecordKey(ctx context.Context, owner []byte) (tink.AEAD, []byte, error) {
	raw, err := secretdata.NewBytesFromRand(32)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: record key: %w", err)
	}
	a, err := recordAEAD(raw)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := kr.Seal(ctx, nil, raw.Data(insecuresecretdataaccess.Token{}), recordKeyAAD(owner))
	if err != nil {
		return nil, nil, err
	}
	return a, sealed, nil
}

// OpenRecordKey opens a key NewRecordKey sealed for owner.
func (kr *Keyring) OpenRecordKey(sealed, owner []byte) (tink.AEAD, error) {
	raw, err := kr.Open(nil, sealed, recordKeyAAD(owner))
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	return recordAEAD(secretdata.NewBytesFromData(raw, insecuresecretdataaccess.Token{}))
}

func recordAEAD(raw secretdata.Bytes) (tink.AEAD, error) {
	k, err := aesgcm.NewKey(raw, 0, fieldKeyParams)
	if err != nil {
		return nil, fmt.Errorf("vault: record key: %w", err)
	}
	return aesgcm.NewAEAD(k)
}

func recordKeyAAD(owner []byte) []byte { return append([]byte("record key\x00"), owner...) }
