package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileKEK is a key-encryption key held in a local file (32 random bytes,
// mode 0600). It is the embedded default; production labs should prefer an
// external KMS so that the data directory alone cannot decrypt anything.
type FileKEK struct {
	id   string
	aead cipher.AEAD
}

var _ KEK = (*FileKEK)(nil)

// LoadOrCreateFileKEK reads the key file at path, creating it with fresh
// random bytes and mode 0600 if it does not exist. It refuses a key file that
// group or others can read, because the whole store's secrecy rests on it.
func LoadOrCreateFileKEK(path string) (*FileKEK, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw = make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("vault: random KEK: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("vault: key directory: %w", err)
		}
		if err := writeFileSync(path, raw, 0o600); err != nil {
			return nil, fmt.Errorf("vault: write KEK file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("vault: read KEK file: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vault: stat KEK file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("vault: KEK file %s has mode %v; it must not be readable by group or others (chmod 600 it)", path, st.Mode().Perm())
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("vault: KEK file %s holds %d bytes, want 32", path, len(raw))
	}
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("vault: KEK: %w", err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("vault: KEK: %w", err)
	}
	sum := sha256.Sum256(append([]byte("labtrust kek id\x00"), raw...))
	return &FileKEK{id: "file:" + hex.EncodeToString(sum[:6]), aead: a}, nil
}

func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ID names the key by a hash of it, so a wrapped key records which KEK it needs.
func (k *FileKEK) ID() string { return k.id }

// Wrap seals a data key: nonce(12) || ciphertext+tag, bound to the KEK id.
func (k *FileKEK) Wrap(_ context.Context, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, 12, 12+len(plaintext)+16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	return k.aead.Seal(nonce, nonce, plaintext, []byte(k.id)), nil
}

// Unwrap opens what Wrap sealed; it fails with ErrDecrypt on any change.
func (k *FileKEK) Unwrap(_ context.Context, wrapped []byte) ([]byte, error) {
	if len(wrapped) < 12+16 {
		return nil, ErrDecrypt
	}
	out, err := k.aead.Open(nil, wrapped[:12], wrapped[12:], []byte(k.id))
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}
