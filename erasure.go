package labtrust

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// An erased entry keeps its place and commitment in the ledger, but its
// stored body (nonce and canonical bytes) is replaced by an erasure record:
// an all-zero nonce, which a random nonce never is, and the residue. With
// the nonce gone the commitment is a hash of a secret nobody holds, so it no
// longer links to the patient, and the log still verifies.
var erasedNonce [NonceSize]byte

// ErasedNonce returns the nonce that marks an erasure record.
func ErasedNonce() []byte { return erasedNonce[:] }

// IsErased reports whether a stored body's nonce marks an erasure record.
func IsErased(nonce []byte) bool { return bytes.Equal(nonce, erasedNonce[:]) }

type erasureDoc struct {
	ErasedAt string          `json:"erasedAt"`
	Residue  json.RawMessage `json:"residue"`
}

// Erase returns the body that replaces entry en once a patient it names is
// forgotten: the time of erasure and the residue, which is what a lab's
// audit trail of its own staff must keep (when, which source, what kind of
// action by whom, from where, for what purpose, with what outcome) and
// nothing about the patients: their identifiers, the data objects (order,
// specimen and report identifiers, query text), the source's own record
// identifier and the per-patient chain links are dropped.
func Erase(en *Entry, at time.Time) ([]byte, error) {
	e := en.Event
	res := Entry{Index: en.Index, Event: Event{Time: e.Time, Source: e.Source, Kind: e.Kind, Type: e.Type,
		Subtype: e.Subtype, Action: e.Action, Outcome: e.Outcome, Actor: e.Actor, Network: e.Network, Purpose: e.Purpose}}
	b, err := res.MarshalCanonical()
	if err != nil {
		return nil, err
	}
	// Built by hand: encoding/json would HTML-escape the residue, which
	// then would no longer be in canonical form.
	out := make([]byte, 0, len(b)+64)
	out = append(out, `{"erasedAt":"`...)
	out = at.UTC().AppendFormat(out, TimeLayout)
	out = append(out, `","residue":`...)
	out = append(out, b...)
	return append(out, '}'), nil
}

// UnmarshalStored decodes a stored body: the entry its canonical bytes
// hold, or, for an erasure record, the residue with Erased set. It checks
// that the bytes are exactly canonical, as a verifier must.
func UnmarshalStored(nonce, body []byte) (*Entry, error) {
	return unmarshalStored(nonce, body, UnmarshalCanonical)
}

// DecodeStored is UnmarshalStored without the check that the bytes are in
// canonical form, for bodies the store's AEAD already authenticated as
// ones labtrust wrote (detection, the console): several times faster.
func DecodeStored(nonce, body []byte) (*Entry, error) {
	return unmarshalStored(nonce, body, decodeCanonical)
}

func unmarshalStored(nonce, body []byte, decode func([]byte) (*Entry, error)) (*Entry, error) {
	if !IsErased(nonce) {
		return decode(body)
	}
	var d erasureDoc
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("erasure record: %w", err)
	}
	at, err := time.Parse(TimeLayout, d.ErasedAt)
	if err != nil {
		return nil, fmt.Errorf("erasure record: time: %w", err)
	}
	en, err := decode(d.Residue)
	if err != nil {
		return nil, fmt.Errorf("erasure record: %w", err)
	}
	if len(en.Event.Patients) > 0 || len(en.Event.Objects) > 0 || len(en.Links) > 0 || en.Event.SourceRef != "" {
		return nil, fmt.Errorf("erasure record: the residue still names patients or objects")
	}
	en.Erased = at
	return en, nil
}
