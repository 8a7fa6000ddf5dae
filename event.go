// Package labtrust holds the domain words every part of labtrust shares: the
// canonical Event, its parts, and the errors that cross package boundaries.
// Implementations live in packages named for what they do (fhir, atna,
// syslog, csvsrc, ledger, vault, store, ingest, server, demo); none of them
// import each other's internals, only this package.
package labtrust

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says what an Event is about. Detection and scoping switch on it.
type Kind string

const (
	// KindAccess is an access to patient data (read, create, update, delete,
	// export, print, query).
	KindAccess Kind = "access"
	// KindSecurity is a security event without a patient: login, logout,
	// failed authentication, configuration or key changes, node start/stop.
	KindSecurity Kind = "security"
	// KindStaff is an action a labtrust staff user took inside labtrust.
	KindStaff Kind = "staff"
	// KindReport is a patient's report of suspicious activity.
	KindReport Kind = "report"
)

// Action is the normalized verb, following FHIR's AuditEventAction codes where
// they exist (C, R, U, D, E) so conversion back to FHIR is lossless.
type Action string

// Valid reports whether a is one of the five action codes (C, R, U, D, E).
func (a Action) Valid() bool {
	switch a {
	case ActionCreate, ActionRead, ActionUpdate, ActionDelete, ActionExecute:
		return true
	}
	return false
}

const (
	ActionCreate  Action = "C"
	ActionRead    Action = "R"
	ActionUpdate  Action = "U"
	ActionDelete  Action = "D"
	ActionExecute Action = "E"
)

// Outcome follows FHIR AuditEventOutcome / DICOM EventOutcomeIndicator:
// 0 success, 4 minor failure, 8 serious failure, 12 major failure.
type Outcome int

const (
	OutcomeSuccess        Outcome = 0
	OutcomeMinorFailure   Outcome = 4
	OutcomeSeriousFailure Outcome = 8
	OutcomeMajorFailure   Outcome = 12
)

// ParseOutcome reads an outcome code as FHIR and DICOM write it ("0", "4",
// "8", "12").
func ParseOutcome(s string) (Outcome, bool) {
	switch s {
	case "0":
		return OutcomeSuccess, true
	case "4":
		return OutcomeMinorFailure, true
	case "8":
		return OutcomeSeriousFailure, true
	case "12":
		return OutcomeMajorFailure, true
	}
	return 0, false
}

// Valid reports whether o is one of the four defined outcome codes.
func (o Outcome) Valid() bool {
	return o == OutcomeSuccess || o == OutcomeMinorFailure || o == OutcomeSeriousFailure || o == OutcomeMajorFailure
}

// Code is a coded concept (system, code, display), as in FHIR Coding and the
// DICOM/RFC 3881 coded value types.
type Code struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// IsZero reports whether c carries nothing.
func (c Code) IsZero() bool { return c.System == "" && c.Code == "" && c.Display == "" }

// Actor is who did it: a person or a system, with the role and site they acted
// in. ID is the source system's user identifier (not PHI: staff, not patients).
type Actor struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	Role     string `json:"role,omitempty"`
	Site     string `json:"site,omitempty"`
	AltID    string `json:"altId,omitempty"`
	UserType string `json:"type,omitempty"` // "person" or "system"
}

// PatientRef names a patient whose data the event touched. ID is the
// identifier value (an MRN, or the id of a FHIR Patient reference); System is
// the identifier's namespace when the source gave one. PatientRef is PHI: it
// is never logged, never put in an index in clear (see BlindIndex), and never
// leaves the encrypted store except to the patient it names.
type PatientRef struct {
	System string `json:"system,omitempty"`
	ID     string `json:"id"`
}

// Object is the data object acted on (a DiagnosticReport, an order, a
// specimen, a query), without the data itself.
type Object struct {
	Type  string `json:"type,omitempty"`  // e.g. "DiagnosticReport", "ServiceRequest", "Specimen", "Query"
	ID    string `json:"id,omitempty"`    // reference or identifier of the object
	Role  string `json:"role,omitempty"`  // e.g. "report", "query", "job"
	Query string `json:"query,omitempty"` // query text when the object is a query (may contain PHI; encrypted with the body)
}

// Event is the canonical access or security event every source is normalized
// into. All times are UTC.
type Event struct {
	Time      time.Time    `json:"time"`
	Source    string       `json:"source"` // configured source name (the system that reported it)
	Kind      Kind         `json:"kind"`
	Type      Code         `json:"type,omitempty"` // event type (e.g. DCM 110110 Patient Record, or rest)
	Subtype   []Code       `json:"subtype,omitempty"`
	Action    Action       `json:"action,omitempty"`
	Outcome   Outcome      `json:"outcome"`
	Actor     Actor        `json:"actor"`
	Patients  []PatientRef `json:"patients,omitempty"`
	Objects   []Object     `json:"objects,omitempty"`
	Network   string       `json:"network,omitempty"`   // IP address or host name of the actor's device
	Purpose   []Code       `json:"purpose,omitempty"`   // purpose of use (e.g. v3-ActReason TREAT)
	SourceRef string       `json:"sourceRef,omitempty"` // the record's own id in its source (e.g. AuditEvent.id)
}

// Validate checks the fields every Event must have, and what
// MarshalCanonical needs to commit the event faithfully: a time in the years
// 0001-9999 and text that is valid UTF-8. It returns a *ValidationError
// naming the first field that is wrong; the message never contains PHI.
func (e *Event) Validate() error {
	switch {
	case e.Time.IsZero():
		return &ValidationError{Field: "time", Reason: "missing"}
	case e.Source == "":
		return &ValidationError{Field: "source", Reason: "missing"}
	case e.Kind == "":
		return &ValidationError{Field: "kind", Reason: "missing"}
	case !e.Outcome.Valid():
		return &ValidationError{Field: "outcome", Reason: "not one of 0, 4, 8, 12"}
	case e.Actor.ID == "" && e.Actor.Name == "" && e.Actor.AltID == "":
		return &ValidationError{Field: "actor", Reason: "no identifier"}
	case e.Kind == KindAccess && len(e.Patients) == 0:
		return &ValidationError{Field: "patients", Reason: "an access event must name at least one patient"}
	}
	for i, p := range e.Patients {
		if strings.TrimSpace(p.ID) == "" {
			return &ValidationError{Field: "patients[" + strconv.Itoa(i) + "]", Reason: "empty identifier"}
		}
	}
	// The canonical form writes years as four digits; an event outside them
	// would be committed in bytes that UnmarshalCanonical cannot read back,
	// so its patient's access report could never verify.
	if y := e.Time.UTC().Year(); y < 1 || y > 9999 {
		return &ValidationError{Field: "time", Reason: "year outside 0001-9999"}
	}
	return e.checkText()
}

// checkText returns a *ValidationError naming the first text field of e that
// is not valid UTF-8. The canonical JSON encoding would otherwise replace
// the bad bytes with U+FFFD, so the commitment would cover text other than
// the event's, and two different identifiers could commit to the same bytes.
func (e *Event) checkText() error {
	bad := func(field string) error { return &ValidationError{Field: field, Reason: "not valid UTF-8"} }
	for _, f := range [...]struct{ name, s string }{
		{"source", e.Source}, {"kind", string(e.Kind)}, {"action", string(e.Action)},
		{"network", e.Network}, {"sourceRef", e.SourceRef},
		{"actor.id", e.Actor.ID}, {"actor.name", e.Actor.Name}, {"actor.role", e.Actor.Role},
		{"actor.site", e.Actor.Site}, {"actor.altId", e.Actor.AltID}, {"actor.type", e.Actor.UserType},
	} {
		if !utf8.ValidString(f.s) {
			return bad(f.name)
		}
	}
	if f := badCode(e.Type); f != "" {
		return bad("type." + f)
	}
	for i, c := range e.Subtype {
		if f := badCode(c); f != "" {
			return bad("subtype[" + strconv.Itoa(i) + "]." + f)
		}
	}
	for i, c := range e.Purpose {
		if f := badCode(c); f != "" {
			return bad("purpose[" + strconv.Itoa(i) + "]." + f)
		}
	}
	for i, p := range e.Patients {
		if f := badText("system", p.System, "id", p.ID); f != "" {
			return bad("patients[" + strconv.Itoa(i) + "]." + f)
		}
	}
	for i, o := range e.Objects {
		if f := badText("type", o.Type, "id", o.ID, "role", o.Role, "query", o.Query); f != "" {
			return bad("objects[" + strconv.Itoa(i) + "]." + f)
		}
	}
	return nil
}

func badCode(c Code) string {
	return badText("system", c.System, "code", c.Code, "display", c.Display)
}

// badText takes (name, value) pairs and returns the name of the first value
// that is not valid UTF-8, or "".
func badText(pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !utf8.ValidString(pairs[i+1]) {
			return pairs[i]
		}
	}
	return ""
}

// ValidationError says which field of a record is wrong and why, without
// repeating the field's value (which may be PHI).
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Link ties a ledger entry to the previous entry of the same patient, so that
// a patient holding their chain can detect a gap. Patient is the position in
// Event.Patients it applies to. A patient's first entry has HasPrev false.
type Link struct {
	Patient   int      `json:"patient"`
	HasPrev   bool     `json:"hasPrev"`
	PrevIndex uint64   `json:"prevIndex"`
	PrevHash  [32]byte `json:"prevHash"` // the Commitment of the previous entry
}

// Entry is what the ledger commits to for one event: the Event plus the index
// it was given and its per-patient chain links. Its canonical bytes are what
// the Commitment covers.
type Entry struct {
	Index uint64
	Event Event
	Links []Link
	// Erased, when set, says the entry's body was erased (a patient it
	// named was forgotten) at that time: Event is then only the residue
	// (see Erase) and Links are gone, so the entry no longer opens its
	// commitment. It is not part of the canonical bytes.
	Erased time.Time
}

// canonical is the fixed-order JSON shape of an Entry. Field names are in
// lexicographic order and the encoding has no insignificant whitespace, so the
// bytes equal the RFC 8785 (JCS) form for this shape (all numbers are
// integers, all strings UTF-8).
type canonicalEntry struct {
	Action    string          `json:"action,omitempty"`
	Actor     canonicalActor  `json:"actor"`
	Index     uint64          `json:"index"`
	Kind      string          `json:"kind"`
	Links     []canonicalLink `json:"links,omitempty"`
	Network   string          `json:"network,omitempty"`
	Objects   []canonicalObj  `json:"objects,omitempty"`
	Outcome   int             `json:"outcome"`
	Patients  []canonicalPat  `json:"patients,omitempty"`
	Purpose   []canonicalCode `json:"purpose,omitempty"`
	Source    string          `json:"source"`
	SourceRef string          `json:"sourceRef,omitempty"`
	Subtype   []canonicalCode `json:"subtype,omitempty"`
	Time      string          `json:"time"`
	Type      *canonicalCode  `json:"type,omitempty"`
	V         int             `json:"v"`
}

type canonicalActor struct {
	AltID string `json:"altId,omitempty"`
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Role  string `json:"role,omitempty"`
	Site  string `json:"site,omitempty"`
	Type  string `json:"type,omitempty"`
}

type canonicalCode struct {
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
	System  string `json:"system,omitempty"`
}

type canonicalPat struct {
	ID     string `json:"id"`
	System string `json:"system,omitempty"`
}

type canonicalObj struct {
	ID    string `json:"id,omitempty"`
	Query string `json:"query,omitempty"`
	Role  string `json:"role,omitempty"`
	Type  string `json:"type,omitempty"`
}

type canonicalLink struct {
	HasPrev   bool   `json:"hasPrev"`
	Patient   int    `json:"patient"`
	PrevHash  string `json:"prevHash,omitempty"` // lowercase hex
	PrevIndex uint64 `json:"prevIndex"`
}

// CanonicalVersion is the version of the canonical encoding written by
// MarshalCanonical; it is inside the committed bytes.
const CanonicalVersion = 1

// TimeLayout is the canonical time form: UTC, microseconds, always six digits.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

func codes(cs []Code) []canonicalCode {
	if len(cs) == 0 {
		return nil
	}
	out := make([]canonicalCode, len(cs))
	for i, c := range cs {
		out[i] = canonicalCode{Code: c.Code, Display: c.Display, System: c.System}
	}
	return out
}

// MarshalCanonical returns the canonical bytes of the entry: deterministic for
// equal entries, so a verifier that holds the bytes and the nonce can recompute
// the commitment. Times are truncated to microseconds. It returns a
// *ValidationError if a text field is not valid UTF-8.
func (en *Entry) MarshalCanonical() ([]byte, error) {
	b := appendCanonical(make([]byte, 0, 1024), en)
	// The encoder copies non-ASCII bytes as they are and writes only ASCII
	// around them, so the output is valid UTF-8 exactly when every text
	// field is: one pass over the output instead of one per field. Only a
	// failure pays for finding which field.
	if !utf8.Valid(b) {
		if err := en.Event.checkText(); err != nil {
			return nil, err
		}
		return nil, &ValidationError{Field: "event", Reason: "not valid UTF-8"}
	}
	return b, nil
}

// unescapeLineSeparators undoes encoding/json's escaping of U+2028 and
// U+2029 (done for JavaScript embedding, even without HTML escaping): RFC
// 8785 writes them as themselves, and every other string escape
// encoding/json makes is already the JCS one.
func unescapeLineSeparators(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u202`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		// In encoder output a backslash always starts an escape, so the
		// byte after it exists and must not be read as a new escape.
		if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+5]) == "202" && (b[i+5] == '8' || b[i+5] == '9') {
			out = utf8.AppendRune(out, 0x2028+rune(b[i+5]-'8'))
			i += 5
			continue
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

// UnmarshalCanonical parses canonical bytes back into an Entry. It rejects
// bytes that do not re-encode to themselves, so a stored body cannot carry
// extra or reordered fields unnoticed.
func UnmarshalCanonical(b []byte) (*Entry, error) {
	en, err := decodeCanonical(b)
	if err != nil {
		return nil, err
	}
	again, err := en.MarshalCanonical()
	if err != nil {
		return nil, fmt.Errorf("canonical entry: %w", err)
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("canonical entry: bytes are not in canonical form")
	}
	return en, nil
}
