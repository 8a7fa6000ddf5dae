package atna

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

// Parse maps one AuditMessage (DICOM PS3.15 A.5, as sent by IHE ATNA ITI-20)
// to an Event whose Source is source.
//
// Both the DICOM form of coded values (attributes csd-code, codeSystemName,
// originalText) and the older RFC 3881 form (code, codeSystemName,
// displayName) are accepted, in any mix. The mapping is:
//
//   - EventIdentification: EventActionCode → Action; EventDateTime → Time
//     (an xs:dateTime that must carry a time zone; stored in UTC);
//     EventOutcomeIndicator → Outcome; EventID → Type; EventTypeCode →
//     Subtype; PurposeOfUse → Purpose.
//   - The first ActiveParticipant with UserIsRequestor true, else the first
//     ActiveParticipant → Actor (UserID → ID, AlternativeUserID → AltID,
//     UserName → Name, first RoleIDCode → Role (its code, else its text),
//     UserTypeCode 1/2 → UserType person/system) and its
//     NetworkAccessPointID → Network.
//   - AuditSourceIdentification: AuditEnterpriseSiteID → Actor.Site when the
//     attribute is present, else AuditSourceID.
//   - ParticipantObjectIdentification with ParticipantObjectTypeCode 1 and
//     ParticipantObjectTypeCodeRole 1 → Patients (ParticipantObjectID → ID,
//     the code of ParticipantObjectIDTypeCode → System); every other object
//     → Objects (ParticipantObjectID → ID, ParticipantObjectIDTypeCode text
//     or code → Type, ParticipantObjectTypeCodeRole → Role by name,
//     base64-decoded ParticipantObjectQuery → Query; a query that is not
//     text (see isText) is kept as "base64:" followed by its base64 form).
//   - Kind is KindAccess when at least one patient is named, else
//     KindSecurity.
//
// Code systems named "DCM", "IHE Transactions" or "v3-ActReason" (or by
// their OIDs) become the URIs SystemDCM, SystemIHETransactions and
// SystemActReason; other names are kept as given.
//
// The returned Event passes Validate. Errors name the element or attribute
// and its position, never a value; the XML may hold PHI. Document type
// declarations are refused.
func Parse(source string, xml []byte) (labtrust.Event, error) {
	var p parser
	e, err := p.parse(source, xml)
	if err != nil {
		return labtrust.Event{}, fmt.Errorf("atna: %w", err)
	}
	return e, nil
}

// fieldError builds the error for a wrong element or attribute.
func fieldError(field, reason string) error {
	return &labtrust.ValidationError{Field: field, Reason: reason}
}

// participant holds the raw attributes of one ActiveParticipant; values are
// decoded only for the one that becomes the Actor.
type participant struct {
	userID, altID, userName, network, userType rawValue
	requestor                                  bool
	role                                       rawCode
	hasRole                                    bool
}

// rawCode is a coded value as found in the attributes of its element.
type rawCode struct {
	code, name, oid, text, display rawValue
}

func readCode(attrs []attr) rawCode {
	var c rawCode
	var csd rawValue
	for _, a := range attrs {
		switch string(a.name) {
		case "csd-code":
			csd = a.val
		case "code":
			c.code = a.val
		case "codeSystemName":
			c.name = a.val
		case "codeSystem":
			c.oid = a.val
		case "originalText":
			c.text = a.val
		case "displayName":
			c.display = a.val
		}
	}
	if csd.b != nil {
		// The DICOM form wins when a sender writes both.
		c.code = csd
	}
	return c
}

func (c rawCode) decode() labtrust.Code {
	out := labtrust.Code{Code: c.code.str(true)}
	name := c.name.str(true)
	if s, ok := systemByName[name]; ok {
		out.System = s
	} else if s, ok := systemByName[c.oid.str(true)]; ok && name == "" {
		out.System = s
	} else if name != "" {
		out.System = name
	} else {
		out.System = c.oid.str(true)
	}
	if c.text.b != nil {
		out.Display = c.text.str(true)
	} else {
		out.Display = c.display.str(true)
	}
	return out
}

// object holds one ParticipantObjectIdentification while it is read.
type object struct {
	id, typeCode, roleCode rawValue
	idType                 rawCode
	hasIDType              bool
	query                  []byte
	inQuery, hasQuery      bool
	roleDetail             string
	hasRoleDetail          bool
}

type section uint8

const (
	secNone section = iota
	secEvent
	secParticipant
	secSource
	secObject
)

type parser struct {
	sc scanner

	nEvent   int
	actionV  rawValue
	timeV    rawValue
	outcomeV rawValue
	eventID  rawCode
	hasID    bool
	subtypes []labtrust.Code
	purposes []labtrust.Code

	parts   []participant
	partBuf [4]participant

	nSource      int
	siteID       rawValue
	sourceID     rawValue
	hasSiteAttr  bool
	nObject      int
	obj          object
	patients     []labtrust.PatientRef
	objects      []labtrust.Object
	queryScratch []byte
}

func (p *parser) parse(source string, doc []byte) (labtrust.Event, error) {
	doc = bytes.TrimPrefix(doc, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(doc) {
		return labtrust.Event{}, errors.New("XML is not valid UTF-8")
	}
	p.sc.init(doc)
	p.parts = p.partBuf[:0]
	depth := 0
	sec := secNone
	for {
		tok, err := p.sc.next()
		if err != nil {
			return labtrust.Event{}, err
		}
		switch tok.kind {
		case tokEOF:
			return p.finish(source)
		case tokText:
			if depth == 3 && sec == secObject && p.obj.inQuery {
				p.obj.query = appendText(p.obj.query, tok.text)
			}
		case tokStart:
			depth++
			switch depth {
			case 1:
				if string(tok.name) != "AuditMessage" {
					return labtrust.Event{}, fieldError("root element", "not AuditMessage")
				}
			case 2:
				sec, err = p.startSection(tok.name)
			case 3:
				err = p.startChild(sec, tok.name)
			}
			if err != nil {
				return labtrust.Event{}, err
			}
			if tok.selfClose {
				if err := p.end(depth, sec); err != nil {
					return labtrust.Event{}, err
				}
				if depth == 2 {
					sec = secNone
				}
				depth--
			}
		case tokEnd:
			if err := p.end(depth, sec); err != nil {
				return labtrust.Event{}, err
			}
			if depth == 2 {
				sec = secNone
			}
			depth--
		}
	}
}

func appendText(dst []byte, v rawValue) []byte {
	if !v.esc {
		return append(dst, v.b...)
	}
	return append(dst, v.str(false)...)
}

func (p *parser) startSection(name []byte) (section, error) {
	attrs := p.sc.attrs
	switch string(name) {
	case "EventIdentification":
		p.nEvent++
		if p.nEvent > 1 {
			return secNone, fieldError("EventIdentification", "more than one")
		}
		for _, a := range attrs {
			switch string(a.name) {
			case "EventActionCode":
				p.actionV = a.val
			case "EventDateTime":
				p.timeV = a.val
			case "EventOutcomeIndicator":
				p.outcomeV = a.val
			}
		}
		return secEvent, nil
	case "ActiveParticipant":
		var pt participant
		for _, a := range attrs {
			switch string(a.name) {
			case "UserID":
				pt.userID = a.val
			case "AlternativeUserID":
				pt.altID = a.val
			case "UserName":
				pt.userName = a.val
			case "NetworkAccessPointID":
				pt.network = a.val
			case "UserTypeCode":
				pt.userType = a.val
			case "UserIsRequestor":
				v := bytes.TrimSpace(a.val.b)
				pt.requestor = string(v) == "true" || string(v) == "1"
			}
		}
		p.parts = append(p.parts, pt)
		return secParticipant, nil
	case "AuditSourceIdentification":
		p.nSource++
		if p.nSource == 1 {
			for _, a := range attrs {
				switch string(a.name) {
				case "AuditSourceID":
					p.sourceID = a.val
				case "AuditEnterpriseSiteID":
					p.siteID = a.val
					p.hasSiteAttr = true
				}
			}
		}
		return secSource, nil
	case "ParticipantObjectIdentification":
		p.nObject++
		p.obj = object{query: p.obj.query[:0]}
		for _, a := range attrs {
			switch string(a.name) {
			case "ParticipantObjectID":
				p.obj.id = a.val
			case "ParticipantObjectTypeCode":
				p.obj.typeCode = a.val
			case "ParticipantObjectTypeCodeRole":
				p.obj.roleCode = a.val
			}
		}
		return secObject, nil
	}
	return secNone, nil
}

func (p *parser) startChild(sec section, name []byte) error {
	attrs := p.sc.attrs
	switch sec {
	case secEvent:
		switch string(name) {
		case "EventID":
			if !p.hasID {
				p.eventID = readCode(attrs)
				p.hasID = true
			}
		case "EventTypeCode":
			p.subtypes = append(p.subtypes, readCode(attrs).decode())
		case "PurposeOfUse":
			p.purposes = append(p.purposes, readCode(attrs).decode())
		}
	case secParticipant:
		if string(name) == "RoleIDCode" {
			pt := &p.parts[len(p.parts)-1]
			if !pt.hasRole {
				pt.role = readCode(attrs)
				pt.hasRole = true
			}
		}
	case secObject:
		switch string(name) {
		case "ParticipantObjectIDTypeCode":
			if !p.obj.hasIDType {
				p.obj.idType = readCode(attrs)
				p.obj.hasIDType = true
			}
		case "ParticipantObjectQuery":
			if !p.obj.hasQuery {
				p.obj.inQuery = true
				p.obj.hasQuery = true
			}
		case "ParticipantObjectDetail":
			var typ, val rawValue
			for _, a := range attrs {
				switch string(a.name) {
				case "type":
					typ = a.val
				case "value":
					val = a.val
				}
			}
			if !p.obj.hasRoleDetail && string(typ.b) == roleDetailType {
				if b, err := decodeBase64(val.str(true)); err == nil && utf8.Valid(b) {
					p.obj.roleDetail = string(b)
					p.obj.hasRoleDetail = true
				}
			}
		}
	}
	return nil
}

// end handles the end of an element at depth.
func (p *parser) end(depth int, sec section) error {
	switch {
	case depth == 3 && sec == secObject:
		p.obj.inQuery = false
	case depth == 2 && sec == secObject:
		return p.endObject()
	}
	return nil
}

func (p *parser) endObject() error {
	o := &p.obj
	pos := "ParticipantObjectIdentification[" + strconv.Itoa(p.nObject) + "]"
	typeCode := string(bytes.TrimSpace(o.typeCode.b))
	roleCode := string(bytes.TrimSpace(o.roleCode.b))
	if typeCode == "1" && roleCode == "1" {
		id := o.id.str(true)
		if strings.TrimSpace(id) == "" {
			return fieldError(pos+"/@ParticipantObjectID", "missing or empty")
		}
		ref := labtrust.PatientRef{ID: id}
		if o.hasIDType {
			ref.System = o.idType.code.str(true)
		}
		p.patients = append(p.patients, ref)
		return nil
	}
	obj := labtrust.Object{ID: o.id.str(true)}
	if o.hasIDType {
		c := o.idType.decode()
		obj.Type = c.Display
		if obj.Type == "" {
			obj.Type = c.Code
		}
	}
	switch {
	case o.roleCode.b != nil:
		obj.Role = roleCode
		if n, err := strconv.Atoi(roleCode); err == nil && n > 0 && n < len(objectRoles) {
			obj.Role = objectRoles[n]
		}
	case o.hasRoleDetail:
		obj.Role = o.roleDetail
	}
	if o.hasQuery {
		q, err := decodeBase64(string(o.query))
		if err != nil {
			return fieldError(pos+"/ParticipantObjectQuery", "not valid base64")
		}
		if isText(q) {
			obj.Query = string(q)
		} else {
			obj.Query = binaryQueryPrefix + base64.StdEncoding.EncodeToString(q)
		}
	}
	p.objects = append(p.objects, obj)
	return nil
}

// isText reports whether a decoded query is text: UTF-8 without control
// characters other than TAB, LF and CR (HL7 v2 separates segments with CR).
// DICOM C-FIND queries are binary data sets and fail this test.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// decodeBase64 decodes xs:base64Binary: whitespace anywhere is ignored and
// padding may be omitted.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s)
	}
	if len(s)%4 != 0 {
		return base64.RawStdEncoding.Strict().DecodeString(s)
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

func (p *parser) finish(source string) (labtrust.Event, error) {
	if p.nEvent == 0 {
		return labtrust.Event{}, fieldError("EventIdentification", "missing")
	}
	e := labtrust.Event{Source: source, Kind: labtrust.KindSecurity}

	switch a := labtrust.Action(bytes.TrimSpace(p.actionV.b)); {
	case a == "" && p.actionV.b != nil:
		return labtrust.Event{}, fieldError("EventIdentification/@EventActionCode", "empty")
	case a == "":
	case a.Valid():
		e.Action = a
	default:
		return labtrust.Event{}, fieldError("EventIdentification/@EventActionCode", "not one of C, R, U, D, E")
	}

	if p.timeV.b == nil {
		return labtrust.Event{}, fieldError("EventIdentification/@EventDateTime", "missing")
	}
	t, err := parseDateTime(string(bytes.TrimSpace(p.timeV.b)))
	if err != nil {
		return labtrust.Event{}, fieldError("EventIdentification/@EventDateTime", err.Error())
	}
	e.Time = t

	o := string(bytes.TrimSpace(p.outcomeV.b))
	out, ok := labtrust.ParseOutcome(o)
	switch {
	case ok:
		e.Outcome = out
	case o == "":
		return labtrust.Event{}, fieldError("EventIdentification/@EventOutcomeIndicator", "missing")
	default:
		return labtrust.Event{}, fieldError("EventIdentification/@EventOutcomeIndicator", "not one of 0, 4, 8, 12")
	}

	if !p.hasID {
		return labtrust.Event{}, fieldError("EventIdentification/EventID", "missing")
	}
	e.Type = p.eventID.decode()
	if e.Type.Code == "" && e.Type.Display == "" {
		return labtrust.Event{}, fieldError("EventIdentification/EventID", "no code")
	}
	e.Subtype = p.subtypes
	e.Purpose = p.purposes

	if len(p.parts) > 0 {
		pt := &p.parts[0]
		for i := range p.parts {
			if p.parts[i].requestor {
				pt = &p.parts[i]
				break
			}
		}
		e.Actor = labtrust.Actor{
			ID:    pt.userID.str(true),
			AltID: pt.altID.str(true),
			Name:  pt.userName.str(true),
		}
		switch string(bytes.TrimSpace(pt.userType.b)) {
		case "1":
			e.Actor.UserType = "person"
		case "2":
			e.Actor.UserType = "system"
		}
		if pt.hasRole {
			c := pt.role.decode()
			e.Actor.Role = c.Code
			if e.Actor.Role == "" {
				e.Actor.Role = c.Display
			}
		}
		e.Network = pt.network.str(true)
	}
	if p.hasSiteAttr {
		e.Actor.Site = p.siteID.str(true)
	} else {
		e.Actor.Site = p.sourceID.str(true)
	}

	e.Patients = p.patients
	e.Objects = p.objects
	if len(e.Patients) > 0 {
		e.Kind = labtrust.KindAccess
	}
	if err := e.Validate(); err != nil {
		return labtrust.Event{}, err
	}
	return e, nil
}

// parseDateTime parses an xs:dateTime that carries a time zone and returns
// it in UTC. The shape is checked first because time.Parse also accepts
// forms xs:dateTime does not (one-digit hours, comma fractions). The error
// text never contains the value.
func parseDateTime(s string) (time.Time, error) {
	// YYYY-MM-DDThh:mm:ss[.f+](Z|+hh:mm|-hh:mm)
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape) {
		return time.Time{}, errors.New("not an xs:dateTime")
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' && (s[i] < '0' || s[i] > '9') || shape[i] != 'd' && s[i] != shape[i] {
			return time.Time{}, errors.New("not an xs:dateTime")
		}
	}
	rest := s[len(shape):]
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 || i > 10 {
			return time.Time{}, errors.New("not an xs:dateTime with time zone")
		}
		rest = rest[i:]
	}
	switch {
	case rest == "":
		return time.Time{}, errors.New("no time zone")
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		isDigits(rest[1:3]) && isDigits(rest[4:6]):
	default:
		return time.Time{}, errors.New("not an xs:dateTime with time zone")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not an xs:dateTime with time zone")
	}
	t = t.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, errors.New("outside years 0000-9999 in UTC")
	}
	return t, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
