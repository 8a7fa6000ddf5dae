// Command labtrust runs a lab's PHI access ledger: ingest, verify, prove,
// and serve. Each subcommand takes its data directory as --data (or
// LABTRUST_DATA).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // CSV mappings name IANA zones; do not depend on the host's database

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// globalOpts are the flags every command shares.
type globalOpts struct {
	data     string
	config   string
	db       string
	origin   string
	logLevel string
	kek      kekOpts
	stderr   io.Writer
	stdout   io.Writer
	getenv   func(string) string
}

func (g *globalOpts) logger() *slog.Logger {
	lvl := slog.LevelInfo
	switch strings.ToLower(g.logLevel) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl}))
}

// Main runs the CLI and returns the exit code; tests drive it directly.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globalOpts{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	printErr(stderr, err)
	return 1
}

func printErr(w io.Writer, err error) {
	var le *labtrust.Error
	if errors.As(err, &le) {
		fmt.Fprintf(w, "error: %s\n", le.Message)
		if le.Hint != "" {
			fmt.Fprintf(w, "hint: %s\n", le.Hint)
		}
		return
	}
	fmt.Fprintf(w, "error: %v\n", err)
}

func newRoot(g *globalOpts) *cobra.Command {
	root := &cobra.Command{
		Use:   "labtrust",
		Short: "A tamper-evident ledger of every access to a lab's patient data",
		Long: `labtrust ingests every PHI access and security event (FHIR AuditEvent, IHE ATNA syslog,
CSV exports) into an RFC 6962 Merkle log with signed checkpoints, keeps the event bodies
encrypted, and proves to each patient who accessed their record.

Every command works on one data directory (--data or LABTRUST_DATA). Settings come from
flags, then LABTRUST_* environment variables (LABTRUST_X_FILE reads the value from a file),
then the config file (DATA/labtrust.yaml or --config).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.data, "data", "labtrust-data", "data directory")
	pf.StringVar(&g.config, "config", "", "config file (default DATA/labtrust.yaml)")
	pf.StringVar(&g.db, "db", "", "database: a postgres:// URL, or empty for SQLite in the data directory")
	pf.StringVar(&g.origin, "origin", "", "ledger origin for a new ledger (default labtrust.example/<data dir name>)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&g.kek.uri, "kek", "", "key-encryption key: a key file path (default DATA/keys/kek.key), hcvault://HOST:PORT/MOUNT/keys/NAME or aws-kms://ARN")
	pf.StringVar(&g.kek.ca, "kek-ca", "", "PEM file of the CA that signs the KMS's TLS certificate (HashiCorp Vault with a private CA)")
	pf.StringVar(&g.kek.token, "kek-token", "", "HashiCorp Vault token (default VAULT_TOKEN; prefer LABTRUST_KEK_TOKEN_FILE)")
	pf.StringVar(&g.kek.awsEndpoint, "aws-kms-endpoint", "", "AWS KMS endpoint override (VPC endpoint); credentials come from the AWS default chain")
	root.AddCommand(newServe(g), newIngest(g), newVerify(g), newProof(g), newQuarantine(g), newDemo(g), newKeys(g), newPatients(g), newStaff(g), newDetect(g), newAlerts(g), newIncident(g), newScope(g), newAssess(g), newObligations(g), newNotices(g), newClinical(g), newBench(g))
	return root
}

// resolve applies env and config-file values to the command's flags and
// returns the configured sources. Call it first in every RunE.
func resolve(cmd *cobra.Command, g *globalOpts) (map[string]config.Source, error) {
	fs := pflag.NewFlagSet("all", pflag.ContinueOnError)
	fs.AddFlagSet(cmd.Flags())
	fs.AddFlagSet(cmd.InheritedFlags())
	// --data and --config decide where the file is, so they come from the
	// command line or environment only.
	for _, name := range []string{"data", "config"} {
		if f := fs.Lookup(name); f != nil && !f.Changed {
			if v := g.getenv(config.EnvName(name)); v != "" {
				fs.Set(name, v)
			}
		}
	}
	path := g.config
	if path == "" {
		path = config.DefaultPath(g.data)
	}
	return config.Apply(fs, path, g.getenv)
}
