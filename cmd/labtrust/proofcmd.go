package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/registry"
	"github.com/spf13/cobra"
)

func newProof(g *globalOpts) *cobra.Command {
	var patient, patientFile, system, out string
	cmd := &cobra.Command{
		Use:   "proof --patient ID [--out FILE]",
		Short: "Write a patient's access history with inclusion proofs (verify it with labtrust-verify)",
		Long: `proof writes the access report of one patient: every ledger entry that names them, the
nonce and canonical bytes that open each commitment, and a C2SP tlog-proof of each entry
under the latest signed checkpoint. The entries carry the patient's chain links, so a
missing entry shows as a gap. Check it offline with:

  labtrust-verify --key DATA/ledger.vkey report.json

The report holds the patient's own PHI: it is written with mode 0600 and belongs to them.`,
		Example: `  labtrust proof --patient MRN0000042 --out mrn42-report.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := resolve(cmd, g)
			if err != nil {
				return err
			}
			if patientFile != "" {
				b, err := os.ReadFile(patientFile)
				if err != nil {
					return err
				}
				patient, _, _ = strings.Cut(strings.TrimSpace(string(b)), "\n")
				patient = strings.TrimSpace(patient)
			}
			if patient == "" {
				return &labtrust.Error{Code: "invalid", Message: "name the patient",
					Hint: "--patient MRN, or --patient-file FILE to keep the identifier out of the process list and shell history"}
			}
			ctx := cmd.Context()
			a, err := openApp(ctx, g, sources, openOpts{})
			if err != nil {
				return err
			}
			defer a.Close()
			rd, err := ledger.OpenReader(a.p.ledger(), a.origin, a.verifier)
			if err != nil {
				return err
			}
			// The registry knows merges: a merged MRN leads to the surviving
			// patient, whose report includes every merged record's entries.
			ref := labtrust.PatientRef{System: system, ID: patient}
			var merged []labtrust.PatientRef
			switch e, err := registry.New(a.db, a.keys).Get(ctx, patient); {
			case err == nil:
				ref.ID, merged = e.Patient.ID.ID, e.Merged
				if ref.System == "" {
					ref.System = e.Patient.ID.System
				}
			case errors.Is(err, registry.ErrForgotten):
				return patientErr(err) // their events were erased with them
			case errors.Is(err, labtrust.ErrNotFound):
			default:
				return err
			}
			start := time.Now()
			rep, err := accessreport.Build(ctx, a.db, rd, a.keys, a.origin, ref, merged...)
			if err != nil {
				return err
			}
			took := time.Since(start)
			w := g.stdout
			if out != "-" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			if err := rep.Write(w); err != nil {
				return err
			}
			if len(rep.Entries) > 0 {
				recordPatientAccess(ctx, a, "access-report-export", ref)
			}
			if out != "-" {
				cp, _ := rd.Checkpoint()
				fmt.Fprintf(g.stderr, "wrote %d entries (checkpoint size %d, %d newer pending) to %s in %v\n",
					len(rep.Entries), cp.Size, rep.Pending, out, took.Round(time.Millisecond))
				fmt.Fprintf(g.stderr, "verify: labtrust-verify --key %s %s\n", a.p.verifier(), out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&patient, "patient", "", "the patient's identifier (MRN)")
	cmd.Flags().StringVar(&patientFile, "patient-file", "", "read the patient's identifier from this file (first line), keeping it out of the process list")
	cmd.Flags().StringVar(&system, "system", "", "the identifier's system, recorded in the report")
	cmd.Flags().StringVar(&out, "out", "access-report.json", "output file, or - for standard output")
	return cmd
}

// patientReport builds the access report of the patient with the MRN,
// following registry merges, under the ledger's latest checkpoint.
func patientReport(ctx context.Context, a *app, mrn string) (*accessreport.Report, error) {
	rd, err := ledger.OpenReader(a.p.ledger(), a.origin, a.verifier)
	if err != nil {
		return nil, err
	}
	ref := labtrust.PatientRef{ID: mrn}
	var merged []labtrust.PatientRef
	switch e, err := registry.New(a.db, a.keys).Get(ctx, mrn); {
	case err == nil:
		ref, merged = e.Patient.ID, e.Merged
	case errors.Is(err, labtrust.ErrNotFound):
	default:
		return nil, err
	}
	return accessreport.Build(ctx, a.db, rd, a.keys, a.origin, ref, merged...)
}
