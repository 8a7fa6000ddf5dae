package fhir

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

// Code systems the mapping recognizes.
const (
	sysEntityType   = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	sysObjectRole   = "http://terminology.hl7.org/CodeSystem/object-role"
	sysResourceType = "http://hl7.org/fhir/resource-types"
	sysSecurityRole = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
	sysDCM          = "http://dicom.nema.org/resources/ontology/DCM"
)

// fieldError says which element of the resource is wrong. Like
// labtrust.ValidationError it names the element, never its value.
type fieldError struct {
	path   string
	reason string
}

func (e *fieldError) Error() string { return e.path + ": " + e.reason }

// pathElem is one step of the element path kept while mapping, so a failure
// can name "AuditEvent.agent[1].who.identifier.value" without building path
// strings on the happy path.
type pathElem struct {
	name string
	idx  int // -1 when the step is not an array element
}

// mapper turns a parsed AuditEvent into a labtrust.Event. The first problem
// found is kept in err; later calls become no-ops that return zero values.
type mapper struct {
	p      *jsonParser
	path   []pathElem
	err    *fieldError
	intern map[string]string
}

// maxInterned bounds the intern table so hostile input cannot grow it.
const maxInterned = 4096

func (m *mapper) push(name string, idx int) { m.path = append(m.path, pathElem{name, idx}) }
func (m *mapper) pop()                      { m.path = m.path[:len(m.path)-1] }

func (m *mapper) fail(leaf, reason string) {
	if m.err != nil {
		return
	}
	var b strings.Builder
	b.WriteString("AuditEvent")
	for _, e := range m.path {
		b.WriteByte('.')
		b.WriteString(e.name)
		if e.idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.idx))
			b.WriteByte(']')
		}
	}
	if leaf != "" {
		b.WriteByte('.')
		b.WriteString(leaf)
	}
	m.err = &fieldError{path: b.String(), reason: reason}
}

// member returns member key of object i if present and of kind want;
// absent members and JSON null give -1. A member of another kind fails.
func (m *mapper) member(i int32, key string, want kind) int32 {
	c := m.p.get(i, key)
	if c < 0 {
		return -1
	}
	k := m.p.nodes[c].kind
	if k == kNull {
		return -1
	}
	if k != want {
		m.fail(key, "want "+want.String()+", got "+k.String())
		return -1
	}
	return c
}

// str returns the string member key of object i, or "".
func (m *mapper) str(i int32, key string) string {
	c := m.member(i, key, kString)
	if c < 0 {
		return ""
	}
	return string(m.p.nodes[c].val)
}

// istr is str for values that repeat from record to record (code systems,
// codes, displays, sites): each distinct value is allocated once per Parse,
// which removes most of the allocations of a typical record.
func (m *mapper) istr(i int32, key string) string {
	c := m.member(i, key, kString)
	if c < 0 {
		return ""
	}
	b := m.p.nodes[c].val
	if s, ok := m.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= 128 && len(m.intern) < maxInterned {
		if m.intern == nil {
			m.intern = make(map[string]string, 64)
		}
		m.intern[s] = s
	}
	return s
}

// raw is like str but returns the bytes without copying, for comparisons.
func (m *mapper) raw(i int32, key string) []byte {
	c := m.member(i, key, kString)
	if c < 0 {
		return nil
	}
	return m.p.nodes[c].val
}

// each calls fn for every element of the array member key of object i.
func (m *mapper) each(i int32, key string, fn func(idx int, el int32)) {
	a := m.member(i, key, kArray)
	if a < 0 {
		return
	}
	end := m.p.nodes[a].skip
	n := 0
	for c := a + 1; c < end && m.err == nil; c = m.p.nodes[c].skip {
		m.push(key, n)
		fn(n, c)
		m.pop()
		n++
	}
}

func (m *mapper) count(i int32, key string) int {
	a := m.member(i, key, kArray)
	if a < 0 {
		return 0
	}
	n := 0
	for c := a + 1; c < m.p.nodes[a].skip; c = m.p.nodes[c].skip {
		n++
	}
	return n
}

// coding reads a Coding object at node i.
func (m *mapper) coding(i int32) labtrust.Code {
	if m.p.nodes[i].kind != kObject {
		m.fail("", "want an object, got "+m.p.nodes[i].kind.String())
		return labtrust.Code{}
	}
	return labtrust.Code{System: m.istr(i, "system"), Code: m.istr(i, "code"), Display: m.istr(i, "display")}
}

// codingMember reads the Coding member key of object i.
func (m *mapper) codingMember(i int32, key string) (labtrust.Code, bool) {
	c := m.member(i, key, kObject)
	if c < 0 {
		return labtrust.Code{}, false
	}
	m.push(key, -1)
	defer m.pop()
	return m.coding(c), true
}

// conceptCodings appends the codings of the CodeableConcept at node i.
func (m *mapper) conceptCodings(dst []labtrust.Code, i int32) []labtrust.Code {
	if m.p.nodes[i].kind != kObject {
		m.fail("", "want an object, got "+m.p.nodes[i].kind.String())
		return dst
	}
	m.each(i, "coding", func(_ int, el int32) {
		c := m.coding(el)
		if !c.IsZero() {
			dst = appendCode(dst, c)
		}
	})
	return dst
}

func appendCode(dst []labtrust.Code, c labtrust.Code) []labtrust.Code {
	for _, x := range dst {
		if x == c {
			return dst
		}
	}
	return append(dst, c)
}

// refType returns the resource type and id of a FHIR literal reference:
// relative ("Patient/123"), absolute ("https://x/fhir/Patient/123") or
// versioned (".../Patient/123/_history/2"). ok is false for contained
// ("#id"), urn: and other references that do not name a resource type.
func refType(ref string) (typ, id string, ok bool) {
	if ref == "" || ref[0] == '#' || strings.HasPrefix(ref, "urn:") {
		return "", "", false
	}
	if q := strings.IndexAny(ref, "?#"); q >= 0 {
		ref = ref[:q]
	}
	if h := strings.Index(ref, "/_history/"); h >= 0 {
		ref = ref[:h]
	}
	ref = strings.TrimSuffix(ref, "/")
	slash := strings.LastIndexByte(ref, '/')
	if slash <= 0 || slash == len(ref)-1 {
		return "", "", false
	}
	id = ref[slash+1:]
	head := ref[:slash]
	typ = head[strings.LastIndexByte(head, '/')+1:]
	if !isResourceTypeName(typ) {
		return "", "", false
	}
	return typ, id, true
}

// isResourceTypeName reports whether s looks like a FHIR resource type: an
// upper-case ASCII letter followed by ASCII letters.
func isResourceTypeName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

var personTypes = map[string]bool{"Practitioner": true, "PractitionerRole": true, "Patient": true, "RelatedPerson": true}
var systemTypes = map[string]bool{"Device": true, "Organization": true}

// resourceTypeReason explains a wrong resourceType. The value is quoted only
// when it looks like a resource type name, so arbitrary text (possibly PHI)
// never reaches the reason.
func resourceTypeReason(got []byte, want string) string {
	if isResourceTypeName(string(got)) {
		return "resourceType is " + strconv.Quote(string(got)) + ", want " + strconv.Quote(want)
	}
	return "resourceType is not " + strconv.Quote(want)
}

// mapAuditEvent maps the AuditEvent at node root. It returns a reason string
// (never containing values from the record) when the record is rejected.
func (m *mapper) mapAuditEvent(root int32, source string) (labtrust.Event, string) {
	m.err = nil
	m.path = m.path[:0]
	p := m.p
	if p.nodes[root].kind != kObject {
		return labtrust.Event{}, "resource is " + p.nodes[root].kind.String() + ", want an object"
	}
	rt := p.get(root, "resourceType")
	if rt < 0 || p.nodes[rt].kind != kString {
		return labtrust.Event{}, "resourceType: missing"
	}
	if string(p.nodes[rt].val) != "AuditEvent" {
		return labtrust.Event{}, resourceTypeReason(p.nodes[rt].val, "AuditEvent")
	}
	ev := labtrust.Event{Source: source}
	ev.SourceRef = m.str(root, "id")

	// type 1..1
	if t, ok := m.codingMember(root, "type"); ok {
		ev.Type = t
	} else if m.err == nil {
		m.fail("type", "missing")
	}
	m.each(root, "subtype", func(_ int, el int32) { ev.Subtype = append(ev.Subtype, m.coding(el)) })

	if a := m.raw(root, "action"); a != nil {
		if act := labtrust.Action(a); act.Valid() {
			ev.Action = act
		} else {
			m.fail("action", "not one of C, R, U, D, E")
		}
	}

	// recorded 1..1, an instant.
	if m.err == nil {
		rec := m.raw(root, "recorded")
		switch {
		case m.err != nil:
		case rec == nil:
			m.fail("recorded", "missing")
		default:
			t, err := parseInstant(rec)
			if err != nil {
				m.fail("recorded", "not a valid instant")
			} else {
				ev.Time = t
			}
		}
	}

	if o := m.raw(root, "outcome"); o != nil {
		if out, ok := labtrust.ParseOutcome(string(o)); ok {
			ev.Outcome = out
		} else {
			m.fail("outcome", "not one of 0, 4, 8, 12")
		}
	}

	// agent 1..*
	m.mapAgents(root, &ev)

	// source 1..1 with observer 1..1
	var site string
	if src := m.member(root, "source", kObject); src >= 0 {
		m.push("source", -1)
		site = m.istr(src, "site")
		if obs := m.member(src, "observer", kObject); obs < 0 && m.err == nil {
			m.fail("observer", "missing")
		}
		m.pop()
	} else if m.err == nil {
		m.fail("source", "missing")
	}
	if ev.Actor.Site == "" {
		ev.Actor.Site = site
	}

	m.each(root, "purposeOfEvent", func(_ int, el int32) { ev.Purpose = m.conceptCodings(ev.Purpose, el) })

	m.each(root, "entity", func(_ int, el int32) { m.mapEntity(el, &ev) })

	if m.err != nil {
		return labtrust.Event{}, m.err.Error()
	}
	if len(ev.Patients) > 0 {
		ev.Kind = labtrust.KindAccess
	} else {
		ev.Kind = labtrust.KindSecurity
	}
	if err := ev.Validate(); err != nil {
		return labtrust.Event{}, err.Error()
	}
	return ev, ""
}

// parseInstant parses a FHIR instant (xs:dateTime with seconds and a zone).
func parseInstant(b []byte) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func (m *mapper) mapAgents(root int32, ev *labtrust.Event) {
	p := m.p
	arr := m.member(root, "agent", kArray)
	if arr < 0 {
		if m.err == nil {
			m.fail("agent", "missing")
		}
		return
	}
	// Pick the actor: the first agent with requestor=true, else the first.
	actor, actorIdx := int32(-1), -1
	n := 0
	for c := arr + 1; c < p.nodes[arr].skip; c = p.nodes[c].skip {
		if p.nodes[c].kind != kObject {
			m.push("agent", n)
			m.fail("", "want an object, got "+p.nodes[c].kind.String())
			m.pop()
			return
		}
		if actor < 0 {
			actor, actorIdx = c, n
		}
		if r := p.get(c, "requestor"); r >= 0 && p.nodes[r].kind == kTrue {
			actor, actorIdx = c, n
			break
		}
		n++
	}
	if actor < 0 {
		m.fail("agent", "missing")
		return
	}
	m.push("agent", actorIdx)
	a := &ev.Actor
	a.AltID = m.str(actor, "altId")
	var whoRefType string
	if who := m.member(actor, "who", kObject); who >= 0 {
		m.push("who", -1)
		if id := m.member(who, "identifier", kObject); id >= 0 {
			m.push("identifier", -1)
			a.ID = m.str(id, "value")
			m.pop()
		}
		ref := m.str(who, "reference")
		if a.ID == "" {
			a.ID = ref
		}
		if t, _, ok := refType(ref); ok {
			whoRefType = t
		} else {
			whoRefType = m.str(who, "type")
		}
		a.Name = m.str(who, "display")
		m.pop()
	}
	if a.ID == "" {
		a.ID = a.AltID
	}
	if a.Name == "" {
		a.Name = m.str(actor, "name")
	}

	// Role: the first coding of agent.role, else of agent.type.
	var typeCodes []labtrust.Code
	if t := m.member(actor, "type", kObject); t >= 0 {
		m.push("type", -1)
		typeCodes = m.conceptCodings(nil, t)
		m.pop()
	}
	var role labtrust.Code
	m.each(actor, "role", func(_ int, el int32) {
		if role.IsZero() {
			if cs := m.conceptCodings(nil, el); len(cs) > 0 {
				role = cs[0]
			}
		}
	})
	if role.IsZero() && len(typeCodes) > 0 {
		role = typeCodes[0]
	}
	if role.Code != "" {
		a.Role = role.Code
	} else {
		a.Role = role.Display
	}

	if loc := m.member(actor, "location", kObject); loc >= 0 {
		m.push("location", -1)
		a.Site = m.istr(loc, "display")
		if a.Site == "" {
			a.Site = m.istr(loc, "reference")
		}
		m.pop()
	}

	switch {
	case personTypes[whoRefType]:
		a.UserType = "person"
	case systemTypes[whoRefType]:
		a.UserType = "system"
	default:
		for _, c := range typeCodes {
			if c.System == sysSecurityRole && c.Code == "humanuser" {
				a.UserType = "person"
				break
			}
			if c.System == sysDCM && len(c.Code) == 6 && c.Code >= "110150" && c.Code <= "110155" {
				// DCM Application, Application Launcher, Source/Destination
				// Role ID and Media: the agent is a system.
				a.UserType = "system"
				break
			}
		}
	}

	if nw := m.member(actor, "network", kObject); nw >= 0 {
		m.push("network", -1)
		ev.Network = m.str(nw, "address")
		m.pop()
	}
	m.each(actor, "purposeOfUse", func(_ int, el int32) { ev.Purpose = m.conceptCodings(ev.Purpose, el) })
	m.pop()

	if ev.Network == "" && m.err == nil {
		// Fall back to the first agent that reports a network address.
		i := 0
		for c := arr + 1; c < p.nodes[arr].skip && ev.Network == ""; c = p.nodes[c].skip {
			m.push("agent", i)
			if nw := m.member(c, "network", kObject); nw >= 0 {
				m.push("network", -1)
				ev.Network = m.str(nw, "address")
				m.pop()
			}
			m.pop()
			i++
		}
	}
}

func (m *mapper) mapEntity(el int32, ev *labtrust.Event) {
	p := m.p
	if p.nodes[el].kind != kObject {
		m.fail("", "want an object, got "+p.nodes[el].kind.String())
		return
	}
	typ, hasType := m.codingMember(el, "type")
	role, _ := m.codingMember(el, "role")
	var ref, idSys, idVal string
	if what := m.member(el, "what", kObject); what >= 0 {
		m.push("what", -1)
		ref = m.str(what, "reference")
		if id := m.member(what, "identifier", kObject); id >= 0 {
			m.push("identifier", -1)
			idSys = m.str(id, "system")
			idVal = m.str(id, "value")
			m.pop()
		}
		m.pop()
	}
	if m.err != nil {
		return
	}
	refTyp, refID, refOK := refType(ref)
	isPatientRef := refOK && refTyp == "Patient"
	isPatientEntity := typ.System == sysEntityType && typ.Code == "1" && role.System == sysObjectRole && role.Code == "1"
	if isPatientRef || isPatientEntity {
		var pr labtrust.PatientRef
		switch {
		case idVal != "":
			pr = labtrust.PatientRef{System: idSys, ID: idVal}
		case isPatientRef:
			pr = labtrust.PatientRef{System: "Patient", ID: refID}
		default:
			m.fail("what", "patient entity has no identifier and no Patient reference")
			return
		}
		for _, x := range ev.Patients {
			if x == pr {
				return
			}
		}
		ev.Patients = append(ev.Patients, pr)
		return
	}

	var o labtrust.Object
	switch {
	case refOK:
		o.Type = refTyp
	case hasType && typ.System == sysEntityType:
		o.Type = entityTypeName(typ)
	case hasType && typ.Code != "":
		o.Type = typ.Code
	case hasType:
		o.Type = typ.Display
	}
	o.ID = ref
	if o.ID == "" {
		o.ID = idVal
	}
	o.Role = role.Code
	if q := m.raw(el, "query"); q != nil {
		dec, err := base64.StdEncoding.AppendDecode(nil, q)
		if err != nil {
			m.fail("query", "not valid base64")
			return
		}
		// A query that is not text (for instance a binary DICOM query)
		// keeps its base64 form so the Event stays valid UTF-8.
		if utf8.Valid(dec) {
			o.Query = string(dec)
		} else {
			o.Query = string(q)
		}
	}
	if o != (labtrust.Object{}) {
		ev.Objects = append(ev.Objects, o)
	}
}

// entityTypeName names an audit-entity-type code.
func entityTypeName(c labtrust.Code) string {
	switch c.Code {
	case "1":
		return "Person"
	case "2":
		return "System Object"
	case "3":
		return "Organization"
	case "4":
		return "Other"
	}
	if c.Code == "" {
		return c.Display
	}
	return c.Code
}
