package geo_test

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/labtrust/labtrust/geo"
)

var (
	austin = geo.Place{City: "Austin", Country: "US", Lat: 30.2672, Lon: -97.7431}
	lagos  = geo.Place{City: "Lagos", Country: "NG", Lat: 6.5244, Lon: 3.3792}
)

func TestWriteAndLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := geo.Write(f, []geo.Range{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Place: austin}, {Prefix: netip.MustParsePrefix("198.51.100.0/24"), Place: lagos},
		{Prefix: netip.MustParsePrefix("2001:db8::/32"), Place: lagos}}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		addr string
		want string
		ok   bool
	}{{"10.1.2.3", "Austin, US", true}, {"198.51.100.23", "Lagos, NG", true}, {"::ffff:198.51.100.23", "Lagos, NG", true},
		{"2001:db8::5", "Lagos, NG", true}, {"10.2.0.1", "", false}, {"8.8.8.8", "", false}} {
		p, ok := db.Lookup(netip.MustParseAddr(c.addr))
		if ok != c.ok || ok && p.String() != c.want {
			t.Errorf("%s: %v %v", c.addr, p, ok)
		}
	}
	london, newYork := geo.Place{Lat: 51.5074, Lon: -0.1278}, geo.Place{Lat: 40.7128, Lon: -74.0060}
	if d := geo.Distance(london, newYork); math.Abs(d-5570) > 10 {
		t.Errorf("London to New York: %.0f km, want about 5570", d)
	}
	if d := geo.Distance(austin, austin); d != 0 {
		t.Errorf("Austin to itself: %f", d)
	}
	if _, err := geo.Open(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Error("opened a missing file")
	}
}
