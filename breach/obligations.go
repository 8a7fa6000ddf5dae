package breach

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Entity is what the lab is under HIPAA for this breach.
type Entity string

const (
	EntityCoveredEntity     Entity = "covered-entity"
	EntityBusinessAssociate Entity = "business-associate"
	EntityOther             Entity = "other" // not subject to HIPAA
)

// Delay is a law-enforcement request to delay notice (45 CFR 164.412).
type Delay struct {
	Agency string    `json:"agency"`
	Oral   bool      `json:"oral"` // an oral statement: at most 30 days unless a written one follows
	From   time.Time `json:"from"`
	Until  time.Time `json:"until,omitzero"` // the period a written statement specifies
}

// End is when the delay ends: a written statement's date, or 30 days after
// an oral statement (164.412(b)).
func (d *Delay) End() time.Time {
	if d == nil {
		return time.Time{}
	}
	if d.Oral {
		end := d.From.AddDate(0, 0, 30)
		if !d.Until.IsZero() && d.Until.Before(end) {
			return d.Until
		}
		return end
	}
	return d.Until
}

// Situation is what the obligations follow from.
type Situation struct {
	Discovered time.Time
	Entity     Entity
	// CoveredEntityName is who a business associate reports to.
	CoveredEntityName string
	// NoticeOwed is the HIPAA assessment's outcome (Outcome.Breach).
	NoticeOwed bool
	// Assessed says an assessment was recorded; without one a breach is
	// presumed (164.402(2)).
	Assessed bool
	Patients []Affected
	Delay    *Delay
	// Unreachable counts notices that came back (mail returned, email
	// bounced): those people join the ones without contact information
	// toward substitute notice (164.404(d)(2)).
	Unreachable int
}

// Status says whether an obligation binds.
type Status string

const (
	StatusOwed    Status = "owed"
	StatusDeemed  Status = "deemed"  // satisfied by the HIPAA notice under the state's safe harbour
	StatusExcused Status = "excused" // a risk-of-harm determination may excuse it; document it
	StatusNotOwed Status = "not-owed"
)

// Obligation is one notice someone must receive.
type Obligation struct {
	Key          string    `json:"key"` // stable: "hipaa/individuals", "state/TX/regulator"
	Jurisdiction string    `json:"jurisdiction"`
	Party        string    `json:"party"` // who receives it
	Count        int       `json:"count"` // individuals it concerns
	What         string    `json:"what"`
	Content      []string  `json:"content,omitempty"`
	Status       Status    `json:"status"`
	Due          time.Time `json:"due,omitzero"` // zero: no fixed date
	DueText      string    `json:"dueText"`
	Citation     string    `json:"citation"`
	Basis        string    `json:"basis,omitempty"`
	LawVersion   string    `json:"lawVersion,omitempty"`
	Delayed      bool      `json:"delayed,omitempty"` // moved by a law-enforcement delay
}

func days(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) }

// HIPAA citations.
const (
	citeIndividuals = "45 CFR 164.404(b)"
	citeContent     = "45 CFR 164.404(c)"
	citeSubstitute  = "45 CFR 164.404(d)(2)"
	citeMedia       = "45 CFR 164.406"
	citeHHSNow      = "45 CFR 164.408(b)"
	citeHHSLog      = "45 CFR 164.408(c)"
	citeBA          = "45 CFR 164.410"
	citeDelay       = "45 CFR 164.412"
)

// HIPAAContent is what 164.404(c) requires a notice to contain.
var HIPAAContent = []string{
	"a brief description of what happened, with the date of the breach and the date of discovery, if known",
	"a description of the types of unsecured PHI involved (name, SSN, date of birth, address, diagnosis, results and so on)",
	"any steps individuals should take to protect themselves from potential harm",
	"a brief description of what the lab is doing to investigate, mitigate harm and protect against further breaches",
	"contact procedures: a toll-free telephone number, an email address, website or postal address",
}

// Obligations computes every notice owed, with its deadline counted from
// the discovery date, sorted by deadline.
func Obligations(s Situation, laws Laws) []Obligation {
	var out []Obligation
	hipaa := s.Entity == EntityCoveredEntity || s.Entity == EntityBusinessAssociate
	owed := s.NoticeOwed || !s.Assessed
	n := 0
	d := s.Discovered
	noContact := 0
	byState := map[string][]Affected{}
	residents := map[string]int{}
	for _, p := range s.Patients {
		w := p.weight()
		n += w
		if !p.HasAddress && !p.HasEmail {
			noContact += w
		}
		byState[p.State] = append(byState[p.State], p)
		residents[p.State] += w
	}
	noContact += s.Unreachable
	delayEnd := s.Delay.End()
	due := func(t time.Time) (time.Time, bool) {
		// Notice may not go out during a law-enforcement delay; it is
		// due when the delay ends if that is later (164.412; the state
		// statutes carry the same exception).
		if !delayEnd.IsZero() && delayEnd.After(t) {
			return delayEnd, true
		}
		return t, false
	}
	add := func(o Obligation) {
		if !o.Due.IsZero() && o.Status == StatusOwed {
			o.Due, o.Delayed = due(o.Due)
		}
		out = append(out, o)
	}
	if hipaa && n > 0 {
		st := StatusOwed
		basis := ""
		if !s.Assessed {
			basis = "No risk assessment recorded: a breach is presumed (45 CFR 164.402(2))."
		} else if !s.NoticeOwed {
			st, basis = StatusNotOwed, "The risk assessment shows a low probability of compromise (or an exception applies); keep it as documentation."
		}
		if s.Entity == EntityBusinessAssociate {
			party := "the covered entity"
			if s.CoveredEntityName != "" {
				party = s.CoveredEntityName
			}
			add(Obligation{Key: "hipaa/covered-entity", Jurisdiction: "US", Party: party, Count: n, Status: st, Basis: basis,
				What:    "Notify the covered entity of the breach, identifying each individual affected and giving what it needs for its own notices",
				Content: []string{"the identification of each individual whose unsecured PHI was involved", "any other available information the covered entity must include in its notice"},
				Due:     days(d, 60), DueText: "without unreasonable delay and in no case later than 60 calendar days after discovery", Citation: citeBA})
		} else {
			add(Obligation{Key: "hipaa/individuals", Jurisdiction: "US", Party: "affected individuals", Count: n, Status: st, Basis: basis,
				What:    "Written notice by first-class mail (or email where the individual agreed), to the next of kin or personal representative for a deceased individual, to the parent for a minor",
				Content: HIPAAContent, Due: days(d, 60),
				DueText: "without unreasonable delay and in no case later than 60 calendar days after discovery", Citation: citeIndividuals + "; " + citeContent})
			if noContact >= 10 {
				add(Obligation{Key: "hipaa/substitute", Jurisdiction: "US", Party: "individuals without sufficient contact information", Count: noContact, Status: st, Basis: basis,
					What: "Substitute notice: a conspicuous posting on the home page for 90 days or notice in major print or broadcast media where they likely live, with a toll-free number active for at least 90 days",
					Due:  days(d, 60), DueText: "with the individual notices", Citation: citeSubstitute + "(ii)"})
			} else if noContact > 0 {
				add(Obligation{Key: "hipaa/substitute", Jurisdiction: "US", Party: "individuals without sufficient contact information", Count: noContact, Status: st, Basis: basis,
					What: "Substitute notice by an alternative form of written notice, telephone or other means",
					Due:  days(d, 60), DueText: "with the individual notices", Citation: citeSubstitute + "(i)"})
			}
			states := make([]string, 0, len(byState))
			for c := range byState {
				states = append(states, c)
			}
			sort.Strings(states)
			for _, c := range states {
				if c != "" && residents[c] > 500 {
					name := c
					if l := laws[c]; l != nil {
						name = l.Name
					}
					add(Obligation{Key: "hipaa/media/" + c, Jurisdiction: c, Party: "prominent media outlets serving " + name, Count: residents[c], Status: st, Basis: basis,
						What:    "Media notice (a press release) with the content of the individual notice, because more than 500 residents of the state are affected",
						Content: HIPAAContent, Due: days(d, 60),
						DueText: "without unreasonable delay and in no case later than 60 calendar days after discovery", Citation: citeMedia})
				}
			}
			if n >= 500 {
				add(Obligation{Key: "hipaa/hhs", Jurisdiction: "US", Party: "Secretary of HHS (OCR breach portal)", Count: n, Status: st, Basis: basis,
					What: "Breach report to HHS through the OCR breach portal, because 500 or more individuals are affected",
					Due:  days(d, 60), DueText: "contemporaneously with the individual notices (within 60 days of discovery)", Citation: citeHHSNow})
			} else {
				yearEnd := time.Date(d.Year(), 12, 31, 0, 0, 0, 0, d.Location())
				add(Obligation{Key: "hipaa/hhs", Jurisdiction: "US", Party: "Secretary of HHS (OCR breach portal)", Count: n, Status: st, Basis: basis,
					What: "Log the breach and report it to HHS with the year's breaches affecting fewer than 500 individuals",
					Due:  days(yearEnd, 60), DueText: "within 60 days after the end of the calendar year of discovery", Citation: citeHHSLog})
			}
		}
	}
	codes := make([]string, 0, len(byState))
	for c := range byState {
		if c != "" {
			codes = append(codes, c)
		}
	}
	sort.Strings(codes)
	for _, c := range codes {
		law := laws[c]
		if law == nil {
			continue
		}
		out = append(out, stateObligations(law, byState[c], s, hipaa, owed, due)...)
	}
	if un := residents[""]; un > 0 {
		out = append(out, Obligation{Key: "state/unknown", Jurisdiction: "?", Party: "affected individuals of unknown residence", Count: un, Status: StatusOwed,
			What:    "The registry holds no state of residence for these patients: find it (or notify them as the strictest state requires) before the earliest state deadline",
			DueText: "as the applicable state law requires", Citation: "state law of each individual's residence"})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Status == StatusOwed) != (b.Status == StatusOwed) {
			return a.Status == StatusOwed
		}
		if a.Due.IsZero() != b.Due.IsZero() {
			return !a.Due.IsZero()
		}
		if !a.Due.Equal(b.Due) {
			return a.Due.Before(b.Due)
		}
		return a.Key < b.Key
	})
	return out
}

// StateStatus applies a law's coverage and safe harbour: none when no
// exposed element is covered, deemed when a HIPAA entity's HIPAA notice
// satisfies it, owed otherwise.
func StateStatus(law *Law, elements []Element, hipaa bool) Status {
	covered := false
	for _, e := range LawElements(elements) {
		covered = covered || (slices.Contains(law.Covered, e) && !(hipaa && slices.Contains(law.CoveredExceptHIPAA, e)))
	}
	switch {
	case !covered:
		return StatusNotOwed
	case hipaa && law.HIPAADeemed:
		return StatusDeemed
	}
	return StatusOwed
}

func stateObligations(law *Law, ps []Affected, s Situation, hipaa, hipaaOwed bool, due func(time.Time) (time.Time, bool)) []Obligation {
	// Residents whose exposed elements the statute covers, and how.
	var owed, deemed, all int
	for _, p := range ps {
		all += p.weight()
		switch StateStatus(law, p.Elements, hipaa) {
		case StatusOwed:
			owed += p.weight()
		case StatusDeemed:
			deemed += p.weight()
		}
	}
	counted := owed + deemed
	if counted == 0 {
		return []Obligation{{Key: "state/" + law.Code + "/individuals", Jurisdiction: law.Code, Party: "residents of " + law.Name, Count: all,
			Status: StatusNotOwed, What: "No notice under state law: the data exposed is not personal information under the statute",
			Citation: law.CoveredCitation, LawVersion: law.Version.String(), DueText: "-"}}
	}
	var out []Obligation
	set := func(o Obligation) Obligation {
		o.LawVersion = law.Version.String()
		if !o.Due.IsZero() && o.Status == StatusOwed {
			o.Due, o.Delayed = due(o.Due)
		}
		return o
	}
	hipaaDue := s.Discovered.AddDate(0, 0, 60)
	indDue := func(d Duty) (time.Time, string) {
		switch {
		case d.Days > 0 && hipaa && d.Days > 60:
			return hipaaDue, d.Text + " (HIPAA's 60 days come first)"
		case d.Days > 0:
			return days(s.Discovered, d.Days), d.Text
		case hipaa:
			return hipaaDue, d.Text + " (no fixed limit in the statute; HIPAA's 60 days bind)"
		}
		return time.Time{}, d.Text
	}
	if owed > 0 {
		st, basis := StatusOwed, ""
		if s.Assessed && !hipaaOwed {
			if law.HarmThreshold {
				st, basis = StatusExcused, "The statute excuses notice when misuse is not reasonably likely; the recorded risk assessment supports that (some states require it in writing, kept five years or sent to the regulator)."
			} else {
				basis = "The HIPAA assessment found a low probability of compromise, but this statute has no risk-of-harm exception: notice is still owed."
			}
		}
		t, text := indDue(law.Individuals)
		out = append(out, set(Obligation{Key: "state/" + law.Code + "/individuals", Jurisdiction: law.Code, Party: "residents of " + law.Name,
			Count: owed, Status: st, Basis: basis, What: "Notice to affected residents under " + law.Statute,
			Content: law.Content, Due: t, DueText: text, Citation: joinCite(law.Individuals.Citation, law.ContentCitation)}))
	}
	if deemed > 0 {
		basis := "A HIPAA covered entity that notifies under HIPAA complies with this statute."
		if s.Assessed && !hipaaOwed {
			basis = "HIPAA compliance is deemed compliance, and the HIPAA assessment found no notice owed."
		}
		out = append(out, set(Obligation{Key: "state/" + law.Code + "/individuals-hipaa", Jurisdiction: law.Code, Party: "residents of " + law.Name,
			Count: deemed, Status: StatusDeemed, Basis: basis, What: "Satisfied by the HIPAA individual notice",
			DueText: "with the HIPAA notice", Citation: law.HIPAADeemedCitation}))
	}
	if r := law.Regulator; r != nil && !(hipaa && r.HIPAAExempt) {
		n := owed
		if law.RegulatorDespiteHIPAA {
			n = counted
		}
		threshold := r.Threshold
		if hipaa && law.HIPAADeemed && r.HIPAAThreshold > 0 {
			threshold = r.HIPAAThreshold
		}
		if n > 0 && counted >= threshold {
			st := StatusOwed
			basis := fmt.Sprintf("%d residents affected; the threshold is %d.", counted, threshold)
			if s.Assessed && !hipaaOwed && (law.HarmThreshold || owed == 0) {
				st = StatusExcused
			}
			t, text := time.Time{}, r.Text
			if r.Days > 0 {
				t = days(s.Discovered, r.Days)
			} else if it, _ := indDue(law.Individuals); !it.IsZero() {
				t, text = it, r.Text+" (dated with the individual notices)"
			}
			out = append(out, set(Obligation{Key: "state/" + law.Code + "/regulator", Jurisdiction: law.Code, Party: r.Name, Count: counted,
				Status: st, Basis: basis, What: regulatorWhat(r), Content: r.Content, Due: t, DueText: text, Citation: r.Citation}))
		}
	}
	if c := law.CRA; c != nil && owed >= c.Threshold && !(hipaa && c.HIPAAExempt) {
		st := StatusOwed
		if s.Assessed && !hipaaOwed && law.HarmThreshold {
			st = StatusExcused
		}
		t, text := time.Time{}, c.Text
		if c.Days > 0 {
			t = days(s.Discovered, c.Days)
		} else if it, _ := indDue(law.Individuals); !it.IsZero() {
			t, text = it, c.Text+" (dated with the individual notices)"
		}
		out = append(out, set(Obligation{Key: "state/" + law.Code + "/cra", Jurisdiction: law.Code,
			Party: "nationwide consumer reporting agencies (Equifax, Experian, TransUnion)", Count: owed, Status: st,
			Basis: fmt.Sprintf("%d residents notified; the threshold is %d.", owed, c.Threshold),
			What:  "Notice of the timing, distribution and content of the individual notices", Due: t, DueText: text, Citation: c.Citation}))
	}
	return out
}

func regulatorWhat(r *Duty) string {
	w := "Notice to " + r.Name
	if r.How != "" {
		w += " by " + r.How
	}
	return w
}

func joinCite(a, b string) string {
	if b == "" || b == a {
		return a
	}
	return a + "; " + b
}

// Clock is how long is left until a deadline, for people.
func Clock(due, now time.Time) string {
	if due.IsZero() {
		return "no fixed date"
	}
	left := due.Sub(now)
	if left < 0 {
		d := int((-left).Hours() / 24)
		return fmt.Sprintf("overdue by %d day%s", d, plural(d))
	}
	d := int(left.Hours() / 24)
	if d == 0 {
		h := int(left.Hours())
		return fmt.Sprintf("%d hour%s left", h, plural(h))
	}
	return fmt.Sprintf("%d day%s left", d, plural(d))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Calendar groups owed obligations by due date.
func Calendar(obs []Obligation) [][]Obligation {
	var out [][]Obligation
	for _, o := range obs {
		if o.Status != StatusOwed || o.Due.IsZero() {
			continue
		}
		if k := len(out); k > 0 && out[k-1][0].Due.Equal(o.Due) {
			out[k-1] = append(out[k-1], o)
			continue
		}
		out = append(out, []Obligation{o})
	}
	return out
}

// Elements lists element names for display.
func Elements(es []Element) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = strings.ReplaceAll(string(e), "_", " ")
	}
	return strings.Join(s, ", ")
}
