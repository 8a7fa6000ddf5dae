package demo

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// Patient is a synthetic patient. It is computed from (seed, index) each time
// it is asked for; nothing is stored.
type Patient struct {
	Index     int      `json:"index"`
	MRN       string   `json:"mrn"`
	Given     string   `json:"given"`
	Family    string   `json:"family"`
	Sex       string   `json:"sex"`       // "female" or "male"
	BirthDate string   `json:"birthDate"` // YYYY-MM-DD
	Address   Address  `json:"address"`
	Phone     string   `json:"phone"`
	Email     string   `json:"email"`
	Language  string   `json:"language"` // "en" or "es"
	Guardian  *Contact `json:"guardian,omitempty"`
	// Minor is true when the patient is under 18 at the start of the period;
	// minors have a Guardian.
	Minor        bool   `json:"minor"`
	Deceased     bool   `json:"deceased"`
	DeceasedDate string `json:"deceasedDate,omitempty"`
	VIP          bool   `json:"vip"`
	// Dormant patients have a record but no orders in the period (moved
	// away, records migrated from an earlier system). Neither dormant nor
	// deceased patients ever get orders.
	Dormant bool `json:"dormant"`
	// StaffID is set when the patient is also a staff member.
	StaffID  string `json:"staffId,omitempty"`
	HomeSite int    `json:"homeSite"`
}

// Address is a postal address.
type Address struct {
	Line       string `json:"line"`
	City       string `json:"city"`
	State      string `json:"state"`
	PostalCode string `json:"postalCode"`
}

// Contact is a guardian or other related person.
type Contact struct {
	Name         string `json:"name"`
	Relationship string `json:"relationship"`
	Phone        string `json:"phone"`
}

// MRN returns the medical record number of patient i.
func MRN(i int) string { return string(appendMRN(nil, i)) }

// appendMRN appends "MRN" and i+1 zero-padded to eight digits.
func appendMRN(b []byte, i int) []byte {
	b = append(b, "MRN"...)
	return appendPadded(b, uint64(i)+1, 8)
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	p := len(tmp)
	for v > 0 || p == len(tmp) {
		p--
		tmp[p] = byte('0' + v%10)
		v /= 10
	}
	for range width - (len(tmp) - p) {
		b = append(b, '0')
	}
	return append(b, tmp[p:]...)
}

// PatientIndex parses an MRN made by MRN. It returns labtrust.ErrNotFound for
// anything else or for a patient outside the lab.
func (l *Lab) PatientIndex(mrn string) (int, error) {
	if !strings.HasPrefix(mrn, "MRN") || len(mrn) < 11 {
		return 0, fmt.Errorf("mrn: %w", labtrust.ErrNotFound)
	}
	v, err := strconv.ParseUint(mrn[3:], 10, 63)
	if err != nil || v == 0 || v > uint64(l.cfg.Patients) || MRN(int(v-1)) != mrn {
		return 0, fmt.Errorf("mrn: %w", labtrust.ErrNotFound)
	}
	return int(v - 1), nil
}

// traits are the few patient attributes the stream needs per event; they are
// cheap to compute and Patient derives the same values from them.
type traits struct {
	birthDay int64 // days since 1970-01-01
	female   bool
	deceased bool
	vip      bool
	dormant  bool
	minor    bool
	origin   origin
}

func (t traits) active() bool { return !t.deceased && !t.dormant }

func (l *Lab) startDay() int64 { return floorDiv(l.startL, usDay) }

func (l *Lab) traits(i int) traits {
	r := newRNG(key(l.cfg.Seed, tagPatient, uint64(i), 0))
	var t traits
	t.female = r.chance(0.53)
	t.origin = origin(weighted(&r, originWeights))
	var ageDays int64
	if r.chance(0.12) {
		ageDays = r.int64n(18 * 365)
	} else {
		u := r.float()
		ageDays = 18*365 + int64(u*u*0.6*77*365+u*0.4*77*365)
	}
	t.birthDay = l.startDay() - ageDays - 1
	t.minor = ageDays < 18*365
	t.deceased = r.chance(0.005)
	t.vip = r.chance(0.002)
	t.dormant = r.chance(0.02)
	if i < l.cfg.Sites {
		// Each site has at least one patient who can have orders.
		t.deceased, t.dormant = false, false
	}
	if t.minor {
		t.deceased = false
	}
	return t
}

func personName(r *rng, female bool) (given, fam name, o origin) {
	o = origin(weighted(r, originWeights))
	if female {
		given = pick(r, givenF[o])
	} else {
		given = pick(r, givenM[o])
	}
	return given, pick(r, family[o]), o
}

func nameFor(r *rng, o origin, female bool) (given, fam name) {
	if female {
		given = pick(r, givenF[o])
	} else {
		given = pick(r, givenM[o])
	}
	return given, pick(r, family[o])
}

func emailLocal(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		for _, c := range strings.ToLower(p) {
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
				b.WriteRune(c)
			}
		}
	}
	return b.String()
}

func phone(r *rng, st state) string {
	return fmt.Sprintf("(%s) 555-%04d", pick(r, st.area), r.intn(10000))
}

// Patient returns patient i (0 <= i < Config.Patients; other values are
// reduced modulo the number of patients).
func (l *Lab) Patient(i int) Patient {
	n := l.cfg.Patients
	i = ((i % n) + n) % n
	t := l.traits(i)
	r := newRNG(key(l.cfg.Seed, tagPatientDetail, uint64(i), 0))
	p := Patient{Index: i, MRN: MRN(i), Minor: t.minor, Deceased: t.deceased, VIP: t.vip, Dormant: t.dormant,
		HomeSite: i % l.cfg.Sites, Sex: "male"}
	if t.female {
		p.Sex = "female"
	}
	given, fam := nameFor(&r, t.origin, t.female)
	p.Given, p.Family = given.text, fam.text
	if t.origin == originZH && r.chance(0.25) {
		if g, ok := hanzi[given.ascii]; ok {
			if f, ok := hanzi[fam.ascii]; ok {
				p.Given, p.Family = g, f
			}
		}
	}
	birth := time.Unix(t.birthDay*86400, 0).UTC()
	p.BirthDate = birth.Format(time.DateOnly)

	si := p.HomeSite % len(siteTemplates)
	if r.chance(0.15) {
		si = r.intn(len(states))
	}
	st := states[si]
	p.Address = Address{
		Line:       fmt.Sprintf("%d %s %s", 100+r.intn(9800), pick(&r, streets), pick(&r, streetKinds)),
		City:       pick(&r, st.cities),
		State:      st.code,
		PostalCode: fmt.Sprintf("%s%02d", pick(&r, st.zip), r.intn(100)),
	}
	if r.chance(0.1) {
		p.Address.Line += fmt.Sprintf(" Apt %d", 1+r.intn(420))
	}
	p.Phone = phone(&r, st)
	p.Email = fmt.Sprintf("%s%d@%s", emailLocal(given.ascii, fam.ascii), r.intn(100), pick(&r, mailDomains))
	p.Language = "en"
	if t.origin == originES && r.chance(0.65) {
		p.Language = "es"
	}
	if t.minor {
		female := r.chance(0.7)
		gg, _ := nameFor(&r, t.origin, female)
		rel := "father"
		if female {
			rel = "mother"
		}
		if r.chance(0.08) {
			rel = "legal guardian"
		}
		p.Guardian = &Contact{Name: gg.text + " " + fam.text, Relationship: rel, Phone: phone(&r, st)}
	}
	if t.deceased {
		start := l.startDay()
		span := min(int64(3*365), start-t.birthDay-1)
		d := start - 1 - r.int64n(max(span, 1))
		p.DeceasedDate = time.Unix(d*86400, 0).UTC().Format(time.DateOnly)
	}
	if k, ok := l.staffOfPatient[i]; ok {
		p.StaffID = l.staff[k].ID
	}
	return p
}

// Record returns the patient as the registry holds one: what an ADT feed
// for this patient carries.
func (p Patient) Record() labtrust.Patient {
	r := labtrust.Patient{
		ID:        labtrust.PatientRef{System: MRNSystem, ID: p.MRN},
		Name:      labtrust.HumanName{Family: p.Family, Given: []string{p.Given}},
		BirthDate: p.BirthDate, Sex: p.Sex, Language: p.Language,
		Addresses: []labtrust.Address{{Use: "home", Lines: []string{p.Address.Line}, City: p.Address.City, State: p.Address.State, PostalCode: p.Address.PostalCode, Country: "USA"}},
		Phones:    []string{p.Phone}, Emails: []string{p.Email},
		Deceased: p.Deceased, DeceasedAt: p.DeceasedDate, VIP: p.VIP,
	}
	if g := p.Guardian; g != nil {
		given, family, _ := strings.Cut(g.Name, " ")
		rel := map[string]string{"mother": "MTH", "father": "FTH", "guardian": "GRD"}[g.Relationship]
		r.Guardian = &labtrust.Contact{Name: labtrust.HumanName{Family: family, Given: []string{given}}, Relationship: rel, Phones: []string{g.Phone}}
	}
	return r
}
