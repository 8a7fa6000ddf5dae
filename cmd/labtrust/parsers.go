package main

import (
	"context"
	"fmt"
	"github.com/labtrust/labtrust/hl7"
	"github.com/labtrust/labtrust/registry"
	"io"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/atna"
	"github.com/labtrust/labtrust/clinical"
	"github.com/labtrust/labtrust/config"
	"github.com/labtrust/labtrust/csvsrc"
	"github.com/labtrust/labtrust/fhir"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/syslog"
)

// parsers picks the parser for a source and format; CSV sources need their
// configured column mapping.
type parsers struct{ sources map[string]config.Source }

var _ ingest.Parsers = parsers{}

func (p parsers) Parser(source, format string) (ingest.Parser, error) {
	if s, ok := p.sources[source]; ok && format == "" {
		format = s.Format
	}
	switch format {
	case "fhir":
		return fhir.Parse, nil
	case "syslog":
		return syslog.Parse, nil
	case "atna":
		return atna.ParseDocument, nil
	case "csv":
		s, ok := p.sources[source]
		if !ok || s.CSV == nil {
			return nil, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("source %q has no CSV column mapping", source),
				Hint: "add it under sources in labtrust.yaml (see csvsrc/testdata for an example)"}
		}
		m := *s.CSV
		return func(ctx context.Context, source string, r io.Reader, sink labtrust.Sink) error {
			return csvsrc.Parse(ctx, source, m, r, sink)
		}, nil
	}
	if format == clinical.FormatHL7 || format == clinical.FormatFHIR {
		return nil, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("%s records are clinical context, not audit events", format),
			Hint: "fix the source and import them again with labtrust clinical import (quarantine show ID --raw gives the record)"}
	}
	if _, ok := patientParser(format); ok {
		// Patient records go to the registry, not the ledger.
		return nil, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("%s records are patient records, not audit events", format),
			Hint: "retry them with labtrust quarantine retry, which imports them into the registry"}
	}
	return nil, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("unknown format %q", format), Hint: "use fhir, atna, syslog or csv"}
}

// patientParser returns the registry parser for a quarantined patient
// record's format, and whether the format is one.
func patientParser(format string) (registry.Parser, bool) {
	switch format {
	case hl7.Format:
		return hl7.ParseStream, true
	case fhir.PatientFormat:
		return fhir.ParsePatients, true
	case registry.CSVFormat:
		return registry.ParseCSV, true
	case registry.RefusedFormat:
		return nil, true
	}
	return nil, false
}
