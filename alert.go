package labtrust

import "time"

// AlertStatus is where an alert is in triage.
type AlertStatus string

const (
	AlertNew           AlertStatus = "new"
	AlertInvestigating AlertStatus = "investigating"
	// AlertBenign is explained-benign: triage found a reason, recorded
	// with it.
	AlertBenign AlertStatus = "benign"
	// AlertConfirmed is a real problem: it becomes (or joins) an incident.
	AlertConfirmed AlertStatus = "confirmed"
)

// Valid reports whether s is one of the four triage states.
func (s AlertStatus) Valid() bool {
	switch s {
	case AlertNew, AlertInvestigating, AlertBenign, AlertConfirmed:
		return true
	}
	return false
}

// MaxAlertEntries bounds the ledger entries an alert keeps (the first
// ones; Count says how many matched in all).
const MaxAlertEntries = 1000

// Alert is something detection found: which rule, how severe, why (the
// explanation, written for the person triaging it), and the ledger entries
// behind it. It holds no PHI: patients are reached through the entries,
// by staff allowed to open them.
type Alert struct {
	ID          int64       `json:"id"`
	Rule        string      `json:"rule"` // the rule's id or name
	Title       string      `json:"title"`
	Severity    string      `json:"severity"` // informational, low, medium, high, critical
	Status      AlertStatus `json:"status"`
	Reason      string      `json:"reason,omitempty"` // triage's reason (why benign, say)
	Explanation string      `json:"explanation"`
	Actor       string      `json:"actor,omitempty"` // the staff account it is about, when one is
	// Key groups repeated matches: while an alert with the same key is open
	// and within the suppression window, matches update it instead of
	// raising another.
	Key       string    `json:"-"`
	First     time.Time `json:"first"` // time of the first event behind it
	Last      time.Time `json:"last"`
	Count     int       `json:"count"`
	Entries   []uint64  `json:"entries"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}
