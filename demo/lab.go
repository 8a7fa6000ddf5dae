// Package demo generates a deterministic synthetic clinical laboratory — sites,
// staff with weekly shift schedules, patients, orders and specimens — and a
// stream of PHI access and security events over it, with a handful of planted
// anomalies listed in a Manifest.
//
// Everything is a pure function of the Config: patients, orders and events are
// computed on demand from (seed, coordinates), so a lab with a million
// patients and a hundred million events needs memory for its staff, its sites
// and a few hours of simulated time, never for all patients or all events.
//
// All data is synthetic. Names come from lists of common names, phone numbers
// use the 555 exchange and e-mail addresses the reserved example domains.
package demo

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/labtrust/labtrust"
)

// Role is a staff role.
type Role string

// Staff roles.
const (
	RoleFrontDesk         Role = "front-desk"
	RolePhlebotomist      Role = "phlebotomist"
	RoleLabTech           Role = "lab-tech"
	RolePathologist       Role = "pathologist"
	RoleBilling           Role = "billing"
	RoleITAdmin           Role = "it-admin"
	RoleCourier           Role = "courier"
	numRoles                   = 7
	rFront, rPhleb, rTech      = 0, 1, 2
	rPath, rBill, rIT          = 3, 4, 5
	rCourier                   = 6
)

var roles = [numRoles]Role{RoleFrontDesk, RolePhlebotomist, RoleLabTech, RolePathologist, RoleBilling,
	RoleITAdmin, RoleCourier}

// roleShare is the share of staff in each role.
var roleShare = [numRoles]float64{0.16, 0.22, 0.30, 0.06, 0.10, 0.06, 0.10}

// MRNSystem is the identifier system of patient MRNs in events.
const MRNSystem = "http://lab.example/mrn"

// LabZoneOffset is the lab's local clock: schedules are in UTC−5 (US Central
// daylight time), without daylight-saving changes, so a shift is always the
// same UTC interval.
const LabZoneOffset = -5 * time.Hour

// Site is a collection site with its own front desk, phlebotomy and bench.
type Site struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	Name  string `json:"name"`
	City  string `json:"city"`
	State string `json:"state"`
	// Subnet is the site's address range; staff workstations get addresses
	// in it. It is data only: nothing listens there.
	Subnet string `json:"subnet"`
}

// Shift is one weekly shift in lab-local time (see LabZoneOffset). A shift may
// run past midnight into the next day.
type Shift struct {
	Day   time.Weekday `json:"day"`   // local weekday the shift starts on
	Start int          `json:"start"` // local hour the shift starts, 0-23
	Hours int          `json:"hours"`
}

// Staff is a staff account.
type Staff struct {
	Index    int     `json:"index"`
	ID       string  `json:"id"` // e.g. "u0042"
	Name     string  `json:"name"`
	Role     Role    `json:"role"`
	Site     int     `json:"site"` // home site index
	IP       string  `json:"ip"`   // workstation address, inside the site's subnet
	Schedule []Shift `json:"schedule"`
	// MRN is set when the staff member is also a patient of the lab.
	MRN string `json:"mrn,omitempty"`
	// Patient is the patient index when MRN is set, else -1.
	Patient int `json:"patient"`

	role  int
	actor labtrust.Actor
	// onWeek marks the local hours of the week the staff member is on shift.
	onWeek [168]bool
}

// shiftTemplate is a shift pattern; staff of a role at a site take templates
// in order, so the first ones cover the busiest hours.
type shiftTemplate struct {
	days  []time.Weekday
	start int
	hours int
}

var (
	weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	tueSat   = []time.Weekday{time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
	sunThu   = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday}
	wedSun   = []time.Weekday{time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	weekend  = []time.Weekday{time.Saturday, time.Sunday}
)

var templates = [numRoles][]shiftTemplate{
	rFront:   {{weekdays, 7, 8}, {weekdays, 11, 8}, {tueSat, 7, 8}},
	rPhleb:   {{weekdays, 7, 8}, {weekdays, 11, 8}, {tueSat, 6, 8}, {sunThu, 14, 8}},
	rTech:    {{weekdays, 7, 8}, {weekdays, 15, 8}, {weekdays, 23, 8}, {weekend, 7, 12}, {weekend, 19, 12}, {wedSun, 7, 8}, {sunThu, 15, 8}},
	rPath:    {{weekdays, 8, 9}, {tueSat, 8, 9}},
	rBill:    {{weekdays, 9, 8}, {weekdays, 8, 8}},
	rIT:      {{weekdays, 8, 8}, {tueSat, 10, 8}},
	rCourier: {{weekdays, 9, 8}, {weekdays, 12, 8}, {[]time.Weekday{time.Saturday}, 9, 6}},
}

// Lab is a synthetic laboratory. It is immutable after NewLab and safe for
// concurrent use; every Stream call replays the same events.
type Lab struct {
	cfg    Config
	offset int64 // lab-local minus UTC, µs
	startL int64 // cfg.Start in local µs
	endL   int64 // cfg.End() in local µs

	sites []Site
	staff []Staff
	// staffOfPatient maps patient index to staff index for staff who are
	// also patients.
	staffOfPatient map[int]int
	cover          [][numRoles]*coverage // [site][role]
	orders         []siteOrders          // per site
	lags           [][numSteps]lag       // [site][step]

	anomalies []Anomaly
	anomEv    []labtrust.Event // sorted by time
	secInWin  int64            // security events in the window (calibration)

	shared sharedCodes
}

// Time helpers. Internally times are int64 microseconds of lab-local time
// (UTC + LabZoneOffset as if it were UTC), which keeps arithmetic exact and
// matches the microsecond precision of canonical entries.
const (
	usSecond = int64(1_000_000)
	usMinute = 60 * usSecond
	usHour   = 60 * usMinute
	usDay    = 24 * usHour
	usWeek   = 7 * usDay
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// hourOfWeek returns the local hour of the week, 0 = Sunday 00:00.
// 1970-01-01 was a Thursday, 96 hours after the start of its week.
func hourOfWeek(t int64) int { return int(floorMod(floorDiv(t, usHour)+96, 168)) }

func (l *Lab) toTime(t int64) time.Time   { return time.UnixMicro(t - l.offset).UTC() }
func (l *Lab) fromTime(t time.Time) int64 { return t.UnixMicro() + l.offset }

// NewLab builds the lab for cfg (after WithDefaults). It allocates for sites
// and staff only; patients and orders are computed when asked for.
func NewLab(cfg Config) *Lab {
	cfg = cfg.WithDefaults()
	l := &Lab{cfg: cfg, offset: int64(LabZoneOffset / time.Microsecond), staffOfPatient: map[int]int{}}
	l.startL = l.fromTime(cfg.Start)
	l.endL = l.fromTime(cfg.End())
	l.shared = newSharedCodes()
	l.buildSites()
	l.buildStaff()
	l.buildCoverage()
	l.buildLags()
	l.buildAnomalies()
	l.secInWin = l.countSecurity()
	l.calibrateOrders()
	return l
}

// Config returns the configuration the lab was built from, defaults applied.
func (l *Lab) Config() Config { return l.cfg }

// Sites returns the lab's sites.
func (l *Lab) Sites() []Site { return slices.Clone(l.sites) }

// Staff returns the lab's staff accounts, indexed by Staff.Index.
func (l *Lab) Staff() []Staff {
	out := make([]Staff, len(l.staff))
	for i, s := range l.staff {
		s.Schedule = slices.Clone(s.Schedule)
		out[i] = s
	}
	return out
}

// StaffByID returns the staff account with the given ID, or
// labtrust.ErrNotFound.
func (l *Lab) StaffByID(id string) (Staff, error) {
	if len(id) < 2 || id[0] != 'u' {
		return Staff{}, fmt.Errorf("staff id: %w", labtrust.ErrNotFound)
	}
	k, err := strconv.Atoi(id[1:])
	if err != nil || k < 1 || k > len(l.staff) || l.staff[k-1].ID != id {
		return Staff{}, fmt.Errorf("staff id: %w", labtrust.ErrNotFound)
	}
	s := l.staff[k-1]
	s.Schedule = slices.Clone(s.Schedule)
	return s, nil
}

// OnShift reports whether staff member k (Staff.Index) is scheduled to work at
// t. It is false for an index out of range.
func (l *Lab) OnShift(k int, t time.Time) bool {
	if k < 0 || k >= len(l.staff) {
		return false
	}
	return l.staff[k].onWeek[hourOfWeek(l.fromTime(t))]
}

func (l *Lab) buildSites() {
	l.sites = make([]Site, l.cfg.Sites)
	for i := range l.sites {
		s := Site{Index: i, ID: "s" + strconv.Itoa(i+1), Subnet: fmt.Sprintf("10.%d.0.0/16", i+1)}
		tpl := siteTemplates[i%len(siteTemplates)]
		s.Name, s.City = tpl.name, tpl.city
		if i >= len(siteTemplates) {
			s.Name = fmt.Sprintf("%s %d", tpl.name, i/len(siteTemplates)+1)
		}
		s.State = states[i%len(siteTemplates)].code
		l.sites[i] = s
	}
}

func siteWeight(s int) float64 {
	if s == 0 {
		return 2
	}
	return 1
}

// largestRemainder splits n into parts proportional to ws.
func largestRemainder(n int, ws []float64) []int {
	var total float64
	for _, w := range ws {
		total += w
	}
	out := make([]int, len(ws))
	rem := make([]float64, len(ws))
	used := 0
	for i, w := range ws {
		x := float64(n) * w / total
		out[i] = int(x)
		rem[i] = x - float64(out[i])
		used += out[i]
	}
	order := make([]int, len(ws))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for i := 0; used < n; i++ {
		out[order[i%len(order)]]++
		used++
	}
	return out
}

func (l *Lab) buildStaff() {
	cfg := l.cfg
	sw := make([]float64, cfg.Sites)
	for s := range sw {
		sw[s] = siteWeight(s)
	}
	perSite := largestRemainder(cfg.Staff, sw)
	counts := make([][numRoles]int, cfg.Sites)
	for s, ns := range perSite {
		c := largestRemainder(ns, roleShare[:])
		copy(counts[s][:], c)
		// A site with at least three people can run its own front desk,
		// phlebotomy and bench; borrow from the largest role.
		if ns >= 3 {
			for _, need := range []int{rFront, rPhleb, rTech} {
				if counts[s][need] == 0 {
					takeFromLargest(&counts[s], need)
				}
			}
		}
	}
	// Every role exists somewhere, taken from the site with the most staff
	// in its largest role.
	for r := range numRoles {
		total := 0
		for s := range counts {
			total += counts[s][r]
		}
		if total > 0 {
			continue
		}
		best, bestN := -1, 1
		for s := range counts {
			for q := range numRoles {
				if counts[s][q] > bestN {
					best, bestN = s, counts[s][q]
				}
			}
		}
		if best >= 0 {
			takeFromLargest(&counts[best], r)
		}
	}

	type slot struct{ site, role, rank int }
	var slots []slot
	for s := range counts {
		for r := range numRoles {
			for k := range counts[s][r] {
				slots = append(slots, slot{s, r, k})
			}
		}
	}
	// Shuffle so IDs do not reveal site or role.
	sr := newRNG(key(cfg.Seed, tagStaff, 0, 0))
	for i := len(slots) - 1; i > 0; i-- {
		j := sr.intn(i + 1)
		slots[i], slots[j] = slots[j], slots[i]
	}

	l.staff = make([]Staff, len(slots))
	for k, sl := range slots {
		r := newRNG(key(cfg.Seed, tagStaff, uint64(k)+1, 0))
		st := Staff{Index: k, ID: fmt.Sprintf("u%04d", k+1), Role: roles[sl.role], role: sl.role,
			Site: sl.site, Patient: -1,
			IP: fmt.Sprintf("10.%d.%d.%d", sl.site+1, (k/200)%250+1, k%200+20)}
		given, fam, _ := personName(&r, r.chance(0.6))
		st.Name = given.text + " " + fam.text
		tpl := templates[sl.role][sl.rank%len(templates[sl.role])]
		for _, d := range tpl.days {
			st.Schedule = append(st.Schedule, Shift{Day: d, Start: tpl.start, Hours: tpl.hours})
			for h := range tpl.hours {
				st.onWeek[(int(d)*24+tpl.start+h)%168] = true
			}
		}
		l.staff[k] = st
	}

	// About one in seven staff members is also a patient of the lab, which
	// makes "opened a coworker's record" possible.
	if cfg.Patients >= 50 {
		used := map[int]bool{}
		for k := range l.staff {
			r := newRNG(key(cfg.Seed, tagStaff, uint64(k)+1, 1))
			if !r.chance(0.15) && !(k == len(l.staff)-1 && len(l.staffOfPatient) == 0) {
				continue
			}
			p := r.intn(cfg.Patients)
			for range cfg.Patients {
				t := l.traits(p)
				if t.active() && !t.minor && !t.vip && !used[p] {
					break
				}
				p = (p + 1) % cfg.Patients
			}
			if used[p] {
				continue
			}
			used[p] = true
			st := &l.staff[k]
			st.Patient = p
			st.MRN = MRN(p)
			pt := l.Patient(p)
			st.Name = pt.Given + " " + pt.Family
			l.staffOfPatient[p] = k
		}
	}
	for k := range l.staff {
		st := &l.staff[k]
		st.actor = labtrust.Actor{ID: st.ID, Name: st.Name, Role: string(st.Role),
			Site: l.sites[st.Site].ID, UserType: "person"}
	}
}

func takeFromLargest(c *[numRoles]int, need int) {
	best := -1
	for q := range numRoles {
		if c[q] > 1 && (best < 0 || c[q] > c[best]) {
			best = q
		}
	}
	if best >= 0 {
		c[best]--
		c[need]++
	}
}

// coverage is who of one role is on shift at a site, by hour of the week,
// and the time warp that moves work to the next covered hours.
type coverage struct {
	on  [168][]int32
	seg [168]segment
}

// segment describes, for one hour of the week, the uncovered gap [a, b)
// before a covered run and the drain window [b, d) at the start of that run
// (hours relative to the start of the week, possibly outside 0-167 when they
// wrap). a == b means the hour is covered and past the drain window.
type segment struct{ a, b, d int64 }

// drainHours is how long the first people on shift take to clear the work
// that arrived while nobody of their role was on.
const drainHours = 2

func newCoverage(members []int32, staff []Staff) *coverage {
	cv := &coverage{}
	var bit [168]bool
	for _, k := range members {
		for h := range 168 {
			if staff[k].onWeek[h] {
				cv.on[h] = append(cv.on[h], k)
				bit[h] = true
			}
		}
	}
	n := 0
	for _, b := range bit {
		if b {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	at := func(h int64) bool { return bit[floorMod(h, 168)] }
	for h := int64(0); h < 168; h++ {
		if n == 168 {
			cv.seg[h] = segment{h, h, h}
			continue
		}
		var a, b int64
		if at(h) {
			b = h
			for at(b - 1) {
				b--
			}
			a = b
			for !at(a - 1) {
				a--
			}
		} else {
			a = h
			for !at(a - 1) {
				a--
			}
			b = h
			for !at(b) {
				b++
			}
		}
		c := b
		for at(c) {
			c++
		}
		d := b + min(drainHours, c-b)
		if h >= d {
			a, b, d = h, h, h
		}
		cv.seg[h] = segment{a, b, d}
	}
	return cv
}

// warp maps a time to a covered time, monotonically: work arriving in a gap
// is compressed, together with the work of the first hours of the next run,
// into those first hours, as the first people on shift clear the backlog.
// warp(t) >= t always, and equals t once the backlog is cleared.
func (cv *coverage) warp(t int64) int64 {
	H := floorDiv(t, usHour)
	w := floorMod(H+96, 168)
	s := cv.seg[w]
	if s.a == s.b {
		return t
	}
	base := H - w
	A := (base + s.a) * usHour
	B := (base + s.b) * usHour
	return B + (t-A)*(s.d-s.b)/(s.d-s.a)
}

// actor picks who of the on-shift staff does the work at t.
func (cv *coverage) actor(t int64, x uint64) int {
	list := cv.on[hourOfWeek(t)]
	if len(list) == 0 {
		// t is exactly the end of a run; the previous hour is covered.
		list = cv.on[hourOfWeek(t-1)]
	}
	if len(list) == 0 {
		for h := range cv.on {
			if len(cv.on[h]) > 0 {
				list = cv.on[h]
				break
			}
		}
	}
	return int(list[x%uint64(len(list))])
}

func (l *Lab) buildCoverage() {
	members := make([][numRoles][]int32, l.cfg.Sites)
	var all [numRoles][]int32
	for k, st := range l.staff {
		members[st.Site][st.role] = append(members[st.Site][st.role], int32(k))
		all[st.role] = append(all[st.role], int32(k))
	}
	var global [numRoles]*coverage
	for r := range numRoles {
		global[r] = newCoverage(all[r], l.staff)
	}
	l.cover = make([][numRoles]*coverage, l.cfg.Sites)
	for s := range l.cover {
		for r := range numRoles {
			cv := newCoverage(members[s][r], l.staff)
			if cv == nil {
				// Nobody of this role at the site: another site covers.
				cv = global[r]
			}
			if cv == nil {
				cv = global[rTech]
			}
			l.cover[s][r] = cv
		}
	}
}
