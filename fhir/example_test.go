package fhir_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/fhir"
)

type printSink struct{}

func (printSink) Event(_ context.Context, e labtrust.Event) error {
	fmt.Printf("event %s %s by %s: %d patient(s), outcome %d\n", e.SourceRef, e.Kind, e.Actor.ID, len(e.Patients), e.Outcome)
	return nil
}

func (printSink) Reject(_ context.Context, r labtrust.Reject) error {
	fmt.Printf("reject %s: %s\n", r.Position, r.Reason)
	return nil
}

func ExampleParse() {
	ndjson := `{"resourceType":"AuditEvent","id":"a1","type":{"code":"rest"},"action":"R","recorded":"2024-05-01T12:00:00Z","agent":[{"who":{"identifier":{"value":"tech-7"}},"requestor":true}],"source":{"observer":{"display":"lis"}},"entity":[{"what":{"reference":"Patient/p1"}}]}

{"resourceType":"AuditEvent","id":"a2","type":{"code":"rest"},"agent":[{"who":{"identifier":{"value":"tech-7"}}}],"source":{"observer":{"display":"lis"}}}
{"resourceType":"Patient","id":"p1"}
{"resourceType":"AuditEvent",
`
	err := fhir.Parse(context.Background(), "lis", strings.NewReader(ndjson), printSink{})
	fmt.Println("error:", err)
	// Output:
	// event a1 access by tech-7: 1 patient(s), outcome 0
	// reject line 3: AuditEvent.recorded: missing
	// reject line 4: resourceType is "Patient", want "AuditEvent"
	// reject line 5: line is not valid JSON: unexpected end at offset 29
	// error: <nil>
}

func ExampleEncode() {
	b, err := fhir.Encode(labtrust.Event{
		Source: "lis", SourceRef: "x1", Kind: labtrust.KindSecurity,
		Type:  labtrust.Code{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110114", Display: "User Authentication"},
		Actor: labtrust.Actor{ID: "tech-7", Role: "LABTECH"},
	})
	fmt.Println(string(b[:60]), err)
	// Output:
	// {"resourceType":"AuditEvent","id":"x1","meta":{"profile":["h <nil>
}
