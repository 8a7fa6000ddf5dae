package ledger_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"

	"github.com/labtrust/labtrust/ledger"
	"golang.org/x/mod/sumdb/note"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "ledger-example")
	defer os.RemoveAll(dir)

	const origin = "lab.example/ledger"
	skey, vkey, err := ledger.NewKey(origin)
	if err != nil {
		log.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)

	// The writer: append commitments, then make them durable and signed.
	l, err := ledger.Open(ctx, dir, origin, signer)
	if err != nil {
		log.Fatal(err)
	}
	var batch [][]byte
	for i := range 1000 {
		c := sha256.Sum256([]byte(fmt.Sprint("event ", i)))
		batch = append(batch, c[:])
	}
	if _, err := l.Append(batch); err != nil {
		log.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		log.Fatal(err)
	}
	l.Close()

	// A patient's proof for entry 42, checked offline.
	r, err := ledger.OpenReader(dir, origin, verifier)
	if err != nil {
		log.Fatal(err)
	}
	proof, err := r.Proof(ctx, 42)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("proof:", ledger.VerifyProof(proof, batch[42], verifier, origin))

	// The auditor's full check.
	rep, err := ledger.Verify(ctx, dir, origin, verifier, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", rep.OK(), rep.Entries, "entries")
	// Output:
	// proof: <nil>
	// verified: true 1000 entries
}
