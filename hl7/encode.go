package hl7

import (
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

var std = delims{field: '|', comp: '^', rep: '~', esc: '\\', sub: '&'}

// EncodeADT writes p as an ADT message (MSH, EVN, PID, and NK1 for a
// guardian) with the standard delimiters: what demo data and tests feed to
// the registry. mergedFrom, if set, makes it an A40 with an MRG segment.
func EncodeADT(p labtrust.Patient, trigger, controlID string, t time.Time, mergedFrom *labtrust.PatientRef) []byte {
	e := std.escape
	var b strings.Builder
	ts := t.UTC().Format("20060102150405") + "+0000"
	structure := map[string]string{"A01": "ADT_A01", "A04": "ADT_A01", "A08": "ADT_A01", "A28": "ADT_A05", "A31": "ADT_A05", "A40": "ADT_A39"}[trigger]
	b.WriteString("MSH|^~\\&|LABTRUST-DEMO|LAB|LABTRUST|LAB|" + ts + "||ADT^" + e(trigger) + "^" + structure + "|" + e(controlID) + "|P|2.5.1||||||UNICODE UTF-8\r")
	b.WriteString("EVN|" + e(trigger) + "|" + ts + "\r")
	ids := e(p.ID.ID) + "^^^" + e(p.ID.System) + "^MR"
	for _, o := range p.OtherIDs {
		ids += "~" + e(o.ID) + "^^^" + e(o.System) + "^PI"
	}
	if p.SSN != "" {
		ids += "~" + e(p.SSN) + "^^^SSA^SS"
	}
	name := func(n labtrust.HumanName) string {
		given, middle := "", ""
		if len(n.Given) > 0 {
			given = n.Given[0]
			middle = strings.Join(n.Given[1:], " ")
		}
		return e(n.Family) + "^" + e(given) + "^" + e(middle) + "^" + e(n.Suffix) + "^" + e(n.Prefix) + "^^L"
	}
	addr := func(a labtrust.Address) string {
		line1, line2 := "", ""
		if len(a.Lines) > 0 {
			line1 = a.Lines[0]
		}
		if len(a.Lines) > 1 {
			line2 = strings.Join(a.Lines[1:], ", ")
		}
		use := map[string]string{"home": "H", "work": "B", "mailing": "M", "temp": "C"}[a.Use]
		return e(line1) + "^" + e(line2) + "^" + e(a.City) + "^" + e(a.State) + "^" + e(a.PostalCode) + "^" + e(a.Country) + "^" + use
	}
	var addrs []string
	for _, a := range p.Addresses {
		addrs = append(addrs, addr(a))
	}
	var tel []string
	for _, ph := range p.Phones {
		tel = append(tel, e(ph)+"^PRN^PH")
	}
	for _, em := range p.Emails {
		tel = append(tel, "^NET^Internet^"+e(em))
	}
	sex := map[string]string{"female": "F", "male": "M", "other": "O", "unknown": "U"}[p.Sex]
	death, deathFlag := "", ""
	if p.Deceased {
		death, deathFlag = strings.ReplaceAll(p.DeceasedAt, "-", ""), "Y"
	}
	pid := []string{"PID", "1", "", ids, "", name(p.Name), "", strings.ReplaceAll(p.BirthDate, "-", ""), sex, "", "",
		strings.Join(addrs, "~"), "", strings.Join(tel, "~"), "", e(p.Language)}
	for len(pid) < 29 {
		pid = append(pid, "")
	}
	pid = append(pid, death, deathFlag)
	b.WriteString(strings.Join(pid, "|") + "\r")
	if g := p.Guardian; g != nil {
		nk1 := "NK1|1|" + name(g.Name) + "|" + e(g.Relationship) + "|"
		if g.Address != nil {
			nk1 += addr(*g.Address)
		}
		nk1 += "|" + strings.Join(func() []string {
			var out []string
			for _, ph := range g.Phones {
				out = append(out, e(ph)+"^PRN^PH")
			}
			return out
		}(), "~")
		b.WriteString(nk1 + "\r")
	}
	if mergedFrom != nil {
		b.WriteString("MRG|" + e(mergedFrom.ID) + "^^^" + e(mergedFrom.System) + "^MR\r")
	}
	if p.VIP {
		pv1 := []string{"PV1", "1", "O"}
		for len(pv1) < 16 {
			pv1 = append(pv1, "")
		}
		b.WriteString(strings.Join(append(pv1, "VIP"), "|") + "\r") // PV1-16 VIP Indicator
	}
	return []byte(b.String())
}
