package fhir_test

import (
	"context"
	"strings"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/fhir"
)

type patients struct {
	recs    []labtrust.PatientRecord
	rejects []labtrust.Reject
}

func (p *patients) Patient(_ context.Context, r labtrust.PatientRecord) error {
	p.recs = append(p.recs, r)
	return nil
}
func (p *patients) Reject(_ context.Context, r labtrust.Reject) error {
	p.rejects = append(p.rejects, r)
	return nil
}

const lucia = `{"resourceType":"Patient","id":"p1",
 "identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:oid:1.2.3","value":"S-4431"},
   {"system":"http://hl7.org/fhir/sid/us-ssn","value":"123-45-6789"}],
 "name":[{"use":"official","family":"Peña","given":["Lucía","Ana"]}],
 "telecom":[{"system":"phone","value":"512-555-0142"},{"system":"email","value":"lucia@example.org"}],
 "gender":"female","birthDate":"2015-07-04",
 "address":[{"use":"home","line":["55 Oak Ave"],"city":"Austin","state":"tx","postalCode":"78701"}],
 "communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"es-MX"}]},"preferred":true}],
 "contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"MTH"}]}],
   "name":{"family":"Peña","given":["Ana"]},"telecom":[{"system":"phone","value":"512-555-0143"}]}]}`

func TestParsePatients(t *testing.T) {
	ctx := context.Background()
	merged := `{"resourceType":"Patient","identifier":[{"type":{"coding":[{"code":"MR"}]},"system":"urn:oid:1.2.3","value":"S-1"}],
	  "link":[{"other":{"identifier":{"system":"urn:oid:1.2.3","value":"S-0"}},"type":"replaces"}]}`
	for name, in := range map[string]string{
		"resource": lucia,
		"bundle":   `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + lucia + `},{"resource":` + merged + `},{"resource":{"resourceType":"Observation"}}]}`,
		"ndjson":   strings.ReplaceAll(lucia, "\n", "") + "\n" + strings.ReplaceAll(merged, "\n", "") + "\n{not json\n",
	} {
		var p patients
		if err := fhir.ParsePatients(ctx, "fhir", strings.NewReader(in), &p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(p.recs) == 0 {
			t.Fatalf("%s: no records", name)
		}
		r := p.recs[0].Patient
		if r.ID.ID != "S-4431" || r.SSN != "123-45-6789" || r.Name.Family != "Peña" || r.Language != "es" || r.Addresses[0].State != "TX" ||
			r.Guardian == nil || r.Guardian.Relationship != "MTH" || len(r.Emails) != 1 || r.BirthDate != "2015-07-04" {
			t.Fatalf("%s: %+v", name, r)
		}
		if name != "resource" {
			if len(p.recs) != 2 || p.recs[1].MergedFrom == nil || p.recs[1].MergedFrom.ID != "S-0" {
				t.Fatalf("%s: merge %+v", name, p.recs)
			}
			if len(p.rejects) != 1 || strings.Contains(p.rejects[0].Reason, "not json") {
				t.Fatalf("%s: rejects %+v", name, p.rejects)
			}
		}
	}
}

func FuzzParsePatients(f *testing.F) {
	f.Add([]byte(lucia))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","identifier":[{"value":"x"}]}}]}`))
	f.Add([]byte("{}\n{\"resourceType\":\"Patient\"}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p patients
		if err := fhir.ParsePatients(context.Background(), "f", strings.NewReader(string(b)), &p); err != nil {
			return
		}
		for _, r := range p.recs {
			if err := r.Validate(); err != nil {
				t.Fatalf("an invalid record got through: %v", err)
			}
		}
		// Every NDJSON line that is not blank gives a record or a reject.
		if !strings.Contains(string(b), "Bundle") && !strings.Contains(string(b), "bundle") {
			lines := 0
			for _, l := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(l) != "" {
					lines++
				}
			}
			if lines > 0 && len(p.recs)+len(p.rejects) == 0 {
				t.Fatal("input produced neither records nor rejects")
			}
		}
	})
}

func TestPatientVIP(t *testing.T) {
	var p patients
	in := `{"resourceType":"Patient","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"V"}]},"identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"S-9"}]}
{"resourceType":"Patient","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"N"}]},"identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"S-10"}]}`
	if err := fhir.ParsePatients(context.Background(), "fhir", strings.NewReader(in), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.recs) != 2 || !p.recs[0].Patient.VIP || p.recs[1].Patient.VIP {
		t.Fatalf("VIP from meta.security: %+v", p.recs)
	}
}
