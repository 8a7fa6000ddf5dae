// Package sigma loads Sigma rules (the SigmaHQ specification v2: detection
// searches, conditions, value modifiers, and correlation rules) and
// evaluates them, streaming, over events. No Go Sigma library is served to
// this project, so the engine is written here from the specification.
//
// Rules name fields; a Schema says which fields exist and numbers them, so
// a rule is checked against it when it loads (an unknown field is an
// error with the file and line, not a rule that silently never fires) and
// a Doc, one event's values, is read by field number. Matching is
// case-insensitive unless a value has the cased modifier; the lowercase
// form of every value is computed once per event and shared by all rules.
package sigma

import (
	"net/netip"
	"strings"
	"time"
	"unsafe"
)

// Logsource is the Sigma logsource of a rule or an event.
type Logsource struct {
	Category string `json:"category,omitempty"`
	Product  string `json:"product,omitempty"`
	Service  string `json:"service,omitempty"`
}

// covers reports whether a rule's logsource applies to an event's: each
// part the rule names must be the event's (case-insensitively).
func (rule Logsource) covers(ev Logsource) bool {
	return (rule.Category == "" || strings.EqualFold(rule.Category, ev.Category)) &&
		(rule.Product == "" || strings.EqualFold(rule.Product, ev.Product)) &&
		(rule.Service == "" || strings.EqualFold(rule.Service, ev.Service))
}

// Schema is the set of fields rules may name, each with a number. Names
// are matched case-insensitively; aliases give other names for a field
// (a Sigma taxonomy name for one of ours, say).
type Schema struct {
	index map[string]int
	names []string
}

// NewSchema numbers fields in order; aliases maps extra names to them.
func NewSchema(fields []string, aliases map[string]string) *Schema {
	s := &Schema{index: map[string]int{}, names: fields}
	for i, f := range fields {
		s.index[strings.ToLower(f)] = i
	}
	for a, f := range aliases {
		if i, ok := s.index[strings.ToLower(f)]; ok {
			s.index[strings.ToLower(a)] = i
		}
	}
	return s
}

// Field returns the number of the named field.
func (s *Schema) Field(name string) (int, bool) {
	i, ok := s.index[strings.ToLower(name)]
	return i, ok
}

// Fields returns the field names, in number order.
func (s *Schema) Fields() []string { return s.names }

// Doc is one event as rules see it: each field's values (a field may have
// several, like the patients an access names), their lowercase forms, the
// event's time and its logsource. Reset and refill one Doc per event to
// avoid allocating.
type Doc struct {
	schema    *Schema
	vals, low [][]string
	Time      time.Time
	Logsource Logsource
	// Ref is the caller's handle on the event (a ledger index, say),
	// carried into matches.
	Ref uint64

	blob   []byte // every lowercase value, NUL-separated: keyword searches
	blobOK bool
	addrs  map[string]netip.Addr // values parsed as addresses, for cidr
}

// addr parses v as an IP address once per event, however many cidr
// values test it.
func (d *Doc) addr(v string) (netip.Addr, bool) {
	if a, ok := d.addrs[v]; ok {
		return a, a.IsValid()
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		a = netip.Addr{}
	} else {
		a = a.Unmap()
	}
	if d.addrs == nil {
		d.addrs = map[string]netip.Addr{}
	}
	d.addrs[v] = a
	return a, a.IsValid()
}

// keywordText returns all of the event's lowercase values joined by NUL
// bytes, built once per event: a plain keyword is one substring search
// in it instead of one per value.
func (d *Doc) keywordText() string {
	if !d.blobOK {
		d.blob = d.blob[:0]
		for _, vals := range d.low {
			for _, v := range vals {
				d.blob = append(d.blob, v...)
				d.blob = append(d.blob, 0)
			}
		}
		d.blobOK = true
	}
	return unsafe.String(unsafe.SliceData(d.blob), len(d.blob))
}

// NewDoc returns an empty Doc for the schema's fields.
func (s *Schema) NewDoc() *Doc {
	return &Doc{schema: s, vals: make([][]string, len(s.names)), low: make([][]string, len(s.names))}
}

// Reset empties the Doc, keeping its buffers.
func (d *Doc) Reset() {
	for i := range d.vals {
		d.vals[i] = d.vals[i][:0]
		d.low[i] = d.low[i][:0]
	}
	d.Time, d.Logsource, d.Ref = time.Time{}, Logsource{}, 0
	d.blobOK = false
	clear(d.addrs)
}

// Add appends a value to field f (a number from the schema). Empty values
// are kept: a rule asking for an empty value matches them.
func (d *Doc) Add(f int, v string) {
	d.vals[f] = append(d.vals[f], v)
	d.low[f] = append(d.low[f], strings.ToLower(v))
	d.blobOK = false
}

// Values returns field f's values.
func (d *Doc) Values(f int) []string { return d.vals[f] }

// has reports whether field f has a non-empty value.
func (d *Doc) has(f int) bool {
	for _, v := range d.vals[f] {
		if v != "" {
			return true
		}
	}
	return false
}
