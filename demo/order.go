package demo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// Steps of an order's workflow. Each (site, step) is one time-ordered
// sub-stream of Stream.
const (
	stSearch        = iota // front desk looks the patient up
	stCreate               // front desk creates the ServiceRequest
	stCollect              // phlebotomist collects the specimens
	stCourier              // courier picks up send-out specimens
	stResult               // lab tech enters the in-house result
	stResultSendOut        // lab tech files the reference lab's result
	stDeltaCheck           // lab tech reads prior results before releasing
	stReview               // pathologist reviews the report
	stBilling              // billing reads the order
	numSteps
)

var stepNames = [numSteps]string{"search", "create", "collect", "courier", "result", "result", "delta-check",
	"review", "billing"}

var stepRole = [numSteps]int{rFront, rFront, rPhleb, rCourier, rTech, rTech, rTech, rPath, rBill}

// Workflow probabilities. Expected events per order follow from them.
const (
	pSendOut = 0.08
	pReview  = 0.20
	pDelta   = 0.30
)

const expectedPerOrder = 1 + 1 + 1 + pSendOut + 1 + (1-pSendOut)*(pDelta+pReview) + 1

// stepProb is the probability that an order has the step.
var stepProb = [numSteps]float64{1, 1, 1, pSendOut, 1 - pSendOut, pSendOut, (1 - pSendOut) * pDelta,
	(1 - pSendOut) * pReview, 1}

// lag is a delay that varies smoothly and randomly with time: knot values in
// [lo, lo+span] seconds every spacing seconds, linearly interpolated. Because
// span < spacing, t+lag(t) and t-lag(t) never decrease as t grows, which keeps
// every sub-stream in time order.
type lag struct {
	lo, span, spacing int64 // seconds
	key               uint64
}

func newLag(k uint64, lo, hi time.Duration) lag {
	lg := lag{lo: int64(lo / time.Second), span: int64((hi - lo) / time.Second), key: k}
	lg.spacing = max(lg.span+60, 1800)
	return lg
}

func (lg *lag) knot(k int64) int64 {
	return lg.lo + int64(mix(lg.key^uint64(k)*golden)%uint64(lg.span+1))
}

func (lg *lag) at(t int64) int64 {
	sp := lg.spacing * usSecond
	k := floorDiv(t, sp)
	dt := t - k*sp
	d0, d1 := lg.knot(k), lg.knot(k+1)
	return d0*usSecond + (d1-d0)*dt/lg.spacing
}

func (l *Lab) buildLags() {
	type rng2 struct{ lo, hi time.Duration }
	ranges := [numSteps]rng2{
		stSearch:        {10 * time.Second, 60 * time.Second},
		stCreate:        {90 * time.Second, 4 * time.Minute},
		stCollect:       {3 * time.Minute, 25 * time.Minute},
		stCourier:       {30 * time.Minute, 3 * time.Hour},
		stResult:        {40 * time.Minute, 4 * time.Hour},
		stResultSendOut: {18 * time.Hour, 40 * time.Hour},
		stDeltaCheck:    {90 * time.Second, 90 * time.Second},
		stReview:        {15 * time.Minute, 3 * time.Hour},
		stBilling:       {10 * time.Hour, 34 * time.Hour},
	}
	l.lags = make([][numSteps]lag, l.cfg.Sites)
	for s := range l.lags {
		for st := range numSteps {
			l.lags[s][st] = newLag(key(l.cfg.Seed, tagLag, uint64(s), uint64(st)), ranges[st].lo, ranges[st].hi)
		}
	}
}

// siteOrders places a site's orders in time: order j is created where the
// cumulative intensity reaches (j+u_j)*scale, u_j in [0,1). Intensity follows
// the front desk's hours, a daily profile and a per-day factor, so creation
// times increase with j and Order(i) needs no replay.
type siteOrders struct {
	bounds []int64   // segment boundaries, local µs
	cum    []float64 // cumulative intensity at each boundary
	cumEnd float64   // cumulative intensity at the end of the period
	scale  float64   // intensity per order; 0 means the site has no orders
	count  int64     // orders created within the period
}

var hourProfile = [24]float64{0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.8, 3.0, 3.4, 3.0, 2.6, 2.2, 1.6, 1.9, 1.7, 1.5, 1.3,
	1.1, 0.8, 0.6, 0.4, 0.4, 0.4, 0.4}

// horizonDays is how far past the period orders are placed, so that a
// stream whose calibration ran short still has orders to emit.
const horizonDays = 35

func (l *Lab) buildSiteOrders(s int) siteOrders {
	var so siteOrders
	horizon := l.endL + horizonDays*usDay
	front := l.cover[s][rFront]
	t := l.startL
	so.bounds = append(so.bounds, t)
	so.cum = append(so.cum, 0)
	for t < horizon {
		next := (floorDiv(t, usHour) + 1) * usHour
		if t < l.endL && next > l.endL {
			next = l.endL
		}
		how := hourOfWeek(t)
		var w float64
		if len(front.on[how]) > 0 {
			day := floorDiv(t, usDay)
			r := newRNG(key(l.cfg.Seed, tagDay, uint64(s), uint64(day)))
			w = hourProfile[how%24] * (0.8 + 0.4*r.float())
			switch how / 24 {
			case int(time.Saturday):
				w *= 0.6
			case int(time.Sunday):
				w *= 0.4
			}
			w *= float64(next-t) / float64(usHour)
		}
		so.bounds = append(so.bounds, next)
		so.cum = append(so.cum, so.cum[len(so.cum)-1]+w)
		if next == l.endL {
			so.cumEnd = so.cum[len(so.cum)-1]
		}
		t = next
	}
	return so
}

// at returns the local time where the cumulative intensity reaches c.
func (so *siteOrders) at(c float64) (int64, bool) {
	n := len(so.cum) - 1
	if !(c < so.cum[n]) || c < 0 {
		return 0, false
	}
	lo, hi := 0, n-1 // find the first segment k with cum[k+1] > c
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if so.cum[m+1] > c {
			hi = m
		} else {
			lo = m + 1
		}
	}
	k := lo
	frac := (c - so.cum[k]) / (so.cum[k+1] - so.cum[k])
	return so.bounds[k] + int64(frac*float64(so.bounds[k+1]-so.bounds[k])), true
}

func (so *siteOrders) created(j int64, u float64) (int64, bool) {
	if so.scale == 0 {
		return 0, false
	}
	return so.at((float64(j) + u) * so.scale)
}

// calibrateOrders sets each site's order rate so that the period holds a
// little more than the events the stream must emit: the stream then stops at
// exactly cfg.Events shortly before the end of the period.
func (l *Lab) calibrateOrders() {
	l.orders = make([]siteOrders, l.cfg.Sites)
	budget := float64(l.cfg.Events) - float64(len(l.anomEv)) - float64(l.secInWin)
	var totalW float64
	for s := range l.orders {
		l.orders[s] = l.buildSiteOrders(s)
		if l.orders[s].cumEnd > 0 {
			totalW += siteWeight(s)
		}
	}
	if budget <= 0 || totalW == 0 {
		return
	}
	margin := 0.004 + 2/math.Sqrt(budget+1)
	const samples = 512
	for s := range l.orders {
		so := &l.orders[s]
		if so.cumEnd == 0 {
			continue
		}
		// The share of an order's expected events that fall inside the
		// period: late steps of late orders fall after it.
		var in float64
		for m := range samples {
			created, _ := so.at((float64(m) + 0.5) / samples * so.cumEnd)
			for st := range numSteps {
				if l.stepTimeFrom(s, created, st) < l.endL {
					in += stepProb[st]
				}
			}
		}
		frac := in / (samples * expectedPerOrder)
		n := budget * siteWeight(s) / totalW / (expectedPerOrder * frac) * (1 + margin)
		if !(n > 0) {
			continue
		}
		so.scale = so.cumEnd / n
	}
	// Small streams vary too much for the margin: count exactly, and add
	// orders until the period holds the budget (the count only grows as
	// orders are added, since every step time grows with creation time).
	if budget <= exactCountBelow {
		for range 64 {
			if float64(l.windowCount()) >= budget {
				break
			}
			for s := range l.orders {
				l.orders[s].scale /= 1.1
			}
		}
	}
	for s := range l.orders {
		so := &l.orders[s]
		if so.scale == 0 {
			continue
		}
		c := int64(so.cumEnd / so.scale)
		for c > 0 && !l.createdBefore(s, c-1, l.endL) {
			c--
		}
		for l.createdBefore(s, c, l.endL) {
			c++
		}
		so.count = c
	}
}

// exactCountBelow is the largest order-event budget calibrateOrders checks
// by counting.
const exactCountBelow = 200_000

// windowCount counts the order events that fall inside the period.
func (l *Lab) windowCount() int64 {
	var n int64
	for s := range l.orders {
		so := &l.orders[s]
		if so.scale == 0 {
			continue
		}
		for j := int64(0); ; j++ {
			c := l.core(s, j)
			created, ok := so.created(j, c.u)
			if !ok || created >= l.endL {
				break
			}
			for st := range numSteps {
				if c.has(st) && l.stepTimeFrom(s, created, st) < l.endL {
					n++
				}
			}
		}
	}
	return n
}

func (l *Lab) createdBefore(s int, j int64, t int64) bool {
	c := l.core(s, j)
	at, ok := l.orders[s].created(j, c.u)
	return ok && at < t
}

// orderCore is what the stream needs to know about order j of a site to
// place its steps.
type orderCore struct {
	key                  uint64
	u                    float64
	sendOut, review, dlt bool
}

func (l *Lab) core(s int, j int64) orderCore {
	k := key(l.cfg.Seed, tagOrder, uint64(s), uint64(j))
	r := newRNG(k)
	c := orderCore{key: k, u: r.float()}
	c.sendOut = r.chance(pSendOut)
	if !c.sendOut {
		c.review = r.chance(pReview)
		c.dlt = r.chance(pDelta)
	}
	return c
}

func (c *orderCore) has(step int) bool {
	switch step {
	case stCourier, stResultSendOut:
		return c.sendOut
	case stResult:
		return !c.sendOut
	case stDeltaCheck:
		return c.dlt
	case stReview:
		return c.review
	}
	return true
}

// stepTimeFrom is the local time of a step of an order created at created.
// For a fixed step it never decreases as created grows.
func (l *Lab) stepTimeFrom(s int, created int64, step int) int64 {
	lg := &l.lags[s]
	cv := &l.cover[s]
	switch step {
	case stSearch:
		return created + lg[stSearch].at(created)
	case stCreate:
		return created + lg[stCreate].at(created)
	case stBilling:
		return cv[rBill].warp(created + lg[stBilling].at(created))
	}
	collect := cv[rPhleb].warp(created + lg[stCollect].at(created))
	switch step {
	case stCollect:
		return collect
	case stCourier:
		return cv[rCourier].warp(collect + lg[stCourier].at(collect))
	case stResultSendOut:
		return cv[rTech].warp(collect + lg[stResultSendOut].at(collect))
	}
	result := cv[rTech].warp(collect + lg[stResult].at(collect))
	switch step {
	case stResult:
		return result
	case stDeltaCheck:
		// Before release, on the same bench session as the result.
		return result - lg[stDeltaCheck].lo*usSecond
	}
	return cv[rPath].warp(result + lg[stReview].at(result))
}

// stepActor picks the staff member doing a step at local time t of an order
// created at created.
func (l *Lab) stepActor(s int, c *orderCore, step int, created, t int64) int {
	switch step {
	case stDeltaCheck:
		// The tech who releases the result checks the history.
		step, t = stResult, t+l.lags[s][stDeltaCheck].lo*usSecond
	case stSearch:
		// The clerk who creates the order looked the patient up.
		step, t = stCreate, l.stepTimeFrom(s, created, stCreate)
	}
	return l.cover[s][stepRole[step]].actor(t, mix(c.key+uint64(step)))
}

// orderDetail is the content of an order: patient, tests and containers.
type orderDetail struct {
	patient   int
	tests     [4]int8
	nTests    int
	specimens [4]int8 // index into tests of the first test of each container
	nSpec     int
}

// testGroups splits the test list by how an order uses it.
type testGroups struct {
	routine, review, sendOut []int
	routineWeights           []float64
}

var groups = func() testGroups {
	var g testGroups
	for i, t := range tests {
		switch {
		case t.review:
			g.review = append(g.review, i)
		case t.sendOut:
			g.sendOut = append(g.sendOut, i)
		default:
			g.routine = append(g.routine, i)
			g.routineWeights = append(g.routineWeights, t.weight)
		}
	}
	return g
}()

func (l *Lab) detail(s int, c *orderCore) orderDetail {
	r := newRNG(mix(c.key ^ 0x5bd1e995))
	var d orderDetail
	d.patient = l.orderPatient(s, &r)
	n := 1
	if x := r.float(); x < 0.2 {
		n = 3
	} else if x < 0.5 {
		n = 2
	}
	add := func(t int) {
		for i := range d.nTests {
			if int(d.tests[i]) == t {
				return
			}
		}
		d.tests[d.nTests] = int8(t)
		d.nTests++
	}
	if c.sendOut {
		add(pick(&r, groups.sendOut))
	}
	if c.review && r.chance(0.5) {
		add(pick(&r, groups.review))
	}
	for d.nTests < n {
		add(groups.routine[weighted(&r, groups.routineWeights)])
		if r.chance(0.3) {
			break
		}
	}
	for i := range d.nTests {
		seen := false
		for k := range d.nSpec {
			if tests[d.specimens[k]].container == tests[d.tests[i]].container {
				seen = true
			}
		}
		if !seen {
			d.specimens[d.nSpec] = d.tests[i]
			d.nSpec++
		}
	}
	return d
}

// orderPatient picks the patient of an order: mostly patients who live near
// the site, with a core of frequent patients, never dormant or deceased ones.
func (l *Lab) orderPatient(s int, r *rng) int {
	np, ns := l.cfg.Patients, l.cfg.Sites
	var p int
	if r.chance(0.3) {
		p = r.intn(max(1, np/10))
	} else {
		p = r.intn(np)
	}
	if ns > 1 && r.chance(0.85) {
		p = p - p%ns + s
		if p >= np {
			p = s
		}
	}
	step := ns
	if step >= np {
		step = 1
	}
	for range np {
		if p < np && l.traits(p).active() {
			return p
		}
		p = (p + step) % np
	}
	return s % np // always active, see traits
}

// Test is a LOINC-coded test.
type Test struct {
	Code    string `json:"code"` // LOINC
	Display string `json:"display"`
}

// Specimen is one collected container.
type Specimen struct {
	ID        string `json:"id"`
	Container string `json:"container"`
}

// Step is one event of an order's workflow, as Stream emits it.
type Step struct {
	Name      string    `json:"name"` // search, create, collect, courier, result, delta-check, review, billing
	Role      Role      `json:"role"`
	Actor     string    `json:"actor"` // staff ID
	Time      time.Time `json:"time"`
	SourceRef string    `json:"sourceRef"`
}

// Order is a laboratory order with its specimens and the steps of its
// workflow. Every access event of the background stream is a step of exactly
// one order and names its ServiceRequest, so an access can be explained by
// looking the order up.
type Order struct {
	Index     int        `json:"index"`
	ID        string     `json:"id"` // ServiceRequest id, e.g. "ORD000000042"
	Site      int        `json:"site"`
	Patient   int        `json:"patient"`
	MRN       string     `json:"mrn"`
	Created   time.Time  `json:"created"`
	Tests     []Test     `json:"tests"`
	Specimens []Specimen `json:"specimens"`
	Report    string     `json:"report"` // DiagnosticReport id
	SendOut   bool       `json:"sendOut"`
	Review    bool       `json:"review"`
	// Steps lists the workflow events in time order, including those after
	// the period or after the stream reached Config.Events (which Stream
	// does not emit).
	Steps []Step `json:"steps"`
}

// Orders returns a bound on order indices: every order created within the
// period has an index below it. Sites differ in size, so some indices below
// the bound belong to no order (Order returns ErrNotFound for them).
func (l *Lab) Orders() int {
	var m int64
	for _, so := range l.orders {
		m = max(m, so.count)
	}
	return int(m) * l.cfg.Sites
}

func orderIndex(s int, j int64, sites int) int { return int(j)*sites + s }

// Order returns order i. It returns labtrust.ErrNotFound when the index names
// no order (the site has no orders that far; orders a little past the period
// exist so that every event Stream emits can be explained).
func (l *Lab) Order(i int) (Order, error) {
	if i < 0 {
		return Order{}, fmt.Errorf("order %d: %w", i, labtrust.ErrNotFound)
	}
	s, j := i%l.cfg.Sites, int64(i/l.cfg.Sites)
	c := l.core(s, j)
	created, ok := l.orders[s].created(j, c.u)
	if !ok {
		return Order{}, fmt.Errorf("order %d: %w", i, labtrust.ErrNotFound)
	}
	d := l.detail(s, &c)
	o := Order{Index: i, ID: string(appendOrderID(nil, i)), Site: s, Patient: d.patient, MRN: MRN(d.patient),
		Created: l.toTime(created), Report: string(appendReportID(nil, i)), SendOut: c.sendOut, Review: c.review}
	for k := range d.nTests {
		t := tests[d.tests[k]]
		o.Tests = append(o.Tests, Test{Code: t.code, Display: t.display})
	}
	for k := range d.nSpec {
		o.Specimens = append(o.Specimens, Specimen{ID: string(appendSpecimenID(nil, i, k)),
			Container: tests[d.specimens[k]].container})
	}
	var ref []byte
	for st := range numSteps {
		if !c.has(st) {
			continue
		}
		t := l.stepTimeFrom(s, created, st)
		a := l.stepActor(s, &c, st, created, t)
		ref = appendSourceRef(ref[:0], l.refKey(orderRef(s, st, j)))
		o.Steps = append(o.Steps, Step{Name: stepNames[st], Role: roles[stepRole[st]], Actor: l.staff[a].ID,
			Time: l.toTime(t), SourceRef: string(ref)})
	}
	sortSteps(o.Steps)
	return o, nil
}

func sortSteps(st []Step) {
	for i := 1; i < len(st); i++ {
		for k := i; k > 0 && st[k].Time.Before(st[k-1].Time); k-- {
			st[k], st[k-1] = st[k-1], st[k]
		}
	}
}

// OrderIndex parses an order, specimen or report id back to the order index.
func (l *Lab) OrderIndex(id string) (int, error) {
	var digits string
	switch {
	case strings.HasPrefix(id, "ORD"), strings.HasPrefix(id, "SPC"):
		digits = id[3:]
	case strings.HasPrefix(id, "DR"):
		digits = id[2:]
	default:
		return 0, fmt.Errorf("order id: %w", labtrust.ErrNotFound)
	}
	if len(digits) > 9 && digits[9] == '-' && strings.HasPrefix(id, "SPC") {
		digits = digits[:9]
	}
	v, err := strconv.ParseUint(digits, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("order id: %w", labtrust.ErrNotFound)
	}
	if _, err := l.Order(int(v)); err != nil {
		return 0, err
	}
	return int(v), nil
}

func appendOrderID(b []byte, i int) []byte  { return appendPadded(append(b, "ORD"...), uint64(i), 9) }
func appendReportID(b []byte, i int) []byte { return appendPadded(append(b, "DR"...), uint64(i), 9) }
func appendSpecimenID(b []byte, i, k int) []byte {
	b = appendPadded(append(b, "SPC"...), uint64(i), 9)
	return append(b, '-', byte('1'+k))
}
