package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/registry"
	"github.com/spf13/cobra"
)

// incidents opens the incident service on the app; staff actions go to
// the ledger through the pipeline or the outbox.
func incidents(a *app) (*incident.Service, error) {
	s, err := incident.New(a.db, a.keys, recorder(a), nil)
	if err != nil {
		return nil, err
	}
	s.Unreachable = a.db.UndeliveredNotices
	return s, nil
}

// withIncident runs fn on the incident named by the command's first
// argument, with the app and the incident service open.
func withIncident(cmd *cobra.Command, g *globalOpts, args []string, fn func(ctx context.Context, a *app, s *incident.Service, id int64) error) error {
	id, err := argID(args[0], "labtrust incident list")
	if err != nil {
		return err
	}
	return withApp(cmd, g, openOpts{}, func(a *app) error {
		s, err := incidents(a)
		if err != nil {
			return err
		}
		return incidentErr(fn(cmd.Context(), a, s, id))
	})
}

func incidentErr(err error) error {
	if errors.Is(err, labtrust.ErrNotFound) {
		return &labtrust.Error{Code: "not_found", Message: "no such incident (or item in it)", Hint: "see them with: labtrust incident list", Err: err}
	}
	return err
}

// parseDay reads a date (YYYY-MM-DD) or an RFC 3339 time.
func parseDay(s, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("--%s %q: want YYYY-MM-DD or an RFC 3339 time", flag, s)}
	}
	return t, nil
}

func newIncident(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incident",
		Short: "Run incidents: playbooks, tasks, timeline, evidence, contacts and law-enforcement delays",
		Long: `An incident follows NIST SP 800-61r3: it is opened from an alert or by hand, a playbook
(ransomware, phishing, insider, lost-device, business-associate, misdirected) expands into
tasks with owner roles and due dates, and every step lands on its timeline and, as a staff
event, in the ledger. Evidence files are sealed with their SHA-256 and a chain of custody.
The breach scope, risk assessment and obligations follow: see labtrust scope, assess and
obligations.`,
	}
	withInc := func(cmd *cobra.Command, args []string, fn func(ctx context.Context, a *app, s *incident.Service, id int64) error) error {
		return withIncident(cmd, g, args, fn)
	}
	var n incident.NewIncident
	var discovered, entity string
	open := &cobra.Command{
		Use:   "open --title TEXT [--playbook KEY] [--discovered DATE] [--alert ID]",
		Short: "Open an incident",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseDay(discovered, "discovered")
			if err != nil {
				return err
			}
			n.Discovered, n.Entity = d, breach.Entity(entity)
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				s, err := incidents(a)
				if err != nil {
					return err
				}
				in, err := s.Create(cmd.Context(), operator(), n)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d opened (%d tasks)\n", in.ID, len(in.Tasks))
				return nil
			})
		},
	}
	f := open.Flags()
	f.StringVar(&n.Title, "title", "", "what happened, in a line")
	f.StringVar(&n.Summary, "summary", "", "more detail")
	f.StringVar(&n.Severity, "severity", "medium", "low, medium, high or critical")
	f.StringVar(&n.Playbook, "playbook", "", "apply this playbook at once (see: labtrust incident playbooks)")
	f.StringVar(&discovered, "discovered", "", "date of discovery (YYYY-MM-DD; default now): every deadline counts from it")
	f.StringVar(&entity, "entity", "covered-entity", "the lab's HIPAA role in this breach: covered-entity, business-associate or other")
	f.StringVar(&n.CoveredEntity, "covered-entity", "", "as a business associate: the covered entity to notify")
	f.Int64SliceVar(&n.Alerts, "alert", nil, "alerts that raised it")
	list := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				s, err := incidents(a)
				if err != nil {
					return err
				}
				ins, err := s.List(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tSTATUS\tDISCOVERED\tTASKS OPEN\tTITLE")
				for _, in := range ins {
					open := 0
					for _, t := range in.Tasks {
						if !t.Done {
							open++
						}
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", in.ID, in.Severity, in.Status, in.Discovered.Format(time.DateOnly), open, in.Title)
				}
				tw.Flush()
				if len(ins) == 0 {
					fmt.Fprintln(g.stdout, "no incidents")
				}
				return nil
			})
		},
	}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident: tasks, timeline, evidence, contacts, scope and assessment",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				in, err := s.Get(ctx, id)
				if err != nil {
					return err
				}
				recordAction(ctx, a, "incident-view", labtrust.ActionRead, fmt.Sprintf("incident %d", id))
				if asJSON {
					enc := json.NewEncoder(g.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(in)
				}
				// The timeline shows the linked alerts beside the actions.
				for _, aid := range in.Alerts {
					if al, err := a.db.GetAlert(ctx, aid); err == nil {
						in.Timeline = append(in.Timeline, incident.Entry{At: al.First, By: "detection", Action: "alert",
							Text: fmt.Sprintf("Alert %d first seen: %s (%d matching events)", al.ID, al.Title, al.Count)})
					}
				}
				sort.SliceStable(in.Timeline, func(i, j int) bool { return in.Timeline[i].At.Before(in.Timeline[j].At) })
				printIncident(g, in)
				return nil
			})
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "the whole incident as JSON")
	playbooks := &cobra.Command{
		Use:   "playbooks",
		Short: "List the playbooks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pbs, err := incident.BuiltinPlaybooks()
			if err != nil {
				return err
			}
			keys := make([]string, 0, len(pbs))
			for k := range pbs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(g.stdout, "%-20s %s (%d tasks)\n%-20s %s\n", k, pbs[k].Name, len(pbs[k].Tasks), "", pbs[k].Description)
			}
			return nil
		},
	}
	playbook := &cobra.Command{
		Use:   "playbook ID KEY",
		Short: "Apply a playbook: its tasks are due from now",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				in, err := s.ApplyPlaybook(ctx, operator(), id, args[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d: playbook %s applied, %d tasks in all\n", id, args[1], len(in.Tasks))
				return nil
			})
		},
	}
	var done, reopen bool
	var owner string
	task := &cobra.Command{
		Use:   "task ID TASK [--done|--reopen] [--owner USER]",
		Short: "Mark a task done, reopen it, or assign it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			tid, err := strconv.Atoi(args[1])
			if err != nil {
				return &labtrust.Error{Code: "invalid", Message: "TASK must be a number", Hint: "see them with: labtrust incident show ID"}
			}
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				in, err := s.Get(ctx, id)
				if err != nil {
					return err
				}
				state := false
				for _, t := range in.Tasks {
					if t.ID == tid {
						state = t.Done
					}
				}
				if done {
					state = true
				}
				if reopen {
					state = false
				}
				if _, err := s.SetTask(ctx, operator(), id, tid, state, owner); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d: task %d updated\n", id, tid)
				return nil
			})
		},
	}
	task.Flags().BoolVar(&done, "done", false, "mark it done")
	task.Flags().BoolVar(&reopen, "reopen", false, "mark it not done")
	task.Flags().StringVar(&owner, "owner", "", "assign it to this account")
	note := &cobra.Command{
		Use:   "note ID TEXT",
		Short: "Add a note to the timeline",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				_, err := s.AddNote(ctx, operator(), id, args[1])
				return err
			})
		},
	}
	var statusNote string
	status := &cobra.Command{
		Use:   "status ID STATUS [--note TEXT]",
		Short: "Move the incident: open, investigating, contained, recovering, closed",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				if _, err := s.SetStatus(ctx, operator(), id, incident.Status(args[1]), statusNote); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d is %s\n", id, args[1])
				return nil
			})
		},
	}
	status.Flags().StringVar(&statusNote, "note", "", "why (closing: the lessons learned, if not recorded yet)")
	lessons := &cobra.Command{
		Use:   "lessons ID TEXT",
		Short: "Record the lessons learned (needed before closing)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				_, err := s.SetLessons(ctx, operator(), id, args[1])
				return err
			})
		},
	}
	var upStatus, upEN, upES string
	update := &cobra.Command{
		Use:   "update ID --status STATUS --en TEXT --es TEXT",
		Short: "Post a public update on the patient portal's status page (mailed to its subscribers)",
		Long: `Post a public update on the patient portal's status page, in English and
Spanish. STATUS is investigating, identified, contained or resolved. A running
server mails it to the people who subscribed, within a minute.`,
		Example: `  labtrust incident update 1 --status contained --en "We disabled the account." --es "Desactivamos la cuenta."`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				if _, err := s.PostUpdate(ctx, operator(), id, upStatus, upEN, upES); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d: public update posted (%s)\n", id, upStatus)
				return nil
			})
		},
	}
	update.Flags().StringVar(&upStatus, "status", "", "investigating, identified, contained or resolved")
	update.Flags().StringVar(&upEN, "en", "", "the update in English")
	update.Flags().StringVar(&upES, "es", "", "the update in Spanish")
	var c incident.Contact
	contact := &cobra.Command{
		Use:   "contact ID --kind KIND --org ORG --summary TEXT",
		Short: "Record a contact with a regulator, law enforcement, counsel, forensics, insurer…",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				_, err := s.AddContact(ctx, operator(), id, c)
				return err
			})
		},
	}
	cf := contact.Flags()
	cf.StringVar(&c.Kind, "kind", "", strings.Join(incident.ContactKinds, ", "))
	cf.StringVar(&c.Org, "org", "", "organisation")
	cf.StringVar(&c.Person, "person", "", "person spoken to")
	cf.StringVar(&c.Channel, "channel", "", "phone, email, portal, letter, in person")
	cf.StringVar(&c.Summary, "summary", "", "what was said or sent")
	cf.StringVar(&c.Reference, "reference", "", "case or report number")
	var d breach.Delay
	var official, until, ref string
	delay := &cobra.Command{
		Use:   "delay ID --agency NAME --official NAME (--until DATE | --oral)",
		Short: "Record a law-enforcement request to delay notice (45 CFR 164.412)",
		Long: `A law-enforcement official's statement that notice would impede a criminal investigation
delays notice: for the period a written statement specifies (--until), or for at most 30
days after an oral one (--oral), unless a written statement follows. Obligations move to
the end of the delay.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := parseDay(until, "until")
			if err != nil {
				return err
			}
			d.Until = u
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				in, err := s.RequestDelay(ctx, operator(), id, d, official, ref)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d: notices held until %s\n", id, in.Delay.End().Format(time.DateOnly))
				return nil
			})
		},
	}
	df := delay.Flags()
	df.StringVar(&d.Agency, "agency", "", "the law-enforcement agency")
	df.StringVar(&official, "official", "", "the official who made the statement")
	df.BoolVar(&d.Oral, "oral", false, "an oral statement (documented; at most 30 days)")
	df.StringVar(&until, "until", "", "a written statement's end date (YYYY-MM-DD)")
	df.StringVar(&ref, "reference", "", "case number")
	cmd.AddCommand(open, list, show, playbooks, playbook, task, note, status, update, lessons, contact, delay, newEvidence(g, withInc), newIndicators(g, withInc))
	return cmd
}

type incFn = func(cmd *cobra.Command, args []string, fn func(ctx context.Context, a *app, s *incident.Service, id int64) error) error

func newEvidence(g *globalOpts, withInc incFn) *cobra.Command {
	cmd := &cobra.Command{Use: "evidence", Short: "Add, open and hand over evidence files (sealed, with chain of custody)"}
	var name, desc string
	add := &cobra.Command{
		Use:   "add ID FILE [--name NAME] [--description TEXT]",
		Short: "Seal a file as evidence with its SHA-256",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fh, err := os.Open(args[1])
			if err != nil {
				return err
			}
			defer fh.Close()
			if name == "" {
				name = args[1]
			}
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				ev, err := s.AddEvidence(ctx, operator(), id, name, desc, fh)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "evidence %d: %s, %d bytes, sha256 %s\n", ev.ID, ev.Name, ev.Size, ev.SHA256)
				return nil
			})
		},
	}
	add.Flags().StringVar(&name, "name", "", "name (default the file's)")
	add.Flags().StringVar(&desc, "description", "", "what it is, how it was collected")
	var purpose, out string
	get := &cobra.Command{
		Use:   "get ID EVIDENCE --purpose TEXT --out FILE",
		Short: "Write an evidence file out, checked against its SHA-256; the access joins its custody",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eid, err := argID(args[1], "labtrust incident show ID")
			if err != nil {
				return err
			}
			if out == "" {
				return &labtrust.Error{Code: "invalid", Message: "--out is required"}
			}
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				ev, b, err := s.OpenEvidence(ctx, operator(), id, eid, purpose)
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, b, 0o600); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "evidence %d written to %s (sha256 %s verified)\n", ev.ID, out, ev.SHA256)
				return nil
			})
		},
	}
	get.Flags().StringVar(&purpose, "purpose", "", "why it is opened (recorded in the chain of custody)")
	get.Flags().StringVar(&out, "out", "", "file to write")
	var to string
	transfer := &cobra.Command{
		Use:   "transfer ID EVIDENCE --to WHO [--purpose TEXT]",
		Short: "Record a hand-over of evidence in its chain of custody",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			eid, err := argID(args[1], "labtrust incident show ID")
			if err != nil {
				return err
			}
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				_, err := s.TransferEvidence(ctx, operator(), id, eid, to, purpose)
				return err
			})
		},
	}
	transfer.Flags().StringVar(&to, "to", "", "who receives it")
	transfer.Flags().StringVar(&purpose, "purpose", "", "why")
	cmd.AddCommand(add, get, transfer)
	return cmd
}

func newIndicators(g *globalOpts, withInc incFn) *cobra.Command {
	var accounts, addresses, systems, feeds []string
	var records, elements, from, to string
	var wholeRegistry bool
	cmd := &cobra.Command{
		Use:   "indicators ID [--account A]... [--address IP/CIDR]... [--system S]... [--feed F]... [--records MRNS.txt | --registry] [--elements name,ssn] [--from DATE --to DATE]",
		Short: "Set what the breach touched, for the scope: accounts, addresses, systems, feeds, record sets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseDay(from, "from")
			if err != nil {
				return err
			}
			t, err := parseDay(to, "to")
			if err != nil {
				return err
			}
			if len(to) == len(time.DateOnly) {
				t = t.Add(24*time.Hour - time.Nanosecond) // the whole day
			}
			var ins []breach.Indicator
			for _, v := range accounts {
				ins = append(ins, breach.Indicator{Kind: breach.IndicatorAccount, Value: v, From: f, To: t})
			}
			for _, v := range addresses {
				ins = append(ins, breach.Indicator{Kind: breach.IndicatorAddress, Value: v, From: f, To: t})
			}
			for _, v := range systems {
				ins = append(ins, breach.Indicator{Kind: breach.IndicatorSystem, Value: v, From: f, To: t})
			}
			for _, v := range feeds {
				ins = append(ins, breach.Indicator{Kind: breach.IndicatorFeed, Value: v, From: f, To: t})
			}
			var els []breach.Element
			for _, e := range strings.Split(elements, ",") {
				if e = strings.TrimSpace(e); e != "" {
					els = append(els, breach.Element(e))
				}
			}
			if wholeRegistry {
				ins = append(ins, breach.Indicator{Kind: breach.IndicatorRegistry, Elements: els})
			}
			if records != "" {
				b, err := os.ReadFile(records)
				if err != nil {
					return err
				}
				var mrns []string
				for _, l := range strings.Split(string(b), "\n") {
					if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
						mrns = append(mrns, l)
					}
				}
				ins = append(ins, breach.Indicator{Kind: breach.IndicatorRecords, MRNs: mrns, Elements: els})
			}
			if len(ins) == 0 {
				return &labtrust.Error{Code: "invalid", Message: "give at least one indicator", Hint: "--account, --address, --system, --feed, --records or --registry"}
			}
			return withInc(cmd, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				if _, err := s.SetIndicators(ctx, operator(), id, ins); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d: %d indicators set; compute the scope with: labtrust scope %d\n", id, len(ins), id)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&accounts, "account", nil, "a staff or system account")
	f.StringSliceVar(&addresses, "address", nil, "a source IP address or CIDR prefix")
	f.StringSliceVar(&systems, "system", nil, "a source system (as configured)")
	f.StringSliceVar(&feeds, "feed", nil, "a business associate's data feed (source name)")
	f.StringVar(&records, "records", "", "a file of MRNs, one per line (a known record set)")
	f.BoolVar(&wholeRegistry, "registry", false, "the patient database itself was taken (ransomware that exfiltrated it): everyone the registry holds")
	f.StringVar(&elements, "elements", "", "with --records or --registry: the data elements it held (name,address,dob,ssn,health_insurance,orders,results,diagnoses…)")
	f.StringVar(&from, "from", "", "window start (YYYY-MM-DD or RFC 3339)")
	f.StringVar(&to, "to", "", "window end (a date includes the whole day)")
	return cmd
}

func printIncident(g *globalOpts, in *incident.Incident) {
	w := g.stdout
	fmt.Fprintf(w, "incident %d: %s\nseverity:   %s\nstatus:     %s\ndiscovered: %s\nopened:     %s by %s\nentity:     %s\n",
		in.ID, in.Title, in.Severity, in.Status, in.Discovered.Format(time.DateOnly), in.Opened.Format(time.RFC3339), in.OpenedBy, in.Entity)
	if len(in.Playbooks) > 0 {
		fmt.Fprintf(w, "playbooks:  %s\n", strings.Join(in.Playbooks, ", "))
	}
	if len(in.Alerts) > 0 {
		fmt.Fprintf(w, "alerts:     %v\n", in.Alerts)
	}
	if in.Delay != nil {
		fmt.Fprintf(w, "delay:      notices held until %s (%s)\n", in.Delay.End().Format(time.DateOnly), in.Delay.Agency)
	}
	if len(in.Tasks) > 0 {
		fmt.Fprintln(w, "\ntasks:")
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for _, t := range in.Tasks {
			mark := "[ ]"
			if t.Done {
				mark = "[x]"
			}
			who := t.Role
			if t.Owner != "" {
				who = t.Owner
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\tdue %s\t%s\t%s\n", t.ID, mark, t.Phase, t.Due.Format("2006-01-02 15:04Z"), who, t.Title)
		}
		tw.Flush()
	}
	if len(in.Evidence) > 0 {
		fmt.Fprintln(w, "\nevidence:")
		for _, e := range in.Evidence {
			fmt.Fprintf(w, "  %d  %s  %d bytes  sha256 %s\n", e.ID, e.Name, e.Size, e.SHA256)
			for _, c := range e.Custody {
				fmt.Fprintf(w, "       %s %s by %s %s %s\n", c.At.Format(time.RFC3339), c.Action, c.By, c.To, c.Purpose)
			}
		}
	}
	if len(in.Contacts) > 0 {
		fmt.Fprintln(w, "\ncontacts:")
		for _, c := range in.Contacts {
			fmt.Fprintf(w, "  %s  %s  %s %s: %s %s\n", c.At.Format(time.DateOnly), c.Kind, c.Org, c.Person, c.Summary, c.Reference)
		}
	}
	if in.Scope != nil {
		s := in.Scope.Summary
		fmt.Fprintf(w, "\nscope %d (computed %s at ledger size %d): %d patients, %d ledger entries\n", in.Scope.ID,
			in.Scope.Computed.Format(time.RFC3339), in.Scope.TreeSize, s.Patients, s.Events)
	}
	if a := in.Assessment(); a != nil {
		fmt.Fprintf(w, "\nassessment (%s by %s): breach=%v, probability %s\n  %s\n", a.At.Format(time.DateOnly), a.By, a.Outcome.Breach, a.Outcome.Probability, a.Outcome.Basis)
	}
	fmt.Fprintln(w, "\ntimeline:")
	for _, e := range in.Timeline {
		fmt.Fprintf(w, "  %s  %-10s %-12s %s\n", e.At.Format("2006-01-02 15:04Z"), e.Action, e.By, e.Text)
	}
}

// scoper builds the scope computation over the app's store and registry.
func scoper(a *app) *breach.Scoper {
	return &breach.Scoper{Events: a.db, Keys: a.keys, Blind: a.keys.Blind, Patients: registry.New(a.db, a.keys)}
}

// latestCheckpoint reads the newest signed checkpoint from the ledger
// files (a running server signs one every second).
func latestCheckpoint(a *app) ([]byte, *ledger.Reader, error) {
	rd, err := ledger.OpenReader(a.p.ledger(), a.origin, a.verifier)
	if err != nil {
		return nil, nil, &labtrust.Error{Code: "no_ledger", Message: "the ledger has no signed checkpoint yet", Hint: "ingest events first (labtrust serve --demo, or labtrust ingest)", Err: err}
	}
	_, note := rd.Checkpoint()
	return note, rd, nil
}
