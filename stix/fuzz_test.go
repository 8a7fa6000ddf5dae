package stix_test

import (
	"bytes"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/labtrust/labtrust/stix"
)

// FuzzAddressPattern: any text gives prefixes or an error, never a panic,
// and what it accepts contains the addresses it names.
func FuzzAddressPattern(f *testing.F) {
	for _, s := range []string{"[ipv4-addr:value = '10.1.2.3']", "([ipv6-addr:value IN ('2001:db8::1', '2001:db8::/32')] OR [network-traffic:src_ref.value = '192.0.2.1'])",
		"[a:b = 'c' AND d:e = 'f'] FOLLOWEDBY [g:h = 'i'] WITHIN 5 SECONDS", "['\\\\'", "[(("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := stix.AddressPattern(s)
		if err != nil {
			return
		}
		if len(ps) == 0 {
			t.Fatal("accepted a pattern that names no address")
		}
		for _, p := range ps {
			if !p.IsValid() || !p.Contains(p.Addr()) {
				t.Fatalf("bad prefix %v", p)
			}
		}
	})
}

// FuzzRead: any input gives a set or an error, and a set answers lookups.
func FuzzRead(f *testing.F) {
	b, err := os.ReadFile("testdata/bundle.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"indicator","id":"indicator--x","pattern_type":"stix","pattern":"[ipv4-addr:value = '1.2.3.4']","valid_from":"2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _, err := stix.Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, ind := range s.Indicators {
			for _, p := range ind.Prefixes {
				if got := s.Match(p.Addr(), ind.ValidFrom); got == nil {
					t.Fatalf("an indicator's own address %v does not match at its valid_from", p.Addr())
				}
			}
		}
		s.Match(netip.MustParseAddr("10.0.0.1"), time.Now())
	})
}
