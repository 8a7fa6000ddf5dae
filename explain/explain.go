// Package explain decides, for each access to patient data, whether a
// clinical reason explains it (explanation-based auditing, after Fabbri
// and LeFevre): an order for that patient that the access is part of. Most
// accesses in a lab are explained this way; the rest are what a privacy
// officer should look at.
//
// The orders come from the events themselves: an access that creates a
// ServiceRequest establishes the order for its patient, and the specimens
// and reports seen with it join the order. An access is explained when it
// refers to an order (or a specimen or report of one) of the same patient.
// A record is often opened just before its order is created (the front
// desk looks the patient up first), so an access with no explanation
// waits a grace period for one before it is called unexplained.
//
// Patient and object identifiers are kept only as keyed hashes under a key
// made at start and never stored: the state holds no identifier in clear.
package explain

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labtrust/labtrust"
)

// Key is a keyed hash of an identifier: the explainer's state holds
// nothing else.
type Key = [16]byte

type key = Key

type orderT struct {
	patient key
	created time.Time
}

// Access is one access to patient data, reduced to what explaining it
// needs (Summarize makes it, on any goroutine).
type Access struct {
	Index   uint64
	Ref     string // the source's own record id (for evaluation against a manifest)
	Time    time.Time
	Actor   string
	Role    string
	Site    string
	Creates bool  // it creates a ServiceRequest
	Orders  []key // ServiceRequests it names
	Others  []key // specimens and reports it names
	Patient []key
	// Self is set when the account opened its own record (it is a
	// patient too); Coworker names the staff account whose record it is,
	// when the patient is another staff member.
	Self     bool
	Coworker string
	// VIP and Deceased are the registry's flags of a patient it names.
	VIP, Deceased bool
	// Kin is set when a patient it names shares the account's family name
	// or home address.
	Kin string // "surname" or "address"
}

// PatientFlags is what the registry says about a patient without opening
// the record.
type PatientFlags struct {
	VIP, Deceased bool
	// Kin lists the staff accounts whose family name (or home address)
	// the patient shares, with which.
	Kin map[string]string
}

// Unexplained is an access no reason explained within the grace period,
// or one that needs none to be questioned (an account opening its own
// record).
type Unexplained struct {
	Access
	Why string // what was missing, for the alert
}

// Stats counts what the explainer decided.
type Stats struct {
	Accesses    int64            `json:"accesses"`
	Explained   int64            `json:"explained"`
	Unexplained int64            `json:"unexplained"`
	ByReason    map[string]int64 `json:"byReason"`
}

// Explainer keeps the orders and the accesses waiting for an explanation.
// It is not safe for concurrent Observe calls; Summarize is.
type Explainer struct {
	// Grace is how long an unexplained access waits for its order
	// (default 1 hour).
	Grace time.Duration
	// OrderLife is how long an order explains accesses after it was
	// created (default 180 days: results are read, billed and reviewed
	// long after).
	OrderLife time.Duration

	blind     func(string) []byte
	perWorker func() func(string) []byte
	mu        sync.Mutex      // orders, objects, pending: clinical context may arrive from other goroutines
	orders    map[key]*orderT // order key -> order
	objects   map[key]key     // specimen or report key -> order key
	staff     map[key]string  // patient key of a staff member -> their account
	flag      atomic.Pointer[func(mrn string) PatientFlags]
	pending   []Unexplained // in time order
	now       time.Time
	swept     time.Time
	stats     Stats
}

// New returns an Explainer with a fresh hashing key, known to no one
// else: for replays and tests.
func New() *Explainer {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("explain: no randomness: " + err.Error())
	}
	perWorker := func() func(string) []byte {
		m := hmac.New(sha256.New, k)
		return func(s string) []byte {
			m.Reset()
			m.Write([]byte(s))
			return m.Sum(nil)
		}
	}
	return NewBlinded(func(s string) []byte { return perWorker()(s) }, perWorker)
}

// NewBlinded returns an Explainer hashing identifiers with blind (the
// vault's blind index, safe on any goroutine), so the clinical context
// imported and stored under the same key can be loaded into it. perWorker,
// if set, makes the same function with its own reusable state (the vault's
// Blinder), for Summarizer: hashing every identifier of every access is
// detection's main cost here.
func NewBlinded(blind func(string) []byte, perWorker func() func(string) []byte) *Explainer {
	return &Explainer{blind: blind, perWorker: perWorker, orders: map[key]*orderT{}, objects: map[key]key{},
		staff: map[key]string{}, stats: Stats{ByReason: map[string]int64{}}}
}

// Summarizer returns Summarize for one goroutine, with its own hashing
// state.
func (x *Explainer) Summarizer() func(*labtrust.Entry) (Access, bool) {
	if x.perWorker == nil {
		return x.Summarize
	}
	b := x.perWorker()
	return func(en *labtrust.Entry) (Access, bool) { return x.summarize(en, b) }
}

// Key hashes an identifier of a kind ("patient", "order", "object") as
// the explainer does.
func (x *Explainer) Key(kind, v string) Key { return x.hash(kind, v) }

// AddOrder teaches the explainer an order from the clinical context
// (imported ServiceRequests and ORM messages).
func (x *Explainer) AddOrder(order, patient Key, created time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if o := x.orders[order]; o == nil || created.Before(o.created) {
		x.orders[order] = &orderT{patient: patient, created: created}
	}
}

// AddObject ties a specimen or report to its order.
func (x *Explainer) AddObject(object, order Key) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.objects[object] = order
}

// Staff tells the explainer which patients are staff members: MRN ->
// account. Call it before the first Summarize.
func (x *Explainer) Staff(mrns map[string]string) {
	staff := make(map[key]string, len(mrns))
	for mrn, acct := range mrns {
		staff[x.hash("patient", mrn)] = acct
	}
	x.staff = staff
}

// Flags sets how to learn a patient's registry flags from their MRN (nil:
// not at all). It may change while accesses are summarized.
func (x *Explainer) Flags(fn func(mrn string) PatientFlags) {
	if fn == nil {
		x.flag.Store(nil)
		return
	}
	x.flag.Store(&fn)
}

func (x *Explainer) hash(kind, v string) key { return Blinded(x.blind, kind, v) }

// Blinded is how an Explainer made by NewBlinded(blind) hashes an
// identifier of a kind: what an importer stores so the explainer can load
// it.
func Blinded(blind func(string) []byte, kind, v string) Key {
	var k Key
	copy(k[:], blind(kind+"\x00"+strings.TrimSpace(v)))
	return k
}

func (x *Explainer) grace() time.Duration {
	if x.Grace > 0 {
		return x.Grace
	}
	return time.Hour
}

func (x *Explainer) life() time.Duration {
	if x.OrderLife > 0 {
		return x.OrderLife
	}
	return 180 * 24 * time.Hour
}

// Summarize reduces an entry to an Access, or reports false for an event
// that is not an access to patient data. Safe on any goroutine.
func (x *Explainer) Summarize(en *labtrust.Entry) (Access, bool) { return x.summarize(en, x.blind) }

func (x *Explainer) summarize(en *labtrust.Entry, blind func(string) []byte) (Access, bool) {
	e := &en.Event
	if e.Kind != labtrust.KindAccess || len(e.Patients) == 0 {
		return Access{}, false
	}
	sum := func(kind, v string) key { return Blinded(blind, kind, v) }
	a := Access{Index: en.Index, Ref: e.SourceRef, Time: e.Time, Actor: e.Actor.ID, Role: e.Actor.Role, Site: e.Actor.Site}
	flag := x.flag.Load()
	for _, p := range e.Patients {
		if flag != nil {
			f := (*flag)(p.ID)
			a.VIP, a.Deceased = a.VIP || f.VIP, a.Deceased || f.Deceased
			if how, ok := f.Kin[a.Actor]; ok && (a.Kin == "" || how == "address") {
				a.Kin = how
			}
		}
		k := sum("patient", p.ID)
		a.Patient = append(a.Patient, k)
		if acct, ok := x.staff[k]; ok {
			if acct == a.Actor {
				a.Self = true
			} else {
				a.Coworker = acct
			}
		}
	}
	for _, o := range e.Objects {
		switch {
		case o.ID == "":
		case o.Type == "ServiceRequest" || o.Role == "order":
			a.Orders = append(a.Orders, sum("order", o.ID))
		case o.Type == "Specimen" || o.Type == "DiagnosticReport" || o.Type == "Observation":
			a.Others = append(a.Others, sum("object", o.ID))
		}
	}
	a.Creates = e.Action == labtrust.ActionCreate && len(a.Orders) > 0 && len(a.Others) == 0
	return a, true
}

// Observe takes the next access (in time order, about) and returns the
// accesses whose grace period ran out unexplained.
func (x *Explainer) Observe(a Access) []Unexplained {
	x.mu.Lock()
	defer x.mu.Unlock()
	if a.Time.After(x.now) {
		x.now = a.Time
	}
	x.stats.Accesses++
	var out []Unexplained
	if a.Self {
		// Looking at one's own record through work systems is questioned
		// whatever explains it (labs route it through the patient portal).
		out = append(out, Unexplained{Access: a, Why: "the account opened its own record"})
	}
	if a.Creates {
		// Creating the order is its own reason; the order now explains
		// the accesses that name it.
		x.orders[a.Orders[0]] = &orderT{patient: a.Patient[0], created: a.Time}
		x.explained("creates the order")
	} else if reason, ok := x.explain(a); ok {
		x.explained(reason)
	} else if a.Self {
		x.stats.Unexplained++ // questioned already, as the account's own record
	} else {
		x.pending = append(x.pending, Unexplained{Access: a})
	}
	if x.now.Sub(x.swept) > 24*time.Hour {
		x.sweep()
	}
	return append(out, x.expire(x.now.Add(-x.grace()))...)
}

// sweep forgets orders too old to explain anything, so memory follows
// the orders of the last OrderLife, not all time.
func (x *Explainer) sweep() {
	x.swept = x.now
	for k, o := range x.orders {
		if x.now.Sub(o.created) > x.life() {
			delete(x.orders, k)
		}
	}
	for k, ok := range x.objects {
		if x.orders[ok] == nil {
			delete(x.objects, k)
		}
	}
}

// Learn takes an access that was already judged (before a restart): it
// only teaches the explainer its orders.
func (x *Explainer) Learn(a Access) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if a.Time.After(x.now) {
		x.now = a.Time
	}
	if a.Creates {
		x.orders[a.Orders[0]] = &orderT{patient: a.Patient[0], created: a.Time}
		return
	}
	x.explain(a) // joins its specimens and reports to their order
}

// Flush decides every waiting access now (at the end of a replay).
func (x *Explainer) Flush() []Unexplained {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.expire(x.now.Add(time.Hour * 24 * 365 * 100))
}

// Stats returns the counts so far.
func (x *Explainer) Stats() Stats {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.stats
	s.ByReason = map[string]int64{}
	for k, v := range x.stats.ByReason {
		s.ByReason[k] = v
	}
	return s
}

func (x *Explainer) explained(reason string) {
	x.stats.Explained++
	x.stats.ByReason[reason]++
}

// explain finds an order of the access's patient that it names.
func (x *Explainer) explain(a Access) (string, bool) {
	for _, ok := range a.Orders {
		if o := x.orders[ok]; o != nil && x.current(o, a) {
			// Specimens and reports named with the order join it.
			for _, k := range a.Others {
				x.objects[k] = ok
			}
			return "part of an order for the patient", true
		}
	}
	for _, k := range a.Others {
		if ok, found := x.objects[k]; found {
			if o := x.orders[ok]; o != nil && x.current(o, a) {
				return "a specimen or report of an order for the patient", true
			}
		}
	}
	return "", false
}

func (x *Explainer) current(o *orderT, a Access) bool {
	if a.Time.Sub(o.created) > x.life() {
		return false
	}
	for _, p := range a.Patient {
		if p == o.patient {
			return true
		}
	}
	return false
}

// expire decides the waiting accesses from before cutoff: explained now
// (their order came after them), or unexplained.
func (x *Explainer) expire(cutoff time.Time) []Unexplained {
	var out []Unexplained
	n := 0
	for n < len(x.pending) && x.pending[n].Time.Before(cutoff) {
		p := x.pending[n]
		n++
		if reason, ok := x.explain(p.Access); ok {
			x.explained(reason + " (created after the access)")
			continue
		}
		x.stats.Unexplained++
		p.Why = "no order, specimen or result links the account to the patient"
		if len(p.Orders) > 0 {
			p.Why = "it names an order that is not the patient's or that no one created"
		}
		if p.Coworker != "" {
			p.Why += "; the patient is a coworker (staff account " + p.Coworker + ")"
		}
		out = append(out, p)
	}
	x.pending = append(x.pending[:0], x.pending[n:]...)
	return out
}
