package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/labtrust/labtrust"
)

// Code systems used in events.
const (
	SystemDCM         = "http://dicom.nema.org/resources/ontology/DCM"
	SystemRESTful     = "http://hl7.org/fhir/restful-interaction"
	SystemActReason   = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	mrnQueryPrefix    = "Patient?identifier=" + MRNSystem + "|"
	reportQueryPrefix = "DiagnosticReport?_sort=-date&subject:Patient.identifier=" + MRNSystem + "|"
)

// sharedCodes are the codings events share. Their slices have len == cap, so
// an append by a consumer copies; consumers must not assign into them.
type sharedCodes struct {
	patientRecord, userAuth, export labtrust.Code
	read, search, create, operation []labtrust.Code
	login, logout                   []labtrust.Code
	treat, payment, operations      []labtrust.Code
}

func one(c labtrust.Code) []labtrust.Code { return []labtrust.Code{c}[:1:1] }

func newSharedCodes() sharedCodes {
	rest := func(code, display string) []labtrust.Code {
		return one(labtrust.Code{System: SystemRESTful, Code: code, Display: display})
	}
	reason := func(code, display string) []labtrust.Code {
		return one(labtrust.Code{System: SystemActReason, Code: code, Display: display})
	}
	return sharedCodes{
		patientRecord: labtrust.Code{System: SystemDCM, Code: "110110", Display: "Patient Record"},
		userAuth:      labtrust.Code{System: SystemDCM, Code: "110114", Display: "User Authentication"},
		export:        labtrust.Code{System: SystemDCM, Code: "110106", Display: "Export"},
		read:          rest("read", "read"),
		search:        rest("search-type", "search type"),
		create:        rest("create", "create"),
		operation:     rest("operation", "operation"),
		login:         one(labtrust.Code{System: SystemDCM, Code: "110122", Display: "Login"}),
		logout:        one(labtrust.Code{System: SystemDCM, Code: "110123", Display: "Logout"}),
		treat:         reason("TREAT", "treatment"),
		payment:       reason("HPAYMT", "healthcare payment"),
		operations:    reason("HOPERAT", "healthcare operations"),
	}
}

// sourceOf is the system a role works in.
func sourceOf(role int) string {
	switch role {
	case rFront, rBill:
		return "ehr"
	case rCourier:
		return "portal"
	}
	return "lis"
}

// Source references are opaque and unique: a packed (kind, coordinates) value
// xor-ed with a seed-derived mask and passed through the mix bijection.
func orderRef(s, step int, j int64) uint64 {
	return uint64(s&0xff)<<52 | uint64(step&0xf)<<48 | uint64(j)&(1<<48-1)
}

func securityRef(staff int, shiftDay int64, shift, kind int) uint64 {
	return 1<<62 | uint64(staff&(1<<24-1))<<34 | uint64(shiftDay&(1<<28-1))<<6 | uint64(shift&0xf)<<2 | uint64(kind&3)
}

func anomalyRef(a, k int) uint64 { return 2<<62 | uint64(a&0xffff)<<32 | uint64(k)&(1<<32-1) }

func (l *Lab) refKey(packed uint64) uint64 {
	return mix(packed ^ key(l.cfg.Seed, tagSourceRef, 0, 0))
}

const hexDigits = "0123456789abcdef"

func appendSourceRef(b []byte, k uint64) []byte {
	b = append(b, "ev-"...)
	for sh := 60; sh >= 0; sh -= 4 {
		b = append(b, hexDigits[(k>>uint(sh))&0xf])
	}
	return b
}

// Security items of one local day.
const (
	secFail = iota
	secLogin
	secLogout
)

type secItem struct {
	t        int64
	shiftDay int64
	staff    int32
	shift    int8
	kind     int8
}

// securityDay appends the logins, failed logins and logouts whose local time
// falls on local day d and not before the period.
func (l *Lab) securityDay(d int64, out []secItem) []secItem {
	out = out[:0]
	lo, hi := max(d*usDay, l.startL), (d+1)*usDay
	for k := range l.staff {
		st := &l.staff[k]
		for sd := d - 1; sd <= d+1; sd++ {
			wd := int(floorMod(sd+4, 7))
			for si, sh := range st.Schedule {
				if int(sh.Day) != wd {
					continue
				}
				r := newRNG(key(l.cfg.Seed, tagShift, uint64(k)<<8|uint64(si), uint64(sd)))
				start := sd*usDay + int64(sh.Start)*usHour
				login := start - r.int64n(8*usMinute)
				fail := login - 5*usSecond - r.int64n(55*usSecond)
				failed := r.chance(0.04)
				logout := start + int64(sh.Hours)*usHour + r.int64n(12*usMinute)
				add := func(t int64, kind int8) {
					if t >= lo && t < hi {
						out = append(out, secItem{t: t, shiftDay: sd, staff: int32(k), shift: int8(si), kind: kind})
					}
				}
				if failed {
					add(fail, secFail)
				}
				add(login, secLogin)
				add(logout, secLogout)
			}
		}
	}
	slices.SortFunc(out, func(a, b secItem) int {
		switch {
		case a.t != b.t:
			return cmpInt(a.t, b.t)
		case a.staff != b.staff:
			return cmpInt(int64(a.staff), int64(b.staff))
		}
		return cmpInt(int64(a.kind), int64(b.kind))
	})
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (l *Lab) countSecurity() int64 {
	var n int64
	var buf []secItem
	for d := floorDiv(l.startL, usDay); d*usDay < l.endL; d++ {
		buf = l.securityDay(d, buf)
		for _, it := range buf {
			if it.t < l.endL {
				n++
			}
		}
	}
	return n
}

// Cursor kinds. Cursors with equal times are ordered by id, which is fixed
// per sub-stream, so the merge is deterministic.
const (
	curOrder = iota
	curSecurity
	curAnomaly
)

type cursor struct {
	t    int64
	id   int
	kind int
	// order sub-streams
	site, step int
	j          int64
	created    int64
	core       orderCore
	// security and anomaly sub-streams
	items []secItem
	pos   int
	day   int64
}

func less(a, b *cursor) bool { return a.t < b.t || (a.t == b.t && a.id < b.id) }

type cursorHeap []*cursor

func (h cursorHeap) down(i int) {
	n := len(h)
	for {
		m := i
		if c := 2*i + 1; c < n && less(h[c], h[m]) {
			m = c
		}
		if c := 2*i + 2; c < n && less(h[c], h[m]) {
			m = c
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h cursorHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// gen holds the per-Stream state: the merge and the buffers events are
// carved from.
type gen struct {
	l    *Lab
	text []byte
	objs []labtrust.Object
	pats []labtrust.PatientRef
}

// Events are handed to emit by value; their slices point into blocks shared
// by neighbouring events and are never written again, so a consumer may keep
// them. Carving them from blocks keeps allocation at a fraction of one per
// event.
const slabSize = 1024

func (g *gen) objects(n int) []labtrust.Object {
	if len(g.objs)+n > cap(g.objs) {
		g.objs = make([]labtrust.Object, 0, slabSize)
	}
	s := len(g.objs)
	g.objs = g.objs[:s+n]
	return g.objs[s : s+n : s+n]
}

func (g *gen) patient() []labtrust.PatientRef {
	if len(g.pats) == cap(g.pats) {
		g.pats = make([]labtrust.PatientRef, 0, slabSize)
	}
	s := len(g.pats)
	g.pats = g.pats[:s+1]
	return g.pats[s : s+1 : s+1]
}

// errShortStream means the generator ran out of sub-streams, which would be a
// bug: the security sub-stream never ends.
var errShortStream = errors.New("demo: stream ended early")

// Stream emits exactly Config.Events events in non-decreasing time order and
// returns nil, or the first error from emit (wrapped) or ctx.
//
// The stream merges three kinds of events:
//   - order steps (KindAccess): each order at a site is looked up and created
//     by the front desk ("ehr"), collected by a phlebotomist, resulted by a lab
//     tech, sometimes delta-checked by the tech, reviewed by a pathologist or
//     picked up by a courier ("portal"), and read by billing; each step is done
//     by someone of the right role on shift at the order's site, and names the
//     patient and the ServiceRequest (Order explains it);
//   - logins and logouts at every shift's start and end, with occasional
//     failed attempts (KindSecurity);
//   - the planted anomalies listed by Manifest, all of which are emitted.
//
// Events fall within [Config.Start, Config.End()) whenever the period can
// hold them; the order rate is calibrated so the stream reaches Config.Events
// shortly before the end. A period too short for the events (say one day with
// every front desk closed) runs on past its end.
//
// Events are a pure function of the Config: every call emits the same events.
// The slices of an emitted event are never modified afterwards, so emit may
// retain the event; the Subtype and Purpose slices are shared between events
// and must not be written to. progress, if not nil, is called every 65536
// events and once at the end with done == total. Memory use does not depend on
// Config.Events or Config.Patients.
func (l *Lab) Stream(ctx context.Context, emit func(labtrust.Event) error, progress func(done, total int64)) error {
	total := l.cfg.Events
	background := total - int64(len(l.anomEv))
	g := &gen{l: l}
	var h cursorHeap
	id := 0
	for s := range l.cfg.Sites {
		if l.orders[s].scale == 0 {
			continue
		}
		for st := range numSteps {
			c := &cursor{id: id, kind: curOrder, site: s, step: st, j: -1}
			id++
			if l.advanceOrder(c) {
				h = append(h, c)
			}
		}
	}
	sec := &cursor{id: id, kind: curSecurity, day: floorDiv(l.startL, usDay) - 1}
	id++
	l.advanceSecurity(sec)
	h = append(h, sec)
	if len(l.anomEv) > 0 {
		h = append(h, &cursor{id: id, kind: curAnomaly, t: l.fromTime(l.anomEv[0].Time)})
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}

	var done int64
	var ev labtrust.Event
	for done < total {
		if len(h) == 0 {
			return errShortStream
		}
		c := h[0]
		if c.kind != curAnomaly && background == 0 {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
			h.down(0)
			continue
		}
		more := true
		switch c.kind {
		case curOrder:
			g.orderEvent(&ev, c)
			more = l.advanceOrder(c)
			background--
		case curSecurity:
			g.securityEvent(&ev, &c.items[c.pos])
			l.advanceSecurity(c)
			background--
		case curAnomaly:
			ev = cloneEvent(l.anomEv[c.pos])
			c.pos++
			if more = c.pos < len(l.anomEv); more {
				c.t = l.fromTime(l.anomEv[c.pos].Time)
			}
		}
		if more {
			h.down(0)
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
			h.down(0)
		}
		if err := emit(ev); err != nil {
			return fmt.Errorf("demo: emit event %d: %w", done+1, err)
		}
		done++
		if done&0xfff == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("demo: stream stopped after %d events: %w", done, err)
			}
			if progress != nil && done&0xffff == 0 {
				progress(done, total)
			}
		}
	}
	if progress != nil {
		progress(done, total)
	}
	return nil
}

func cloneEvent(e labtrust.Event) labtrust.Event {
	e.Patients = slices.Clip(slices.Clone(e.Patients))
	e.Objects = slices.Clip(slices.Clone(e.Objects))
	return e
}

func (l *Lab) advanceOrder(c *cursor) bool {
	so := &l.orders[c.site]
	for {
		c.j++
		c.core = l.core(c.site, c.j)
		if !c.core.has(c.step) {
			continue
		}
		created, ok := so.created(c.j, c.core.u)
		if !ok {
			return false
		}
		c.created = created
		c.t = l.stepTimeFrom(c.site, created, c.step)
		return true
	}
}

func (l *Lab) advanceSecurity(c *cursor) {
	c.pos++
	for c.pos >= len(c.items) {
		c.day++
		c.items = l.securityDay(c.day, c.items)
		c.pos = 0
	}
	c.t = c.items[c.pos].t
}

func (g *gen) securityEvent(ev *labtrust.Event, it *secItem) {
	l := g.l
	st := &l.staff[it.staff]
	g.text = appendSourceRef(g.text[:0], l.refKey(securityRef(int(it.staff), it.shiftDay, int(it.shift), int(it.kind))))
	*ev = labtrust.Event{
		Time:      l.toTime(it.t),
		Source:    sourceOf(st.role),
		Kind:      labtrust.KindSecurity,
		Type:      l.shared.userAuth,
		Subtype:   l.shared.login,
		Action:    labtrust.ActionExecute,
		Outcome:   labtrust.OutcomeSuccess,
		Actor:     st.actor,
		Network:   st.IP,
		SourceRef: string(g.text),
	}
	switch it.kind {
	case secFail:
		ev.Outcome = labtrust.OutcomeMinorFailure
	case secLogout:
		ev.Subtype = l.shared.logout
	}
}

func (g *gen) orderEvent(ev *labtrust.Event, c *cursor) {
	l := g.l
	s, step := c.site, c.step
	d := l.detail(s, &c.core)
	actor := &l.staff[l.stepActor(s, &c.core, step, c.created, c.t)]
	oi := orderIndex(s, c.j, l.cfg.Sites)

	// All strings of the event are cut from one allocation.
	b := appendSourceRef(g.text[:0], l.refKey(orderRef(s, step, c.j)))
	refEnd := len(b)
	b = appendMRN(b, d.patient)
	mrnEnd := len(b)
	b = appendOrderID(b, oi)
	ordEnd := len(b)
	var extraEnd [4]int
	nExtra := 0
	switch step {
	case stSearch:
		b = append(b, mrnQueryPrefix...)
		b = append(b, b[refEnd:mrnEnd]...)
		extraEnd[0], nExtra = len(b), 1
	case stDeltaCheck:
		b = append(b, reportQueryPrefix...)
		b = append(b, b[refEnd:mrnEnd]...)
		extraEnd[0], nExtra = len(b), 1
	case stCollect, stCourier:
		for k := range d.nSpec {
			b = appendSpecimenID(b, oi, k)
			extraEnd[k] = len(b)
		}
		nExtra = d.nSpec
	case stResult, stResultSendOut, stReview:
		b = appendReportID(b, oi)
		extraEnd[0], nExtra = len(b), 1
	}
	g.text = b
	text := string(b)
	extra := func(k int) string {
		from := ordEnd
		if k > 0 {
			from = extraEnd[k-1]
		}
		return text[from:extraEnd[k]]
	}

	pats := g.patient()
	pats[0] = labtrust.PatientRef{System: MRNSystem, ID: text[refEnd:mrnEnd]}
	order := labtrust.Object{Type: "ServiceRequest", ID: text[mrnEnd:ordEnd], Role: "order"}
	*ev = labtrust.Event{
		Time:      l.toTime(c.t),
		Source:    sourceOf(actor.role),
		Kind:      labtrust.KindAccess,
		Type:      l.shared.patientRecord,
		Outcome:   labtrust.OutcomeSuccess,
		Actor:     actor.actor,
		Patients:  pats,
		Network:   actor.IP,
		Purpose:   l.shared.treat,
		SourceRef: text[:refEnd],
	}
	switch step {
	case stSearch, stDeltaCheck:
		ev.Subtype, ev.Action = l.shared.search, labtrust.ActionExecute
		objs := g.objects(2)
		objs[0] = order
		objs[1] = labtrust.Object{Type: "Query", Role: "query", Query: extra(0)}
		ev.Objects = objs
	case stCreate:
		ev.Subtype, ev.Action = l.shared.create, labtrust.ActionCreate
		objs := g.objects(1)
		objs[0] = order
		ev.Objects = objs
	case stCollect, stCourier:
		ev.Subtype, ev.Action = l.shared.create, labtrust.ActionCreate
		if step == stCourier {
			ev.Subtype, ev.Action, ev.Purpose = l.shared.read, labtrust.ActionRead, l.shared.operations
		}
		objs := g.objects(1 + nExtra)
		objs[0] = order
		for k := range nExtra {
			objs[1+k] = labtrust.Object{Type: "Specimen", ID: extra(k), Role: "specimen"}
		}
		ev.Objects = objs
	case stResult, stResultSendOut, stReview:
		ev.Subtype, ev.Action = l.shared.create, labtrust.ActionCreate
		if step == stReview {
			ev.Subtype, ev.Action = l.shared.read, labtrust.ActionRead
		}
		objs := g.objects(2)
		objs[0] = order
		objs[1] = labtrust.Object{Type: "DiagnosticReport", ID: extra(0), Role: "report"}
		ev.Objects = objs
	case stBilling:
		ev.Subtype, ev.Action, ev.Purpose = l.shared.read, labtrust.ActionRead, l.shared.payment
		objs := g.objects(1)
		objs[0] = order
		ev.Objects = objs
	}
}
