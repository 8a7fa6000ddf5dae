package csvsrc

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labtrust/labtrust"
)

// Times outside this range are surely misread: no LIS logged before 1970,
// and the canonical encoding has four-digit years.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// event converts one well-formed row. On failure it returns the reason,
// which names columns and never repeats a cell.
func (p *parser) event(row []string) (labtrust.Event, string) {
	var e labtrust.Event
	var why string
	cell := func(f *field) string {
		if why != "" || f.idx < 0 {
			return ""
		}
		if f.idx >= len(row) {
			why = p.col(f) + ": the row has only " + strconv.Itoa(len(row)) + " fields"
			return ""
		}
		v := strings.TrimSpace(row[f.idx])
		if !utf8.ValidString(v) {
			why = p.col(f) + ": not valid UTF-8"
			return ""
		}
		return v
	}

	ts := cell(&p.time)
	e.Actor.ID = cell(&p.actorID)
	e.Actor.Name = cell(&p.actorName)
	e.Actor.Role = cell(&p.actorRole)
	e.Actor.Site = cell(&p.actorSite)
	act := cell(&p.action)
	out := cell(&p.outcome)
	objType := cell(&p.objectType)
	objID := cell(&p.objectID)
	e.Network = cell(&p.network)
	purpose := cell(&p.purpose)
	e.SourceRef = cell(&p.sourceRef)
	for i := range p.patients {
		id := cell(&p.patients[i])
		if id == "" || hasPatient(e.Patients, id) {
			continue // a row may name one patient in several columns
		}
		if e.Patients == nil {
			e.Patients = make([]labtrust.PatientRef, 0, len(p.patients))
		}
		e.Patients = append(e.Patients, labtrust.PatientRef{System: p.m.PatientSystem, ID: id})
	}
	if why != "" {
		return e, why
	}

	if ts == "" {
		return e, p.col(&p.time) + ": empty"
	}
	t, ok := p.parseTime(ts)
	if !ok {
		return e, p.col(&p.time) + ": cannot parse time " + p.layoutDesc()
	}
	if t.Before(minTime) || t.After(maxTime) {
		return e, p.col(&p.time) + ": time is before 1970 or after 9999"
	}
	e.Time = t.UTC()

	var role string
	if p.action.idx >= 0 {
		r, ok := p.actions.get(act)
		if !ok {
			return e, p.col(&p.action) + ": value is not in actionMap"
		}
		e.Action, role = r.Action, r.Role
	}
	if p.outcome.idx >= 0 {
		var ok bool
		if p.numOuts {
			n, err := strconv.Atoi(out)
			e.Outcome, ok = labtrust.Outcome(n), err == nil && labtrust.Outcome(n).Valid()
			if !ok {
				return e, p.col(&p.outcome) + ": value is not one of 0 4 8 12 (and outcomeMap is empty)"
			}
		} else if e.Outcome, ok = p.outs.get(out); !ok {
			return e, p.col(&p.outcome) + ": value is not in outcomeMap"
		}
	}

	if objType == "" && (objID != "" || role != "") {
		objType = p.m.ObjectType
	}
	if objType != "" || objID != "" || role != "" {
		e.Objects = []labtrust.Object{{Type: objType, ID: objID, Role: role}}
	}
	if purpose != "" {
		e.Purpose = []labtrust.Code{{System: p.m.PurposeSystem, Code: purpose}}
	}
	e.Source = p.source
	e.Type = p.m.EventType
	switch {
	case p.m.Kind != "":
		e.Kind = p.m.Kind
	case len(e.Patients) > 0:
		e.Kind = labtrust.KindAccess
	default:
		e.Kind = labtrust.KindSecurity
	}
	if err := e.Validate(); err != nil {
		return e, err.Error() // a ValidationError: field and reason, no value
	}
	return e, ""
}

func hasPatient(ps []labtrust.PatientRef, id string) bool {
	for _, p := range ps {
		if p.ID == id {
			return true
		}
	}
	return false
}

// col names a column for a reason: by header name, or by number.
func (p *parser) col(f *field) string {
	if p.header {
		return "column " + strconv.Quote(f.name)
	}
	return "column " + f.name
}

func (p *parser) layoutDesc() string {
	switch p.layout {
	case LayoutRFC3339:
		return "as RFC 3339"
	case LayoutUnix:
		return "as unix seconds"
	case LayoutUnixMS:
		return "as unix milliseconds"
	}
	return "with layout " + strconv.Quote(p.layout)
}

func (p *parser) parseTime(s string) (time.Time, bool) {
	switch p.layout {
	case LayoutRFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	case LayoutUnix:
		return parseUnix(s)
	case LayoutUnixMS:
		ms, err := strconv.ParseInt(s, 10, 64)
		return time.UnixMilli(ms), err == nil
	}
	t, err := time.ParseInLocation(p.layout, s, p.loc)
	return t, err == nil
}

// parseUnix reads seconds with an optional fraction of up to nine digits.
func parseUnix(s string) (time.Time, bool) {
	sec, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || sec == "" || sec[0] == '+' {
		return time.Time{}, false
	}
	var ns int64
	if hasFrac {
		if frac == "" || len(frac) > 9 || n < 0 || strings.HasPrefix(sec, "-") {
			return time.Time{}, false
		}
		for i := 0; i < 9; i++ {
			ns *= 10
			if i < len(frac) {
				c := frac[i]
				if c < '0' || c > '9' {
					return time.Time{}, false
				}
				ns += int64(c - '0')
			}
		}
	}
	return time.Unix(n, ns), true
}
