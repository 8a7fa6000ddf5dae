package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/geo"
	"github.com/labtrust/labtrust/sigma"
)

// TravelRule names alerts for an account seen in two places too far apart
// for the time between.
const TravelRule = "impossible_travel"

// Travel thresholds: faster than an airliner, over a distance that is not
// an address database's error between neighbouring cities.
const (
	travelSpeed = 900.0 // km/h
	travelMin   = 500.0 // km
)

// SetGeo gives detection a geolocation database (nil: none).
func (e *Engine) SetGeo(db *geo.DB) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.geo = db
	if e.seen == nil {
		e.seen = map[string]sighting{}
	}
}

type sighting struct {
	actor string
	at    time.Time
	place geo.Place
	addr  string
	index uint64
}

// sight locates a successful event's address (worker side).
func sight(db *geo.DB, d *sigma.Doc) *sighting {
	actor := first(d, fActorID)
	if db == nil || actor == "" || first(d, fOutcome) != "0" {
		return nil
	}
	addr := first(d, fNetwork)
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nil
	}
	p, ok := db.Lookup(a)
	if !ok {
		return nil
	}
	return &sighting{actor: actor, at: d.Time, place: p, addr: addr, index: d.Ref}
}

// travel compares an account's place with where it was last seen (ordered
// side) and returns an alert when no one could have made the trip.
func travel(seen map[string]sighting, now sighting) (labtrust.Alert, bool) {
	prev, ok := seen[now.actor]
	if !ok || now.at.Before(prev.at) {
		if !ok {
			seen[now.actor] = now
		}
		return labtrust.Alert{}, false
	}
	seen[now.actor] = now
	dist := geo.Distance(prev.place, now.place)
	gap := now.at.Sub(prev.at)
	if dist < travelMin || gap > 0 && dist/gap.Hours() <= travelSpeed {
		return labtrust.Alert{}, false
	}
	speed := "instantly"
	if gap > 0 {
		speed = fmt.Sprintf("at %.0f km/h", dist/gap.Hours())
	}
	a := labtrust.Alert{Rule: TravelRule, Title: "Impossible travel: one account in two places too far apart", Severity: "high",
		Actor: now.actor, First: prev.at, Last: now.at, Count: 1, Entries: []uint64{prev.index, now.index}}
	a.Explanation = fmt.Sprintf("%s was seen at %s (%s) on %s and at %s (%s) on %s: %.0f km apart in %s, %s. A stolen password or session is the likelier cause.",
		now.actor, prev.place, prev.addr, prev.at.UTC().Format(time.RFC3339), now.place, now.addr, now.at.UTC().Format(time.RFC3339),
		dist, gap.Round(time.Second), speed)
	sum := sha256.Sum256([]byte(TravelRule + "\x00" + now.actor + "\x00" + now.at.UTC().Format("2006-01-02")))
	a.Key = hex.EncodeToString(sum[:16])
	return a, true
}
