package explain

import (
	"slices"
	"time"
)

// Volume watches how many distinct patients' records each account opens
// per hour, against that account's own past hours and its peers' (the same
// role): a bulk read stands out against both, while a busy shift for a
// busy role does not.
type Volume struct {
	// Min is the fewest patients in an hour that can be a burst (default 30).
	Min int
	// Own and Peer multiply the account's highest past hour and its role's
	// 99th percentile hour into the threshold (defaults 3 and 2).
	Own, Peer float64
	// History is how many past hours count (default 14 days).
	History int

	actors map[string]*actorVolume
	roles  map[string]*roleVolume
}

// Burst is an hour in which an account opened unusually many records.
type Burst struct {
	Access           // the access that crossed the threshold
	Count     int    // distinct patients so far in the hour
	Own       int    // the account's highest hour before
	Peer      int    // the role's 99th percentile hour
	Threshold int    // what Count crossed
	Role      string // the account's role
}

type actorVolume struct {
	role     string
	hour     time.Time
	patients map[key]struct{}
	alerted  bool
	past     []int32 // distinct patients in each past hour with accesses (a ring)
	next     int
}

type roleVolume struct {
	counts []int32 // recent completed account-hours (a ring)
	next   int
	p99    int
	dirty  bool
}

// NewVolume returns a Volume with the default settings.
func NewVolume() *Volume {
	return &Volume{actors: map[string]*actorVolume{}, roles: map[string]*roleVolume{}}
}

func (v *Volume) min() int {
	if v.Min > 0 {
		return v.Min
	}
	return 30
}

func (v *Volume) own() float64 {
	if v.Own > 0 {
		return v.Own
	}
	return 3
}

func (v *Volume) peer() float64 {
	if v.Peer > 0 {
		return v.Peer
	}
	return 2
}

func (v *Volume) history() int {
	if v.History > 0 {
		return v.History
	}
	return 14 * 24
}

// Observe counts an access and returns a Burst when it makes its account's
// hour cross the threshold (once per account-hour).
func (v *Volume) Observe(a Access) *Burst {
	if a.Actor == "" {
		return nil
	}
	av := v.actors[a.Actor]
	if av == nil {
		av = &actorVolume{role: a.Role, patients: map[key]struct{}{}}
		v.actors[a.Actor] = av
	}
	if h := a.Time.Truncate(time.Hour); !h.Equal(av.hour) {
		if h.After(av.hour) {
			v.close(av)
			av.hour, av.alerted = h, false
		}
		// An access from an earlier hour (late) counts in the current.
	}
	for _, p := range a.Patient {
		av.patients[p] = struct{}{}
	}
	n := len(av.patients)
	if av.alerted || n < v.min() {
		return nil
	}
	// Without enough hours of the role to compare with, a busy hour
	// cannot be told from an unusual one: wait.
	rv := v.roles[av.role]
	if rv == nil || len(rv.counts) < 50 {
		return nil
	}
	own := 0
	for _, c := range av.past {
		own = max(own, int(c))
	}
	peer := v.rolePercentile(av.role)
	threshold := max(v.min(), int(v.own()*float64(own)), int(v.peer()*float64(peer)))
	if len(av.past) < 8 {
		// A new account has no past of its own yet: its peers decide,
		// with more margin.
		threshold = max(threshold, int(1.5*v.peer()*float64(peer)))
	}
	if n < threshold {
		return nil
	}
	av.alerted = true
	return &Burst{Access: a, Count: n, Own: own, Peer: peer, Threshold: threshold, Role: av.role}
}

// close moves the account's finished hour into its history and its role's.
func (v *Volume) close(av *actorVolume) {
	n := len(av.patients)
	if n == 0 {
		return
	}
	clear(av.patients)
	if len(av.past) < v.history() {
		av.past = append(av.past, int32(n))
	} else {
		av.past[av.next] = int32(n)
		av.next = (av.next + 1) % len(av.past)
	}
	rv := v.roles[av.role]
	if rv == nil {
		rv = &roleVolume{}
		v.roles[av.role] = rv
	}
	if len(rv.counts) < 50_000 {
		rv.counts = append(rv.counts, int32(n))
	} else {
		rv.counts[rv.next] = int32(n)
		rv.next = (rv.next + 1) % len(rv.counts)
	}
	rv.dirty = true
}

func (v *Volume) rolePercentile(role string) int {
	rv := v.roles[role]
	if rv == nil || len(rv.counts) == 0 {
		return 0
	}
	if rv.dirty {
		s := slices.Clone(rv.counts)
		slices.Sort(s)
		rv.p99 = int(s[len(s)*99/100])
		rv.dirty = false
	}
	return rv.p99
}
