// Package clinical reads the lab's clinical context (orders, specimens and
// result reports) from HL7 v2 ORM^O01 and ORU^R01 messages and FHIR R4
// ServiceRequest, Specimen and DiagnosticReport resources, so detection
// can explain an access by the order it belongs to even when the audit
// events do not show the order being created.
package clinical

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/hl7"
)

// Record is one piece of clinical context: an order for a patient, or a
// specimen or report that belongs to an order.
type Record struct {
	Kind    string // "order", "specimen" or "report"
	ID      string // the order's, specimen's or report's identifier
	OrderID string // for a specimen or report: its order
	Patient string // the patient's MRN (orders; others when given)
	Time    time.Time
}

// Sink takes what a parser reads.
type Sink interface {
	Record(ctx context.Context, r Record) error
	Reject(ctx context.Context, r labtrust.Reject) error
}

// Format names of clinical rejects in the quarantine.
const (
	FormatHL7  = "hl7v2-clinical"
	FormatFHIR = "fhir-clinical"
)

// ParseHL7 reads ORM^O01 and ORU^R01 messages (one after another, or MLLP
// frames): ORC-2/OBR-2 is the placer order number and PID-3 the patient;
// an ORU's OBR-3 (filler number) is its report and SPM-2 its specimens.
func ParseHL7(ctx context.Context, source string, r io.Reader, sink Sink) error {
	return hl7.Each(ctx, r, func(pos string, raw []byte, frameErr error) error {
		reject := func(why string) error {
			return sink.Reject(ctx, labtrust.Reject{Source: source, Format: FormatHL7, Position: pos, Reason: why, Raw: raw})
		}
		if frameErr != nil {
			return reject(frameErr.Error())
		}
		m, err := hl7.Parse(raw)
		if err != nil {
			return reject(err.Error())
		}
		typ := m.Field("MSH", 9).Comp(1) + "^" + m.Field("MSH", 9).Comp(2)
		if typ != "ORM^O01" && typ != "ORU^R01" && typ != "OML^O21" {
			return reject("MSH-9 is " + typ + ", not ORM^O01, OML^O21 or ORU^R01")
		}
		mrn := ""
		if pid := m.Segment("PID"); pid != nil {
			for _, rep := range m.FieldOf(pid, 3).Reps() {
				if id := rep.Comp(1); id != "" && (rep.Comp(5) == "MR" || rep.Comp(5) == "" || mrn == "") {
					mrn = id
					if rep.Comp(5) == "MR" {
						break
					}
				}
			}
		}
		if mrn == "" {
			return reject("PID-3: no patient identifier")
		}
		order := m.Field("ORC", 2).Comp(1)
		if order == "" {
			order = m.Field("OBR", 2).Comp(1)
		}
		if order == "" {
			return reject("ORC-2 and OBR-2: no placer order number")
		}
		at, err := hl7.ParseTime(firstNonEmpty(m.Field("ORC", 9).Comp(1), m.Field("OBR", 7).Comp(1), m.Field("MSH", 7).Comp(1)))
		if err != nil {
			return reject("ORC-9/OBR-7/MSH-7: " + err.Error())
		}
		if err := sink.Record(ctx, Record{Kind: "order", ID: order, Patient: mrn, Time: at}); err != nil {
			return err
		}
		for _, obr := range m.All("OBR") {
			if filler := m.FieldOf(obr, 3).Comp(1); filler != "" && typ == "ORU^R01" {
				if err := sink.Record(ctx, Record{Kind: "report", ID: filler, OrderID: order, Patient: mrn, Time: at}); err != nil {
					return err
				}
			}
		}
		for _, spm := range m.All("SPM") {
			// SPM-2 is an EIP: placer^filler assigned identifiers.
			id := m.FieldOf(spm, 2).Comp(1)
			if id == "" {
				id = m.FieldOf(spm, 2).Sub(2, 1)
			}
			if id != "" {
				if err := sink.Record(ctx, Record{Kind: "specimen", ID: id, OrderID: order, Patient: mrn, Time: at}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

type reference struct {
	Reference  string `json:"reference"`
	Identifier struct {
		Value string `json:"value"`
	} `json:"identifier"`
}

// id returns what a reference names: its identifier, or the id in
// "Type/id".
func (r reference) id() string {
	if r.Identifier.Value != "" {
		return r.Identifier.Value
	}
	_, id, _ := strings.Cut(r.Reference, "/")
	return id
}

type resource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Identifier   []struct {
		Value string `json:"value"`
	} `json:"identifier"`
	AccessionIdentifier struct {
		Value string `json:"value"`
	} `json:"accessionIdentifier"`
	Subject    reference   `json:"subject"`
	AuthoredOn string      `json:"authoredOn"`
	Request    []reference `json:"request"` // Specimen
	BasedOn    []reference `json:"basedOn"` // DiagnosticReport
	Issued     string      `json:"issued"`
	Collection struct {
		CollectedDateTime string `json:"collectedDateTime"`
	} `json:"collection"`
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

// ParseFHIR reads ServiceRequest, Specimen and DiagnosticReport resources:
// NDJSON, one resource, or a Bundle. A ServiceRequest's first identifier
// (else its id) is the order; subject is the patient (an identifier, or
// Patient/<MRN>); Specimen.request and DiagnosticReport.basedOn name the
// order.
func ParseFHIR(ctx context.Context, source string, r io.Reader, sink Sink) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err != nil {
		return err
	}
	var top resource
	if json.Unmarshal(bytes.TrimSpace(data), &top) == nil && top.ResourceType == "Bundle" {
		for i, e := range top.Entry {
			if err := fhirResource(ctx, source, fmt.Sprintf("entry %d", i), e.Resource, sink); err != nil {
				return err
			}
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := fhirResource(ctx, source, fmt.Sprintf("line %d", line), bytes.Clone(sc.Bytes()), sink); err != nil {
			return err
		}
	}
	return sc.Err()
}

func fhirResource(ctx context.Context, source, pos string, raw []byte, sink Sink) error {
	reject := func(why string) error {
		return sink.Reject(ctx, labtrust.Reject{Source: source, Format: FormatFHIR, Position: pos, Reason: why, Raw: raw})
	}
	var res resource
	if err := json.Unmarshal(raw, &res); err != nil {
		return reject("not a JSON resource")
	}
	id := res.ID
	if len(res.Identifier) > 0 && res.Identifier[0].Value != "" {
		id = res.Identifier[0].Value
	}
	rec := Record{ID: id, Patient: res.Subject.id()}
	when := ""
	switch res.ResourceType {
	case "ServiceRequest":
		rec.Kind, when = "order", res.AuthoredOn
		if rec.Patient == "" {
			return reject("ServiceRequest.subject: no patient")
		}
	case "Specimen":
		rec.Kind, when = "specimen", res.Collection.CollectedDateTime
		if res.AccessionIdentifier.Value != "" && id == res.ID {
			rec.ID = res.AccessionIdentifier.Value
		}
		if len(res.Request) > 0 {
			rec.OrderID = res.Request[0].id()
		}
	case "DiagnosticReport":
		rec.Kind, when = "report", res.Issued
		if len(res.BasedOn) > 0 {
			rec.OrderID = res.BasedOn[0].id()
		}
	default:
		return reject(fmt.Sprintf("a %q, not a ServiceRequest, Specimen or DiagnosticReport", res.ResourceType))
	}
	if rec.ID == "" {
		return reject(res.ResourceType + ": no identifier or id")
	}
	if rec.Kind != "order" && rec.OrderID == "" {
		return reject(res.ResourceType + ": names no ServiceRequest (request or basedOn)")
	}
	if when != "" {
		t, err := time.Parse(time.RFC3339Nano, when)
		if err != nil {
			if t, err = time.Parse("2006-01-02", when); err != nil {
				return reject(res.ResourceType + ": the time is not a FHIR dateTime")
			}
		}
		rec.Time = t.UTC()
	}
	return sink.Record(ctx, rec)
}
