// Package geo places network addresses on the map from a MaxMind DB
// (GeoLite2 or GeoIP2 City, or any database with the same record shape),
// so detection can tell when one account signs in from two places no one
// could travel between in the time. It can also write such a database,
// which the demo and the tests use instead of a downloaded one.
package geo

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Place is where an address is.
type Place struct {
	City     string
	Country  string // ISO 3166-1 alpha-2
	Lat, Lon float64
}

// String names the place for people.
func (p Place) String() string {
	switch {
	case p.City != "" && p.Country != "":
		return p.City + ", " + p.Country
	case p.City != "":
		return p.City
	}
	return p.Country
}

// DB is an open MaxMind DB.
type DB struct{ r *maxminddb.Reader }

// Open opens a City-shaped MaxMind DB file.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	return &DB{r: r}, nil
}

// Close releases the file.
func (d *DB) Close() error { return d.r.Close() }

type cityRecord struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// Lookup returns the place of a, when the database has coordinates for it.
func (d *DB) Lookup(a netip.Addr) (Place, bool) {
	if d == nil || !a.IsValid() {
		return Place{}, false
	}
	var rec cityRecord
	res := d.r.Lookup(a.Unmap())
	if !res.Found() || res.Decode(&rec) != nil || rec.Location.Latitude == nil || rec.Location.Longitude == nil {
		return Place{}, false
	}
	return Place{City: rec.City.Names["en"], Country: rec.Country.ISOCode, Lat: *rec.Location.Latitude, Lon: *rec.Location.Longitude}, true
}

// Range is a network and its place, for Write.
type Range struct {
	Prefix netip.Prefix
	Place  Place
}

// Write writes a City-shaped MaxMind DB holding ranges (private and
// documentation ranges included: the demo's sites use them).
func Write(w io.Writer, ranges []Range) error {
	t, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "labtrust-City", RecordSize: 28, IncludeReservedNetworks: true,
		Description: map[string]string{"en": "labtrust test geolocation"}})
	if err != nil {
		return fmt.Errorf("geo: %w", err)
	}
	for _, r := range ranges {
		p := r.Prefix.Masked()
		n := &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		rec := mmdbtype.Map{
			"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(r.Place.City)}},
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String(r.Place.Country)},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(r.Place.Lat), "longitude": mmdbtype.Float64(r.Place.Lon)},
		}
		if err := t.Insert(n, rec); err != nil {
			return fmt.Errorf("geo: insert %s: %w", p, err)
		}
	}
	if _, err := t.WriteTo(w); err != nil {
		return fmt.Errorf("geo: %w", err)
	}
	return nil
}

// Distance is the great-circle distance in kilometres (haversine, on a
// sphere of the Earth's mean radius).
func Distance(a, b Place) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}
