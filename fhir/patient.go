package fhir

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// FHIR R4 Patient, the elements the registry keeps. encoding/json is fast
// enough here: registries are imported once and then updated, not streamed
// like audit events.
type patientJSON struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         *struct {
		LastUpdated string        `json:"lastUpdated"`
		Security    []conceptCode `json:"security"`
	} `json:"meta"`
	Identifier       []identifierJSON `json:"identifier"`
	Name             []nameJSON       `json:"name"`
	Telecom          []telecomJSON    `json:"telecom"`
	Gender           string           `json:"gender"`
	BirthDate        string           `json:"birthDate"`
	DeceasedBoolean  *bool            `json:"deceasedBoolean"`
	DeceasedDateTime string           `json:"deceasedDateTime"`
	Address          []addressJSON    `json:"address"`
	Communication    []struct {
		Language  conceptJSON `json:"language"`
		Preferred bool        `json:"preferred"`
	} `json:"communication"`
	Contact []struct {
		Relationship []conceptJSON `json:"relationship"`
		Name         *nameJSON     `json:"name"`
		Telecom      []telecomJSON `json:"telecom"`
		Address      *addressJSON  `json:"address"`
	} `json:"contact"`
	Link []struct {
		Other struct {
			Reference  string          `json:"reference"`
			Identifier *identifierJSON `json:"identifier"`
		} `json:"other"`
		Type string `json:"type"`
	} `json:"link"`
}

type identifierJSON struct {
	System string       `json:"system"`
	Value  string       `json:"value"`
	Type   *conceptJSON `json:"type"`
}

type conceptJSON struct {
	Coding []struct {
		System string `json:"system"`
		Code   string `json:"code"`
	} `json:"coding"`
	Text string `json:"text"`
}

func (c *conceptJSON) code() string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return c.Text
}

type nameJSON struct {
	Use    string   `json:"use"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
	Prefix []string `json:"prefix"`
	Suffix []string `json:"suffix"`
}

type telecomJSON struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type addressJSON struct {
	Use        string   `json:"use"`
	Line       []string `json:"line"`
	City       string   `json:"city"`
	State      string   `json:"state"`
	PostalCode string   `json:"postalCode"`
	Country    string   `json:"country"`
}

// guardianRoles are relationship codes (HL7 v3 RoleCode, v2 table 0063)
// for someone who can act for a minor.
var guardianRoles = map[string]string{"MTH": "MTH", "FTH": "FTH", "PRN": "PAR", "PAR": "PAR", "GUARD": "GRD", "GRD": "GRD"}

// patientRecord maps a Patient resource; the reason is "" when it maps.
func patientRecord(p *patientJSON, source string) (labtrust.PatientRecord, string) {
	r := labtrust.PatientRecord{Source: source, Trigger: "Patient", ControlID: p.ID}
	if p.ResourceType != "Patient" {
		return r, "resourceType: want Patient"
	}
	pt := &r.Patient
	mrnSet := false
	for _, id := range p.Identifier {
		ref := labtrust.PatientRef{System: id.System, ID: strings.TrimSpace(id.Value)}
		if ref.ID == "" {
			continue
		}
		code := id.Type.code()
		switch {
		case code == "SS" || id.System == "http://hl7.org/fhir/sid/us-ssn":
			pt.SSN = ref.ID
		case !mrnSet && code == "MR":
			pt.ID, mrnSet = ref, true
		default:
			pt.OtherIDs = append(pt.OtherIDs, ref)
		}
	}
	if !mrnSet {
		if len(pt.OtherIDs) == 0 {
			return r, "Patient.identifier: no identifier other than an SSN"
		}
		pt.ID, pt.OtherIDs = pt.OtherIDs[0], pt.OtherIDs[1:]
	}
	if n := pickName(p.Name); n != nil {
		pt.Name = humanName(n)
	}
	pt.Sex = map[string]string{"female": "female", "male": "male", "other": "other", "unknown": "unknown"}[p.Gender]
	if p.BirthDate != "" {
		pt.BirthDate = p.BirthDate
	}
	for _, a := range p.Address {
		pt.Addresses = append(pt.Addresses, address(a))
	}
	for _, t := range p.Telecom {
		switch t.System {
		case "phone", "sms":
			pt.Phones = append(pt.Phones, t.Value)
		case "email":
			pt.Emails = append(pt.Emails, t.Value)
		}
	}
	for i, c := range p.Communication {
		if c.Preferred || i == 0 {
			pt.Language = labtrust.NormalizeLanguage(c.Language.code())
		}
	}
	if p.Meta != nil {
		// Restricted or very restricted confidentiality (HL7 v3
		// Confidentiality R, V) is how FHIR marks the records a lab
		// protects further.
		for _, c := range p.Meta.Security {
			if c.System == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" && (c.Code == "R" || c.Code == "V") {
				pt.VIP = true
			}
		}
	}
	if p.DeceasedBoolean != nil {
		pt.Deceased = *p.DeceasedBoolean
	}
	if p.DeceasedDateTime != "" {
		pt.Deceased, pt.DeceasedAt = true, p.DeceasedDateTime[:min(10, len(p.DeceasedDateTime))]
	}
	for _, c := range p.Contact {
		rel := ""
		for _, rr := range c.Relationship {
			if g := guardianRoles[strings.ToUpper(rr.code())]; g != "" {
				rel = g
			}
		}
		if rel == "" {
			continue
		}
		g := &labtrust.Contact{Relationship: rel}
		if c.Name != nil {
			g.Name = humanName(c.Name)
		}
		for _, t := range c.Telecom {
			if t.System == "phone" {
				g.Phones = append(g.Phones, t.Value)
			}
		}
		if c.Address != nil {
			a := address(*c.Address)
			g.Address = &a
		}
		pt.Guardian = g
		break
	}
	for _, l := range p.Link {
		if l.Type == "replaces" && l.Other.Identifier != nil && l.Other.Identifier.Value != "" {
			r.MergedFrom = &labtrust.PatientRef{System: l.Other.Identifier.System, ID: l.Other.Identifier.Value}
			break
		}
	}
	if p.Meta != nil {
		if t, err := time.Parse(time.RFC3339Nano, p.Meta.LastUpdated); err == nil {
			r.Time = t.UTC()
		}
	}
	if err := r.Validate(); err != nil {
		return r, err.Error()
	}
	return r, ""
}

func pickName(ns []nameJSON) *nameJSON {
	for i := range ns {
		if ns[i].Use == "official" || ns[i].Use == "usual" {
			return &ns[i]
		}
	}
	if len(ns) > 0 {
		return &ns[0]
	}
	return nil
}

func humanName(n *nameJSON) labtrust.HumanName {
	return labtrust.HumanName{Family: n.Family, Given: n.Given, Prefix: strings.Join(n.Prefix, " "), Suffix: strings.Join(n.Suffix, " ")}
}

func address(a addressJSON) labtrust.Address {
	out := labtrust.Address{Use: a.Use, Lines: a.Line, City: a.City, State: strings.TrimSpace(a.State), PostalCode: a.PostalCode, Country: a.Country}
	if labtrust.IsUSState(out.State) {
		out.State = strings.ToUpper(out.State)
	}
	return out
}

// PatientFormat is the Reject.Format of Patient rejects: not Format, so a
// quarantined Patient is never retried as an AuditEvent.
const PatientFormat = "fhir-patient"

// ParsePatients reads FHIR R4 Patient resources from r (one resource, a
// Bundle of them, or NDJSON) and hands each to sink: a PatientRecord, or a
// Reject with the reason and the resource as Raw. Patient.link of type
// "replaces" with an identifier becomes a merge.
func ParsePatients(ctx context.Context, source string, r io.Reader, sink labtrust.PatientSink) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocument+1))
	if err != nil {
		return fmt.Errorf("fhir: read: %w", err)
	}
	if len(data) > MaxDocument {
		return sink.Reject(ctx, labtrust.Reject{Source: source, Format: PatientFormat, Position: "resource", Reason: "input exceeds " + strconv.Itoa(MaxDocument) + " bytes", Raw: data[:MaxDocument]})
	}
	one := func(pos string, raw []byte) error {
		var p patientJSON
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&p); err != nil {
			return sink.Reject(ctx, labtrust.Reject{Source: source, Format: PatientFormat, Position: pos, Reason: "not a FHIR Patient: " + jsonReason(err), Raw: bytes.Clone(raw)})
		}
		rec, reason := patientRecord(&p, source)
		if reason != "" {
			return sink.Reject(ctx, labtrust.Reject{Source: source, Format: PatientFormat, Position: pos, Reason: reason, Raw: bytes.Clone(raw)})
		}
		return sink.Patient(ctx, rec)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	var probe struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(trimmed, &probe) == nil {
		if probe.ResourceType != "Bundle" {
			return one("resource", trimmed)
		}
		for i, e := range probe.Entry {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := one("entry "+strconv.Itoa(i+1), e.Resource); err != nil {
				return err
			}
		}
		return nil
	}
	// NDJSON.
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine+1)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := one("line "+strconv.Itoa(n), line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return sink.Reject(ctx, labtrust.Reject{Source: source, Format: PatientFormat, Position: "line " + strconv.Itoa(n+1), Reason: "line exceeds " + strconv.Itoa(MaxLine) + " bytes"})
		}
		return err
	}
	return nil
}

// jsonReason describes a decoding error without quoting the input.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "invalid JSON at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return te.Field + ": want " + te.Type.String()
	}
	return "invalid JSON"
}

// conceptCode is a FHIR Coding (system and code).
type conceptCode struct {
	System string `json:"system"`
	Code   string `json:"code"`
}
