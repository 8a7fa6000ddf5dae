package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/sigma"
	"github.com/labtrust/labtrust/stix"
)

// IntelRule names alerts for access from an address on a threat-intel list.
const IntelRule = "threat_intel_address"

// SetIntel replaces the threat-intelligence indicators detection checks
// every event's network address against (nil: none).
func (e *Engine) SetIntel(s *stix.Set) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.intel = s
}

// LoadIntel reads a STIX 2.1 bundle file into the engine and returns the
// objects it did not use, with the reasons.
func (e *Engine) LoadIntel(path string) (int, []stix.Skipped, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("detect: threat intelligence: %w", err)
	}
	defer f.Close()
	s, skipped, err := stix.Read(f)
	if err != nil {
		return 0, nil, fmt.Errorf("detect: threat intelligence %s: %w", path, err)
	}
	e.SetIntel(s)
	return s.Len(), skipped, nil
}

// intelMatch returns the indicator the event's address is on, if any.
func intelMatch(s *stix.Set, d *sigma.Doc) *stix.Indicator {
	if s == nil {
		return nil
	}
	for _, v := range d.Values(fNetwork) {
		if a, err := netip.ParseAddr(v); err == nil {
			if ind := s.Match(a, d.Time); ind != nil {
				return ind
			}
		}
	}
	return nil
}

func intelAlert(ind *stix.Indicator, d *sigma.Doc) labtrust.Alert {
	addr, actor := first(d, fNetwork), first(d, fActorID)
	a := labtrust.Alert{Rule: IntelRule, Title: "Access from an address on a threat-intelligence list", Severity: "high",
		Actor: actor, First: d.Time, Last: d.Time, Count: 1, Entries: []uint64{d.Ref}}
	var b strings.Builder
	fmt.Fprintf(&b, "The address %s is on a shared threat-intelligence list", addr)
	if ind.Name != "" {
		fmt.Fprintf(&b, " as %q", ind.Name)
	}
	fmt.Fprintf(&b, " (STIX %s", ind.ID)
	if len(ind.Types) > 0 {
		fmt.Fprintf(&b, ", %s", strings.Join(ind.Types, ", "))
	}
	b.WriteString(")")
	if ind.Description != "" {
		fmt.Fprintf(&b, ": %s", strings.TrimSpace(ind.Description))
	}
	fmt.Fprintf(&b, ". Seen: a %s event", first(d, fKind))
	if actor != "" {
		fmt.Fprintf(&b, " by %s", actor)
	}
	if src := first(d, fSource); src != "" {
		fmt.Fprintf(&b, " from source %s", src)
	}
	fmt.Fprintf(&b, " on %s.", d.Time.UTC().Format(time.RFC3339))
	a.Explanation = b.String()
	sum := sha256.Sum256([]byte(IntelRule + "\x00" + addr + "\x00" + ind.ID))
	a.Key = hex.EncodeToString(sum[:16])
	return a
}
