package atna

import (
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

// benchEvent is a typical lab access event; its DICOM form is about 1 KB.
var benchEvent = labtrust.Event{
	Time: time.Date(2025, 3, 4, 5, 6, 7, 891000000, time.UTC), Source: "lis", Kind: labtrust.KindAccess,
	Type:    labtrust.Code{System: SystemDCM, Code: "110110", Display: "Patient Record"},
	Subtype: []labtrust.Code{{System: SystemIHETransactions, Code: "ITI-78", Display: "Mobile Patient Demographics Query"}},
	Action:  labtrust.ActionRead, Outcome: labtrust.OutcomeSuccess,
	Purpose: []labtrust.Code{{System: SystemActReason, Code: "TREAT", Display: "treatment"}},
	Actor: labtrust.Actor{ID: "jdoe@lab.example.org", AltID: "AETITLE=LISWS01", Name: "Jane Doe",
		Role: "110153", Site: "Main Lab", UserType: "person"},
	Network:  "10.20.30.40",
	Patients: []labtrust.PatientRef{{System: "urn:oid:1.2.840.114350.1.13.99", ID: "MRN0012345678"}},
	Objects: []labtrust.Object{
		{Type: "DiagnosticReport", ID: "DiagnosticReport/7b1d5a4e-98c1-4f0e-9a55-0d3f7c2a1b90", Role: "report"},
		{Type: "Query", ID: "search", Role: "query", Query: "GET /fhir/DiagnosticReport?subject=Patient/123&category=LAB&_count=50"},
	},
}

func BenchmarkParse(b *testing.B) {
	doc, err := Encode(benchEvent)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("lis", doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkParseVector(b *testing.B) {
	for _, name := range []string{"dcm4chee-patient-record-created.xml", "openhim-pix-query-rfc3881form.xml"} {
		doc := readVector(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse("pacs", doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	b.ReportAllocs()
	var n int
	for b.Loop() {
		doc, err := Encode(benchEvent)
		if err != nil {
			b.Fatal(err)
		}
		n = len(doc)
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
