// Package stix reads threat intelligence shared as STIX 2.1 (OASIS): the
// indicators of a bundle whose patterns name network addresses, so that
// detection can flag access from an address a partner or feed reported.
// No Go STIX library is served to this project; what is needed is small:
// the bundle's JSON and the part of the patterning language that
// describes addresses.
package stix

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Indicator is a STIX indicator whose pattern matches addresses.
type Indicator struct {
	ID          string    `json:"id"`
	Name        string    `json:"name,omitempty"`
	Description string    `json:"description,omitempty"`
	Types       []string  `json:"indicatorTypes,omitempty"`
	Pattern     string    `json:"pattern"`
	ValidFrom   time.Time `json:"validFrom"`
	ValidUntil  time.Time `json:"validUntil,omitzero"`
	Prefixes    []netip.Prefix
}

// Skipped is an object of the bundle that was not used, and why.
type Skipped struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Set is the address indicators of one or more bundles, for lookups.
type Set struct {
	Indicators []*Indicator
	exact      map[netip.Addr][]*Indicator // single-address prefixes
	ranges     []prefixInd                 // the others, longest first
}

type prefixInd struct {
	p   netip.Prefix
	ind *Indicator
}

type object struct {
	Type           string   `json:"type"`
	SpecVersion    string   `json:"spec_version"`
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	IndicatorTypes []string `json:"indicator_types"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until"`
	Revoked        bool     `json:"revoked"`
}

// Read parses a STIX 2.1 bundle. Indicators whose patterns are
// disjunctions of address comparisons are kept; every other object is
// listed in skipped with the reason (most bundles hold other objects too).
// An error means the input is not a bundle.
func Read(r io.Reader) (*Set, []Skipped, error) {
	var b struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	dec := json.NewDecoder(io.LimitReader(r, 256<<20))
	if err := dec.Decode(&b); err != nil {
		return nil, nil, fmt.Errorf("stix: not a JSON bundle: %w", err)
	}
	if b.Type != "bundle" {
		return nil, nil, fmt.Errorf("stix: the top-level object is %q, not a bundle", b.Type)
	}
	s := &Set{exact: map[netip.Addr][]*Indicator{}}
	var skipped []Skipped
	for i, raw := range b.Objects {
		var o object
		if err := json.Unmarshal(raw, &o); err != nil {
			skipped = append(skipped, Skipped{ID: fmt.Sprintf("objects[%d]", i), Reason: "not a STIX object: " + err.Error()})
			continue
		}
		if o.Type != "indicator" {
			skipped = append(skipped, Skipped{ID: o.ID, Reason: article(o.Type) + " " + o.Type + ", not an indicator"})
			continue
		}
		ind, err := indicator(o)
		if err != nil {
			skipped = append(skipped, Skipped{ID: o.ID, Reason: err.Error()})
			continue
		}
		s.add(ind)
	}
	s.index()
	return s, skipped, nil
}

func indicator(o object) (*Indicator, error) {
	switch {
	case o.Revoked:
		return nil, fmt.Errorf("revoked")
	case o.PatternType != "stix":
		return nil, fmt.Errorf("pattern type %q, not stix", o.PatternType)
	case !strings.HasPrefix(o.ID, "indicator--"):
		return nil, fmt.Errorf("the id is not indicator--<uuid>")
	}
	ind := &Indicator{ID: o.ID, Name: o.Name, Description: o.Description, Types: o.IndicatorTypes, Pattern: o.Pattern}
	var err error
	if ind.ValidFrom, err = time.Parse(time.RFC3339Nano, o.ValidFrom); err != nil {
		return nil, fmt.Errorf("valid_from is not an RFC 3339 time")
	}
	if o.ValidUntil != "" {
		if ind.ValidUntil, err = time.Parse(time.RFC3339Nano, o.ValidUntil); err != nil {
			return nil, fmt.Errorf("valid_until is not an RFC 3339 time")
		}
		if !ind.ValidUntil.After(ind.ValidFrom) {
			return nil, fmt.Errorf("valid_until is not after valid_from")
		}
	}
	if ind.Prefixes, err = AddressPattern(o.Pattern); err != nil {
		return nil, err
	}
	return ind, nil
}

func (s *Set) add(ind *Indicator) {
	s.Indicators = append(s.Indicators, ind)
	for _, p := range ind.Prefixes {
		if p.IsSingleIP() {
			s.exact[p.Addr()] = append(s.exact[p.Addr()], ind)
		} else {
			s.ranges = append(s.ranges, prefixInd{p, ind})
		}
	}
}

func (s *Set) index() {
	sort.SliceStable(s.ranges, func(i, j int) bool { return s.ranges[i].p.Bits() > s.ranges[j].p.Bits() })
}

// Len is how many indicators the set holds.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Indicators)
}

// Match returns an indicator valid at t whose pattern covers address a
// (the most specific one), or nil.
func (s *Set) Match(a netip.Addr, t time.Time) *Indicator {
	if s == nil || !a.IsValid() {
		return nil
	}
	a = a.Unmap()
	valid := func(ind *Indicator) bool {
		return !t.Before(ind.ValidFrom) && (ind.ValidUntil.IsZero() || t.Before(ind.ValidUntil))
	}
	for _, ind := range s.exact[a] {
		if valid(ind) {
			return ind
		}
	}
	for _, r := range s.ranges {
		if r.p.Contains(a) && valid(r.ind) {
			return r.ind
		}
	}
	return nil
}

func article(word string) string {
	if word != "" && strings.IndexByte("aeiou", word[0]) >= 0 {
		return "an"
	}
	return "a"
}
