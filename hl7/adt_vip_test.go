package hl7_test

import (
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/hl7"
)

func TestVIPRoundTrip(t *testing.T) {
	for _, vip := range []bool{true, false} {
		p := labtrust.Patient{ID: labtrust.PatientRef{System: "LAB", ID: "MRN1"}, Name: labtrust.HumanName{Family: "Doe"}, VIP: vip}
		raw := hl7.EncodeADT(p, "A08", "C1", time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), nil)
		m, err := hl7.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Field("PV1", 16).String(); vip && got != "VIP" {
			t.Fatalf("PV1-16 = %q", got)
		}
		r, err := hl7.Record(m, "adt")
		if err != nil || r.Patient.VIP != vip {
			t.Fatalf("VIP %v read back as %v (%v)", vip, r.Patient.VIP, err)
		}
	}
	m, _ := hl7.Parse([]byte("MSH|^~\\&|A|B|C|D|202611020900||ADT^A08|C2|P|2.5\rPID|1||MRN2^^^LAB^MR\rPV1|1|I|||||||||||||||N\r"))
	if r, err := hl7.Record(m, "adt"); err != nil || r.Patient.VIP {
		t.Fatalf("PV1-16 N: %v %v", r.Patient.VIP, err)
	}
}
