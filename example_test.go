package labtrust_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/labtrust/labtrust"
)

// A verifier that holds an entry's canonical bytes and its nonce recomputes
// the commitment the ledger holds as a leaf; the canonical bytes also parse
// back into the entry.
func ExampleCommit() {
	en := labtrust.Entry{
		Index: 7,
		Event: labtrust.Event{
			Time:     time.Date(2026, 10, 1, 8, 0, 0, 123456789, time.UTC),
			Source:   "ehr",
			Kind:     labtrust.KindAccess,
			Action:   labtrust.ActionRead,
			Actor:    labtrust.Actor{ID: "u1", Role: "lab-tech"},
			Patients: []labtrust.PatientRef{{ID: "MRN1"}},
		},
		Links: []labtrust.Link{{Patient: 0}},
	}
	canon, err := en.MarshalCanonical()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", canon)

	nonce := bytes.Repeat([]byte{0x5a}, labtrust.NonceSize) // random in the ledger
	c := labtrust.Commit(nonce, canon)
	fmt.Println(hex.EncodeToString(c[:]))

	back, err := labtrust.UnmarshalCanonical(canon)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.Index, back.Event.Time.Format(time.RFC3339Nano))
	// Output:
	// {"action":"R","actor":{"id":"u1","role":"lab-tech"},"index":7,"kind":"access","links":[{"hasPrev":false,"patient":0,"prevIndex":0}],"outcome":0,"patients":[{"id":"MRN1"}],"source":"ehr","time":"2026-10-01T08:00:00.123456Z","v":1}
	// 387dca7fd19fe59c4683d71ebb49635c95aec16c752f9ba5cc0a9d4a81cf3bda
	// 7 2026-10-01T08:00:00.123456Z
}
