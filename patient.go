package labtrust

import (
	"context"
	"strings"
	"time"
)

// Patient is a registry entry: who a patient is and how to reach them.
// Every field but the identifiers' systems is PHI and is stored only
// encrypted; exact lookups go through blind indexes.
type Patient struct {
	ID        PatientRef   // the medical record number; System names its assigning authority
	OtherIDs  []PatientRef // other identifiers the source sent (never the SSN)
	SSN       string       // kept apart so it is never used as a lookup key by accident
	Name      HumanName
	BirthDate string // YYYY, YYYY-MM or YYYY-MM-DD, as precise as the source
	Sex       string // FHIR administrative gender: female, male, other, unknown (or empty)
	Addresses []Address
	Phones    []string
	Emails    []string
	// Language is the preferred language as an ISO 639-1 code ("en", "es")
	// when the source's code is recognized, else the source's code as sent.
	Language   string
	Guardian   *Contact // for minors: the parent or guardian the source named
	Deceased   bool
	DeceasedAt string // as precise as the source; may be empty when Deceased
	// VIP marks a record the lab protects further (a public figure, a
	// staff member's family): every access to it that no order explains
	// is an alert of high severity. HL7 v2 PV1-16 (VIP Indicator); FHIR
	// meta.security with confidentiality R or V.
	VIP bool
}

// HumanName is a person's name in its parts.
type HumanName struct {
	Family string
	Given  []string // first, then middle names
	Prefix string
	Suffix string
}

// String returns the name as it would be written on a letter.
func (n HumanName) String() string {
	parts := make([]string, 0, 4)
	if n.Prefix != "" {
		parts = append(parts, n.Prefix)
	}
	parts = append(parts, n.Given...)
	if n.Family != "" {
		parts = append(parts, n.Family)
	}
	if n.Suffix != "" {
		parts = append(parts, n.Suffix)
	}
	return strings.Join(parts, " ")
}

// Address is a postal address. State is the two-letter USPS code when the
// country is the US, because breach-notice obligations follow the state of
// residence.
type Address struct {
	Use        string // home, work, mailing, temp (or empty)
	Lines      []string
	City       string
	State      string
	PostalCode string
	Country    string
}

// Contact is a related person.
type Contact struct {
	Name         HumanName
	Relationship string // the source's code, e.g. HL7 table 0063 "MTH", "GRD"
	Phones       []string
	Address      *Address
}

// PatientRecord is one registry update from a source: the patient as the
// source now describes them, or a merge.
type PatientRecord struct {
	Source    string
	Trigger   string // the source's event, e.g. HL7 "A08"; informational
	ControlID string // the source's message identifier, for acknowledgements
	Time      time.Time
	Patient   Patient
	// MergedFrom, when set, names a record that no longer exists on its
	// own: its history now belongs to Patient.ID.
	MergedFrom *PatientRef
}

// Validate checks what every registry update needs.
func (r *PatientRecord) Validate() error {
	switch {
	case strings.TrimSpace(r.Patient.ID.ID) == "":
		return &ValidationError{Field: "patient.id", Reason: "missing"}
	case r.MergedFrom != nil && strings.TrimSpace(r.MergedFrom.ID) == "":
		return &ValidationError{Field: "mergedFrom", Reason: "empty identifier"}
	case r.MergedFrom != nil && *r.MergedFrom == r.Patient.ID:
		return &ValidationError{Field: "mergedFrom", Reason: "a record cannot merge into itself"}
	}
	if d := r.Patient.BirthDate; d != "" && !validPartialDate(d) {
		return &ValidationError{Field: "patient.birthDate", Reason: "not a date (YYYY, YYYY-MM or YYYY-MM-DD)"}
	}
	return nil
}

func validPartialDate(s string) bool {
	var l string
	switch len(s) {
	case 4:
		l = "2006"
	case 7:
		l = "2006-01"
	case 10:
		l = "2006-01-02"
	default:
		return false
	}
	_, err := time.Parse(l, s)
	return err == nil
}

// AgeOn returns the patient's age in whole years on day t, and false if the
// birth date is unknown or too imprecise to tell.
func (p *Patient) AgeOn(t time.Time) (int, bool) {
	if len(p.BirthDate) != 10 {
		return 0, false
	}
	b, err := time.Parse("2006-01-02", p.BirthDate)
	if err != nil {
		return 0, false
	}
	age := t.Year() - b.Year()
	if t.Month() < b.Month() || t.Month() == b.Month() && t.Day() < b.Day() {
		age--
	}
	return age, true
}

// PatientSink receives what a registry parser reads: each record either
// as a PatientRecord or as a Reject. Parsers call it from one goroutine.
type PatientSink interface {
	Patient(ctx context.Context, r PatientRecord) error
	Reject(ctx context.Context, r Reject) error
}

// languages maps the codes sources use for the languages labtrust writes
// notices in (ISO 639-1, ISO 639-2, and names) to ISO 639-1.
var languages = map[string]string{
	"en": "en", "eng": "en", "english": "en",
	"es": "es", "spa": "es", "spanish": "es", "español": "es", "espanol": "es",
}

// NormalizeLanguage maps a language code or name to ISO 639-1 when it is one
// labtrust knows, and otherwise returns it trimmed as sent. Regional
// variants ("es-MX", "en_US") keep their language.
func NormalizeLanguage(code string) string {
	c := strings.ToLower(strings.TrimSpace(code))
	if c == "" {
		return ""
	}
	if l, ok := languages[c]; ok {
		return l
	}
	if base, _, ok := strings.Cut(strings.ReplaceAll(c, "_", "-"), "-"); ok {
		if l, ok := languages[base]; ok {
			return l
		}
	}
	return strings.TrimSpace(code)
}

// usStates is the set of USPS state, district and territory codes.
var usStates = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Fields(`AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO
		MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI`) {
		m[s] = true
	}
	return m
}()

// IsUSState reports whether code is a USPS state, DC or territory code.
func IsUSState(code string) bool { return usStates[strings.ToUpper(strings.TrimSpace(code))] }
