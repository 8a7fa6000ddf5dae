package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/identity"
	"github.com/spf13/cobra"
)

// ledgerRecorder appends staff events through the pipeline, so they are
// in the ledger like every other access and security event.
type ledgerRecorder struct{ a *app }

func (r ledgerRecorder) Record(ctx context.Context, e labtrust.Event) error {
	if _, err := r.a.pipe.Submit(ctx, []labtrust.Event{e}); err != nil {
		r.a.log.Error("record a staff action in the ledger", "err", err)
		return err
	}
	return nil
}

// outboxRecorder queues events for the ledger's writer (a running
// server drains them within a second; otherwise the next writer does).
type outboxRecorder struct{ a *app }

// outboxAAD binds a queued event's seal to the outbox.
var outboxAAD = []byte("labtrust outbox v1")

func (r outboxRecorder) Record(ctx context.Context, e labtrust.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// A queued access names its patient: sealed like every body at rest.
	sealed, err := r.a.keys.Seal(ctx, nil, b, outboxAAD)
	if err != nil {
		return fmt.Errorf("seal a queued staff action: %w", err)
	}
	if err := r.a.db.AddOutbox(ctx, sealed, time.Now()); err != nil {
		r.a.log.Error("queue a staff action for the ledger", "err", err)
		return err
	}
	return nil
}

// recorder is how a command's staff actions reach the ledger: through the
// pipeline when this process is the writer, else through the outbox.
func recorder(a *app) identity.Recorder {
	if a.pipe != nil {
		return ledgerRecorder{a}
	}
	return outboxRecorder{a}
}

// recordAction puts an operator's CLI action (a key operation, say) in the
// ledger, like the console's staff actions.
func recordAction(ctx context.Context, a *app, what string, action labtrust.Action, detail string) {
	identity.New(a.db, a.keys, recorder(a), identity.Config{}, nil).Record(ctx, operator(), what, action, labtrust.OutcomeSuccess, detail)
}

// recordPatientAccess puts an operator's CLI access to a patient's data
// (a view, a search hit, an exported report) in the ledger, naming the
// patient, so it shows in their access history like any other access.
func recordPatientAccess(ctx context.Context, a *app, what string, p labtrust.PatientRef) {
	identity.New(a.db, a.keys, recorder(a), identity.Config{}, nil).RecordAccess(ctx, operator(), "", what, p, labtrust.OutcomeSuccess)
}

// withIdentity runs fn with the identity service. It takes the ledger's
// writer role if it is free, so staff actions are in the ledger when the
// command returns; beside a running server it queues them instead.
func withIdentity(cmd *cobra.Command, g *globalOpts, fn func(ctx context.Context, s *identity.Service) error) error {
	return withWriterIfFree(cmd, g, func(a *app) error {
		return fn(cmd.Context(), identity.New(a.db, a.keys, recorder(a), identity.Config{}, nil))
	})
}

// withWriterIfFree runs fn as the ledger's writer (the pipeline running,
// the outbox drained before and after) when no server holds that role, and
// otherwise beside the server, whose writer drains what fn queues.
func withWriterIfFree(cmd *cobra.Command, g *globalOpts, fn func(a *app) error) error {
	sources, err := resolve(cmd, g)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	a, err := openApp(ctx, g, sources, openOpts{writer: true})
	if err != nil {
		var le *labtrust.Error
		if !errors.As(err, &le) || le.Code != "locked" {
			return err
		}
		if a, err = openApp(ctx, g, sources, openOpts{}); err != nil {
			return err
		}
		defer a.Close()
		return fn(a)
	}
	defer a.Close()
	return withPipeline(a, func() error { return fn(a) })
}

// waitOutbox waits, beside a running server, until its writer has taken
// every queued event into the ledger (it drains every second).
func waitOutbox(ctx context.Context, a *app, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		rows, err := a.db.Outbox(ctx, 1)
		if err != nil || len(rows) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return &labtrust.Error{Code: "busy", Message: "queued staff actions are still waiting for the ledger's writer",
				Hint: "check that the server is running, or stop it and run the command again"}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// operator names who runs a CLI command, for the ledger.
func operator() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// readPassword reads a password from the file (or "-" for standard input),
// its first line.
func readPassword(path string) (string, error) {
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return "", err
		}
		defer f.Close()
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newStaff(g *globalOpts) *cobra.Command {
	roles := make([]string, len(identity.Roles))
	for i, r := range identity.Roles {
		roles[i] = string(r)
	}
	cmd := &cobra.Command{
		Use:   "staff",
		Short: "Staff accounts, roles and second factors",
		Long: `Staff sign in with a password (argon2id) and, for every role that can see PHI or holds the
keys or the accounts, a TOTP second factor with single-use recovery codes. Roles: ` + strings.Join(roles, ", ") + `.
A responder is scoped to one incident and expires. Every account change and sign-in is an event
in the ledger.`,
	}
	var name, role, pwFile, incident string
	var expires time.Duration
	add := &cobra.Command{
		Use:     "add USERNAME --role ROLE --password-file FILE",
		Short:   "Create an account",
		Example: "  printf '%s\\n' \"$PASSPHRASE\" | labtrust staff add ana --role privacy-officer --name 'Ana Ruiz' --password-file -",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pwFile == "" {
				return &labtrust.Error{Code: "invalid", Message: "--password-file is required", Hint: "a file whose first line is the password, or - for standard input (never a flag: it would show in the process list)"}
			}
			pw, err := readPassword(pwFile)
			if err != nil {
				return err
			}
			n := identity.NewStaff{Username: args[0], DisplayName: name, Password: pw, Role: identity.Role(role), Incident: incident}
			if expires > 0 {
				n.Expires = time.Now().Add(expires)
			}
			return withIdentity(cmd, g, func(ctx context.Context, s *identity.Service) error {
				st, err := s.Create(ctx, operator(), n)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "created %s (%s)\n", st.Username, st.Role)
				if st.Role.NeedsMFA() {
					fmt.Fprintf(g.stdout, "this role needs a second factor: labtrust staff totp %s\n", st.Username)
				}
				return nil
			})
		},
	}
	add.Flags().StringVar(&role, "role", "", "one of: "+strings.Join(roles, ", "))
	add.Flags().StringVar(&name, "name", "", "display name")
	add.Flags().StringVar(&pwFile, "password-file", "", "file whose first line is the password, or - for standard input")
	add.Flags().StringVar(&incident, "incident", "", "responders: the incident they may see")
	add.Flags().DurationVar(&expires, "expires-in", 0, "responders: how long the account lasts (e.g. 72h)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts (no secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				rows, err := a.db.ListStaff(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USERNAME\tNAME\tROLE\tMFA\tSTATE")
				for _, r := range rows {
					mfa := "no"
					if r.TOTP != nil && r.TOTPStep >= 0 {
						mfa = "totp"
					}
					state := "active"
					switch {
					case r.Disabled:
						state = "disabled"
					case !r.ExpiresAt.IsZero():
						state = "until " + r.ExpiresAt.Format(time.RFC3339) + " (" + r.Incident + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Username, r.DisplayName, r.Role, mfa, state)
				}
				return tw.Flush()
			})
		},
	}

	totpCmd := &cobra.Command{
		Use:   "totp USERNAME [CODE]",
		Short: "Enrol a TOTP second factor; with CODE, confirm it and print the recovery codes",
		Long: `Without CODE, totp starts enrolment and prints the otpauth:// URL to add to an authenticator
app (and its secret). With the first CODE the app shows, it activates the factor and prints ten
single-use recovery codes, once: keep them somewhere safe.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIdentity(cmd, g, func(ctx context.Context, s *identity.Service) error {
				if len(args) == 1 {
					url, secret, err := s.EnrolTOTP(ctx, args[0])
					if err != nil {
						return err
					}
					fmt.Fprintf(g.stdout, "add to an authenticator app:\n  %s\n  (secret %s)\nthen: labtrust staff totp %s CODE\n", url, secret, args[0])
					return nil
				}
				codes, err := s.ConfirmTOTP(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "second factor active. recovery codes (each works once; shown only now):\n  %s\n", strings.Join(codes, "\n  "))
				return nil
			})
		},
	}

	roleCmd := &cobra.Command{
		Use:   "role USERNAME ROLE",
		Short: "Change an account's role (its sessions end)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIdentity(cmd, g, func(ctx context.Context, s *identity.Service) error {
				if err := s.SetRole(ctx, operator(), args[0], identity.Role(args[1])); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s is now %s\n", args[0], args[1])
				return nil
			})
		},
	}
	disable := &cobra.Command{
		Use:   "disable USERNAME",
		Short: "Block an account (its sessions end)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIdentity(cmd, g, func(ctx context.Context, s *identity.Service) error {
				if err := s.Disable(ctx, operator(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s is disabled\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(add, list, totpCmd, roleCmd, disable)
	return cmd
}
