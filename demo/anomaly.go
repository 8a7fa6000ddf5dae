package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/labtrust/labtrust"
)

// Anomaly kinds planted in the stream.
const (
	KindCoworkerRecord   = "coworker-record"      // staff member opens a coworker's record
	KindAfterHoursExport = "after-hours-export"   // bulk export at night by one account
	KindPasswordSpraying = "password-spraying"    // failed logins across many accounts from one address
	KindVIPAccess        = "vip-unrelated-access" // VIP record opened by staff with no role in their care
	KindNoOrderAccess    = "no-order-access"      // records opened with no order relationship
	KindBulkReadBurst    = "bulk-read-burst"      // hundreds of records read by one account in an hour
	KindImpossibleTravel = "impossible-travel"    // login from far away minutes after an on-site login
)

// Anomaly is one planted incident. All its events are listed by SourceRef.
// It is synthetic data, so it names patients by MRN.
type Anomaly struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Description string    `json:"description"`
	Actors      []string  `json:"actors"` // staff IDs (or attempted user names for spraying)
	Network     string    `json:"network,omitempty"`
	MRNs        []string  `json:"mrns,omitempty"`
	From        time.Time `json:"from"` // time of the first event
	To          time.Time `json:"to"`   // time of the last event
	SourceRefs  []string  `json:"sourceRefs"`
}

// Manifest lists what was planted in a lab's stream.
type Manifest struct {
	Config    Config    `json:"config"`
	Anomalies []Anomaly `json:"anomalies"`
}

// WriteJSON writes the manifest as indented JSON.
func (m Manifest) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("demo: write manifest: %w", err)
	}
	return nil
}

// Manifest returns the planted anomalies. Every event of an anomaly is
// emitted by Stream, whatever Config.Events is; no other event is part of one.
// Configurations too small to hold them (fewer than 2000 events, 100 patients
// or 2 days) have none.
func (l *Lab) Manifest() Manifest {
	m := Manifest{Config: l.cfg, Anomalies: []Anomaly{}}
	for _, a := range l.anomalies {
		a.Actors = slices.Clone(a.Actors)
		a.MRNs = slices.Clone(a.MRNs)
		a.SourceRefs = slices.Clone(a.SourceRefs)
		m.Anomalies = append(m.Anomalies, a)
	}
	return m
}

// External addresses used by the planted attacks (documentation ranges).
const (
	sprayIP  = "203.0.113.77"
	travelIP = "198.51.100.23"
)

type planner struct {
	l      *Lab
	r      rng
	events []labtrust.Event
	a      Anomaly
}

func (l *Lab) buildAnomalies() {
	cfg := l.cfg
	if cfg.Events < 2000 || cfg.Patients < 100 || cfg.Days < 2 {
		return
	}
	scale := math.Min(1, float64(cfg.Events)/50000)
	plans := []func(p *planner, scale float64) bool{
		planCoworker, planExport, planSpray, planVIP, planNoOrder, planBurst, planTravel,
	}
	for i, plan := range plans {
		p := &planner{l: l, r: newRNG(key(cfg.Seed, tagAnomaly, uint64(i), 0))}
		p.a.ID = fmt.Sprintf("A%d", i+1)
		if !plan(p, scale) || len(p.events) == 0 {
			continue
		}
		slices.SortStableFunc(p.events, func(x, y labtrust.Event) int { return x.Time.Compare(y.Time) })
		first, last := p.events[0].Time, p.events[len(p.events)-1].Time
		if first.Before(cfg.Start) || !last.Before(cfg.End()) {
			continue
		}
		var ref []byte
		for k := range p.events {
			ref = appendSourceRef(ref[:0], l.refKey(anomalyRef(i, k)))
			p.events[k].SourceRef = string(ref)
			p.a.SourceRefs = append(p.a.SourceRefs, p.events[k].SourceRef)
		}
		p.a.From, p.a.To = first, last
		l.anomalies = append(l.anomalies, p.a)
		l.anomEv = append(l.anomEv, p.events...)
	}
	slices.SortStableFunc(l.anomEv, func(x, y labtrust.Event) int { return x.Time.Compare(y.Time) })
}

// at returns the local time at fraction f of the period.
func (p *planner) at(f float64) int64 {
	l := p.l
	return l.startL + int64(f*float64(l.endL-l.startL))
}

// pickStaff returns a staff member matching ok, starting at a random one, or
// -1.
func (p *planner) pickStaff(ok func(*Staff) bool) int {
	n := len(p.l.staff)
	start := p.r.intn(n)
	for i := range n {
		k := (start + i) % n
		if ok(&p.l.staff[k]) {
			return k
		}
	}
	return -1
}

// pickPatients returns n distinct patients matching ok, or fewer if there are
// not enough.
func (p *planner) pickPatients(n int, ok func(traits) bool) []int {
	np := p.l.cfg.Patients
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n && tries < 20*n+np; tries++ {
		i := p.r.intn(np)
		if seen[i] || !ok(p.l.traits(i)) {
			continue
		}
		if _, staff := p.l.staffOfPatient[i]; staff {
			continue
		}
		seen[i] = true
		out = append(out, i)
	}
	return out
}

// nextShift returns the start and end of staff member k's first shift that
// starts at or after t.
func (l *Lab) nextShift(k int, t int64) (start, end int64, ok bool) {
	on := &l.staff[k].onWeek
	h := floorDiv(t+usHour-1, usHour)
	for i := int64(0); i < 24*21; i++ {
		hh := h + i
		if on[hourOfWeek(hh*usHour)] && !on[hourOfWeek((hh-1)*usHour)] {
			e := hh + 1
			for on[hourOfWeek(e*usHour)] && e < hh+168 {
				e++
			}
			return hh * usHour, e * usHour, true
		}
	}
	return 0, 0, false
}

func (p *planner) access(t int64, k int, pats []int, network, source string) *labtrust.Event {
	l := p.l
	st := &l.staff[k]
	if network == "" {
		network = st.IP
	}
	if source == "" {
		source = sourceOf(st.role)
	}
	ev := labtrust.Event{
		Time: l.toTime(t), Source: source, Kind: labtrust.KindAccess, Type: l.shared.patientRecord,
		Subtype: l.shared.read, Action: labtrust.ActionRead, Outcome: labtrust.OutcomeSuccess,
		Actor: st.actor, Network: network, Purpose: l.shared.treat,
	}
	for _, i := range pats {
		mrn := MRN(i)
		ev.Patients = append(ev.Patients, labtrust.PatientRef{System: MRNSystem, ID: mrn})
		if len(pats) == 1 {
			ev.Objects = append(ev.Objects, labtrust.Object{Type: "Patient", ID: "Patient/" + mrn, Role: "patient"})
		}
	}
	p.events = append(p.events, ev)
	p.addMRNs(pats)
	return &p.events[len(p.events)-1]
}

func (p *planner) addMRNs(pats []int) {
	for _, i := range pats {
		if mrn := MRN(i); !slices.Contains(p.a.MRNs, mrn) {
			p.a.MRNs = append(p.a.MRNs, mrn)
		}
	}
}

func (p *planner) login(t int64, actor labtrust.Actor, network, source string, outcome labtrust.Outcome, logout bool) {
	l := p.l
	ev := labtrust.Event{
		Time: l.toTime(t), Source: source, Kind: labtrust.KindSecurity, Type: l.shared.userAuth,
		Subtype: l.shared.login, Action: labtrust.ActionExecute, Outcome: outcome, Actor: actor, Network: network,
	}
	if logout {
		ev.Subtype = l.shared.logout
	}
	p.events = append(p.events, ev)
}

func (p *planner) staffID(k int) string { return p.l.staff[k].ID }

// planCoworker: a staff member opens the record of a coworker at the same
// site who is also a patient, with no order between them.
func planCoworker(p *planner, _ float64) bool {
	l := p.l
	b := p.pickStaff(func(s *Staff) bool { return s.Patient >= 0 })
	if b < 0 {
		return false
	}
	a := p.pickStaff(func(s *Staff) bool {
		return s.Site == l.staff[b].Site && s.Index != b && (s.role == rTech || s.role == rFront || s.role == rPhleb)
	})
	if a < 0 {
		return false
	}
	start, end, ok := l.nextShift(a, p.at(0.2))
	if !ok {
		return false
	}
	t := start + (end-start)/3 + p.r.int64n(30*usMinute)
	pat := l.staff[b].Patient
	ev := p.access(t, a, []int{pat}, "", "")
	ev.Subtype, ev.Action = l.shared.search, labtrust.ActionExecute
	ev.Objects = []labtrust.Object{{Type: "Query", Role: "query", Query: mrnQueryPrefix + MRN(pat)}}
	p.access(t+40*usSecond, a, []int{pat}, "", "")
	ev = p.access(t+95*usSecond, a, []int{pat}, "", "")
	ev.Subtype, ev.Action = l.shared.search, labtrust.ActionExecute
	ev.Objects = []labtrust.Object{{Type: "Query", Role: "query", Query: reportQueryPrefix + MRN(pat)}}
	p.a.Kind = KindCoworkerRecord
	p.a.Actors = []string{p.staffID(a)}
	p.a.Description = fmt.Sprintf("%s %s searched for and opened the record and results of coworker %s "+
		"(a patient of the lab) with no order linking them", l.staff[a].Role, p.staffID(a), p.staffID(b))
	return true
}

// planExport: one billing or IT account logs in at night on a day off and
// exports batches of patient records.
func planExport(p *planner, scale float64) bool {
	l := p.l
	k := p.pickStaff(func(s *Staff) bool { return s.role == rBill || s.role == rIT })
	if k < 0 {
		return false
	}
	st := &l.staff[k]
	day := floorDiv(p.at(0.35), usDay)
	var t int64
	for d := day; ; d++ {
		t = d*usDay + 2*usHour + p.r.int64n(20*usMinute)
		if !st.onWeek[hourOfWeek(t)] && !st.onWeek[hourOfWeek(t+usHour)] && !st.onWeek[hourOfWeek(t-6*usHour)] {
			break
		}
		if d > day+14 {
			return false
		}
	}
	batches := max(2, int(math.Round(10*scale)))
	per := min(25, l.cfg.Patients/20)
	p.login(t, st.actor, st.IP, sourceOf(st.role), labtrust.OutcomeSuccess, false)
	t += 2 * usMinute
	all := p.pickPatients(batches*per, func(tr traits) bool { return !tr.deceased })
	for i := 0; i+per <= len(all); i += per {
		ev := p.access(t, k, all[i:i+per], "", "")
		ev.Type, ev.Subtype, ev.Purpose = l.shared.export, l.shared.operation, l.shared.payment
		ev.Objects = []labtrust.Object{{Type: "Query", Role: "query",
			Query: fmt.Sprintf("Patient/$export?_type=Patient,DiagnosticReport&_count=%d&page=%d", per, i/per+1)}}
		t += 60*usSecond + p.r.int64n(60*usSecond)
	}
	p.login(t+30*usSecond, st.actor, st.IP, sourceOf(st.role), labtrust.OutcomeSuccess, true)
	p.a.Kind = KindAfterHoursExport
	p.a.Actors = []string{st.ID}
	p.a.Network = st.IP
	p.a.Description = fmt.Sprintf("%s account %s logged in around 02:00 lab time outside its schedule and "+
		"exported %d patient records in %d batches", st.Role, st.ID, len(p.a.MRNs), len(all)/per)
	return true
}

var sprayNames = []string{"admin", "administrator", "test", "lab", "labadmin", "frontdesk", "scanner",
	"backup", "guest", "jsmith", "mgarcia", "helpdesk", "root", "support", "training"}

// planSpray: one external address tries one password against many accounts.
func planSpray(p *planner, scale float64) bool {
	l := p.l
	attempts := max(12, int(math.Round(60*scale)))
	t := floorDiv(p.at(0.45), usDay)*usDay + 3*usHour + p.r.int64n(usHour)
	var users []string
	for i := 0; len(users) < attempts; i++ {
		var u string
		if i%3 == 2 {
			u = sprayNames[(i/3)%len(sprayNames)]
			if i/3 >= len(sprayNames) {
				u += fmt.Sprint(i / 3 / len(sprayNames))
			}
		} else {
			u = l.staff[p.r.intn(len(l.staff))].ID
		}
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	for _, u := range users {
		p.login(t, labtrust.Actor{ID: u, UserType: "person"}, sprayIP, "portal", labtrust.OutcomeMinorFailure, false)
		t += 4*usSecond + p.r.int64n(14*usSecond)
	}
	p.a.Kind = KindPasswordSpraying
	p.a.Actors = users
	p.a.Network = sprayIP
	p.a.Description = fmt.Sprintf("%d failed logins against %d different accounts from external address %s "+
		"within minutes", attempts, len(users), sprayIP)
	return true
}

// planVIP: staff with no role in a VIP patient's care open the record.
func planVIP(p *planner, _ float64) bool {
	l := p.l
	vips := p.pickPatients(1, func(tr traits) bool { return tr.vip && tr.active() })
	if len(vips) == 0 {
		return false
	}
	vip := vips[0]
	base := p.at(0.55)
	var who []int
	for _, role := range []int{rBill, rCourier, rIT, rFront} {
		k := p.pickStaff(func(s *Staff) bool {
			return s.role == role && !slices.Contains(who, s.Index) && (role != rFront || s.Site != vip%l.cfg.Sites || l.cfg.Sites == 1)
		})
		if k < 0 {
			continue
		}
		start, end, ok := l.nextShift(k, base+p.r.int64n(usDay))
		if !ok {
			continue
		}
		who = append(who, k)
		p.access(start+usHour+p.r.int64n(max(usHour, end-start-2*usHour)), k, []int{vip}, "", "")
	}
	if len(who) == 0 {
		return false
	}
	p.a.Kind = KindVIPAccess
	for _, k := range who {
		p.a.Actors = append(p.a.Actors, p.staffID(k))
	}
	p.a.Description = fmt.Sprintf("a VIP-flagged patient's record was opened by %d staff members "+
		"(billing, courier, IT, another site's front desk) with no order or role in their care", len(who))
	return true
}

// planNoOrder: a phlebotomist opens records of patients who have no orders
// at all (dormant or deceased), two per shift.
func planNoOrder(p *planner, _ float64) bool {
	l := p.l
	k := p.pickStaff(func(s *Staff) bool { return s.role == rPhleb })
	if k < 0 {
		return false
	}
	pats := p.pickPatients(8, func(tr traits) bool { return !tr.active() })
	if len(pats) < 2 {
		return false
	}
	t := p.at(0.25)
	for i := 0; i < len(pats); i += 2 {
		start, end, ok := l.nextShift(k, t)
		if !ok {
			return false
		}
		a := start + usHour + p.r.int64n(max(usHour, end-start-3*usHour))
		p.access(a, k, pats[i:i+1], "", "")
		if i+1 < len(pats) {
			p.access(a+3*usMinute+p.r.int64n(20*usMinute), k, pats[i+1:i+2], "", "")
		}
		t = end + 1
	}
	p.a.Kind = KindNoOrderAccess
	p.a.Actors = []string{p.staffID(k)}
	p.a.Description = fmt.Sprintf("phlebotomist %s opened %d records of patients with no orders "+
		"(dormant or deceased), across several shifts", p.staffID(k), len(pats))
	return true
}

// planBurst: one account reads hundreds of distinct records within an hour
// of its shift.
func planBurst(p *planner, scale float64) bool {
	l := p.l
	k := p.pickStaff(func(s *Staff) bool { return s.role == rFront })
	if k < 0 {
		return false
	}
	n := min(max(40, int(math.Round(300*scale))), l.cfg.Patients/3)
	pats := p.pickPatients(n, func(traits) bool { return true })
	start, _, ok := l.nextShift(k, p.at(0.65))
	if !ok {
		return false
	}
	t := start + usHour + p.r.int64n(usHour)
	step := 55 * usMinute / int64(len(pats))
	for _, pt := range pats {
		p.access(t, k, []int{pt}, "", "")
		t += step/2 + p.r.int64n(step)
	}
	p.a.Kind = KindBulkReadBurst
	p.a.Actors = []string{p.staffID(k)}
	p.a.Description = fmt.Sprintf("%s %s read %d distinct patient records within one hour",
		l.staff[k].Role, p.staffID(k), len(pats))
	return true
}

// planTravel: a lab tech who logged in on site at the start of a shift logs
// in again 25 minutes later from a foreign address and opens records.
func planTravel(p *planner, _ float64) bool {
	l := p.l
	k := p.pickStaff(func(s *Staff) bool { return s.role == rTech })
	if k < 0 {
		return false
	}
	st := &l.staff[k]
	start, _, ok := l.nextShift(k, p.at(0.6))
	if !ok {
		return false
	}
	t := start + 25*usMinute + p.r.int64n(5*usMinute)
	p.login(t, st.actor, travelIP, "portal", labtrust.OutcomeSuccess, false)
	pats := p.pickPatients(5, func(tr traits) bool { return tr.active() })
	for _, pt := range pats {
		t += usMinute + p.r.int64n(2*usMinute)
		p.access(t, k, []int{pt}, travelIP, "portal")
	}
	p.a.Kind = KindImpossibleTravel
	p.a.Actors = []string{st.ID}
	p.a.Network = travelIP
	p.a.Description = fmt.Sprintf("%s %s logged in from %s (abroad) about 25 minutes after logging in on site, "+
		"then opened %d records", st.Role, st.ID, travelIP, len(pats))
	return true
}
