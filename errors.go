package labtrust

import (
	"context"
	"crypto/sha256"
	"errors"
)

// Sentinel errors that cross package boundaries. Driver packages map their
// own errors (unique violation, busy, serialization failure) onto these.
var (
	// ErrNotFound means the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPushback means the system is at capacity; retry later. HTTP maps it
	// to 503 with Retry-After.
	ErrPushback = errors.New("at capacity, retry later")
	// ErrConflict means a concurrent change won; retry the operation.
	ErrConflict = errors.New("conflict")
	// ErrLocked means another process holds the data directory's writer lock.
	ErrLocked = errors.New("data directory is in use by another labtrust process")
)

// Error is an error with a machine code and a message that is safe to show a
// user (no PHI, no internals). The wrapped error goes to the server log only.
type Error struct {
	Code    string // machine-readable, e.g. "invalid", "not_found", "pushback"
	Message string // safe for users
	Hint    string // what to do about it, if anything
	Err     error  // the cause, for logs and errors.Is
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Reject is a record a parser could not turn into an Event. Reason is
// precise and never contains PHI (it names fields and positions, not values).
// Raw holds the record's bytes exactly as received; it is PHI and is only
// stored encrypted.
type Reject struct {
	Source   string // configured source name
	Format   string // "fhir", "atna", "syslog", "csv", "hl7v2"
	Position string // where in the input: "line 12", "entry 3", "message 17 from 127.0.0.1:50312"
	Reason   string
	Raw      []byte
}

// Sink receives what a parser read. Parsers call Event for each record they
// understood and Reject for each they did not; they never drop a record.
// An error from either method stops the parser and is returned by it.
type Sink interface {
	Event(ctx context.Context, e Event) error
	Reject(ctx context.Context, r Reject) error
}

// Commit returns the commitment to one ledger entry: SHA-256 over the
// random per-entry nonce followed by the entry's canonical bytes. The log's
// leaves are commitments, so tiles and checkpoints carry no PHI.
func Commit(nonce []byte, canonical []byte) [32]byte {
	h := sha256.New()
	h.Write(nonce)
	h.Write(canonical)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// NonceSize is the size of the per-entry commitment nonce.
const NonceSize = 32
