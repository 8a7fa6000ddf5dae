package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func newScope(g *globalOpts) *cobra.Command {
	var manifestOut string
	cmd := &cobra.Command{
		Use:   "scope ID [--manifest FILE]",
		Short: "Compute an incident's breach scope: which patients, which of their data, from the ledger",
		Long: `The scope reads the incident's indicators (labtrust incident indicators), finds every
successful access they match among the entries the latest signed checkpoint covers, and
lists each affected patient with the data elements the accesses exposed (name, address,
date of birth, SSN, insurance, orders, results, diagnoses) and their state of residence from
the registry. It writes a manifest signed with the ledger key that names patients only by
blind index and cites the checkpoint, so anyone with the ledger can check it:
labtrust scope verify FILE.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust incident list")
			if err != nil {
				return err
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ctx := cmd.Context()
				s, err := incidents(a)
				if err != nil {
					return err
				}
				cp, _, err := latestCheckpoint(a)
				if err != nil {
					return err
				}
				start := time.Now()
				ref, err := s.ComputeScope(ctx, operator(), id, scoper(a), cp, a.signer)
				if err != nil {
					return incidentErr(err)
				}
				took := time.Since(start)
				// The manifest first, so a reader that stops reading the
				// summary early cannot lose it.
				if manifestOut != "" {
					if err := writeManifest(ctx, s, id, manifestOut); err != nil {
						return err
					}
				}
				printScope(g, ref.Summary, ref.TreeSize, took)
				if manifestOut != "" {
					fmt.Fprintf(g.stdout, "signed manifest written to %s (verify: labtrust scope verify %s)\n", manifestOut, manifestOut)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&manifestOut, "manifest", "", "write the signed scope manifest (no PHI) to this file")
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a signed scope manifest: signature, checkpoint and each entry's inclusion proof",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				_, rd, err := latestCheckpoint(a)
				if err != nil {
					return err
				}
				// Read as a stream with a progress bar: a registry-wide
				// scope's manifest is over a gigabyte.
				bar := progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(g.stderr), progressbar.OptionSetDescription("verifying"),
					progressbar.OptionShowBytes(true), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
				r := progressbar.NewReader(f, bar)
				patients := 0
				distinct := map[uint64]bool{}
				m, err := breach.VerifyManifestStream(&r, a.verifier, breach.LedgerProver(cmd.Context(), rd), func(p breach.ManifestPatient) error {
					patients++
					for _, e := range p.Entries {
						distinct[e] = true
					}
					return nil
				})
				bar.Finish()
				if err != nil {
					return &labtrust.Error{Code: "invalid", Message: "the manifest does not verify: " + err.Error(), Err: err}
				}
				fmt.Fprintf(g.stdout, "manifest OK: incident %d, %d patients, %d ledger entries proved against the checkpoint at size %d (%s)\n",
					m.Incident, patients, len(distinct), m.TreeSize, a.origin)
				return nil
			})
		},
	}
	var showManifest string
	show := &cobra.Command{
		Use:   "show ID [--manifest FILE]",
		Short: "Show the latest scope's counts by state and data element (and write its signed manifest)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIncident(cmd, g, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				in, err := s.Get(ctx, id)
				if err != nil {
					return err
				}
				if in.Scope == nil {
					return &labtrust.Error{Code: "invalid", Message: "no scope computed yet", Hint: fmt.Sprintf("labtrust scope %d", id)}
				}
				recordAction(ctx, a, "scope-view", labtrust.ActionRead, fmt.Sprintf("incident %d", id))
				if showManifest != "" {
					if err := writeManifest(ctx, s, id, showManifest); err != nil {
						return err
					}
				}
				printScope(g, in.Scope.Summary, in.Scope.TreeSize, 0)
				if showManifest != "" {
					fmt.Fprintf(g.stdout, "signed manifest written to %s (verify: labtrust scope verify %s)\n", showManifest, showManifest)
				}
				return nil
			})
		},
	}
	show.Flags().StringVar(&showManifest, "manifest", "", "write the scope's signed manifest (no PHI) to this file")
	cmd.AddCommand(verify, show)
	return cmd
}

// writeManifest writes the incident's signed scope manifest to a file
// (removed again when it could not be written whole).
func writeManifest(ctx context.Context, s *incident.Service, id int64, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = s.WriteManifest(ctx, id, bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("scope manifest: %w", err)
	}
	return nil
}

func printScope(g *globalOpts, s breach.Summary, size uint64, took time.Duration) {
	w := g.stdout
	fmt.Fprintf(w, "%d patients affected, from %d ledger entries (ledger size %d)", s.Patients, s.Events, size)
	if took > 0 {
		fmt.Fprintf(w, " in %s", took.Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	if s.NoContact > 0 {
		fmt.Fprintf(w, "%d without an address or email on file (substitute notice)\n", s.NoContact)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nDATA ELEMENT\tPATIENTS")
	els := make([]string, 0, len(s.ByElement))
	for e := range s.ByElement {
		els = append(els, string(e))
	}
	sort.Strings(els)
	for _, e := range els {
		fmt.Fprintf(tw, "%s\t%d\n", e, s.ByElement[breach.Element(e)])
	}
	fmt.Fprintln(tw, "\nSTATE\tPATIENTS")
	sts := make([]string, 0, len(s.ByState))
	for st := range s.ByState {
		sts = append(sts, st)
	}
	sort.Strings(sts)
	for _, st := range sts {
		fmt.Fprintf(tw, "%s\t%d\n", st, s.ByState[st])
	}
	tw.Flush()
}

func newAssess(g *globalOpts) *cobra.Command {
	var a breach.Assessment
	ratings := map[string]*string{}
	why := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "assess ID --nature R --nature-why TEXT --recipient R … | --secured | --exception KEY",
		Short: "Record the HIPAA four-factor breach risk assessment (45 CFR 164.402(2))",
		Long: `A breach of unsecured PHI is presumed unless the assessment shows a low probability that
the PHI has been compromised, on four factors, each rated low, medium or high with its
rationale:

` + factorHelp() + `
Ransomware is presumed a breach (HHS guidance): an all-low rebuttal must cite forensic
evidence attached to the incident (--evidence ID). --secured records that the PHI was
encrypted per HHS guidance; --exception one of good-faith-workforce, inadvertent-internal,
unable-to-retain (164.402(1)). The result decides whether notice is owed and is kept as
documentation.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust incident list")
			if err != nil {
				return err
			}
			a.Ratings, a.Rationale = map[string]breach.Rating{}, map[string]string{}
			for k, v := range ratings {
				if *v != "" {
					a.Ratings[k] = breach.Rating(*v)
				}
				if *why[k] != "" {
					a.Rationale[k] = *why[k]
				}
			}
			return withApp(cmd, g, openOpts{}, func(app *app) error {
				s, err := incidents(app)
				if err != nil {
					return err
				}
				in, err := s.Assess(cmd.Context(), operator(), id, a)
				if err != nil {
					return incidentErr(err)
				}
				o := in.Assessment().Outcome
				verdict := "NOTICE IS OWED"
				if !o.Breach {
					verdict = "no notice owed"
				}
				fmt.Fprintf(g.stdout, "%s (%s)\n%s\n%s\n", verdict, o.Probability, o.Basis, o.Citation)
				return nil
			})
		},
	}
	f := cmd.Flags()
	for _, fac := range breach.Factors {
		ratings[fac.Key], why[fac.Key] = new(string), new(string)
		f.StringVar(ratings[fac.Key], fac.Key, "", fac.Citation+": low, medium or high")
		f.StringVar(why[fac.Key], fac.Key+"-why", "", "the rationale for the "+fac.Key+" rating")
	}
	f.BoolVar(&a.Secured, "secured", false, "the PHI was encrypted or destroyed per HHS guidance (not unsecured PHI)")
	f.StringVar(&a.Exception, "exception", "", "an exclusion from the definition of breach (164.402(1))")
	f.BoolVar(&a.Ransomware, "ransomware", false, "malware encrypted or took control of PHI (also set by the ransomware playbook)")
	f.Int64SliceVar(&a.Evidence, "evidence", nil, "evidence IDs the conclusion rests on (forensic reports)")
	return cmd
}

func factorHelp() string {
	var b strings.Builder
	for _, f := range breach.Factors {
		fmt.Fprintf(&b, "  --%s (%s)\n      %s\n", f.Key, f.Citation, f.Question)
	}
	return b.String()
}

func newObligations(g *globalOpts) *cobra.Command {
	var asJSON bool
	var lawsDir, icsOut string
	cmd := &cobra.Command{
		Use:   "obligations ID [--json] [--ics FILE]",
		Short: "Every notice an incident owes under HIPAA and each state's law, with deadlines",
		Long: `From the incident's latest scope (who, which data, where they live), its risk assessment
(none recorded: a breach is presumed), the discovery date and any law-enforcement delay,
list every party to notify (individuals, substitute notice, media, HHS, each state's
regulator and the consumer reporting agencies, or the covered entity for a business
associate), what each needs, the deadline and the provision behind it. State laws ship as
versioned data files (breach/laws); --laws DIR uses reviewed copies instead.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust incident list")
			if err != nil {
				return err
			}
			laws, err := loadLaws(lawsDir)
			if err != nil {
				return err
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				s, err := incidents(a)
				if err != nil {
					return err
				}
				in, obs, err := s.Obligations(cmd.Context(), id, laws)
				if err != nil {
					return incidentErr(err)
				}
				recordAction(cmd.Context(), a, "obligations-view", labtrust.ActionRead, fmt.Sprintf("incident %d", id))
				if icsOut != "" {
					if err := os.WriteFile(icsOut, breach.ICS(id, obs, time.Now()), 0o644); err != nil {
						return err
					}
					fmt.Fprintf(g.stderr, "deadline calendar written to %s (import it into a calendar; importing again updates it)\n", icsOut)
				}
				if asJSON {
					enc := json.NewEncoder(g.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(obs)
				}
				printObligations(g, in, obs, time.Now())
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable")
	cmd.Flags().StringVar(&icsOut, "ics", "", "also write the deadlines as an iCalendar file (RFC 5545) with reminders")
	cmd.Flags().StringVar(&lawsDir, "laws", "", "a directory of reviewed law files to use instead of the built-in ones")
	return cmd
}

func loadLaws(dir string) (breach.Laws, error) {
	if dir == "" {
		return breach.BuiltinLaws()
	}
	return breach.LoadLaws(os.DirFS(dir), ".")
}

func printObligations(g *globalOpts, in *incident.Incident, obs []breach.Obligation, now time.Time) {
	w := g.stdout
	fmt.Fprintf(w, "incident %d: %s — discovered %s\n", in.ID, in.Title, in.Discovered.Format(time.DateOnly))
	if a := in.Assessment(); a == nil {
		fmt.Fprintln(w, "no risk assessment recorded: a breach is presumed (45 CFR 164.402(2))")
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nDUE\tCLOCK\tSTATUS\tWHO\tCOUNT\tCITATION")
	for _, o := range obs {
		due := "-"
		if !o.Due.IsZero() {
			due = o.Due.Format(time.DateOnly)
		}
		clock := breach.Clock(o.Due, now)
		if o.Status != breach.StatusOwed {
			clock = "-"
		}
		party := o.Party
		if len(party) > 60 {
			party = party[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", due, clock, o.Status, party, o.Count, o.Citation)
	}
	tw.Flush()
	owed := 0
	for _, o := range obs {
		if o.Status == breach.StatusOwed {
			owed++
		}
	}
	fmt.Fprintf(w, "\n%d obligations, %d owed; details with --json\n", len(obs), owed)
}

var _ = context.Background
