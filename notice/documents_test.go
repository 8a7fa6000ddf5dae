package notice

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust/breach"
)

// TestDocuments: a ransomware breach of 600 Texans and 12 people without
// an address owes media notice in Texas, substitute notice and the Texas
// Attorney General's packet; the HHS fields follow from the scope.
func TestDocuments(t *testing.T) {
	laws, err := breach.BuiltinLaws()
	if err != nil {
		t.Fatal(err)
	}
	d := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var ps []breach.Affected
	for range 600 {
		ps = append(ps, breach.Affected{State: "TX", Elements: []breach.Element{breach.ElementName, breach.ElementSSN, breach.ElementResults}, HasAddress: true})
	}
	for range 12 {
		ps = append(ps, breach.Affected{State: "TX", Elements: []breach.Element{breach.ElementName, breach.ElementHealthInsurance}})
	}
	obs := breach.Obligations(breach.Situation{Discovered: d, Entity: breach.EntityCoveredEntity, Patients: ps}, laws)
	sc := &breach.Scope{Patients: ps}
	b := &Breach{Incident: 4, Lab: Lab{Name: "Valley Lab", TollFree: "1-800-555-0100", Address: []string{"1 Lab Way"}, PortalURL: "https://trust.valleylab.example"},
		Texts:     map[string]Text{"en": {What: "Ransomware encrypted the LIS server.", Doing: "We restored from backups."}, "es": {What: "Un ransomware cifró el servidor.", Doing: "Restauramos las copias."}},
		Playbooks: []string{"ransomware"}, Discovered: d, From: d.AddDate(0, 0, -3), To: d.AddDate(0, 0, -1), Summary: sc.Summarize(), Obligations: obs,
		NoticeFrom: d.AddDate(0, 0, 20), NoticeTo: d.AddDate(0, 0, 60)}
	docs, err := b.Documents()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hhs-report.json", "substitute-notice-en.txt", "substitute-notice-es.txt", "media-notice-TX.txt", "regulator-TX.txt"} {
		if _, ok := docs[name]; !ok {
			t.Errorf("no %s among %d documents", name, len(docs))
		}
	}
	var hhs HHSReport
	if err := json.Unmarshal(docs["hhs-report.json"], &hhs); err != nil {
		t.Fatal(err)
	}
	if hhs.IndividualsAffected != 612 || hhs.TypeOfBreach != "Hacking/IT Incident" || hhs.Location != "Network Server" ||
		!hhs.MediaNotice || !hhs.SubstituteNotice || strings.Join(hhs.PHITypes, ",") != "Clinical,Demographic,Financial" {
		t.Errorf("HHS fields %+v", hhs)
	}
	if s := string(docs["substitute-notice-es.txt"]); !strings.Contains(s, "1-800-555-0100") || !strings.Contains(s, "90 días") || !strings.Contains(s, "Un ransomware cifró") {
		t.Errorf("substitute notice (es):\n%s", s)
	}
	if s := string(docs["regulator-TX.txt"]); !strings.Contains(s, "Texas Attorney General") || !strings.Contains(s, "Residents of TX affected: 612") ||
		!strings.Contains(s, "[ ] the number of Texas residents affected") {
		t.Errorf("Texas packet:\n%s", s)
	}
}
