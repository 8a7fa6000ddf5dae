package fhir

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

// BALP profile and code systems used by Encode.
const (
	profileBALPRead  = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"
	profileBALPQuery = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery"
	profileBALPCUD   = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientCreate"
	sysParticipation = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	sysNetworkType   = "http://hl7.org/fhir/network-type"
	sysSourceType    = "http://terminology.hl7.org/CodeSystem/security-source-type"
)

// Encode writes e as an IHE BALP-shaped FHIR R4 AuditEvent: one line of
// compact JSON without a trailing newline, with the BALP profile in
// meta.profile, type and subtype codings, one requestor agent (type, role,
// who.identifier, who.type, altId, location, network, purposeOfUse), a
// source with observer and type, a patient entity per patient and a data
// entity per object. SourceRef becomes the resource id; the time is written
// in UTC with nanoseconds.
//
// Parse maps the result back to an Event equal to e (Source taken from
// Parse's argument), provided that:
//   - e.Kind is KindAccess with patients or KindSecurity without;
//   - Actor.ID is set or Actor.AltID is empty (Parse takes the ID from
//     altId when who.identifier is absent);
//   - Actor.Role is set or Actor.UserType is empty (without agent.role Parse
//     falls back to the agent.type coding);
//   - Purpose holds no duplicates, and no Object is a Patient reference or
//     entirely empty.
//
// Encode fails only on text that is not valid UTF-8.
func Encode(e labtrust.Event) ([]byte, error) {
	w := &writer{b: make([]byte, 0, 1600)}
	w.raw(`{"resourceType":"AuditEvent"`)
	if e.SourceRef != "" {
		w.field("id", e.SourceRef)
	}
	w.raw(`,"meta":{"profile":[`)
	switch e.Action {
	case labtrust.ActionExecute:
		w.str(profileBALPQuery)
	case labtrust.ActionCreate, labtrust.ActionUpdate, labtrust.ActionDelete:
		w.str(profileBALPCUD)
	default:
		w.str(profileBALPRead)
	}
	w.raw(`]}`)
	if !e.Type.IsZero() {
		w.raw(`,"type":`)
		w.coding(e.Type)
	}
	if len(e.Subtype) > 0 {
		w.raw(`,"subtype":[`)
		for i, c := range e.Subtype {
			if i > 0 {
				w.raw(",")
			}
			w.coding(c)
		}
		w.raw("]")
	}
	if e.Action != "" {
		w.field("action", string(e.Action))
	}
	w.field("recorded", e.Time.UTC().Format(time.RFC3339Nano))
	w.field("outcome", strconv.Itoa(int(e.Outcome)))

	// agent[0]: the user (requestor).
	a := e.Actor
	w.raw(`,"agent":[{`)
	first := true
	sep := func() {
		if !first {
			w.raw(",")
		}
		first = false
	}
	if a.Role != "" {
		sep()
		w.raw(`"type":{"coding":[{"system":"` + sysParticipation + `","code":"IRCP","display":"information recipient"}]}`)
		w.raw(`,"role":[{"coding":[{"code":`)
		w.str(a.Role)
		w.raw(`}]}]`)
	}
	sep()
	w.raw(`"who":{`)
	whoFirst := true
	if a.ID != "" {
		w.raw(`"identifier":{"value":`)
		w.str(a.ID)
		w.raw("}")
		whoFirst = false
	}
	switch a.UserType {
	case "person", "system":
		if !whoFirst {
			w.raw(",")
		}
		if a.UserType == "person" {
			w.raw(`"type":"Practitioner"`)
		} else {
			w.raw(`"type":"Device"`)
		}
		whoFirst = false
	}
	if a.Name != "" {
		if !whoFirst {
			w.raw(",")
		}
		w.raw(`"display":`)
		w.str(a.Name)
	}
	w.raw("}")
	if a.AltID != "" {
		w.field("altId", a.AltID)
	}
	w.raw(`,"requestor":true`)
	if a.Site != "" {
		w.raw(`,"location":{"display":`)
		w.str(a.Site)
		w.raw("}")
	}
	if e.Network != "" {
		w.network(e.Network)
	}
	if len(e.Purpose) > 0 {
		w.raw(`,"purposeOfUse":[`)
		for i, c := range e.Purpose {
			if i > 0 {
				w.raw(",")
			}
			w.raw(`{"coding":[`)
			w.coding(c)
			w.raw("]}")
		}
		w.raw("]")
	}
	w.raw("}]")

	w.raw(`,"source":{`)
	if a.Site != "" {
		w.raw(`"site":`)
		w.str(a.Site)
		w.raw(",")
	}
	w.raw(`"observer":{"display":`)
	w.str(sourceName(e.Source))
	w.raw(`},"type":[{"system":"` + sysSourceType + `","code":"4","display":"Application Server"}]}`)

	if len(e.Patients) > 0 || len(e.Objects) > 0 {
		w.raw(`,"entity":[`)
		for i, p := range e.Patients {
			if i > 0 {
				w.raw(",")
			}
			w.raw(`{"what":{`)
			if p.System == "Patient" {
				w.raw(`"reference":`)
				w.str("Patient/" + p.ID)
			} else {
				w.raw(`"identifier":{`)
				if p.System != "" {
					w.raw(`"system":`)
					w.str(p.System)
					w.raw(",")
				}
				w.raw(`"value":`)
				w.str(p.ID)
				w.raw("}")
			}
			w.raw(`},"type":{"system":"` + sysEntityType + `","code":"1","display":"Person"},"role":{"system":"` + sysObjectRole + `","code":"1","display":"Patient"}}`)
		}
		for i, o := range e.Objects {
			if i > 0 || len(e.Patients) > 0 {
				w.raw(",")
			}
			w.object(o)
		}
		w.raw("]")
	}
	w.raw("}")
	if w.err != nil {
		return nil, w.err
	}
	return w.b, nil
}

// sourceName is the observer's display: FHIR strings may not be empty.
func sourceName(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

var objectRoleNames = map[string]string{
	"1": "Patient", "2": "Location", "3": "Report", "4": "Domain Resource", "5": "Master file",
	"6": "User", "7": "List", "8": "Doctor", "9": "Subscriber", "10": "Guarantor",
	"11": "Security User Entity", "12": "Security User Group", "13": "Security Resource",
	"14": "Security Granularity Definition", "15": "Practitioner", "16": "Data Destination",
	"17": "Data Repository", "18": "Schedule", "19": "Customer", "20": "Job",
	"21": "Job Stream", "22": "Table", "23": "Routing Criteria", "24": "Query",
}

func (w *writer) object(o labtrust.Object) {
	w.raw("{")
	n := 0
	sep := func() {
		if n > 0 {
			w.raw(",")
		}
		n++
	}
	// A reference whose resource type is the object's type round-trips
	// through what.reference; anything else goes in what.identifier and
	// the type in entity.type.
	rt, _, refOK := refType(o.ID)
	byRef := o.ID != "" && refOK && rt == o.Type
	if o.ID != "" {
		sep()
		if byRef {
			w.raw(`"what":{"reference":`)
		} else {
			w.raw(`"what":{"identifier":{"value":`)
		}
		w.str(o.ID)
		if byRef {
			w.raw("}")
		} else {
			w.raw("}}")
		}
	}
	switch {
	case byRef:
		sep()
		w.raw(`"type":{"system":"` + sysEntityType + `","code":"2","display":"System Object"}`)
	case o.Type != "":
		sep()
		w.raw(`"type":{"system":"` + sysResourceType + `","code":`)
		w.str(o.Type)
		w.raw("}")
	}
	if o.Role != "" {
		sep()
		w.raw(`"role":{"system":"` + sysObjectRole + `","code":`)
		w.str(o.Role)
		if name, ok := objectRoleNames[o.Role]; ok {
			w.raw(`,"display":`)
			w.str(name)
		}
		w.raw("}")
	}
	if o.Query != "" {
		sep()
		w.raw(`"query":"`)
		w.b = base64.StdEncoding.AppendEncode(w.b, []byte(o.Query))
		w.raw(`"`)
	}
	w.raw("}")
}

// writer appends compact JSON. The first invalid string is kept in err.
type writer struct {
	b   []byte
	err error
}

func (w *writer) raw(s string) { w.b = append(w.b, s...) }

func (w *writer) field(name, val string) {
	w.b = append(w.b, ',', '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
	w.str(val)
}

func (w *writer) coding(c labtrust.Code) {
	w.raw("{")
	n := 0
	for _, kv := range [3][2]string{{"system", c.System}, {"code", c.Code}, {"display", c.Display}} {
		if kv[1] == "" {
			continue
		}
		if n > 0 {
			w.raw(",")
		}
		n++
		w.b = append(w.b, '"')
		w.b = append(w.b, kv[0]...)
		w.b = append(w.b, '"', ':')
		w.str(kv[1])
	}
	w.raw("}")
}

func (w *writer) network(addr string) {
	// FHIR network-type: 1 machine name, 2 IP address.
	typ := "1"
	if strings.Trim(addr, "0123456789.:abcdefABCDEF[]") == "" && strings.ContainsAny(addr, ".:") {
		typ = "2"
	}
	w.raw(`,"network":{"address":`)
	w.str(addr)
	w.raw(`,"type":"` + typ + `"}`)
}

var errNotUTF8 = errors.New("fhir: encode: text is not valid UTF-8")

const hexDigits = "0123456789abcdef"

// str appends s as a JSON string. HTML characters are not escaped; control
// characters are.
func (w *writer) str(s string) {
	if !utf8.ValidString(s) {
		if w.err == nil {
			w.err = errNotUTF8
		}
		return
	}
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.b = append(w.b, s[start:i]...)
		switch c {
		case '"', '\\':
			w.b = append(w.b, '\\', c)
		case '\n':
			w.b = append(w.b, '\\', 'n')
		case '\r':
			w.b = append(w.b, '\\', 'r')
		case '\t':
			w.b = append(w.b, '\\', 't')
		default:
			w.b = append(w.b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	w.b = append(w.b, s[start:]...)
	w.b = append(w.b, '"')
}
