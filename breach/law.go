package breach

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Element is a category of data a breach can expose. The words follow the
// state statutes' definitions of "personal information" so a law file can
// list which ones, combined with a name, trigger its notice duty.
type Element string

const (
	ElementName             Element = "name"
	ElementAddress          Element = "address"
	ElementDOB              Element = "dob"
	ElementSSN              Element = "ssn"
	ElementDriversLicense   Element = "drivers_license"
	ElementFinancialAccount Element = "financial_account"
	ElementMedical          Element = "medical" // test orders, results, diagnoses
	ElementHealthInsurance  Element = "health_insurance"
	ElementBiometric        Element = "biometric"
	ElementCredentials      Element = "credentials" // user name or email with password
	ElementPassport         Element = "passport"
	ElementTaxID            Element = "tax_id"
	ElementContact          Element = "contact" // phone, email
	ElementMRN              Element = "mrn"
)

var knownElements = []Element{ElementName, ElementAddress, ElementDOB, ElementSSN, ElementDriversLicense,
	ElementFinancialAccount, ElementMedical, ElementHealthInsurance, ElementBiometric, ElementCredentials,
	ElementPassport, ElementTaxID, ElementContact, ElementMRN}

// Known reports whether e is one of the element words.
func (e Element) Known() bool { return slices.Contains(knownElements, e) }

// Date is a calendar date in a law file (YYYY-MM-DD).
type Date struct{ time.Time }

// UnmarshalYAML reads YYYY-MM-DD.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		return fmt.Errorf("line %d: date %q: want YYYY-MM-DD", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

// MarshalYAML writes YYYY-MM-DD.
func (d Date) MarshalYAML() (any, error) { return d.Format(time.DateOnly), nil }

// String is YYYY-MM-DD.
func (d Date) String() string { return d.Format(time.DateOnly) }

// Law is one jurisdiction's breach-notification statute as data: who must be
// told, by when, above which thresholds, with the provision behind each rule.
// Law files are versioned (Version is the date the file was last reviewed
// against the statute); counsel should review them before relying on them.
type Law struct {
	Code      string `yaml:"code"` // USPS code: CA, DC, PR, GU, VI
	Name      string `yaml:"name"`
	Version   Date   `yaml:"version"`
	Statute   string `yaml:"statute"`   // the statute as a whole
	Effective Date   `yaml:"effective"` // when the provisions as encoded took effect
	// Covered lists the elements that, with a name, are "personal
	// information" under the statute.
	Covered         []Element `yaml:"covered"`
	CoveredCitation string    `yaml:"covered_citation"`
	// CoveredExceptHIPAA lists covered elements whose statute does not
	// bind a HIPAA covered entity or business associate (Virginia's
	// medical-information breach law).
	CoveredExceptHIPAA []Element `yaml:"covered_except_hipaa,omitempty"`
	// HarmThreshold: notice is not owed when, after a reasonable
	// investigation, misuse is not reasonably likely.
	HarmThreshold         bool   `yaml:"harm_threshold"`
	HarmThresholdCitation string `yaml:"harm_threshold_citation,omitempty"`
	Individuals           Duty   `yaml:"individuals"`
	Regulator             *Duty  `yaml:"regulator,omitempty"`
	CRA                   *Duty  `yaml:"cra,omitempty"`
	// Content is what the notice to individuals must contain under this law.
	Content         []string `yaml:"content,omitempty"`
	ContentCitation string   `yaml:"content_citation,omitempty"`
	// Letter is the paragraph letters to this state's residents carry
	// for its content rules (its Attorney General's contacts, the right
	// to a police report...), in English and Spanish.
	Letter map[string]string `yaml:"letter,omitempty"`
	// HIPAADeemed: a HIPAA covered entity (or business associate) that
	// notifies under HIPAA is deemed to comply with the duty to individuals.
	HIPAADeemed         bool   `yaml:"hipaa_deemed"`
	HIPAADeemedCitation string `yaml:"hipaa_deemed_citation,omitempty"`
	// RegulatorDespiteHIPAA: the regulator must still be told even when
	// HIPAA compliance is deemed compliance.
	RegulatorDespiteHIPAA bool   `yaml:"regulator_despite_hipaa,omitempty"`
	Notes                 string `yaml:"notes,omitempty"`
}

// Duty is one notice a law requires.
type Duty struct {
	Name string `yaml:"name,omitempty"` // who receives it (the regulator's title)
	// Threshold is the least number of affected residents that triggers
	// the duty (1: any breach).
	Threshold int `yaml:"threshold,omitempty"`
	// HIPAAThreshold, when set, replaces Threshold for a HIPAA entity
	// whose individual notice the state deems compliant (some states
	// want the regulator told of every such breach, whatever its size).
	HIPAAThreshold int `yaml:"hipaa_threshold,omitempty"`
	// HIPAAExempt: the duty does not bind a HIPAA covered entity or
	// business associate (Ohio's consumer-reporting-agency notice).
	HIPAAExempt bool `yaml:"hipaa_exempt,omitempty"`
	// Days is the outer limit counted from discovery; 0 when the law only
	// says "in the most expedient time possible and without unreasonable
	// delay" (HIPAA's 60 days then bind a covered entity).
	Days     int      `yaml:"days"`
	Text     string   `yaml:"text"` // the timing words of the statute
	Citation string   `yaml:"citation"`
	How      string   `yaml:"how,omitempty"`
	Content  []string `yaml:"content,omitempty"`
}

//go:embed laws/*.yaml
var lawFiles embed.FS

// Jurisdictions lists the codes a complete set of laws must cover: the 50
// states, DC, Puerto Rico, Guam and the US Virgin Islands.
var Jurisdictions = []string{"AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "GU", "HI", "IA", "ID",
	"IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ",
	"NM", "NV", "NY", "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VI", "VT", "WA",
	"WI", "WV", "WY"}

// Laws is the set of jurisdictions' laws, by code.
type Laws map[string]*Law

// BuiltinLaws loads the law files shipped in the binary.
func BuiltinLaws() (Laws, error) { return LoadLaws(lawFiles, "laws") }

// LoadLaws reads every *.yaml file in dir of fsys. It refuses unknown keys,
// unknown elements, missing citations and duplicate codes, so a typo in a
// law file is an error rather than a silently missing duty.
func LoadLaws(fsys fs.FS, dir string) (Laws, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("breach: read laws: %w", err)
	}
	laws := Laws{}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("breach: read %s: %w", e.Name(), err)
		}
		l, err := ParseLaw(b)
		if err != nil {
			return nil, fmt.Errorf("breach: %s: %w", e.Name(), err)
		}
		if strings.TrimSuffix(e.Name(), ".yaml") != l.Code {
			return nil, fmt.Errorf("breach: %s holds code %q", e.Name(), l.Code)
		}
		if laws[l.Code] != nil {
			return nil, fmt.Errorf("breach: %s: code %s twice", e.Name(), l.Code)
		}
		laws[l.Code] = l
	}
	return laws, nil
}

// ParseLaw reads and checks one law file.
func ParseLaw(b []byte) (*Law, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var l Law
	if err := dec.Decode(&l); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty law file")
		}
		return nil, err
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return &l, nil
}

func (l *Law) check() error {
	switch {
	case len(l.Code) != 2 || strings.ToUpper(l.Code) != l.Code:
		return fmt.Errorf("code %q: want a two-letter USPS code", l.Code)
	case l.Name == "" || l.Statute == "":
		return errors.New("name and statute are required")
	case l.Version.IsZero() || l.Effective.IsZero():
		return errors.New("version and effective dates are required")
	case len(l.Covered) == 0 || l.CoveredCitation == "":
		return errors.New("covered elements and their citation are required")
	case l.HarmThreshold && l.HarmThresholdCitation == "":
		return errors.New("harm_threshold needs its citation")
	case l.HIPAADeemed && l.HIPAADeemedCitation == "":
		return errors.New("hipaa_deemed needs its citation")
	case len(l.Content) > 0 && l.ContentCitation == "":
		return errors.New("content needs its citation")
	case len(l.Letter) > 0 && (strings.TrimSpace(l.Letter["en"]) == "" || strings.TrimSpace(l.Letter["es"]) == ""):
		return errors.New("letter needs its paragraph in English (en) and Spanish (es)")
	case len(l.Letter) > 0 && len(l.Content) == 0:
		return errors.New("letter carries the content rules: it needs content and content_citation")
	}
	for _, e := range l.Covered {
		if !e.Known() {
			return fmt.Errorf("covered: unknown element %q", e)
		}
	}
	for _, e := range l.CoveredExceptHIPAA {
		if !slices.Contains(l.Covered, e) {
			return fmt.Errorf("covered_except_hipaa: %q is not in covered", e)
		}
	}
	if err := l.Individuals.check("individuals"); err != nil {
		return err
	}
	for name, d := range map[string]*Duty{"regulator": l.Regulator, "cra": l.CRA} {
		if d == nil {
			continue
		}
		if err := d.check(name); err != nil {
			return err
		}
		if d.Threshold < 1 {
			return fmt.Errorf("%s: threshold must be at least 1", name)
		}
	}
	if l.Regulator != nil && l.Regulator.Name == "" {
		return errors.New("regulator: name is required")
	}
	return nil
}

func (d *Duty) check(what string) error {
	switch {
	case d.Citation == "":
		return fmt.Errorf("%s: citation is required", what)
	case d.Text == "":
		return fmt.Errorf("%s: text (the statute's timing words) is required", what)
	case d.Days < 0:
		return fmt.Errorf("%s: days must not be negative", what)
	}
	return nil
}

// Codes lists the laws' codes in order.
func (ls Laws) Codes() []string {
	out := make([]string, 0, len(ls))
	for c := range ls {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Missing lists the jurisdictions without a law file.
func (ls Laws) Missing() []string {
	var out []string
	for _, c := range Jurisdictions {
		if ls[c] == nil {
			out = append(out, c)
		}
	}
	return out
}
