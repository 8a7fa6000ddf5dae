package stix_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust/stix"
)

func load(t testing.TB) (*stix.Set, []stix.Skipped) {
	f, err := os.Open("testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, skipped, err := stix.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return s, skipped
}

func TestBundle(t *testing.T) {
	s, skipped := load(t)
	if s.Len() != 2 {
		t.Fatalf("%d indicators", s.Len())
	}
	reasons := map[string]string{}
	for _, k := range skipped {
		reasons[k.ID] = k.Reason
	}
	for id, want := range map[string]string{
		"identity--311b2d2d-f010-4473-83ec-1edf84858f4c":  "an identity, not an indicator",
		"indicator--c7d1bd4b-5a64-4b7f-9f3a-0e1d3a1f4a5b": "domain-name:value is not an address",
		"indicator--0f2a4c6e-8b1d-4e3f-a5c7-9d2b4f6a8c0e": "FOLLOWEDBY",
		"indicator--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d": "revoked",
		"indicator--9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d": `pattern type "snort"`,
	} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("%s skipped for %q, want %q", id, reasons[id], want)
		}
	}
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		addr, want string
		at         time.Time
	}{
		{"203.0.113.77", "Credential-stuffing botnet", at},
		{"198.51.100.200", "Credential-stuffing botnet", at},
		{"::ffff:198.51.100.7", "Credential-stuffing botnet", at},
		{"203.0.113.78", "", at},
		{"2001:db8:beef:1::5", "Ransomware operator VPN exit", at},
		{"2001:db8:dead::1", "Ransomware operator VPN exit", at},
		{"192.0.2.10", "Ransomware operator VPN exit", at},
		{"192.0.2.10", "", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},  // valid_until passed
		{"203.0.113.77", "", time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)}, // before valid_from
		{"192.0.2.50", "", at},                                            // revoked
	} {
		got := ""
		if ind := s.Match(netip.MustParseAddr(c.addr), c.at); ind != nil {
			got = ind.Name
		}
		if got != c.want {
			t.Errorf("%s at %s: %q, want %q", c.addr, c.at.Format("2006-01-02"), got, c.want)
		}
	}
}

func TestPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern string
		n       int
		err     string
	}{
		{"[ipv4-addr:value = '10.1.2.3']", 1, ""},
		{"[ipv4-addr:value = '10.1.2.3'] OR [ipv6-addr:value = '2001:db8::1']", 2, ""},
		{"[network-traffic:dst_ref.value ISSUBSET '10.0.0.0/8']", 1, ""},
		{"[ipv4-addr:value = 'it\\'s']", 0, `"it's" is not an address`},
		{"[ipv4-addr:value = '2001:db8::1']", 0, "not an IPv4 address"},
		{"[ipv4-addr:value = '10.1.2.3' AND ipv4-addr:value = '10.1.2.4']", 0, "AND at"},
		{"[ipv4-addr:value != '10.1.2.3']", 0, `operator "!="`},
		{"[ipv4-addr:value = '10.1.2.3'] WITHIN 60 SECONDS", 0, "WITHIN at"},
		{"[file:hashes.'SHA-256' = 'aa']", 0, "file:hashes. is not an address"},
		{"[ipv4-addr:value = '10.1.2.3'", 0, "expected ] or OR"},
		{"[ipv4-addr:value = '10.1.2.3]", 0, "unterminated string"},
		{"", 0, "expected ["},
	} {
		got, err := stix.AddressPattern(c.pattern)
		switch {
		case c.err == "" && (err != nil || len(got) != c.n):
			t.Errorf("%s: %v %v", c.pattern, got, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want %q", c.pattern, err, c.err)
		}
	}
	if _, _, err := stix.Read(strings.NewReader(`{"type":"indicator"}`)); err == nil || !strings.Contains(err.Error(), "not a bundle") {
		t.Errorf("not a bundle: %v", err)
	}
}
