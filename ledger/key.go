package ledger

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// NewKey generates an Ed25519 signed-note key pair named name (by
// convention the log's origin) from crypto/rand. skey is the private signer
// key ("PRIVATE+KEY+name+hash+..."), for note.NewSigner; vkey the public
// verifier key, for note.NewVerifier.
func NewKey(name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("ledger: generate key: %w", err)
	}
	return skey, vkey, nil
}
