package clinical_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/clinical"
)

type collect struct {
	recs    []clinical.Record
	rejects []labtrust.Reject
}

func (c *collect) Record(_ context.Context, r clinical.Record) error {
	c.recs = append(c.recs, r)
	return nil
}

func (c *collect) Reject(_ context.Context, r labtrust.Reject) error {
	c.rejects = append(c.rejects, r)
	return nil
}

func summary(rs []clinical.Record) string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s order=%s patient=%s %s", r.Kind, r.ID, r.OrderID, r.Patient, r.Time.Format("01-02T15:04")))
	}
	return strings.Join(out, "; ")
}

func TestHL7(t *testing.T) {
	var in []byte
	for _, f := range []string{"testdata/orm.hl7", "testdata/oru.hl7"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, b...)
	}
	in = append(in, "MSH|^~\\&|A|B|C|D|20261102||ADT^A04|C3|P|2.5\rPID|1||X^^^LAB^MR\r"...)
	in = append(in, "MSH|^~\\&|A|B|C|D|20261102||ORM^O01|C4|P|2.5\rORC|NW|ORD-1\r"...)
	var c collect
	if err := clinical.ParseHL7(context.Background(), "lis", bytes.NewReader(in), &c); err != nil {
		t.Fatal(err)
	}
	want := "order ORD-100 order= patient=MRN0012345 11-02T08:59; order ORD-100 order= patient=MRN0012345 11-02T12:00; " +
		"report RPT-77 order=ORD-100 patient=MRN0012345 11-02T12:00; specimen SP-55 order=ORD-100 patient=MRN0012345 11-02T12:00"
	if got := summary(c.recs); got != want {
		t.Fatalf("records\n %s\nwant\n %s", got, want)
	}
	if len(c.rejects) != 2 || !strings.Contains(c.rejects[0].Reason, "ADT^A04, not ORM^O01") || !strings.Contains(c.rejects[1].Reason, "PID-3") ||
		c.rejects[1].Position != "message 4" || c.rejects[0].Format != clinical.FormatHL7 {
		t.Fatalf("rejects %+v", c.rejects)
	}
}

func TestFHIR(t *testing.T) {
	f, err := os.Open("testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c collect
	if err := clinical.ParseFHIR(context.Background(), "ehr", f, &c); err != nil {
		t.Fatal(err)
	}
	want := "order ORD-200 order= patient=MRN0099999 11-02T10:00; specimen ACC-9 order=ORD-200 patient=MRN0099999 11-02T10:30; " +
		"report RPT-300 order=ORD-200 patient=MRN0099999 11-03T08:00"
	if got := summary(c.recs); got != want {
		t.Fatalf("records\n %s\nwant\n %s", got, want)
	}
	reasons := []string{}
	for _, r := range c.rejects {
		reasons = append(reasons, r.Position+": "+r.Reason)
	}
	if strings.Join(reasons, "; ") != `entry 1: not a JSON resource; entry 4: a "Observation", not a ServiceRequest, Specimen or DiagnosticReport; entry 5: ServiceRequest.subject: no patient` {
		t.Fatalf("rejects: %s", strings.Join(reasons, "; "))
	}
	// NDJSON, line by line.
	c = collect{}
	nd := `{"resourceType":"ServiceRequest","identifier":[{"value":"O-1"}],"subject":{"reference":"Patient/P1"},"authoredOn":"2026-11-02"}` + "\n\nnot json\n"
	if err := clinical.ParseFHIR(context.Background(), "ehr", strings.NewReader(nd), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.recs) != 1 || c.recs[0].ID != "O-1" || len(c.rejects) != 1 || c.rejects[0].Position != "line 3" {
		t.Fatalf("ndjson: %+v %+v", c.recs, c.rejects)
	}
}

func FuzzParseHL7(f *testing.F) {
	for _, p := range []string{"testdata/orm.hl7", "testdata/oru.hl7"} {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c collect
		if err := clinical.ParseHL7(context.Background(), "f", bytes.NewReader(b), &c); err != nil {
			return
		}
		for _, r := range c.recs {
			if r.ID == "" || r.Patient == "" || r.Kind != "order" && r.OrderID == "" {
				t.Fatalf("incomplete record %+v", r)
			}
		}
	})
}

func FuzzParseFHIR(f *testing.F) {
	b, _ := os.ReadFile("testdata/bundle.json")
	f.Add(b)
	f.Add([]byte(`{"resourceType":"ServiceRequest","id":"a","subject":{"reference":"Patient/b"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c collect
		if err := clinical.ParseFHIR(context.Background(), "f", bytes.NewReader(b), &c); err != nil {
			return
		}
		for _, r := range c.recs {
			if r.ID == "" || r.Kind == "order" && r.Patient == "" || r.Kind != "order" && r.OrderID == "" {
				t.Fatalf("incomplete record %+v", r)
			}
		}
	})
}
