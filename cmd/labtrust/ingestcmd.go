package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/ingest"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func newIngest(g *globalOpts) *cobra.Command {
	var source, format string
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "ingest --source NAME [--format fhir|atna|syslog|csv] FILE...",
		Short: "Ingest event files into the ledger (the server must not be running on this data directory)",
		Long: `ingest reads files of FHIR AuditEvents (JSON, Bundle or NDJSON), ATNA AuditMessage XML,
syslog messages (one per line or octet-counted) or CSV exports (with the source's column
mapping from labtrust.yaml), and appends them to the ledger. Records that cannot be read
go to the quarantine with the reason; see 'labtrust quarantine list'. Use - for stdin.`,
		Example: `  labtrust ingest --source ehr --format fhir audit.ndjson
  labtrust ingest --source lis-export lis-2026-10.csv`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := resolve(cmd, g)
			if err != nil {
				return err
			}
			if source == "" {
				return &labtrust.Error{Code: "invalid", Message: "--source is required", Hint: "name the system the records come from, e.g. --source ehr"}
			}
			parse, err := parsers{sources}.Parser(source, format)
			if err != nil {
				return err
			}
			if format == "" {
				if _, ok := sources[source]; !ok {
					return &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("source %q is not configured, so --format is required", source)}
				}
			}
			ctx := cmd.Context()
			a, err := openApp(ctx, g, sources, openOpts{writer: true})
			if err != nil {
				return err
			}
			defer a.Close()
			var total ingest.Summary
			runErr := withPipeline(a, func() error {
				for _, name := range args {
					sum, err := ingestFile(ctx, g, a, parse, source, name, quiet || asJSON)
					total.Accepted += sum.Accepted
					total.Quarantined += sum.Quarantined
					if err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
				}
				return nil
			})
			if asJSON {
				json.NewEncoder(g.stdout).Encode(total)
			} else {
				fmt.Fprintf(g.stdout, "ingested %d events, quarantined %d records; ledger size %d\n", total.Accepted, total.Quarantined, a.lg.Size())
				if total.Quarantined > 0 {
					fmt.Fprintln(g.stdout, "see them with: labtrust quarantine list --data "+g.data)
				}
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "source name (configured under sources in labtrust.yaml, or any name with --format)")
	f.StringVar(&format, "format", "", "input format: fhir, atna, syslog, csv (default: the source's configured format)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress bar")
	return cmd
}

func ingestFile(ctx context.Context, g *globalOpts, a *app, parse ingest.Parser, source, name string, quiet bool) (ingest.Summary, error) {
	var r io.Reader
	size := int64(-1)
	if name == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return ingest.Summary{}, err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		r = f
	}
	if !quiet {
		bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(g.stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("ingest "+filepath.Base(name)),
			progressbar.OptionThrottle(200e6), progressbar.OptionClearOnFinish())
		defer bar.Finish()
		r = io.TeeReader(r, bar)
	}
	b := a.pipe.NewBatcher()
	perr := parse(ctx, source, r, b)
	sum, ferr := b.Flush(ctx)
	if perr != nil {
		return sum, perr
	}
	return sum, ferr
}
