package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/fhir"
	"github.com/labtrust/labtrust/hl7"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/registry"
	"github.com/spf13/cobra"
)

func newPatients(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "patients",
		Short: "The patient registry: import ADT, look patients up, forget one",
		Long: `The registry keeps who each patient is and how to reach them (name, birth date, addresses
with state, phones, emails, preferred language, guardian for minors, deceased), each record
sealed with the patient's own data key. Lookups are exact, through blind indexes (MRN, other
identifiers, SSN, email, phone, name with birth date). ADT merges (A40) are followed: a
merged MRN leads to the surviving patient. Forgetting a patient deletes their key.`,
	}
	var source, format string
	var quiet bool
	imp := &cobra.Command{
		Use:   "import --source NAME [--format hl7|fhir|csv] FILE...",
		Short: "Import patients: HL7 v2 ADT, FHIR R4 Patient, or CSV",
		Long: `import reads patients from files:
  hl7   HL7 v2 ADT messages (A01, A04, A08, A28, A31, A40 merge), one after another (segments
        ending in \r, \n or \r\n) or an MLLP capture
  fhir  FHIR R4 Patient resources: one, a Bundle, or NDJSON (Patient.link "replaces" is a merge)
  csv   a header row naming mrn and any of: ` + strings.Join(registry.CSVColumns[1:], ", ") + `
The format follows the file's extension (.hl7/.txt/.mllp, .json/.ndjson, .csv) unless --format says.
Records that cannot be read, and records the registry refuses, go to the quarantine with the
reason. Use - for stdin (with --format).`,
		Example: `  labtrust patients import --source epic adt-2026-11.hl7
  labtrust patients import --source ehr patients.ndjson
  labtrust patients import --source lis --format csv export.txt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if source == "" {
				return &labtrust.Error{Code: "invalid", Message: "--source is required", Hint: "name the system the messages come from, e.g. --source epic"}
			}
			return withApp(cmd, g, openOpts{writer: true}, func(a *app) error {
				ctx := cmd.Context()
				return withPipeline(a, func() error {
					sink := &registry.Sink{Reg: registry.New(a.db, a.keys), Quarantine: a.pipe.Quarantine}
					start := time.Now()
					parsers := map[string]func(context.Context, string, io.Reader, labtrust.PatientSink) error{
						"hl7": hl7.ParseStream, "fhir": fhir.ParsePatients, "csv": registry.ParseCSV}
					err := eachFile(args, format, map[string]string{".json": "fhir", ".ndjson": "fhir", ".csv": "csv", ".hl7": "hl7", ".txt": "hl7", ".mllp": "hl7", ".er7": "hl7"},
						func(f string, r io.Reader) error {
							parse := parsers[f]
							if parse == nil {
								return &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("unknown --format %q", f), Hint: "hl7, fhir or csv"}
							}
							return parse(ctx, source, r, sink)
						})
					if err != nil {
						return err
					}
					if err := sink.Flush(ctx); err != nil {
						return err
					}
					took := time.Since(start)
					recordAction(ctx, a, "patient-import", labtrust.ActionCreate, fmt.Sprintf("source %s: %d imported, %d quarantined", source, sink.Imported, sink.Quarantined))
					fmt.Fprintf(g.stdout, "imported %d patient records, quarantined %d, in %v (%.0f/s)\n", sink.Imported, sink.Quarantined,
						took.Round(time.Millisecond), float64(sink.Imported)/took.Seconds())
					return nil
				})
			})
		},
	}
	imp.Flags().StringVar(&source, "source", "", "the system the records come from")
	imp.Flags().StringVar(&format, "format", "", "hl7, fhir or csv (default: from the file's extension)")
	imp.Flags().BoolVar(&quiet, "quiet", false, "no progress output")

	show := &cobra.Command{
		Use:   "show MRN",
		Short: "Show a patient's registry record (PHI: for staff who need it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				e, err := registry.New(a.db, a.keys).Get(cmd.Context(), args[0])
				if err != nil {
					return patientErr(err)
				}
				recordPatientAccess(cmd.Context(), a, "patient-view", e.Patient.ID)
				printPatient(g.stdout, e)
				return nil
			})
		},
	}

	var ssn, email, phone, name, dob string
	find := &cobra.Command{
		Use:   "find (--ssn X | --email X | --phone X | --name FAMILY,GIVEN --dob YYYY-MM-DD)",
		Short: "Find patients by an exact identifier or contact detail",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				reg := registry.New(a.db, a.keys)
				ctx := cmd.Context()
				var es []*registry.Entry
				var err error
				switch {
				case ssn != "":
					es, err = reg.Find(ctx, registry.LookupSSN, ssn)
				case email != "":
					es, err = reg.Find(ctx, registry.LookupEmail, email)
				case phone != "":
					es, err = reg.Find(ctx, registry.LookupPhone, phone)
				case name != "" && dob != "":
					family, given, _ := strings.Cut(name, ",")
					es, err = reg.FindByNameDOB(ctx, family, given, dob)
				default:
					return &labtrust.Error{Code: "invalid", Message: "say what to look up", Hint: "--ssn, --email, --phone, or --name FAMILY,GIVEN with --dob"}
				}
				if err != nil {
					return err
				}
				if len(es) == 0 {
					fmt.Fprintln(g.stdout, "no patient matches")
				}
				for _, e := range es {
					recordPatientAccess(ctx, a, "patient-find", e.Patient.ID)
				}
				for _, e := range es {
					printPatient(g.stdout, e)
					fmt.Fprintln(g.stdout)
				}
				return nil
			})
		},
	}
	find.Flags().StringVar(&ssn, "ssn", "", "social security number")
	find.Flags().StringVar(&email, "email", "", "email address")
	find.Flags().StringVar(&phone, "phone", "", "phone number (digits compared)")
	find.Flags().StringVar(&name, "name", "", "FAMILY,GIVEN (case and punctuation ignored)")
	find.Flags().StringVar(&dob, "dob", "", "birth date, YYYY-MM-DD (with --name)")

	var yes bool
	forget := &cobra.Command{
		Use:   "forget MRN --yes",
		Short: "Crypto-shred a patient: registry record, key, and the stored events naming them",
		Long: `forget deletes the patient's registry record and the key that sealed it (and those of every
record merged into them), drops their lookups, and erases every stored event that names them:
each such entry's body is replaced by an erasure record that keeps only what the lab's audit
trail of its own staff needs (when, which source, what action by whom, from where, with what
outcome) and nothing about the patient. The MRN stays known as forgotten, so it is not
silently registered again. The ledger still verifies: it holds commitments, and without the
erased nonces they lead to no one.

Running forget again for a forgotten MRN erases events that arrived since. Copies outside the
store (backups, PostgreSQL's dead row versions until they are reused) stay sealed under the
data key: rotate, re-encrypt and retire the old key to make them unreadable too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return &labtrust.Error{Code: "invalid", Message: "forgetting cannot be undone", Hint: "add --yes"}
			}
			return withWriterIfFree(cmd, g, func(a *app) error {
				ctx := cmd.Context()
				if a.pipe == nil {
					// Accesses queued beside the server (a CLI view, say)
					// may name the patient: let them reach the store
					// first, so they are erased too.
					if err := waitOutbox(ctx, a, 15*time.Second); err != nil {
						return err
					}
				}
				blinds, err := registry.New(a.db, a.keys).Forget(ctx, args[0])
				again := errors.Is(err, registry.ErrForgotten)
				if err != nil && !again {
					return patientErr(err)
				}
				rep, err := ingest.Erase(ctx, a.db, a.keys, blinds, time.Now())
				detail := fmt.Sprintf("%d records, %d events erased", len(blinds), rep.Entries)
				if err != nil {
					detail += " before an error"
				}
				recordAction(ctx, a, "patient-forget", labtrust.ActionDelete, detail)
				if err != nil {
					return err
				}
				if again {
					fmt.Fprintf(g.stdout, "already forgotten; %d events that arrived since erased\n", rep.Entries)
					return nil
				}
				fmt.Fprintf(g.stdout, "forgotten: %d registry record(s) and their keys deleted, %d stored events erased (%d frames re-sealed)\n",
					len(blinds), rep.Entries, rep.Frames)
				return nil
			})
		},
	}
	forget.Flags().BoolVar(&yes, "yes", false, "confirm")
	cmd.AddCommand(imp, show, find, forget)
	return cmd
}

func patientErr(err error) error {
	switch {
	case errors.Is(err, labtrust.ErrNotFound):
		return &labtrust.Error{Code: "not_found", Message: "no patient has that MRN in the registry", Hint: "import ADT with labtrust patients import", Err: err}
	case errors.Is(err, registry.ErrForgotten):
		return &labtrust.Error{Code: "forgotten", Message: "that patient was forgotten: their record no longer exists", Err: err}
	}
	return err
}

func printPatient(w io.Writer, e *registry.Entry) {
	p := e.Patient
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	if p.ID.System != "" {
		row("MRN", p.ID.ID+" ("+p.ID.System+")")
	} else {
		row("MRN", p.ID.ID)
	}
	row("name", p.Name.String())
	row("birth date", p.BirthDate)
	row("sex", p.Sex)
	for _, a := range p.Addresses {
		row("address ("+a.Use+")", strings.Join(append(append([]string{}, a.Lines...), a.City, a.State, a.PostalCode), ", "))
	}
	row("phones", strings.Join(p.Phones, ", "))
	row("emails", strings.Join(p.Emails, ", "))
	row("language", p.Language)
	if p.Guardian != nil {
		row("guardian", p.Guardian.Name.String()+" ("+p.Guardian.Relationship+")")
	}
	if p.Deceased {
		row("deceased", "yes "+p.DeceasedAt)
	}
	for _, m := range e.Merged {
		row("merged from", m.ID)
	}
	row("source", e.Source)
	row("updated", e.UpdatedAt.Format(time.RFC3339))
	tw.Flush()
}

// eachFile opens each named file ("-" is standard input) and calls fn with
// it and its format: format if given, else the one its extension maps to.
func eachFile(names []string, format string, byExt map[string]string, fn func(format string, r io.Reader) error) error {
	for _, name := range names {
		f := format
		if f == "" {
			var ok bool
			if f, ok = byExt[strings.ToLower(filepath.Ext(name))]; !ok {
				return &labtrust.Error{Code: "invalid", Message: "cannot tell the format of " + name, Hint: "name it with --format"}
			}
		}
		err := func() error {
			if name == "-" {
				return fn(f, os.Stdin)
			}
			fh, err := os.Open(name)
			if err != nil {
				return err
			}
			defer fh.Close()
			return fn(f, fh)
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
