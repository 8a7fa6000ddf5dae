package roster_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/roster"
)

var zone = time.FixedZone("lab", -5*3600)

// TestDemoRoster: the demo's PractitionerRoles say the same as the demo's
// own schedules, hour by hour over two weeks, for every account.
func TestDemoRoster(t *testing.T) {
	lab := demo.NewLab(demo.Config{Seed: 3, Patients: 2000})
	var b bytes.Buffer
	if err := lab.WriteRoster(&b); err != nil {
		t.Fatal(err)
	}
	ro, err := roster.Read(&b, zone)
	if err != nil {
		t.Fatal(err)
	}
	staff := lab.Staff()
	if len(ro.Members) != len(staff) {
		t.Fatalf("%d members for %d staff", len(ro.Members), len(staff))
	}
	patients := 0
	start := time.Date(2026, 10, 5, 0, 30, 0, 0, time.UTC)
	for k, st := range staff {
		m := ro.Members[st.ID]
		if m == nil || m.Role != string(st.Role) || m.MRN != st.MRN {
			t.Fatalf("%s: %+v", st.ID, m)
		}
		if m.MRN != "" {
			patients++
		}
		for h := 0; h < 14*24; h++ {
			at := start.Add(time.Duration(h) * time.Hour)
			_, on := ro.OnShift(st.ID, at, 0)
			if want := lab.OnShift(k, at); on != want {
				t.Fatalf("%s at %s: roster says %v, the demo %v (shifts %+v)", st.ID, at.In(zone), on, want, m.Shifts)
			}
		}
	}
	if patients == 0 {
		t.Fatal("no staff member is a patient in the demo roster")
	}
}

func TestRead(t *testing.T) {
	bundle := `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"PractitionerRole","practitioner":{"identifier":{"value":"ana"}},
"code":[{"text":"night-tech"}],"location":[{"display":"North"}],"availableTime":[{"daysOfWeek":["fri"],"availableStartTime":"22:00:00","availableEndTime":"06:00:00"}]}}]}`
	ro, err := roster.Read(strings.NewReader(bundle), zone)
	if err != nil {
		t.Fatal(err)
	}
	m := ro.Members["ana"]
	if m == nil || m.Role != "night-tech" || m.Site != "North" || len(m.Shifts) != 1 || m.Shifts[0].Length != 8*time.Hour {
		t.Fatalf("%+v", m)
	}
	sat3am := time.Date(2026, 11, 7, 3, 0, 0, 0, zone) // Friday's night shift, past midnight
	if known, on := ro.OnShift("ana", sat3am, 0); !known || !on {
		t.Fatal("the night shift does not run past midnight")
	}
	if _, on := ro.OnShift("ana", sat3am.Add(4*time.Hour), 0); on {
		t.Fatal("on shift after it ended")
	}
	if _, on := ro.OnShift("ana", sat3am.Add(3*time.Hour+30*time.Minute), time.Hour); !on {
		t.Fatal("the margin does not count")
	}
	if known, _ := ro.OnShift("bob", sat3am, 0); known {
		t.Fatal("an unknown account is known")
	}
	for _, c := range []struct{ in, want string }{
		{`{"resourceType":"Practitioner"}`, `line 1: a "Practitioner", not a PractitionerRole`},
		{`{"resourceType":"PractitionerRole","id":"x"}`, `names no account`},
		{`{"resourceType":"PractitionerRole","practitioner":{"identifier":{"value":"a"}},"availableTime":[{"daysOfWeek":["funday"],"allDay":true}]}`, `"funday" is not a day`},
		{`{"resourceType":"PractitionerRole","practitioner":{"identifier":{"value":"a"}},"availableTime":[{"daysOfWeek":["mon"],"availableStartTime":"7am"}]}`, `is not a time like 07:30:00`},
		{"\n{", "line 2: not JSON"},
	} {
		if _, err := roster.Read(strings.NewReader(c.in), zone); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.in, err, c.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	lab := demo.NewLab(demo.Config{Seed: 3, Patients: 200})
	var b bytes.Buffer
	lab.WriteRoster(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"PractitionerRole","practitioner":{"identifier":{"value":"a"}},"availableTime":[{"daysOfWeek":["sun"],"availableStartTime":"23:00:00","availableEndTime":"23:00:00"}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ro, err := roster.Read(bytes.NewReader(b), zone)
		if err != nil {
			return
		}
		for acct, m := range ro.Members {
			for _, s := range m.Shifts {
				if s.Length <= 0 || s.Length > 24*time.Hour {
					t.Fatalf("%s: shift %+v", acct, s)
				}
			}
			ro.OnShift(acct, time.Date(2026, 11, 7, 3, 0, 0, 0, zone), time.Hour)
		}
	})
}
