package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/detect"
	"github.com/labtrust/labtrust/explain"
	"github.com/labtrust/labtrust/geo"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/roster"
	"github.com/labtrust/labtrust/sigma"
	"github.com/labtrust/labtrust/stix"
	"github.com/labtrust/labtrust/store"
	"github.com/spf13/cobra"
)

func newDetect(g *globalOpts) *cobra.Command {
	var rulesDir string
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Check Sigma rules and replay them over stored events",
		Long: `Detection runs Sigma rules (the SigmaHQ specification v2, correlations included) over every
event in the ledger as it arrives, in the server. The rules are a built-in pack plus the
.yml/.yaml files under DATA/rules (or --rules); the server reloads them when they change.
The fields rules can use are listed by "labtrust detect fields".`,
	}
	cmd.PersistentFlags().StringVar(&rulesDir, "rules", "", "rules directory (default DATA/rules)")
	dir := func() string {
		if rulesDir != "" {
			return rulesDir
		}
		return paths{g.data}.rules()
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Load the rules and report every problem with its file and line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := detect.Load(dir(), sigma.Options{})
			var es sigma.Errors
			if errors.As(err, &es) {
				for _, e := range es {
					fmt.Fprintln(g.stdout, e.Error())
				}
				return &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("%d problem(s) in the rules", len(es)), Hint: "fix each at the file and line given"}
			}
			if err != nil {
				return err
			}
			builtin, corr := 0, 0
			for _, r := range rs.Rules() {
				if strings.HasPrefix(r.File, "builtin:") {
					builtin++
				}
				if r.Correlation() != nil {
					corr++
				}
			}
			fmt.Fprintf(g.stdout, "OK: %d rules (%d built-in, %d from %s), %d of them correlations\n", len(rs.Rules()), builtin, len(rs.Rules())-builtin, dir(), corr)
			return nil
		},
	}
	fields := &cobra.Command{
		Use:   "fields",
		Short: "List the event fields Sigma rules can use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(g.stdout, "logsource: product %s, category = the event's kind (access, security, staff, report), service = its source\n", detect.Product)
			for _, f := range detect.FieldNames() {
				fmt.Fprintln(g.stdout, "  "+f)
			}
			return nil
		},
	}
	intel := &cobra.Command{
		Use:   "intel FILE",
		Short: "Read a STIX 2.1 bundle: the address indicators detection would use, and what it leaves out",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			set, skipped, err := stix.Read(f)
			if err != nil {
				return &labtrust.Error{Code: "invalid", Message: err.Error(), Hint: "give a STIX 2.1 bundle (JSON with \"type\": \"bundle\")"}
			}
			tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INDICATOR\tNAME\tADDRESSES\tVALID")
			for _, ind := range set.Indicators {
				valid := "from " + ind.ValidFrom.Format("2006-01-02")
				if !ind.ValidUntil.IsZero() {
					valid += " until " + ind.ValidUntil.Format("2006-01-02")
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", ind.ID, ind.Name, len(ind.Prefixes), valid)
			}
			tw.Flush()
			for _, k := range skipped {
				fmt.Fprintf(g.stdout, "left out %s: %s\n", k.ID, k.Reason)
			}
			fmt.Fprintf(g.stdout, "%d address indicators, %d objects left out\n", set.Len(), len(skipped))
			return nil
		},
	}
	var manifestPath, rosterPath, rosterTZ, geoPath string
	var explainQuiet bool
	explainCmd := &cobra.Command{
		Use:   "explain [--manifest FILE]",
		Short: "How many stored accesses a clinical reason explains; with a demo manifest, what the rest are",
		Long: `explain replays the stored events through the access explainer: each access to a patient's
record is explained by an order for that patient it is part of, or stays unexplained (an alert in
serve --explain). With the demo's manifest (default DATA/demo/manifest.json when present) it also
says which planted anomalies were among the unexplained accesses, and the false-alert rate: the
unexplained accesses that are not planted, per 10,000 accesses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ctx := cmd.Context()
				e, err := detect.Open(dir(), sigma.Options{})
				if err != nil {
					return err
				}
				e.Explain(explain.NewBlinded(a.keys.Blind, a.keys.Blinder))
				if _, err := e.LoadClinical(ctx, a.db, time.Time{}); err != nil {
					return err
				}
				if err := loadRoster(e, rosterPath, rosterTZ, a.p.demo()); err != nil {
					return err
				}
				if err := loadFlags(ctx, a, e); err != nil {
					return err
				}
				if closeGeo, err := loadGeo(e, geoPath, a.p.demo()); err != nil {
					return err
				} else {
					defer closeGeo()
				}
				planted := map[string]string{} // sourceRef -> anomaly kind
				var manifest demo.Manifest
				path := manifestPath
				if path == "" {
					if _, err := os.Stat(filepath.Join(a.p.demo(), "manifest.json")); err == nil {
						path = filepath.Join(a.p.demo(), "manifest.json")
					}
				}
				if path != "" {
					b, err := os.ReadFile(path)
					if err != nil {
						return err
					}
					if err := json.Unmarshal(b, &manifest); err != nil {
						return &labtrust.Error{Code: "invalid", Message: "the manifest is not the demo's JSON", Err: err}
					}
					for _, an := range manifest.Anomalies {
						for _, r := range an.SourceRefs {
							planted[r] = an.Kind
						}
					}
				}
				var falseAlerts int64
				found := map[string]int{}
				e.OnUnexplained(func(u explain.Unexplained) {
					if kind, ok := planted[u.Ref]; ok {
						found[kind]++
					} else {
						falseAlerts++
					}
				})
				next, err := a.db.NextIndex(ctx)
				if err != nil {
					return err
				}
				bar, prog := newBar(g, int64(next), "explain", explainQuiet)
				bursts := map[string]int{} // account -> volume alerts
				offShift := map[string]int{}
				coworkers := map[string]int{}
				flagged := map[string]int{}
				travelled := map[string]int{}
				kinFound := map[string]int{}
				countBursts := func(al labtrust.Alert) {
					switch al.Rule {
					case detect.VolumeRule:
						bursts[al.Actor]++
					case detect.OffShiftRule:
						offShift[al.Actor]++
					case detect.CoworkerRule, detect.SelfRule:
						coworkers[al.Actor]++
					case detect.VIPRule, detect.DeceasedRule:
						flagged[al.Actor]++
					case detect.TravelRule:
						travelled[al.Actor]++
					case detect.KinRule:
						kinFound[al.Actor]++
					}
				}
				if _, err = processAll(ctx, a, e, 0, next, countBursts, prog); err != nil {
					return err
				}
				e.FlushExplain(countBursts)
				if bar != nil {
					bar.Finish()
				}
				st := e.ExplainStats()
				if st.Accesses == 0 {
					fmt.Fprintln(g.stdout, "no accesses to patient data are stored")
					return nil
				}
				fmt.Fprintf(g.stdout, "%d accesses: %d explained (%.2f%%), %d unexplained\n", st.Accesses, st.Explained,
					100*float64(st.Explained)/float64(st.Accesses), st.Unexplained)
				reasons := make([]string, 0, len(st.ByReason))
				for r := range st.ByReason {
					reasons = append(reasons, r)
				}
				sort.Slice(reasons, func(i, j int) bool { return st.ByReason[reasons[i]] > st.ByReason[reasons[j]] })
				for _, r := range reasons {
					fmt.Fprintf(g.stdout, "  %9d  %s\n", st.ByReason[r], r)
				}
				plantedActors := map[string]string{} // account -> the planted anomalies naming it
				for _, an := range manifest.Anomalies {
					for _, ac := range an.Actors {
						if !strings.Contains(plantedActors[ac], an.Kind) {
							plantedActors[ac] = strings.TrimPrefix(plantedActors[ac]+", "+an.Kind, ", ")
						}
					}
				}
				for _, c := range []struct {
					what   string
					counts map[string]int
				}{{"opened unusually many records in %d hour(s)", bursts}, {"opened patient data off shift (%d access(es))", offShift},
					{"opened a coworker's or their own record (%d access(es))", coworkers},
					{"opened a VIP or deceased patient's record with no order (%d access(es))", flagged},
					{"was in two places too far apart (%d time(s))", travelled},
					{"opened a record of someone sharing their surname or address, with no order (%d access(es))", kinFound}} {
					accounts := make([]string, 0, len(c.counts))
					for ac := range c.counts {
						accounts = append(accounts, ac)
					}
					sort.Strings(accounts)
					for _, ac := range accounts {
						note := ""
						if kinds, ok := plantedActors[ac]; ok {
							note = " (an account in planted " + kinds + ")"
						}
						fmt.Fprintf(g.stdout, "%s "+c.what+"%s\n", ac, c.counts[ac], note)
					}
				}
				if path != "" {
					fmt.Fprintf(g.stdout, "false alerts: %d unexplained accesses that are not planted, %.1f per 10,000 accesses\n",
						falseAlerts, 10000*float64(falseAlerts)/float64(st.Accesses))
					for _, an := range manifest.Anomalies {
						mark := "not among the unexplained"
						if found[an.Kind] > 0 {
							mark = fmt.Sprintf("found (%d unexplained accesses)", found[an.Kind])
						}
						fmt.Fprintf(g.stdout, "  planted %-22s %s\n", an.Kind, mark)
					}
				}
				return nil
			})
		},
	}
	explainCmd.Flags().StringVar(&manifestPath, "manifest", "", "the demo's manifest.json (default DATA/demo/manifest.json when present)")
	explainCmd.Flags().BoolVar(&explainQuiet, "quiet", false, "no progress bar")
	explainCmd.Flags().StringVar(&rosterPath, "roster", "", "staff assignments, FHIR PractitionerRole NDJSON or Bundle (default DATA/demo/roster.ndjson when present)")
	explainCmd.Flags().StringVar(&geoPath, "geoip", "", "MaxMind City database for impossible travel (default DATA/demo/geoip.mmdb when present)")
	explainCmd.Flags().StringVar(&rosterTZ, "roster-tz", "", "the zone of the roster's times: -05:00 or America/Chicago (default UTC; the demo's: -05:00)")
	var from, to uint64
	var only, intelFile string
	var quiet, asJSON bool
	replay := &cobra.Command{
		Use:   "replay",
		Short: "Backtest the rules over stored events: how often each would have fired",
		Long: `replay evaluates the rules over the stored events from --from to --to (default: all) and
prints, per rule, how many alerts it would have raised, without storing any. Use it to try
a new rule against history before putting it in the rules directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ctx := cmd.Context()
				e, err := detect.Open(dir(), sigma.Options{})
				if err != nil {
					return err
				}
				if intelFile != "" {
					if _, _, err := e.LoadIntel(intelFile); err != nil {
						return err
					}
				}
				next, err := a.db.NextIndex(ctx)
				if err != nil {
					return err
				}
				if to == 0 || to > next {
					to = next
				}
				bar, prog := newBar(g, int64(to-from), "replay", quiet || asJSON)
				counts := map[string]int{}
				titles := map[string]string{}
				start := time.Now()
				n, err := processAll(ctx, a, e, from, to, func(al labtrust.Alert) {
					if only == "" || al.Rule == only {
						counts[al.Rule]++
						titles[al.Rule] = al.Title
					}
				}, prog)
				if bar != nil {
					bar.Finish()
				}
				if err != nil {
					return err
				}
				took := time.Since(start)
				recordAction(ctx, a, "detect-replay", labtrust.ActionExecute, fmt.Sprintf("entries %d to %d", from, to))
				if asJSON {
					return json.NewEncoder(g.stdout).Encode(map[string]any{"events": n, "seconds": took.Seconds(), "alerts": counts})
				}
				rules := make([]string, 0, len(counts))
				for r := range counts {
					rules = append(rules, r)
				}
				sort.Slice(rules, func(i, j int) bool { return counts[rules[i]] > counts[rules[j]] })
				tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ALERTS\tRULE\tTITLE")
				for _, r := range rules {
					fmt.Fprintf(tw, "%d\t%s\t%s\n", counts[r], r, titles[r])
				}
				tw.Flush()
				fmt.Fprintf(g.stdout, "%d events replayed in %v (%.0f events/s), %d rules\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds(), len(e.Rules()))
				return nil
			})
		},
	}
	replay.Flags().Uint64Var(&from, "from", 0, "first ledger index")
	replay.Flags().Uint64Var(&to, "to", 0, "end ledger index (exclusive; default: everything stored)")
	replay.Flags().StringVar(&only, "rule", "", "count only this rule (name or id)")
	replay.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	replay.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	replay.Flags().StringVar(&intelFile, "threat-intel", "", "also check addresses against this STIX 2.1 bundle")
	cmd.AddCommand(check, fields, replay, intel, explainCmd)
	return cmd
}

func newAlerts(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List alerts and triage them",
		Long: `Alerts are what detection raised: the rule, its severity, an explanation and the ledger
entries behind it. Triage moves an alert from new to investigating, then to benign
(explained, with the reason) or confirmed. Each triage step is recorded in the ledger.`,
	}
	var status string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List alerts, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if status != "" && !labtrust.AlertStatus(status).Valid() {
				return &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("unknown status %q", status), Hint: "new, investigating, benign or confirmed"}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				as, err := a.db.ListAlerts(cmd.Context(), store.AlertFilter{Status: labtrust.AlertStatus(status), Limit: limit})
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tSTATUS\tLAST SEEN\tCOUNT\tACTOR\tTITLE")
				for _, al := range as {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", al.ID, al.Severity, al.Status, al.Last.Format("2006-01-02 15:04Z"), al.Count, al.Actor, al.Title)
				}
				tw.Flush()
				if len(as) == 0 {
					fmt.Fprintln(g.stdout, "no alerts")
				}
				return nil
			})
		},
	}
	list.Flags().StringVar(&status, "status", "", "only alerts in this state (new, investigating, benign, confirmed)")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one alert with its explanation and ledger entries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust alerts list")
			if err != nil {
				return err
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				al, err := a.db.GetAlert(cmd.Context(), id)
				if err != nil {
					return alertErr(err)
				}
				fmt.Fprintf(g.stdout, "alert %d: %s\nrule:      %s\nseverity:  %s\nstatus:    %s\n", al.ID, al.Title, al.Rule, al.Severity, al.Status)
				if al.Reason != "" {
					fmt.Fprintf(g.stdout, "reason:    %s (by %s)\n", al.Reason, al.UpdatedBy)
				}
				fmt.Fprintf(g.stdout, "seen:      %s to %s, %d time(s)\nwhy:       %s\n", al.First.Format(time.RFC3339), al.Last.Format(time.RFC3339), al.Count, al.Explanation)
				idx := make([]string, len(al.Entries))
				for i, e := range al.Entries {
					idx[i] = strconv.FormatUint(e, 10)
				}
				fmt.Fprintf(g.stdout, "entries:   %s\n", strings.Join(idx, " "))
				return nil
			})
		},
	}
	var reason string
	var allowFor time.Duration
	set := &cobra.Command{
		Use:   "set ID STATUS [--reason TEXT] [--allow-for 168h]",
		Short: "Move an alert through triage (investigating, benign, confirmed)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust alerts list")
			if err != nil {
				return err
			}
			st := labtrust.AlertStatus(args[1])
			if !st.Valid() {
				return &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("unknown status %q", args[1]), Hint: "new, investigating, benign or confirmed"}
			}
			if allowFor != 0 && (st != labtrust.AlertBenign || allowFor < 0 || allowFor > 90*24*time.Hour) {
				return &labtrust.Error{Code: "invalid", Message: "--allow-for goes with benign, for up to 90 days (2160h)"}
			}
			if st == labtrust.AlertBenign && strings.TrimSpace(reason) == "" {
				return &labtrust.Error{Code: "invalid", Message: "an alert explained as benign needs the explanation", Hint: `--reason "covering for a colleague on the night shift"`}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				if err := a.db.SetAlertStatus(cmd.Context(), id, st, reason, operator()); err != nil {
					return alertErr(err)
				}
				recordAction(cmd.Context(), a, "alert-triage", labtrust.ActionUpdate, fmt.Sprintf("alert %d: %s", id, st))
				fmt.Fprintf(g.stdout, "alert %d is %s\n", id, st)
				if allowFor > 0 {
					e, err := a.db.AllowLike(cmd.Context(), id, reason, operator(), time.Now().Add(allowFor))
					if err != nil {
						return err
					}
					recordAction(cmd.Context(), a, "alert-allow", labtrust.ActionCreate, fmt.Sprintf("rule %s for %s until %s (from alert %d)", e.Rule, e.Actor, e.Expires.Format(time.RFC3339), id))
					fmt.Fprintf(g.stdout, "allowed: %s matches of %s until %s (allow-list entry %d)\n", orAny(e.Actor), e.Rule, e.Expires.Format("2006-01-02 15:04Z"), e.ID)
				}
				return nil
			})
		},
	}
	set.Flags().StringVar(&reason, "reason", "", "why (required for benign)")
	set.Flags().DurationVar(&allowFor, "allow-for", 0, "with benign: also allow the same rule for the same account or address this long (up to 2160h)")
	allowed := &cobra.Command{
		Use:   "allowed",
		Short: "List the allow-list entries triage made (in force first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				es, err := a.db.AllowList(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tRULE\tFOR\tUNTIL\tSUPPRESSED\tBY\tREASON")
				for _, e := range es {
					until := e.Expires.Format("2006-01-02 15:04Z")
					if !e.Expires.After(time.Now()) {
						until += " (ended)"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Rule, orAny(e.Actor), until, e.Suppressed, e.CreatedBy, e.Reason)
				}
				tw.Flush()
				return nil
			})
		},
	}
	unallow := &cobra.Command{
		Use:   "unallow ID",
		Short: "End an allow-list entry now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust alerts allowed")
			if err != nil {
				return err
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				if err := a.db.EndAllow(cmd.Context(), id); err != nil {
					if errors.Is(err, labtrust.ErrNotFound) {
						return &labtrust.Error{Code: "not_found", Message: "no allow-list entry in force has that ID", Err: err}
					}
					return err
				}
				recordAction(cmd.Context(), a, "alert-unallow", labtrust.ActionDelete, fmt.Sprintf("allow-list entry %d", id))
				fmt.Fprintf(g.stdout, "allow-list entry %d ended\n", id)
				return nil
			})
		},
	}
	cmd.AddCommand(list, show, set, allowed, unallow)
	return cmd
}

func orAny(actor string) string {
	if actor == "" {
		return "(any account)"
	}
	return actor
}

func alertErr(err error) error {
	if errors.Is(err, labtrust.ErrNotFound) {
		return &labtrust.Error{Code: "not_found", Message: "no alert has that ID", Hint: "see IDs with: labtrust alerts list", Err: err}
	}
	return err
}

// loadRoster reads the roster into the engine: path, else the demo's when
// it is there. zone is an offset ("-05:00") or an IANA name.
func loadRoster(e *detect.Engine, path, zone, demoDir string) error {
	if path == "" {
		p := filepath.Join(demoDir, "roster.ndjson")
		if _, err := os.Stat(p); err != nil {
			return nil
		}
		path = p
		if zone == "" {
			zone = "-05:00" // demo.LabZoneOffset
		}
	}
	loc, err := parseZone(zone)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ro, err := roster.Read(f, loc)
	if err != nil {
		return &labtrust.Error{Code: "invalid", Message: err.Error(), Hint: "give FHIR R4 PractitionerRole resources (NDJSON or a Bundle)"}
	}
	e.SetRoster(ro)
	return nil
}

func parseZone(s string) (*time.Location, error) {
	if s == "" || s == "UTC" {
		return time.UTC, nil
	}
	if t, err := time.Parse("-07:00", s); err == nil {
		_, off := t.Zone()
		return time.FixedZone(s, off), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("%q is not a time zone", s), Hint: "an offset like -05:00 or a name like America/Chicago"}
	}
	return loc, nil
}

// loadFlags gives the engine the registry's VIP and deceased patients, and,
// with a roster, the patients who share a staff member's family name or
// home address.
func loadFlags(ctx context.Context, a *app, e *detect.Engine) error {
	flags := map[string]store.Flags{}
	if err := a.db.FlaggedPatients(ctx, func(b []byte, f store.Flags) error {
		flags[string(b)] = f
		return nil
	}); err != nil {
		return err
	}
	kin, err := kinOf(ctx, a, e.Roster())
	if err != nil {
		return err
	}
	e.SetFlagged(a.keys.Blind, flags, kin)
	return nil
}

// maxSurname bounds how many patients a family name may be shared with and
// still mean something: a very common name relates everyone.
const maxSurname = 1000

// kinOf finds, for each staff member, the patients who share their family
// name or home address: from the staff member's own registry record when
// the roster gives their MRN, else the family name from the roster's name.
func kinOf(ctx context.Context, a *app, ro *roster.Roster) (map[string]map[string]string, error) {
	if ro == nil {
		return nil, nil
	}
	reg := registry.New(a.db, a.keys)
	kin := map[string]map[string]string{}
	mark := func(blinds [][]byte, account, how string) {
		for _, b := range blinds {
			m := kin[string(b)]
			if m == nil {
				m = map[string]string{}
				kin[string(b)] = m
			}
			if m[account] != "address" {
				m[account] = how
			}
		}
	}
	for account, m := range ro.Members {
		family, home, own := "", (*labtrust.Address)(nil), []byte(nil)
		if m.MRN != "" {
			if en, err := reg.Get(ctx, m.MRN); err == nil {
				family = en.Patient.Name.Family
				for i := range en.Patient.Addresses {
					if en.Patient.Addresses[i].Use == "home" || en.Patient.Addresses[i].Use == "" {
						home = &en.Patient.Addresses[i]
						break
					}
				}
				own = a.keys.Blind(m.MRN)
			}
		}
		if family == "" {
			if f := strings.Fields(m.Name); len(f) > 1 {
				family = f[len(f)-1]
			}
		}
		surname, household, err := reg.Related(ctx, family, home)
		if err != nil {
			return nil, err
		}
		if len(surname) > maxSurname {
			surname = nil
		}
		// Their own record is theirs, not a relative's (self_access).
		drop := func(bs [][]byte) [][]byte {
			out := bs[:0]
			for _, b := range bs {
				if !bytes.Equal(b, own) {
					out = append(out, b)
				}
			}
			return out
		}
		mark(drop(surname), account, "surname")
		mark(drop(household), account, "address")
	}
	return kin, nil
}

// processAll runs the engine over the stored entries from..to in steps, so
// a progress bar moves, and returns how many it read.
func processAll(ctx context.Context, a *app, e *detect.Engine, from, to uint64, raise func(labtrust.Alert), prog func(done, total int64)) (int, error) {
	n := 0
	for lo := from; lo < to; lo += 256 * 1024 {
		k, err := e.Process(ctx, a.db, a.keys, lo, min(lo+256*1024, to), raise)
		n += k
		if err != nil {
			return n, err
		}
		if prog != nil {
			prog(int64(n), 0)
		}
	}
	return n, nil
}

// argID reads a numeric ID argument; list is the command that shows the IDs.
func argID(s, list string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &labtrust.Error{Code: "invalid", Message: "ID must be a number", Hint: "see IDs with: " + list}
	}
	return id, nil
}

// loadGeo opens the geolocation database for impossible travel: path,
// else the demo's when it is there. It returns how to close it.
func loadGeo(e *detect.Engine, path, demoDir string) (func(), error) {
	if path == "" {
		p := filepath.Join(demoDir, "geoip.mmdb")
		if _, err := os.Stat(p); err != nil {
			return func() {}, nil
		}
		path = p
	}
	db, err := geo.Open(path)
	if err != nil {
		return nil, &labtrust.Error{Code: "invalid", Message: err.Error(), Hint: "give a MaxMind DB of the City kind (GeoLite2-City.mmdb)"}
	}
	e.SetGeo(db)
	return func() { e.SetGeo(nil); db.Close() }, nil
}
