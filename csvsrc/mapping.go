// Package csvsrc turns access logs that a laboratory information system (LIS)
// exports as CSV into labtrust Events.
//
// Every LIS names its columns differently, so each source is described by a
// Mapping, which lives in labtrust's YAML configuration. Parse streams the
// export row by row: each data row becomes exactly one Event or one Reject,
// never nothing. A Reject's Raw is a small standalone CSV file (the header
// line followed by the row's original bytes), so once the mapping is fixed,
// Parse(Raw) re-ingests exactly that row.
package csvsrc

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

// DefaultMaxRowBytes is the longest row Parse reads when Mapping.MaxRowBytes
// is zero. Longer rows are rejected, which keeps memory bounded even when an
// unclosed quote would otherwise make the rest of the input one field.
const DefaultMaxRowBytes = 1 << 20

// Time layout names accepted in Mapping.TimeLayout besides Go layouts.
const (
	LayoutRFC3339 = "rfc3339" // RFC 3339 with offset, fractional seconds allowed
	LayoutUnix    = "unix"    // seconds since 1970-01-01 UTC, fractional part allowed
	LayoutUnixMS  = "unixms"  // milliseconds since 1970-01-01 UTC
)

// Mapping says how one source's CSV export maps onto labtrust.Event. The zero
// value is not usable: at least Columns.Time and an actor column are needed.
// Validate reports what is wrong; Parse validates too.
type Mapping struct {
	// Delimiter is the field separator, one character; default ",". Use "\t"
	// (double-quoted in YAML) for tab-separated exports.
	Delimiter string `yaml:"delimiter,omitempty" json:"delimiter,omitempty"`
	// Comment, if set, is one character that starts a comment line.
	Comment string `yaml:"comment,omitempty" json:"comment,omitempty"`
	// Header says whether the first row names the columns; default true.
	// When false, Columns refer to columns by 1-based number ("3").
	Header *bool `yaml:"header,omitempty" json:"header,omitempty"`

	// Columns names the source column of each Event field.
	Columns Columns `yaml:"columns" json:"columns"`

	// TimeLayout is a Go time layout or one of "rfc3339" (default), "unix",
	// "unixms".
	TimeLayout string `yaml:"timeLayout,omitempty" json:"timeLayout,omitempty"`
	// TimeZone is the IANA zone of times whose layout carries no offset;
	// default UTC. Events are always in UTC.
	TimeZone string `yaml:"timeZone,omitempty" json:"timeZone,omitempty"`

	// ActionMap maps the action column's values to labtrust actions. It is
	// required when Columns.Action is set. Keys match exactly, else
	// case-insensitively; the key "*" catches every other value (including an
	// empty cell). A value with no match rejects the row.
	ActionMap map[string]ActionRule `yaml:"actionMap,omitempty" json:"actionMap,omitempty"`
	// OutcomeMap maps the outcome column's values to outcome codes. When it
	// is empty the column must hold 0, 4, 8 or 12. Matching is as for
	// ActionMap. Without an outcome column every event is a success (0).
	OutcomeMap map[string]labtrust.Outcome `yaml:"outcomeMap,omitempty" json:"outcomeMap,omitempty"`

	// PatientSystem is the identifier system of every patient identifier.
	PatientSystem string `yaml:"patientSystem,omitempty" json:"patientSystem,omitempty"`
	// PurposeSystem is the code system of the purpose column's values.
	PurposeSystem string `yaml:"purposeSystem,omitempty" json:"purposeSystem,omitempty"`
	// ObjectType is the type of a row's object when the row has one (an
	// object id, or an action rule with a role) but Columns.ObjectType gives
	// no type.
	ObjectType string `yaml:"objectType,omitempty" json:"objectType,omitempty"`
	// Kind is "access" or "security" for every row, or empty to derive it:
	// access when the row names a patient, else security.
	Kind labtrust.Kind `yaml:"kind,omitempty" json:"kind,omitempty"`
	// EventType is the event type of every event (e.g. DCM 110110).
	EventType labtrust.Code `yaml:"eventType,omitempty" json:"eventType,omitempty"`

	// MaxRowBytes bounds the size of one row; default DefaultMaxRowBytes.
	MaxRowBytes int `yaml:"maxRowBytes,omitempty" json:"maxRowBytes,omitempty"`
}

// Columns names, for each Event field, the source column it comes from: a
// header name, or a 1-based column number when Mapping.Header is false. An
// empty name leaves the field unset.
type Columns struct {
	Time       string   `yaml:"time" json:"time"`
	ActorID    string   `yaml:"actorId,omitempty" json:"actorId,omitempty"`
	ActorName  string   `yaml:"actorName,omitempty" json:"actorName,omitempty"`
	ActorRole  string   `yaml:"actorRole,omitempty" json:"actorRole,omitempty"`
	ActorSite  string   `yaml:"actorSite,omitempty" json:"actorSite,omitempty"`
	Action     string   `yaml:"action,omitempty" json:"action,omitempty"`
	Outcome    string   `yaml:"outcome,omitempty" json:"outcome,omitempty"`
	PatientID  string   `yaml:"patientId,omitempty" json:"patientId,omitempty"`
	PatientIDs []string `yaml:"patientIds,omitempty" json:"patientIds,omitempty"` // further patient columns
	ObjectType string   `yaml:"objectType,omitempty" json:"objectType,omitempty"`
	ObjectID   string   `yaml:"objectId,omitempty" json:"objectId,omitempty"`
	Network    string   `yaml:"network,omitempty" json:"network,omitempty"`
	Purpose    string   `yaml:"purpose,omitempty" json:"purpose,omitempty"`
	SourceRef  string   `yaml:"sourceRef,omitempty" json:"sourceRef,omitempty"` // the row's own id
}

// ActionRule is what one source action value means: the labtrust action and,
// optionally, the role of the object acted on (PRINT is a read whose object
// role is "print"). In YAML and JSON it is written either as the action alone
// ("R") or as an object ({action: R, role: print}).
type ActionRule struct {
	Action labtrust.Action `yaml:"action" json:"action"`
	Role   string          `yaml:"role,omitempty" json:"role,omitempty"`
}

// UnmarshalYAML accepts the scalar shorthand "R" as well as the full form.
// It uses yaml.v3's function-style hook so this package does not depend on a
// YAML library.
func (a *ActionRule) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		*a = ActionRule{Action: labtrust.Action(s)}
		return nil
	}
	type plain ActionRule // no methods, so no recursion
	var p plain
	if err := unmarshal(&p); err != nil {
		return err
	}
	*a = ActionRule(p)
	return nil
}

// UnmarshalJSON accepts the string shorthand "R" as well as the full form.
func (a *ActionRule) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = ActionRule{Action: labtrust.Action(s)}
		return nil
	}
	type plain ActionRule
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*a = ActionRule(p)
	return nil
}

// MarshalJSON writes the shorthand when there is no role, so a configuration
// round-trips to the form people write.
func (a ActionRule) MarshalJSON() ([]byte, error) {
	if a.Role == "" {
		return json.Marshal(string(a.Action))
	}
	type plain ActionRule
	return json.Marshal(plain(a))
}

// MarshalYAML writes the shorthand when there is no role.
func (a ActionRule) MarshalYAML() (any, error) {
	if a.Role == "" {
		return string(a.Action), nil
	}
	type plain ActionRule
	return plain(a), nil
}

// HasHeader reports whether the first row is a header (the default).
func (m *Mapping) HasHeader() bool { return m.Header == nil || *m.Header }

// Validate reports the first thing wrong with m, naming the configuration key
// ("columns.time: required"). It does not change m.
func (m *Mapping) Validate() error {
	_, err := compile(m)
	return err
}

// field identifies one mapped column: its configuration key and the name the
// mapping gives it.
type field struct {
	key  string // configuration key, e.g. "columns.actorId"
	name string // header name or 1-based number as written
	idx  int    // 0-based column index once resolved; -1 if unmapped
}

// plan is a validated Mapping with its lookups built.
type plan struct {
	comma, comment rune
	header         bool
	maxRow         int

	layout  string // Go layout, or one of the Layout names
	loc     *time.Location
	actions lookup[ActionRule]
	outs    lookup[labtrust.Outcome]
	numOuts bool // outcome column holds the codes themselves

	time, actorID, actorName, actorRole, actorSite, action, outcome field
	objectType, objectID, network, purpose, sourceRef               field
	patients                                                        []field

	m *Mapping
}

// lookup matches a cell value against a map's keys: exactly, then
// case-insensitively, then the catch-all "*".
type lookup[V any] struct {
	exact map[string]V
	fold  map[string]V // keys lower-cased
	star  V
	has   bool // star is set
}

func newLookup[V any](m map[string]V) lookup[V] {
	l := lookup[V]{exact: make(map[string]V, len(m)), fold: make(map[string]V, len(m))}
	for k, v := range m {
		if k == "*" {
			l.star, l.has = v, true
			continue
		}
		l.exact[k] = v
		l.fold[strings.ToLower(k)] = v
	}
	return l
}

func (l *lookup[V]) get(s string) (V, bool) {
	if v, ok := l.exact[s]; ok {
		return v, true
	}
	if len(l.fold) > 0 {
		if v, ok := l.fold[strings.ToLower(s)]; ok {
			return v, true
		}
	}
	return l.star, l.has
}

// sortedKeys gives map keys in a fixed order so Validate reports the same
// error every time.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func compile(m *Mapping) (*plan, error) {
	p := &plan{comma: ',', header: m.HasHeader(), maxRow: DefaultMaxRowBytes, m: m}
	var err error
	if m.Delimiter != "" {
		if p.comma, err = oneRune("delimiter", m.Delimiter); err != nil {
			return nil, err
		}
	}
	if m.Comment != "" {
		if p.comment, err = oneRune("comment", m.Comment); err != nil {
			return nil, err
		}
		if p.comment == p.comma {
			return nil, errors.New("comment: must differ from the delimiter")
		}
	}
	if m.MaxRowBytes < 0 {
		return nil, errors.New("maxRowBytes: must not be negative")
	}
	if m.MaxRowBytes > 0 {
		p.maxRow = m.MaxRowBytes
	}

	c := &m.Columns
	if strings.TrimSpace(c.Time) == "" {
		return nil, errors.New("columns.time: required")
	}
	if c.ActorID == "" && c.ActorName == "" {
		return nil, errors.New("columns: actorId or actorName is required (every event needs an actor)")
	}
	fields := []struct {
		dst  *field
		key  string
		name string
	}{
		{&p.time, "columns.time", c.Time},
		{&p.actorID, "columns.actorId", c.ActorID},
		{&p.actorName, "columns.actorName", c.ActorName},
		{&p.actorRole, "columns.actorRole", c.ActorRole},
		{&p.actorSite, "columns.actorSite", c.ActorSite},
		{&p.action, "columns.action", c.Action},
		{&p.outcome, "columns.outcome", c.Outcome},
		{&p.objectType, "columns.objectType", c.ObjectType},
		{&p.objectID, "columns.objectId", c.ObjectID},
		{&p.network, "columns.network", c.Network},
		{&p.purpose, "columns.purpose", c.Purpose},
		{&p.sourceRef, "columns.sourceRef", c.SourceRef},
	}
	for _, f := range fields {
		if *f.dst, err = p.newField(f.key, f.name); err != nil {
			return nil, err
		}
	}
	if c.PatientID != "" {
		f, err := p.newField("columns.patientId", c.PatientID)
		if err != nil {
			return nil, err
		}
		p.patients = append(p.patients, f)
	}
	for i, name := range c.PatientIDs {
		key := "columns.patientIds[" + strconv.Itoa(i) + "]"
		if name == "" {
			return nil, errors.New(key + ": empty column name")
		}
		f, err := p.newField(key, name)
		if err != nil {
			return nil, err
		}
		p.patients = append(p.patients, f)
	}

	switch m.TimeLayout {
	case "", LayoutRFC3339:
		p.layout = LayoutRFC3339
	case LayoutUnix, LayoutUnixMS:
		p.layout = m.TimeLayout
	default:
		if err := checkLayout(m.TimeLayout); err != nil {
			return nil, err
		}
		p.layout = m.TimeLayout
	}
	p.loc = time.UTC
	if m.TimeZone != "" {
		if p.loc, err = time.LoadLocation(m.TimeZone); err != nil {
			return nil, fmt.Errorf("timeZone: unknown zone %q", m.TimeZone)
		}
	}

	if c.Action == "" && len(m.ActionMap) > 0 {
		return nil, errors.New("actionMap: set but columns.action is not")
	}
	if c.Action != "" && len(m.ActionMap) == 0 {
		return nil, errors.New("actionMap: required when columns.action is set")
	}
	if err := checkFolds("actionMap", m.ActionMap); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(m.ActionMap) {
		if v := m.ActionMap[k]; !v.Action.Valid() {
			return nil, fmt.Errorf("actionMap: value %q is not one of C R U D E (source value %q)", v.Action, k)
		}
	}
	p.actions = newLookup(m.ActionMap)

	if c.Outcome == "" && len(m.OutcomeMap) > 0 {
		return nil, errors.New("outcomeMap: set but columns.outcome is not")
	}
	if err := checkFolds("outcomeMap", m.OutcomeMap); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(m.OutcomeMap) {
		if v := m.OutcomeMap[k]; !v.Valid() {
			return nil, fmt.Errorf("outcomeMap: value %d is not one of 0 4 8 12 (source value %q)", v, k)
		}
	}
	p.outs = newLookup(m.OutcomeMap)
	p.numOuts = len(m.OutcomeMap) == 0

	switch m.Kind {
	case "", labtrust.KindAccess, labtrust.KindSecurity:
	default:
		return nil, fmt.Errorf("kind: %q is not one of access security (or empty to derive it)", m.Kind)
	}
	return p, nil
}

// newField checks a column reference: any non-blank header name, or a
// positive number when there is no header.
func (p *plan) newField(key, name string) (field, error) {
	f := field{key: key, name: strings.TrimSpace(name), idx: -1}
	if name == "" {
		return f, nil
	}
	if f.name == "" {
		return f, errors.New(key + ": column name is blank")
	}
	if !p.header {
		n, err := strconv.Atoi(f.name)
		if err != nil || n < 1 {
			return f, fmt.Errorf("%s: %q is not a column number (header is false, so columns are numbered from 1)", key, name)
		}
		f.idx = n - 1
	}
	return f, nil
}

// checkFolds rejects keys that differ only in case: the case-insensitive
// fallback could not tell them apart.
func checkFolds[V any](key string, m map[string]V) error {
	seen := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		l := strings.ToLower(k)
		if prev, ok := seen[l]; ok {
			return fmt.Errorf("%s: keys %q and %q differ only in case", key, prev, k)
		}
		seen[l] = k
	}
	return nil
}

func oneRune(key, s string) (rune, error) {
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) || r == utf8.RuneError {
		return 0, fmt.Errorf("%s: must be exactly one character, not %q", key, s)
	}
	if r == '"' || r == '\r' || r == '\n' || r == 0xFEFF {
		return 0, fmt.Errorf("%s: %q cannot be used", key, s)
	}
	return r, nil
}

// layoutProbe has every field distinct, so a layout that drops or confuses
// any of year, month, day, hour and minute fails the round trip.
var layoutProbe = time.Date(2031, time.December, 25, 13, 47, 0, 0, time.UTC)

// checkLayout accepts a Go layout that carries a full date and time.
// Something that looks like a word is more likely a misspelt layout name.
func checkLayout(layout string) error {
	if looksLikeName(layout) {
		return fmt.Errorf("timeLayout: unknown name %q (names are rfc3339, unix, unixms; anything else is a Go layout such as \"2006-01-02 15:04:05\")", layout)
	}
	t, err := time.Parse(layout, layoutProbe.Format(layout))
	if err != nil || t.Year() != 2031 || t.Month() != time.December || t.Day() != 25 || t.Hour() != 13 || t.Minute() != 47 {
		return fmt.Errorf("timeLayout: Go layout %q does not hold year, month, day, hour and minute", layout)
	}
	return nil
}

func looksLikeName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if i == 0 && !unicode.IsLetter(r) {
			return false
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' {
			return false
		}
	}
	return true
}
