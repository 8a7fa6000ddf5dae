package labtrust

import (
	"encoding/hex"
	"strconv"
	"unicode/utf8"
)

// appendCanonical writes the canonical bytes of en: the JCS (RFC 8785) form
// of the canonicalEntry shape, keys in lexicographic order. It is the hot
// path of ingest, so it appends directly instead of going through
// encoding/json's reflection; a test and a fuzz target hold it byte-equal to
// the encoding/json reference. Text must already be valid UTF-8.
func appendCanonical(b []byte, en *Entry) []byte {
	e := &en.Event
	b = append(b, '{')
	if e.Action != "" {
		b = appendKey(b, "action", false)
		b = appendJSONString(b, string(e.Action))
	}
	b = appendKey(b, "actor", e.Action != "")
	a := &e.Actor
	b = appendObject(b, field{"altId", a.AltID}, field{"id", a.ID}, field{"name", a.Name},
		field{"role", a.Role}, field{"site", a.Site}, field{"type", a.UserType})
	b = appendKey(b, "index", true)
	b = strconv.AppendUint(b, en.Index, 10)
	b = appendKey(b, "kind", true)
	b = appendJSONString(b, string(e.Kind))
	if len(en.Links) > 0 {
		b = appendKey(b, "links", true)
		b = append(b, '[')
		for i, l := range en.Links {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"hasPrev":`...)
			b = strconv.AppendBool(b, l.HasPrev)
			b = append(b, `,"patient":`...)
			b = strconv.AppendInt(b, int64(l.Patient), 10)
			if l.HasPrev {
				b = append(b, `,"prevHash":"`...)
				b = hex.AppendEncode(b, l.PrevHash[:])
				b = append(b, '"')
			}
			b = append(b, `,"prevIndex":`...)
			b = strconv.AppendUint(b, l.PrevIndex, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if e.Network != "" {
		b = appendKey(b, "network", true)
		b = appendJSONString(b, e.Network)
	}
	if len(e.Objects) > 0 {
		b = appendKey(b, "objects", true)
		b = append(b, '[')
		for i, o := range e.Objects {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendObject(b, field{"id", o.ID}, field{"query", o.Query}, field{"role", o.Role}, field{"type", o.Type})
		}
		b = append(b, ']')
	}
	b = appendKey(b, "outcome", true)
	b = strconv.AppendInt(b, int64(e.Outcome), 10)
	if len(e.Patients) > 0 {
		b = appendKey(b, "patients", true)
		b = append(b, '[')
		for i, p := range e.Patients {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendJSONString(b, p.ID)
			if p.System != "" {
				b = append(b, `,"system":`...)
				b = appendJSONString(b, p.System)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(e.Purpose) > 0 {
		b = appendKey(b, "purpose", true)
		b = appendCodes(b, e.Purpose)
	}
	b = appendKey(b, "source", true)
	b = appendJSONString(b, e.Source)
	if e.SourceRef != "" {
		b = appendKey(b, "sourceRef", true)
		b = appendJSONString(b, e.SourceRef)
	}
	if len(e.Subtype) > 0 {
		b = appendKey(b, "subtype", true)
		b = appendCodes(b, e.Subtype)
	}
	b = appendKey(b, "time", true)
	b = append(b, '"')
	b = e.Time.UTC().AppendFormat(b, TimeLayout)
	b = append(b, '"')
	if !e.Type.IsZero() {
		b = appendKey(b, "type", true)
		b = appendCode(b, e.Type)
	}
	b = appendKey(b, "v", true)
	b = strconv.AppendInt(b, CanonicalVersion, 10)
	return append(b, '}')
}

func appendKey(b []byte, k string, comma bool) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

type field struct{ k, v string }

// appendObject writes an object of the non-empty fields (keys in order).
func appendObject(b []byte, fields ...field) []byte {
	b = append(b, '{')
	first := true
	for _, f := range fields {
		if f.v != "" {
			b = appendKey(b, f.k, !first)
			b = appendJSONString(b, f.v)
			first = false
		}
	}
	return append(b, '}')
}

func appendCode(b []byte, c Code) []byte {
	return appendObject(b, field{"code", c.Code}, field{"display", c.Display}, field{"system", c.System})
}

func appendCodes(b []byte, cs []Code) []byte {
	b = append(b, '[')
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCode(b, c)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes as JCS does: quote, backslash and control
// characters only (\b \f \n \r \t by name, others as \u00xx); everything
// else, U+2028 and U+2029 included, is written as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf || c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
