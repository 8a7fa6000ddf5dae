// Package roster reads the lab's staff assignments as FHIR R4
// PractitionerRole resources (one per account: its role, site and weekly
// availableTime), so detection knows who works where and when, and which
// staff members are also patients of the lab.
package roster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// PatientMRNExtension is the extension on a PractitionerRole that gives
// the staff member's own MRN when they are also a patient of the lab (FHIR
// has no standard element for it).
const PatientMRNExtension = "https://labtrust.example/fhir/StructureDefinition/staff-patient-mrn"

// Member is one account's assignment.
type Member struct {
	Account string
	Name    string
	Role    string
	Site    string
	Shifts  []Shift
	MRN     string // set when the staff member is also a patient
}

// Shift is a weekly working time in the roster's zone: it starts on Day at
// Start (since midnight) and lasts Length (it may run past midnight).
type Shift struct {
	Day    time.Weekday
	Start  time.Duration
	Length time.Duration
}

// Roster is the staff assignments, by account.
type Roster struct {
	Members map[string]*Member
	Zone    *time.Location
}

type practitionerRole struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Active       *bool  `json:"active"`
	Identifier   []struct {
		Value string `json:"value"`
	} `json:"identifier"`
	Practitioner struct {
		Identifier struct {
			Value string `json:"value"`
		} `json:"identifier"`
		Display string `json:"display"`
	} `json:"practitioner"`
	Code []struct {
		Coding []struct {
			Code string `json:"code"`
		} `json:"coding"`
		Text string `json:"text"`
	} `json:"code"`
	Location []struct {
		Identifier struct {
			Value string `json:"value"`
		} `json:"identifier"`
		Display string `json:"display"`
	} `json:"location"`
	AvailableTime []struct {
		DaysOfWeek         []string `json:"daysOfWeek"`
		AllDay             bool     `json:"allDay"`
		AvailableStartTime string   `json:"availableStartTime"`
		AvailableEndTime   string   `json:"availableEndTime"`
	} `json:"availableTime"`
	Extension []struct {
		URL             string `json:"url"`
		ValueIdentifier struct {
			Value string `json:"value"`
		} `json:"valueIdentifier"`
	} `json:"extension"`
}

var days = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// Read reads PractitionerRole resources: NDJSON, one JSON resource, or a
// Bundle of them. zone is the local time of the availableTime values. Every
// problem is reported with the line (NDJSON) or entry it is on.
func Read(r io.Reader, zone *time.Location) (*Roster, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	ro := &Roster{Members: map[string]*Member{}, Zone: zone}
	trimmed := bytes.TrimSpace(data)
	var probe struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(trimmed, &probe) == nil && probe.ResourceType == "Bundle" {
		for i, e := range probe.Entry {
			if err := ro.add(e.Resource); err != nil {
				return nil, fmt.Errorf("roster: entry %d: %w", i, err)
			}
		}
		return ro, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := ro.add(sc.Bytes()); err != nil {
			return nil, fmt.Errorf("roster: line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	return ro, nil
}

func (ro *Roster) add(raw []byte) error {
	var pr practitionerRole
	if err := json.Unmarshal(raw, &pr); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if pr.ResourceType != "PractitionerRole" {
		return fmt.Errorf("a %q, not a PractitionerRole", pr.ResourceType)
	}
	if pr.Active != nil && !*pr.Active {
		return nil
	}
	m := &Member{Account: pr.Practitioner.Identifier.Value, Name: pr.Practitioner.Display}
	if m.Account == "" && len(pr.Identifier) > 0 {
		m.Account = pr.Identifier[0].Value
	}
	if m.Account == "" {
		return fmt.Errorf("PractitionerRole %q names no account (practitioner.identifier.value)", pr.ID)
	}
	for _, c := range pr.Code {
		if len(c.Coding) > 0 && c.Coding[0].Code != "" {
			m.Role = c.Coding[0].Code
			break
		}
		if c.Text != "" {
			m.Role = c.Text
			break
		}
	}
	for _, l := range pr.Location {
		if m.Site = l.Identifier.Value; m.Site == "" {
			m.Site = l.Display
		}
		break
	}
	for i, at := range pr.AvailableTime {
		start, end := 0*time.Hour, 24*time.Hour
		if !at.AllDay {
			var err error
			if start, err = clock(at.AvailableStartTime); err != nil {
				return fmt.Errorf("%s: availableTime[%d].availableStartTime: %v", m.Account, i, err)
			}
			if end, err = clock(at.AvailableEndTime); err != nil {
				return fmt.Errorf("%s: availableTime[%d].availableEndTime: %v", m.Account, i, err)
			}
		}
		length := end - start
		if length <= 0 {
			length += 24 * time.Hour // an end before the start runs past midnight
		}
		for _, d := range at.DaysOfWeek {
			wd, ok := days[strings.ToLower(d)]
			if !ok {
				return fmt.Errorf("%s: availableTime[%d]: %q is not a day (mon, tue, ...)", m.Account, i, d)
			}
			m.Shifts = append(m.Shifts, Shift{Day: wd, Start: start, Length: length})
		}
	}
	for _, x := range pr.Extension {
		if x.URL == PatientMRNExtension {
			m.MRN = strings.TrimSpace(x.ValueIdentifier.Value)
		}
	}
	if prev, dup := ro.Members[m.Account]; dup {
		// Several PractitionerRoles for one account: its shifts add up.
		prev.Shifts = append(prev.Shifts, m.Shifts...)
		return nil
	}
	ro.Members[m.Account] = m
	return nil
}

// clock reads "HH:MM:SS" (FHIR time).
func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04:05", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time like 07:30:00", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second, nil
}

// OnShift reports whether the account is known, and whether t falls in one
// of its shifts widened by margin on both sides. An account with no shifts
// is not judged (on is true).
func (ro *Roster) OnShift(account string, t time.Time, margin time.Duration) (known, on bool) {
	m := ro.Members[account]
	if m == nil {
		return false, true
	}
	if len(m.Shifts) == 0 {
		return true, true
	}
	local := t.In(ro.Zone)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, ro.Zone)
	// A shift that started up to a day before may still run, and one that
	// starts within margin after t counts too.
	for back := -1; back <= 1; back++ {
		day := midnight.AddDate(0, 0, back)
		for _, s := range m.Shifts {
			if s.Day != day.Weekday() {
				continue
			}
			from := day.Add(s.Start - margin)
			to := day.Add(s.Start + s.Length + margin)
			if !t.Before(from) && t.Before(to) {
				return true, true
			}
		}
	}
	return true, false
}
