package breach

import (
	"fmt"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

// ICS writes the owed obligations with a fixed deadline as an iCalendar
// (RFC 5545) file: one all-day event per deadline with the party, what
// they need and the provision, and reminders a week and a day before. It
// names the incident by number only, because calendars leave the
// system; the UIDs are stable, so importing it again updates the events.
func ICS(incident int64, obs []Obligation, now time.Time) []byte {
	cal := ics.NewCalendar()
	cal.SetMethod(ics.MethodPublish)
	cal.SetProductId("-//labtrust//breach obligations//EN")
	cal.SetName(fmt.Sprintf("Incident %d: notice deadlines", incident))
	for _, o := range obs {
		if o.Status != StatusOwed || o.Due.IsZero() {
			continue
		}
		ev := cal.AddEvent(fmt.Sprintf("incident-%d-%s@labtrust", incident, strings.ReplaceAll(o.Key, "/", "-")))
		ev.SetDtStampTime(now.UTC())
		ev.SetAllDayStartAt(o.Due)
		ev.SetAllDayEndAt(o.Due.AddDate(0, 0, 1))
		ev.SetSummary(fmt.Sprintf("Incident %d: notice to %s due (%s)", incident, o.Party, o.Jurisdiction))
		desc := fmt.Sprintf("%s.\nPeople: %d.\nTiming: %s.\nProvision: %s.", o.What, o.Count, o.DueText, o.Citation)
		if o.Delayed {
			desc += "\nMoved by a law-enforcement delay (45 CFR 164.412)."
		}
		ev.SetDescription(desc)
		for _, before := range []string{"-P7D", "-P1D"} {
			al := ev.AddAlarm()
			al.SetAction(ics.ActionDisplay)
			al.SetTrigger(before)
			al.SetProperty(ics.ComponentPropertyDescription, "Breach notice deadline")
		}
	}
	return []byte(cal.Serialize())
}
