package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/identity"
	"github.com/labtrust/labtrust/incident"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/atna"
	"github.com/labtrust/labtrust/demo"
	"github.com/labtrust/labtrust/fhir"
	"github.com/labtrust/labtrust/hl7"
	"github.com/labtrust/labtrust/registry"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

type demoOpts struct {
	out      string
	seed     uint64
	patients int
	events   int64
	days     int
	format   string
	ingest   bool
	quiet    bool
}

func newDemo(g *globalOpts) *cobra.Command {
	o := &demoOpts{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Generate a deterministic synthetic lab and its access stream",
		Long: `demo generates a synthetic clinical lab from a seed: sites, staff with roles and shift
schedules, patients, orders and specimens, and a realistic stream of access and security
events over --days days, with a few planted anomalies listed in manifest.json. The same
seed always gives the same lab. All of it is synthetic: no real person is in it.

With --out it writes lab.json, patients.csv, manifest.json and the events (FHIR AuditEvent
NDJSON, or RFC 5424 syslog carrying ATNA AuditMessages). With --ingest it appends the events
to the ledger in --data instead.`,
		Example: `  labtrust demo --out ./demo-out --patients 1000000 --events 100000000
  labtrust demo --ingest --data ./lab --events 200000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := resolve(cmd, g)
			if err != nil {
				return err
			}
			if o.out == "" && !o.ingest {
				return &labtrust.Error{Code: "invalid", Message: "nothing to do", Hint: "give --out DIR to write files, or --ingest to load the events into --data"}
			}
			lab := demo.NewLab(o.config())
			ctx := cmd.Context()
			if o.out != "" {
				if err := writeDemo(ctx, g, o, lab); err != nil {
					return err
				}
			}
			if o.ingest {
				a, err := openApp(ctx, g, sources, openOpts{writer: true})
				if err != nil {
					return err
				}
				defer a.Close()
				return withPipeline(a, func() error {
					n, err := ingestDemo(ctx, g, a, lab, o.quiet)
					if err == nil {
						fmt.Fprintf(g.stdout, "ingested %d demo events into %s\n", n, g.data)
					}
					return err
				})
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "write the lab and its events to this directory")
	f.Uint64Var(&o.seed, "seed", 1, "seed; the same seed gives the same lab")
	f.IntVar(&o.patients, "patients", 5000, "number of patients")
	f.Int64Var(&o.events, "events", 50000, "number of events")
	f.IntVar(&o.days, "days", 14, "days the events span")
	f.StringVar(&o.format, "format", "fhir", "event file format with --out: fhir (NDJSON) or syslog (octet-counted RFC 5424 with ATNA XML)")
	f.BoolVar(&o.ingest, "ingest", false, "ingest the events into the ledger in --data")
	f.BoolVar(&o.quiet, "quiet", false, "no progress bar")
	return cmd
}

func (o *demoOpts) config() demo.Config {
	return demo.Config{Seed: o.seed, Patients: o.patients, Events: o.events, Days: o.days}.WithDefaults()
}

func newBar(g *globalOpts, total int64, desc string, quiet bool) (*progressbar.ProgressBar, func(done, total int64)) {
	if quiet {
		return nil, nil
	}
	bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(g.stderr), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	return bar, func(done, _ int64) { bar.Set64(done) }
}

func writeDemo(ctx context.Context, g *globalOpts, o *demoOpts, lab *demo.Lab) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if err := demo.WriteLab(o.out, lab); err != nil {
		return err
	}
	var name string
	var encode func(labtrust.Event) ([]byte, error)
	switch o.format {
	case "fhir":
		name, encode = "events.ndjson", fhir.Encode
	case "syslog":
		name, encode = "events.syslog", syslogATNA
	default:
		return &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("unknown --format %q", o.format), Hint: "use fhir or syslog"}
	}
	f, err := os.Create(filepath.Join(o.out, name))
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	bar, progress := newBar(g, o.events, "generate", o.quiet)
	if err := demo.WriteEvents(ctx, w, lab, encode, progress); err != nil {
		return err
	}
	if bar != nil {
		bar.Finish()
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "patients.hl7"), demoADT(lab), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %s: lab.json, patients.csv, patients.hl7 (ADT), manifest.json, %s (%d events)\n", o.out, name, o.events)
	return nil
}

// syslogATNA frames one event as an octet-counted RFC 5424 message carrying
// a DICOM AuditMessage, as an IHE ATNA audit source sends it (RFC 5425).
func syslogATNA(e labtrust.Event) ([]byte, error) {
	x, err := atna.Encode(e)
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, len(x)+96)
	msg = append(msg, "<85>1 "...)
	msg = append(msg, e.Time.UTC().Format("2006-01-02T15:04:05.000000Z")...)
	msg = append(msg, " lis.lab.example labtrust-demo - IHE+RFC-3881 - \xef\xbb\xbf"...)
	msg = append(msg, x...)
	out := strconv.AppendInt(nil, int64(len(msg)), 10)
	out = append(out, ' ')
	return append(out, msg...), nil
}

// ingestDemo streams the lab's events through the pipeline.
func ingestDemo(ctx context.Context, g *globalOpts, a *app, lab *demo.Lab, quiet bool) (int64, error) {
	bar, progress := newBar(g, lab.Config().Events, "ingest demo", quiet)
	b := a.pipe.NewBatcher()
	var n int64
	err := lab.Stream(ctx, func(e labtrust.Event) error {
		n++
		return b.Event(ctx, e)
	}, progress)
	sum, ferr := b.Flush(ctx)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return int64(sum.Accepted), err
	}
	return int64(sum.Accepted), ferr
}

// seedDemo fills an empty data directory with the demo lab for serve --demo.
func seedDemo(ctx context.Context, g *globalOpts, a *app, o *serveOpts) error {
	// Seeded once, as the marker written at the end says. (Events alone do
	// not: creating a staff account first puts its events in the ledger.)
	seeded := filepath.Join(a.p.demo(), "seeded")
	if _, err := os.Stat(seeded); err == nil {
		fmt.Fprintf(g.stdout, "demo: %s already holds the demo lab (%d events); serving them\n", g.data, a.pipe.Status().Committed)
		return nil
	}
	lab := demo.NewLab(demo.Config{Seed: o.demoSeed, Patients: o.demoPatients, Events: o.demoEvents}.WithDefaults())
	if err := os.MkdirAll(a.p.demo(), 0o755); err != nil {
		return err
	}
	if err := demo.WriteLab(a.p.demo(), lab); err != nil {
		return err
	}
	start := time.Now()
	n, err := ingestDemo(ctx, g, a, lab, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "demo: ingested %d events for %d patients in %v; lab, patients and the anomaly manifest are in %s\n",
		n, o.demoPatients, time.Since(start).Round(time.Millisecond), a.p.demo())
	// The registry, from the same patients as an ADT feed would send them.
	sink := &registry.Sink{Reg: registry.New(a.db, a.keys), Quarantine: a.pipe.Quarantine}
	if err := hl7.ParseStream(ctx, "demo-adt", bytes.NewReader(demoADT(lab)), sink); err != nil {
		return err
	}
	if err := sink.Flush(ctx); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "demo: registered %d patients (try: labtrust patients show MRN00000002)\n", sink.Imported)
	if err := demoStaff(ctx, g, a); err != nil {
		return err
	}
	if err := demoIncident(ctx, g, a, lab); err != nil {
		return err
	}
	if err := demoLabSettings(a.p.configFile(), o); err != nil {
		return err
	}
	return os.WriteFile(seeded, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600)
}

// demoLabSettings writes the demo lab's name, address and numbers into
// labtrust.yaml, unless there is one, so the notice commands (letters,
// mail-house files, email) work on the demo as they would on a lab that
// configured itself.
func demoLabSettings(path string, o *serveOpts) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	portal := strings.TrimSuffix(o.publicURL, "/")
	if portal == "" {
		_, port, _ := net.SplitHostPort(o.addr)
		portal = "http://localhost:" + port
	}
	cfg := fmt.Sprintf(`# Written by serve --demo: the demo lab as its letters sign it. A real lab
# puts its own here (the notice commands read these keys as flags).
lab-name: Demo Clinical Laboratory
lab-address: "1 Lab Way; Austin, TX 78702"
lab-phone: 1-800-555-0199
lab-email: privacy@lab.example
lab-website: https://lab.example
portal-url: %s/portal/
`, portal)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// demoADT is the lab's patients as HL7 v2 A04 (register a patient)
// messages, one after another.
func demoADT(lab *demo.Lab) []byte {
	var b bytes.Buffer
	at := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	for i := 0; i < lab.Config().Patients; i++ {
		b.Write(hl7.EncodeADT(lab.Patient(i).Record(), "A04", "DEMO"+strconv.Itoa(i+1), at, nil))
	}
	return b.Bytes()
}

// demoStaff creates two console accounts for trying the demo, with random
// passwords printed once and kept in DATA/demo/staff.txt (0600): an
// administrator (accounts, keys) and a privacy officer (patients). Both
// set up a second factor at first sign-in.
func demoStaff(ctx context.Context, g *globalOpts, a *app) error {
	id := identity.New(a.db, a.keys, ledgerRecorder{a}, identity.Config{}, nil)
	var lines []string
	for _, acct := range []struct {
		user, name string
		role       identity.Role
	}{{"demo-admin", "Demo Administrator", identity.RoleAdmin}, {"demo-privacy", "Demo Privacy Officer", identity.RolePrivacyOfficer}} {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		pw := base64.RawURLEncoding.EncodeToString(b)
		if _, err := id.Create(ctx, "demo", identity.NewStaff{Username: acct.user, DisplayName: acct.name, Password: pw, Role: acct.role}); err != nil {
			if errors.Is(err, labtrust.ErrConflict) {
				continue
			}
			return err
		}
		lines = append(lines, fmt.Sprintf("%s (%s): %s", acct.user, acct.role, pw))
	}
	if len(lines) == 0 {
		return nil
	}
	path := filepath.Join(a.p.demo(), "staff.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "demo: console accounts (passwords also in %s):\n  %s\n", path, strings.Join(lines, "\n  "))
	return nil
}

// demoIncident opens the planted incident a new user starts from: the
// after-hours bulk export, as the privacy officer would open it on the
// day detection raised it, with the insider playbook and the account and
// address as scope indicators. Scoping, the assessment and the
// obligations are left to the user.
func demoIncident(ctx context.Context, g *globalOpts, a *app, lab *demo.Lab) error {
	var an *demo.Anomaly
	for _, x := range lab.Manifest().Anomalies {
		if x.Kind == demo.KindAfterHoursExport {
			an = &x
			break
		}
	}
	if an == nil || len(an.Actors) == 0 {
		return nil // a lab too small to hold the anomalies
	}
	s, err := incident.New(a.db, a.keys, ledgerRecorder{a}, nil)
	if err != nil {
		return err
	}
	in, err := s.Create(ctx, "demo", incident.NewIncident{
		Title:    "After-hours bulk export of patient records by " + an.Actors[0],
		Summary:  "Detection flagged a burst of exports by one account at night from " + an.Network + ". Open the scope to see whose records left, then assess and see the obligations.",
		Severity: "high", Playbook: "insider", Entity: breach.EntityCoveredEntity,
	})
	if err != nil {
		return err
	}
	from, to := an.From.Add(-time.Hour), an.To.Add(time.Hour)
	if _, err := s.SetIndicators(ctx, "demo", in.ID, []breach.Indicator{
		{Kind: breach.IndicatorAccount, Value: an.Actors[0], From: from, To: to},
		{Kind: breach.IndicatorAddress, Value: an.Network, From: from, To: to},
	}); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "demo: planted incident %d opened (try: labtrust incident show %d, then labtrust scope %d)\n", in.ID, in.ID, in.ID)
	return nil
}
