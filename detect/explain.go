package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/explain"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/roster"
	"github.com/labtrust/labtrust/sigma"
	"github.com/labtrust/labtrust/store"
)

// UnexplainedRule names alerts for accesses no clinical reason explains.
const UnexplainedRule = "unexplained_access"

// Explain turns on explanation of every access (package explain): an
// access that no order for the patient explains within the grace period
// raises an alert. Turn it on where the sources carry orders (a LIS
// whose audit names the ServiceRequest, say); elsewhere every access
// would be unexplained.
func (e *Engine) Explain(x *explain.Explainer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.explainer = x
	e.volume = nil
	if x != nil {
		e.volume = explain.NewVolume()
	}
}

// VolumeRule names alerts for an hour in which an account opened far more
// records than it and its peers do.
const VolumeRule = "access_volume"

func volumeAlert(b *explain.Burst) labtrust.Alert {
	a := labtrust.Alert{Rule: VolumeRule, Title: "Unusually many patient records opened by one account", Severity: "high",
		Actor: b.Actor, First: b.Time, Last: b.Time, Count: b.Count, Entries: []uint64{b.Index}}
	hour := b.Time.UTC().Truncate(time.Hour)
	role := b.Role
	if role == "" {
		role = "(no role)"
	}
	a.Explanation = fmt.Sprintf("%s (%s) opened the records of %d patients in the hour from %s UTC; its busiest hour before had %d, and %s accounts' 99th percentile hour has %d (threshold %d).",
		b.Actor, role, b.Count, hour.Format("2006-01-02 15:04"), b.Own, role, b.Peer, b.Threshold)
	sum := sha256.Sum256([]byte(VolumeRule + "\x00" + b.Actor + "\x00" + hour.Format(time.RFC3339)))
	a.Key = hex.EncodeToString(sum[:16])
	return a
}

// ExplainStats returns the explainer's counts (zero if off).
func (e *Engine) ExplainStats() explain.Stats {
	e.mu.Lock()
	x := e.explainer
	e.mu.Unlock()
	if x == nil {
		return explain.Stats{}
	}
	return x.Stats()
}

// FlushExplain decides every access still waiting for an explanation (at
// the end of a replay) and raises the unexplained ones.
func (e *Engine) FlushExplain(raise func(labtrust.Alert)) {
	e.mu.Lock()
	x := e.explainer
	e.mu.Unlock()
	if x == nil {
		return
	}
	e.mu.Lock()
	seen := e.onUnexplained
	e.mu.Unlock()
	for _, u := range x.Flush() {
		if seen != nil {
			seen(u)
		}
		raise(unexplainedAlert(u))
	}
}

// OnUnexplained, if set, sees every unexplained access before it becomes
// an alert (evaluation against a demo's manifest uses it).
func (e *Engine) OnUnexplained(fn func(explain.Unexplained)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onUnexplained = fn
}

// Rules of the roster's analytics.
const (
	SelfRule     = "self_access"
	CoworkerRule = "coworker_record"
	OffShiftRule = "off_shift_access"
	VIPRule      = "vip_record"
	DeceasedRule = "deceased_record"
	KinRule      = "kin_record"
)

func unexplainedAlert(u explain.Unexplained) labtrust.Alert {
	a := labtrust.Alert{Rule: UnexplainedRule, Title: "Access to a patient record with no clinical reason", Severity: "medium",
		Actor: u.Actor, First: u.Time, Last: u.Time, Count: 1, Entries: []uint64{u.Index}}
	var b strings.Builder
	switch {
	case u.Self:
		a.Rule, a.Title = SelfRule, "An account opened its own patient record"
		b.WriteString("A staff member opened their own record through a work account; labs ask staff to use the patient portal")
	case u.Coworker != "":
		a.Rule, a.Title, a.Severity = CoworkerRule, "Access to a coworker's record with no clinical reason", "high"
		b.WriteString("An account opened the record of a patient who is a staff member, and no order for that patient explains it: ")
		b.WriteString(u.Why)
	case u.Kin != "":
		what := "family name"
		if u.Kin == "address" {
			what = "home address"
		}
		a.Rule, a.Title, a.Severity = KinRule, "Access to the record of a patient who shares the account's "+what+", with no clinical reason", "high"
		b.WriteString("An account opened the record of a patient who shares its " + what + " (a relative or neighbour, likely), and no order for that patient explains it: ")
		b.WriteString(u.Why)
	case u.VIP:
		a.Rule, a.Title, a.Severity = VIPRule, "Access to a VIP patient's record with no clinical reason", "high"
		b.WriteString("An account opened the record of a patient the lab protects further (VIP), and no order for that patient explains it: ")
		b.WriteString(u.Why)
	case u.Deceased:
		a.Rule, a.Title = DeceasedRule, "Access to a deceased patient's record with no clinical reason"
		b.WriteString("An account opened the record of a deceased patient, and no order for that patient explains it: ")
		b.WriteString(u.Why)
	default:
		b.WriteString("An account opened a patient's record and no order for that patient explains it: ")
		b.WriteString(u.Why)
	}
	b.WriteString(". Seen: ")
	who := u.Actor
	if who == "" {
		who = "an unnamed account"
	}
	b.WriteString(who)
	if u.Role != "" || u.Site != "" {
		fmt.Fprintf(&b, " (%s)", strings.Trim(u.Role+" at "+u.Site, " at"))
	}
	fmt.Fprintf(&b, " on %s.", u.Time.UTC().Format(time.RFC3339))
	a.Explanation = b.String()
	// One open alert per account and rule: its accesses gather there.
	sum := sha256.Sum256([]byte(a.Rule + "\x00" + u.Actor))
	a.Key = hex.EncodeToString(sum[:16])
	return a
}

// WarmExplain teaches the explainer the orders in the stored entries from
// <= index < to, without judging them again (they were, before a restart).
func (e *Engine) WarmExplain(ctx context.Context, st Reader, keys frame.Opener, from, to uint64) error {
	e.mu.Lock()
	x := e.explainer
	e.mu.Unlock()
	if x == nil {
		return nil
	}
	return scan(ctx, st, keys, from, to, x.Summarizer, func(a explain.Access) error {
		x.Learn(a)
		return nil
	})
}

// SetRoster gives detection the staff assignments: staff who are patients
// (their own and coworkers' records) for the explainer, and schedules for
// accesses outside them. Call it after Explain.
func (e *Engine) SetRoster(ro *roster.Roster) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.roster = ro
	if e.explainer != nil && ro != nil {
		mrns := map[string]string{}
		for acct, m := range ro.Members {
			if m.MRN != "" {
				mrns[m.MRN] = acct
			}
		}
		e.explainer.Staff(mrns)
	}
}

// Roster returns the staff assignments in use (nil: none).
func (e *Engine) Roster() *roster.Roster {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.roster
}

// offShiftMargin is how far before or after a shift work still counts as
// on shift (arriving early, staying late).
const offShiftMargin = time.Hour

// offShift reports whether an access happened while its account was off
// shift by the roster.
func offShift(ro *roster.Roster, d *sigma.Doc) bool {
	if ro == nil || first(d, fKind) != string(labtrust.KindAccess) {
		return false
	}
	known, on := ro.OnShift(first(d, fActorID), d.Time, offShiftMargin)
	return known && !on
}

func offShiftAlert(ro *roster.Roster, d *sigma.Doc) labtrust.Alert {
	actor := first(d, fActorID)
	local := d.Time.In(ro.Zone)
	a := labtrust.Alert{Rule: OffShiftRule, Title: "Access to patient data outside the account's schedule", Severity: "medium",
		Actor: actor, First: d.Time, Last: d.Time, Count: 1, Entries: []uint64{d.Ref}}
	if first(d, fTypeCode) == "110106" {
		a.Severity = "high" // an export
	}
	a.Explanation = fmt.Sprintf("%s opened patient data on %s at %s (lab time), more than %s outside every shift the roster gives the account.",
		actor, local.Format("Monday 2006-01-02"), local.Format("15:04"), span(offShiftMargin))
	// One alert per account and lab-local day.
	sum := sha256.Sum256([]byte(OffShiftRule + "\x00" + actor + "\x00" + local.Format("2006-01-02")))
	a.Key = hex.EncodeToString(sum[:16])
	return a
}

// SetFlagged gives detection the registry's VIP and deceased patients and
// the patients who share a staff member's family name or home address
// (kin: blind index -> account -> "surname" or "address"), all by blind
// index, and blind, which computes a patient's blind index (the vault's
// Keyring.Blind, safe on any goroutine). It may be called again with fresh
// flags while detection runs.
func (e *Engine) SetFlagged(blind func(string) []byte, flags map[string]store.Flags, kin map[string]map[string]string) {
	e.mu.Lock()
	x := e.explainer
	e.mu.Unlock()
	if x == nil {
		return
	}
	if len(flags) == 0 && len(kin) == 0 {
		x.Flags(nil)
		return
	}
	x.Flags(func(mrn string) explain.PatientFlags {
		b := string(blind(mrn))
		f := flags[b]
		return explain.PatientFlags{VIP: f.VIP, Deceased: f.Deceased, Kin: kin[b]}
	})
}

// LoadClinical teaches the explainer the imported clinical context of the
// last OrderLife (orders, then their specimens and reports). The explainer
// must be NewBlinded with the blind index the importer used.
func (e *Engine) LoadClinical(ctx context.Context, st interface {
	Clinical(ctx context.Context, since time.Time, fn func(store.ClinicalRow) error) error
}, since time.Time) (int, error) {
	e.mu.Lock()
	x := e.explainer
	e.mu.Unlock()
	if x == nil {
		return 0, nil
	}
	n := 0
	err := st.Clinical(ctx, since, func(r store.ClinicalRow) error {
		addClinical(x, r)
		n++
		return nil
	})
	return n, err
}

// AddClinical teaches the explainer clinical context as it arrives (orders
// and results over MLLP). Safe beside detection.
func (e *Engine) AddClinical(rows []store.ClinicalRow) {
	e.mu.Lock()
	x := e.explainer
	e.mu.Unlock()
	if x == nil {
		return
	}
	for _, r := range rows {
		addClinical(x, r)
	}
}

func addClinical(x *explain.Explainer, r store.ClinicalRow) {
	var k, order, patient explain.Key
	copy(k[:], r.Key)
	copy(order[:], r.Order)
	copy(patient[:], r.Patient)
	if r.Kind == "order" {
		x.AddOrder(k, patient, r.At)
	} else {
		x.AddObject(k, order)
	}
}
