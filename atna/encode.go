package atna

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

// Encode writes e as a DICOM-form AuditMessage (coded values as csd-code,
// codeSystemName, originalText) that Parse(e.Source, ·) maps back to an
// Event equal to e.
//
// The contract holds for every Event that passes Validate, whose Kind is
// KindAccess with patients or KindSecurity without, whose Type is not zero,
// whose Actor.UserType is "", "person" or "system", whose text is XML
// characters only, and whose SourceRef is empty (an AuditMessage has no
// place for it; Encode drops it). Code systems given by a designator or OID
// that Parse maps to a URI ("DCM") come back as the URI, and an
// Object.Query that is not text (see Parse) comes back in its "base64:"
// form. Encode returns an error, naming the
// field, for Events it cannot represent.
//
// Values Parse cannot otherwise recover are written in standard places:
// AuditSourceID is e.Source, AuditEnterpriseSiteID is Actor.Site (always
// written, so an empty site stays empty), and an Object.Role without a
// ParticipantObjectTypeCodeRole number goes into a ParticipantObjectDetail
// of type "labtrust:role".
func Encode(e labtrust.Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("atna: encode: %w", err)
	}
	switch {
	case e.Kind == labtrust.KindAccess:
	case e.Kind == labtrust.KindSecurity && len(e.Patients) == 0:
	case e.Kind == labtrust.KindSecurity:
		return nil, errors.New("atna: encode: patients: a security event cannot name patients in an AuditMessage")
	default:
		return nil, errors.New("atna: encode: kind: only access and security events have an AuditMessage form")
	}
	if e.Type.IsZero() {
		return nil, errors.New("atna: encode: type: missing (EventID is required)")
	}
	if e.Action != "" && !e.Action.Valid() {
		return nil, errors.New("atna: encode: action: not one of C, R, U, D, E")
	}
	t := e.Time.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return nil, errors.New("atna: encode: time: year outside 0000-9999")
	}

	w := writer{buf: make([]byte, 0, 1024)}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<AuditMessage>`)

	w.raw(`<EventIdentification`)
	if e.Action != "" {
		w.attr("EventActionCode", string(e.Action), "action")
	}
	w.attr("EventDateTime", t.Format(time.RFC3339Nano), "time")
	w.attr("EventOutcomeIndicator", strconv.Itoa(int(e.Outcome)), "outcome")
	w.raw(`>`)
	w.code("EventID", e.Type, "type")
	for i, c := range e.Subtype {
		w.code("EventTypeCode", c, "subtype["+strconv.Itoa(i)+"]")
	}
	for i, c := range e.Purpose {
		w.code("PurposeOfUse", c, "purpose["+strconv.Itoa(i)+"]")
	}
	w.raw(`</EventIdentification>`)

	a := e.Actor
	w.raw(`<ActiveParticipant`)
	w.attr("UserID", a.ID, "actor.id")
	if a.AltID != "" {
		w.attr("AlternativeUserID", a.AltID, "actor.altId")
	}
	if a.Name != "" {
		w.attr("UserName", a.Name, "actor.name")
	}
	w.raw(` UserIsRequestor="true"`)
	switch a.UserType {
	case "":
	case "person":
		w.raw(` UserTypeCode="1"`)
	case "system":
		w.raw(` UserTypeCode="2"`)
	default:
		return nil, errors.New("atna: encode: actor.type: not person or system")
	}
	if e.Network != "" {
		w.attr("NetworkAccessPointID", e.Network, "network")
		if net.ParseIP(e.Network) != nil {
			w.raw(` NetworkAccessPointTypeCode="2"`)
		} else {
			w.raw(` NetworkAccessPointTypeCode="1"`)
		}
	}
	if a.Role != "" {
		w.raw(`>`)
		if meaning, ok := dcmRoles[a.Role]; ok {
			w.code("RoleIDCode", labtrust.Code{System: SystemDCM, Code: a.Role, Display: meaning}, "actor.role")
		} else {
			w.code("RoleIDCode", labtrust.Code{System: privateScheme, Code: a.Role, Display: a.Role}, "actor.role")
		}
		w.raw(`</ActiveParticipant>`)
	} else {
		w.raw(`/>`)
	}

	w.raw(`<AuditSourceIdentification`)
	w.attr("AuditEnterpriseSiteID", a.Site, "actor.site")
	w.attr("AuditSourceID", e.Source, "source")
	w.raw(`/>`)

	for i, pr := range e.Patients {
		field := "patients[" + strconv.Itoa(i) + "]"
		w.raw(`<ParticipantObjectIdentification`)
		w.attr("ParticipantObjectID", pr.ID, field+".id")
		w.raw(` ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"`)
		if pr.System == "" {
			w.raw(`/>`)
			continue
		}
		w.raw(`>`)
		if meaning, ok := rfc3881IDTypes[pr.System]; ok {
			w.code("ParticipantObjectIDTypeCode", labtrust.Code{System: "RFC-3881", Code: pr.System, Display: meaning}, field+".system")
		} else {
			w.code("ParticipantObjectIDTypeCode", labtrust.Code{System: privateScheme, Code: pr.System, Display: "Patient Identifier"}, field+".system")
		}
		w.raw(`</ParticipantObjectIdentification>`)
	}
	for i, o := range e.Objects {
		field := "objects[" + strconv.Itoa(i) + "]"
		w.raw(`<ParticipantObjectIdentification`)
		w.attr("ParticipantObjectID", o.ID, field+".id")
		w.raw(` ParticipantObjectTypeCode="2"`)
		roleNum, roleInDetail := roleNumber(o.Role)
		if roleNum != "" {
			w.raw(` ParticipantObjectTypeCodeRole="` + roleNum + `"`)
		}
		w.raw(`>`)
		if o.Type != "" {
			w.code("ParticipantObjectIDTypeCode", labtrust.Code{System: privateScheme, Code: o.Type, Display: o.Type}, field+".type")
		}
		if o.Query != "" {
			q := base64.StdEncoding.EncodeToString([]byte(o.Query))
			if rest, ok := strings.CutPrefix(o.Query, binaryQueryPrefix); ok {
				if b, err := base64.StdEncoding.Strict().DecodeString(rest); err == nil && !isText(b) {
					// A binary query Parse kept in base64; write its bytes back.
					q = rest
				}
			}
			w.raw(`<ParticipantObjectQuery>` + q + `</ParticipantObjectQuery>`)
		}
		if roleInDetail {
			w.raw(`<ParticipantObjectDetail type="` + roleDetailType + `" value="` +
				base64.StdEncoding.EncodeToString([]byte(o.Role)) + `"/>`)
		}
		w.raw(`</ParticipantObjectIdentification>`)
	}
	w.raw(`</AuditMessage>`)
	if w.err != nil {
		return nil, w.err
	}
	return w.buf, nil
}

// roleNumber returns the ParticipantObjectTypeCodeRole to write for role,
// or reports that the role has to travel in a ParticipantObjectDetail. A
// number outside the defined range is written as is only when Parse would
// read it back unchanged.
func roleNumber(role string) (num string, inDetail bool) {
	if role == "" {
		return "", false
	}
	for i, r := range objectRoles {
		if r != "" && r == role {
			return strconv.Itoa(i), false
		}
	}
	if n, err := strconv.Atoi(role); err == nil && strconv.Itoa(n) == role && (n <= 0 || n >= len(objectRoles)) {
		return role, false
	}
	return "", true
}

// writer accumulates XML and remembers the first value it could not write.
type writer struct {
	buf []byte
	err error
}

func (w *writer) raw(s string) { w.buf = append(w.buf, s...) }

func (w *writer) attr(name, val, field string) {
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '=', '"')
	w.escape(val, field)
	w.buf = append(w.buf, '"')
}

func (w *writer) code(elem string, c labtrust.Code, field string) {
	w.buf = append(w.buf, '<')
	w.buf = append(w.buf, elem...)
	w.attr("csd-code", c.Code, field+".code")
	sys := c.System
	if n, ok := nameBySystem[sys]; ok {
		sys = n
	}
	w.attr("codeSystemName", sys, field+".system")
	w.attr("originalText", c.Display, field+".display")
	w.buf = append(w.buf, '/', '>')
}

// escape writes s as attribute content. Whitespace other than space is
// written as character references so that attribute-value normalization
// on the reading side gives back the same string.
func (w *writer) escape(s, field string) {
	if w.err != nil {
		return
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '&':
				w.raw("&amp;")
			case '<':
				w.raw("&lt;")
			case '>':
				w.raw("&gt;")
			case '"':
				w.raw("&quot;")
			case '\t':
				w.raw("&#x9;")
			case '\n':
				w.raw("&#xA;")
			case '\r':
				w.raw("&#xD;")
			default:
				if c < 0x20 {
					w.err = errors.New("atna: encode: " + field + ": control character cannot be written in XML")
					return
				}
				w.buf = append(w.buf, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !isXMLChar(r) {
			w.err = errors.New("atna: encode: " + field + ": not valid UTF-8 XML text")
			return
		}
		w.buf = append(w.buf, s[i:i+n]...)
		i += n
	}
}
