package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/spf13/cobra"
)

func newQuarantine(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List, show and retry records that ingest rejected",
		Long: `Every record ingest cannot read is kept in the quarantine with its source, position,
its raw bytes (encrypted) and the reason. Fix the cause (a CSV column mapping in
labtrust.yaml, say) and retry: the record is parsed again and, if it now reads, ingested.`,
	}
	var source, status string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List quarantined records (no raw bytes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				items, err := a.db.ListQuarantine(cmd.Context(), store.QuarantineFilter{Source: source, Status: status, Limit: limit})
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(g.stdout).Encode(items)
				}
				tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSOURCE\tFORMAT\tPOSITION\tSTATUS\tTRIES\tREASON")
				for _, it := range items {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", it.ID, it.Source, it.Format, it.Position, it.Status, it.Attempts, it.Reason)
				}
				tw.Flush()
				if len(items) == 0 {
					fmt.Fprintln(g.stdout, "(the quarantine is empty)")
				}
				return nil
			})
		},
	}
	lf := list.Flags()
	lf.StringVar(&source, "source", "", "only this source")
	lf.StringVar(&status, "status", "pending", "pending, ingested, or empty for all")
	lf.IntVar(&limit, "limit", 100, "at most this many")
	lf.BoolVar(&asJSON, "json", false, "JSON output")

	var raw bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one quarantined record; --raw prints its bytes (PHI: handle with care)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust quarantine list")
			if err != nil {
				return err
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				it, err := a.db.GetQuarantine(cmd.Context(), id)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "id:        %d\nsource:    %s\nformat:    %s\nposition:  %s\nreceived:  %s\nstatus:    %s\nattempts:  %d\nreason:    %s\n",
					it.ID, it.Source, it.Format, it.Position, it.Received.Format("2006-01-02T15:04:05Z"), it.Status, it.Attempts, it.Reason)
				if raw {
					b, err := ingest.OpenQuarantinedWith(a.keys, it)
					if err != nil {
						return err
					}
					recordAction(cmd.Context(), a, "quarantine-raw-view", labtrust.ActionRead, fmt.Sprintf("item %d", id))
					fmt.Fprintf(g.stdout, "raw (%d bytes):\n", len(b))
					g.stdout.Write(b)
					fmt.Fprintln(g.stdout)
				}
				return nil
			})
		},
	}
	show.Flags().BoolVar(&raw, "raw", false, "print the raw record (it may contain PHI)")

	var all bool
	retry := &cobra.Command{
		Use:   "retry [ID...] [--all]",
		Short: "Parse quarantined records again and ingest those that now read",
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := resolve(cmd, g)
			if err != nil {
				return err
			}
			var ids []int64
			for _, s := range args {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return &labtrust.Error{Code: "invalid", Message: "IDs must be numbers"}
				}
				ids = append(ids, id)
			}
			if len(ids) == 0 && !all {
				return &labtrust.Error{Code: "invalid", Message: "name IDs to retry, or --all", Hint: "labtrust quarantine retry --all --source lis"}
			}
			ctx := cmd.Context()
			a, err := openApp(ctx, g, sources, openOpts{writer: true})
			if err != nil {
				return err
			}
			defer a.Close()
			if all {
				items, err := a.db.ListQuarantine(ctx, store.QuarantineFilter{Source: source, Status: store.QuarantinePending})
				if err != nil {
					return err
				}
				for _, it := range items {
					ids = append(ids, it.ID)
				}
			}
			return withPipeline(a, func() error {
				ok, still := 0, 0
				for _, id := range ids {
					if pr, err := retryPatient(ctx, a, id); err != nil {
						return err
					} else if pr != nil {
						if pr.Ingested {
							ok++
							fmt.Fprintf(g.stdout, "%d: imported %d patient record(s) into the registry\n", id, pr.Imported)
						} else {
							still++
							fmt.Fprintf(g.stdout, "%d: still rejected: %s\n", id, pr.Reason)
						}
						continue
					}
					res, err := a.pipe.Retry(ctx, a.db, parsers{sources}, id)
					if err != nil {
						return err
					}
					if res.Ingested {
						ok++
						fmt.Fprintf(g.stdout, "%d: ingested %d event(s) at index %d\n", id, res.Events, *res.First)
					} else {
						still++
						fmt.Fprintf(g.stdout, "%d: still rejected: %s\n", id, res.Reason)
					}
				}
				fmt.Fprintf(g.stdout, "%d ingested, %d still quarantined\n", ok, still)
				return nil
			})
		},
	}
	retry.Flags().BoolVar(&all, "all", false, "retry every pending record (of --source, if given)")
	retry.Flags().StringVar(&source, "source", "", "with --all: only this source")
	cmd.AddCommand(list, show, retry)
	return cmd
}

// patientRetry is what retrying a quarantined patient record did.
type patientRetry struct {
	ID       int64  `json:"id"`
	Imported int    `json:"patientsImported"`
	Ingested bool   `json:"ingested"` // into the registry
	Reason   string `json:"reason,omitempty"`
}

// retryPatient retries quarantined item id if it is a patient record
// (HL7 v2 ADT, FHIR Patient, registry CSV, or a record the registry
// refused), importing it into the registry. It returns nil if the item is
// not one.
func retryPatient(ctx context.Context, a *app, id int64) (*patientRetry, error) {
	it, err := a.db.GetQuarantine(ctx, id)
	if err != nil {
		return nil, err
	}
	parse, ok := patientParser(it.Format)
	if !ok {
		return nil, nil
	}
	if it.Status != store.QuarantinePending {
		return nil, &labtrust.Error{Code: "not_pending", Message: fmt.Sprintf("quarantine item %d is %s, not pending", id, it.Status)}
	}
	raw, err := a.pipe.OpenQuarantined(it)
	if err != nil {
		return nil, fmt.Errorf("open quarantine item %d: %w", id, err)
	}
	n, reason, err := registry.New(a.db, a.keys).Retry(ctx, it.Source, it.Format, raw, parse)
	if err != nil {
		return nil, err
	}
	res := &patientRetry{ID: id, Imported: n, Ingested: reason == "", Reason: reason}
	if err := a.db.RecordRetry(ctx, id, res.Ingested, reason); err != nil {
		return nil, err
	}
	return res, nil
}
