package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/clinical"
	"github.com/labtrust/labtrust/detect"
	"github.com/labtrust/labtrust/explain"
	"github.com/labtrust/labtrust/store"
	"github.com/spf13/cobra"
)

func newClinical(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clinical",
		Short: "Import the clinical context (orders, specimens, reports) that explains accesses",
		Long: `Detection explains an access to a patient's record by the order it is part of (serve --explain).
Orders seen being created in the audit events are learned by themselves; import the rest from the
LIS or EHR: HL7 v2 ORM^O01, OML^O21 and ORU^R01 messages, or FHIR R4 ServiceRequest, Specimen and
DiagnosticReport resources. Only keyed hashes of the identifiers are stored. The server loads
them at start.`,
	}
	var source, format string
	imp := &cobra.Command{
		Use:   "import --source NAME FILE...",
		Short: "Import orders, specimens and reports (HL7 v2 or FHIR, by extension or --format)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if source == "" {
				return &labtrust.Error{Code: "invalid", Message: "--source is required", Hint: "name the system the records come from, e.g. --source lis"}
			}
			return withApp(cmd, g, openOpts{writer: true}, func(a *app) error {
				ctx := cmd.Context()
				return withPipeline(a, func() error {
					sink := &clinicalSink{a: a, source: source}
					parsers := map[string]func(context.Context, string, io.Reader, clinical.Sink) error{"hl7": clinical.ParseHL7, "fhir": clinical.ParseFHIR}
					err := eachFile(args, format, map[string]string{".json": "fhir", ".ndjson": "fhir", ".hl7": "hl7", ".txt": "hl7", ".mllp": "hl7", ".er7": "hl7"},
						func(f string, r io.Reader) error {
							parse := parsers[f]
							if parse == nil {
								return &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("unknown --format %q", f), Hint: "hl7 or fhir"}
							}
							return parse(ctx, source, r, sink)
						})
					if err != nil {
						return err
					}
					if err := sink.flush(ctx); err != nil {
						return err
					}
					recordAction(ctx, a, "clinical-import", labtrust.ActionCreate, fmt.Sprintf("source %s: %d records, %d quarantined", source, sink.n, sink.quarantined))
					fmt.Fprintf(g.stdout, "imported %d clinical records (%d orders), quarantined %d\n", sink.n, sink.orders, sink.quarantined)
					return nil
				})
			})
		},
	}
	imp.Flags().StringVar(&source, "source", "", "the system the records come from")
	imp.Flags().StringVar(&format, "format", "", "hl7 or fhir (default: from the file's extension)")
	cmd.AddCommand(imp)
	return cmd
}

// clinicalSink hashes what the parsers read (the explainer's way, under
// the lab's blind-index key) and stores it in batches; rejects go to the
// quarantine.
type clinicalSink struct {
	a                      *app
	source                 string
	rows                   []store.ClinicalRow
	n, orders, quarantined int
	// explainer, if set, learns each stored row at once (the server).
	explainer  *detect.Engine
	lastReject string
}

func (s *clinicalSink) Record(ctx context.Context, r clinical.Record) error {
	key := func(kind, v string) []byte { k := explain.Blinded(s.a.keys.Blind, kind, v); return k[:] }
	at := r.Time
	if at.IsZero() {
		at = time.Now().UTC()
	}
	row := store.ClinicalRow{Kind: "object", Key: key("object", r.ID), Order: key("order", r.OrderID), At: at, Source: s.source}
	if r.Kind == "order" {
		row = store.ClinicalRow{Kind: "order", Key: key("order", r.ID), Patient: key("patient", r.Patient), At: at, Source: s.source}
		row.Order = row.Key
		s.orders++
	}
	s.rows = append(s.rows, row)
	s.n++
	if len(s.rows) >= 5000 {
		return s.flush(ctx)
	}
	return nil
}

func (s *clinicalSink) Reject(ctx context.Context, r labtrust.Reject) error {
	if _, err := s.a.pipe.Quarantine(ctx, []labtrust.Reject{r}); err != nil {
		return err
	}
	s.quarantined++
	s.lastReject = r.Reason
	return nil
}

func (s *clinicalSink) flush(ctx context.Context) error {
	if len(s.rows) == 0 {
		return nil
	}
	if err := s.a.db.SaveClinical(ctx, s.rows); err != nil {
		return err
	}
	if s.explainer != nil {
		s.explainer.AddClinical(s.rows)
	}
	s.rows = s.rows[:0]
	return nil
}
