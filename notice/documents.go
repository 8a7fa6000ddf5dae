package notice

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labtrust/labtrust/breach"
)

// Breach is what the public documents say about one breach.
type Breach struct {
	Incident    int64
	Lab         Lab
	Texts       map[string]Text // by language
	Playbooks   []string        // what kind of incident it was
	Discovered  time.Time
	From, To    time.Time // first and last affected access (zero for record sets only)
	Summary     breach.Summary
	Obligations []breach.Obligation
	// Individual notices went out (or will) between these dates.
	NoticeFrom, NoticeTo time.Time
}

// HHSReport holds the fields of the HHS Office for Civil Rights breach
// report (45 CFR 164.408), filled from the incident and its scope; the
// privacy officer copies them into the OCR portal and completes the
// narrative fields.
type HHSReport struct {
	CoveredEntity        string   `json:"coveredEntityName"`
	BreachStart          string   `json:"breachStartDate,omitempty"`
	BreachEnd            string   `json:"breachEndDate,omitempty"`
	DiscoveryDate        string   `json:"discoveryDate"`
	IndividualsAffected  int      `json:"approximateIndividualsAffected"`
	TypeOfBreach         string   `json:"typeOfBreach"`
	Location             string   `json:"locationOfBreachedInformation"`
	PHITypes             []string `json:"typeOfPHIInvolved"`
	IndividualNoticeFrom string   `json:"individualNoticeStartDate,omitempty"`
	IndividualNoticeTo   string   `json:"individualNoticeEndDate,omitempty"`
	SubstituteNotice     bool     `json:"substituteNoticeRequired"`
	MediaNotice          bool     `json:"mediaNoticeRequired"`
	MediaStates          []string `json:"mediaNoticeStates,omitempty"`
	Description          string   `json:"briefDescription"`
	ActionsTaken         string   `json:"actionsTakenInResponse"`
	Citation             string   `json:"citation"`
}

// OCR's categories, by playbook.
var (
	breachTypes = map[string]string{"ransomware": "Hacking/IT Incident", "phishing": "Hacking/IT Incident", "insider": "Unauthorized Access/Disclosure",
		"lost-device": "Loss", "business-associate": "Unauthorized Access/Disclosure", "misdirected": "Unauthorized Access/Disclosure"}
	locations = map[string]string{"ransomware": "Network Server", "phishing": "Email", "insider": "Electronic Medical Record",
		"lost-device": "Laptop", "business-associate": "Network Server", "misdirected": "Other"}
)

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// HHS fills the OCR report's fields.
func (b *Breach) HHS() HHSReport {
	r := HHSReport{CoveredEntity: b.Lab.Name, BreachStart: day(b.From), BreachEnd: day(b.To), DiscoveryDate: day(b.Discovered),
		IndividualsAffected: b.Summary.Patients, TypeOfBreach: "Unknown", Location: "Other",
		IndividualNoticeFrom: day(b.NoticeFrom), IndividualNoticeTo: day(b.NoticeTo),
		Description: b.Texts["en"].What, ActionsTaken: b.Texts["en"].Doing, Citation: "45 CFR 164.408"}
	for _, pb := range b.Playbooks {
		if t, ok := breachTypes[pb]; ok {
			r.TypeOfBreach, r.Location = t, locations[pb]
			break
		}
	}
	cats := map[string]bool{}
	for e := range b.Summary.ByElement {
		switch e {
		case breach.ElementName, breach.ElementAddress, breach.ElementDOB, breach.ElementSSN, breach.ElementContact, breach.ElementMRN,
			breach.ElementDriversLicense, breach.ElementPassport:
			cats["Demographic"] = true
		case breach.ElementFinancialAccount, breach.ElementHealthInsurance:
			cats["Financial"] = true
		case breach.ElementOrders, breach.ElementResults, breach.ElementDiagnoses, breach.ElementMedical:
			cats["Clinical"] = true
		default:
			cats["Other"] = true
		}
	}
	for c := range cats {
		r.PHITypes = append(r.PHITypes, c)
	}
	sort.Strings(r.PHITypes)
	for _, o := range b.Obligations {
		switch {
		case o.Key == "hipaa/substitute" && o.Status == breach.StatusOwed:
			r.SubstituteNotice = true
		case strings.HasPrefix(o.Key, "hipaa/media/") && o.Status == breach.StatusOwed:
			r.MediaNotice = true
			r.MediaStates = append(r.MediaStates, o.Jurisdiction)
		}
	}
	return r
}

// Documents writes the public and regulator documents the obligations
// call for, by file name: the HHS report fields (JSON), the substitute
// notice for the website in English and Spanish (with the toll-free
// number that must stay open 90 days), a media notice per state where
// more than 500 residents are affected, and a packet per state regulator
// owed notice, filled with what its statute asks.
func (b *Breach) Documents() (map[string][]byte, error) {
	out := map[string][]byte{}
	hhs, err := json.MarshalIndent(b.HHS(), "", "  ")
	if err != nil {
		return nil, err
	}
	out["hhs-report.json"] = append(hhs, '\n')
	for _, o := range b.Obligations {
		if o.Key == "hipaa/substitute" {
			for _, lang := range []string{"en", "es"} {
				out["substitute-notice-"+lang+".txt"] = []byte(b.public(lang, true))
			}
		}
		if strings.HasPrefix(o.Key, "hipaa/media/") && o.Status == breach.StatusOwed {
			out["media-notice-"+o.Jurisdiction+".txt"] = []byte(b.media(o))
		}
		if strings.HasSuffix(o.Key, "/regulator") && o.Status == breach.StatusOwed {
			out["regulator-"+o.Jurisdiction+".txt"] = []byte(b.regulator(o))
		}
	}
	return out, nil
}

func (b *Breach) elements(lang string) []string {
	w := wordsFor(lang)
	var es []breach.Element
	for e := range b.Summary.ByElement {
		es = append(es, e)
	}
	slices.SortFunc(es, func(x, y breach.Element) int { return strings.Compare(string(x), string(y)) })
	var out []string
	for _, e := range es {
		if s, ok := w.elements[e]; ok {
			out = append(out, strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(s, "your "), "su "), "sus "))
		}
	}
	return out
}

// public is the substitute notice's text: what happened, what data,
// what to do, how to find out whether one was affected.
func (b *Breach) public(lang string, substitute bool) string {
	w := wordsFor(lang)
	t := b.Texts[lang]
	if t.What == "" {
		t = b.Texts["en"]
	}
	var s strings.Builder
	title := map[string]string{"en": "Notice of a data breach at ", "es": "Aviso de una violación de datos en "}[lang]
	fmt.Fprintf(&s, "%s%s\n\n", title, b.Lab.Name)
	fmt.Fprintf(&s, "%s\n%s\n", w.whatHappened, t.What)
	if !b.From.IsZero() {
		fmt.Fprintf(&s, w.between+"\n", w.date(b.From), w.date(b.To), w.date(b.Discovered))
	} else {
		fmt.Fprintf(&s, w.discoveredOn+"\n", w.date(b.Discovered))
	}
	fmt.Fprintf(&s, "\n%s\n", w.whatInfo)
	for _, e := range b.elements(lang) {
		fmt.Fprintf(&s, "  - %s\n", e)
	}
	fmt.Fprintf(&s, "\n%s\n%s\n\n%s\n", w.whatDoing, t.Doing, w.whatYouCan)
	for _, st := range w.steps {
		fmt.Fprintf(&s, "  - %s\n", st)
	}
	call := map[string]string{
		"en": "To find out whether you were affected, call us toll-free at %s (open for at least 90 days from the posting of this notice)",
		"es": "Para saber si le afectó, llámenos gratis al %s (disponible al menos 90 días desde la publicación de este aviso)"}[lang]
	fmt.Fprintf(&s, "\n"+call, b.Lab.TollFree)
	if b.Lab.PortalURL != "" {
		fmt.Fprintf(&s, map[string]string{"en": ", or look up your notice at %s.", "es": ", o busque su aviso en %s."}[lang], b.Lab.PortalURL)
	} else {
		s.WriteString(".")
	}
	if substitute {
		fmt.Fprintf(&s, "\n\n%s\n", map[string]string{
			"en": "(Substitute notice under 45 CFR 164.404(d)(2): post conspicuously on the home page for 90 days, or publish in major print or broadcast media where the people affected likely live.)",
			"es": "(Aviso sustituto según 45 CFR 164.404(d)(2): publicarlo de forma visible en la página principal durante 90 días, o en medios impresos o de difusión importantes donde probablemente viven las personas afectadas.)"}[lang])
	}
	return s.String()
}

func (b *Breach) media(o breach.Obligation) string {
	var s strings.Builder
	fmt.Fprintf(&s, "FOR IMMEDIATE RELEASE — %s\n\n", b.Lab.Name)
	fmt.Fprintf(&s, "%s is notifying %d residents of %s that their information was involved in a data breach.\n\n", b.Lab.Name, o.Count, o.Jurisdiction)
	s.WriteString(b.public("en", false))
	fmt.Fprintf(&s, "\n\nMedia contact: %s\n\n(Media notice under %s: prominent media outlets serving the state, due %s.)\n",
		joinNonEmpty(b.Lab.TollFree, b.Lab.Email), o.Citation, day(o.Due))
	return s.String()
}

func (b *Breach) regulator(o breach.Obligation) string {
	var s strings.Builder
	fmt.Fprintf(&s, "To: %s\nFrom: %s (%s)\nRe: Notice of a security breach (%s)\nDue: %s\n\n", o.Party, b.Lab.Name,
		strings.Join(b.Lab.Address, ", "), o.Citation, day(o.Due))
	fmt.Fprintf(&s, "Residents of %s affected: %d\nDate of discovery: %s\n", o.Jurisdiction, o.Count, day(b.Discovered))
	if !b.From.IsZero() {
		fmt.Fprintf(&s, "Dates of the breach: %s to %s\n", day(b.From), day(b.To))
	}
	fmt.Fprintf(&s, "Notices to residents: %s to %s, by first-class mail (and email where agreed)\n", day(b.NoticeFrom), day(b.NoticeTo))
	fmt.Fprintf(&s, "\nWhat happened:\n%s\n\nInformation involved: %s\n\nWhat we are doing:\n%s\n", b.Texts["en"].What,
		strings.Join(b.elements("en"), ", "), b.Texts["en"].Doing)
	fmt.Fprintf(&s, "\nContact: %s\n", joinNonEmpty(b.Lab.TollFree, b.Lab.Email, b.Lab.Website))
	if len(o.Content) > 0 {
		s.WriteString("\nThe statute asks this notice to include (check each before sending):\n")
		for _, c := range o.Content {
			fmt.Fprintf(&s, "  [ ] %s\n", c)
		}
	}
	s.WriteString("\nA sample of the notice sent to residents is attached (labtrust notices letter CODE).\n")
	return s.String()
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}
