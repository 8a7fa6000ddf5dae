package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/portal"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/clinical"
	"github.com/labtrust/labtrust/config"
	"github.com/labtrust/labtrust/console"
	"github.com/labtrust/labtrust/detect"
	"github.com/labtrust/labtrust/explain"
	"github.com/labtrust/labtrust/hl7"
	"github.com/labtrust/labtrust/identity"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/notify"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/server"
	"github.com/labtrust/labtrust/sigma"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/syslog"
	"github.com/spf13/cobra"
)

type serveOpts struct {
	lab          labOpts
	addr         string
	syslogTLS    string
	syslogUDP    string
	hl7MLLP      string
	hl7TLS       bool
	tlsCert      string
	tlsKey       string
	apiToken     string
	cpInterval   time.Duration
	demo         bool
	demoPatients int
	demoEvents   int64
	demoSeed     uint64
	publicURL    string
	oidcIssuer   string
	oidcClient   string
	oidcSecret   string
	oidcName     string
	rules        string
	intel        string
	explain      bool
	roster       string
	rosterTZ     string
	geoip        string
	alertWebhook string
	alertEmailTo []string
	smtp         notify.SMTP
	smtpCA       string
	mailEvery    time.Duration
	ready        func(addr string) // tests learn the bound address
}

func newServe(g *globalOpts) *cobra.Command {
	o := &serveOpts{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ingest API, syslog listeners, /healthz and /metrics",
		Long: `serve runs labtrust's server on one data directory:

  POST /api/v1/events?source=NAME   FHIR AuditEvent (JSON, Bundle, NDJSON), ATNA XML, syslog, CSV
  GET  /api/v1/quarantine           rejected records; POST /api/v1/quarantine/{id}/retry
  GET  /healthz, /metrics           health and OpenMetrics
  GET  /ledger/checkpoint, /ledger/tile/...   the signed log for witnesses

The API needs the bearer token in DATA/api.token (or --api-token). With --syslog-tls the
server also takes IHE ATNA / RFC 5425 syslog over TLS; with --syslog-udp, RFC 5426.
With --demo it first generates a synthetic lab into an empty data directory.`,
		Example: `  labtrust serve --demo --data ./demo-lab
  labtrust serve --addr 0.0.0.0:8443 --syslog-tls :6514 --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := resolve(cmd, g)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), g, o, sources)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "HTTP listen address")
	f.StringVar(&o.syslogTLS, "syslog-tls", "", "listen for syslog over TLS (RFC 5425) on this address, e.g. 127.0.0.1:6514")
	f.StringVar(&o.syslogUDP, "syslog-udp", "", "listen for syslog over UDP (RFC 5426) on this address")
	f.StringVar(&o.publicURL, "public-url", "", "the server's address as browsers reach it (default http://ADDR); single sign-on redirects there")
	f.StringVar(&o.oidcIssuer, "oidc-issuer", "", "OpenID Connect issuer URL for staff single sign-on (accounts must exist in labtrust)")
	f.StringVar(&o.oidcClient, "oidc-client-id", "", "OpenID Connect client ID")
	f.StringVar(&o.oidcSecret, "oidc-client-secret", "", "OpenID Connect client secret (prefer LABTRUST_OIDC_CLIENT_SECRET_FILE)")
	f.StringVar(&o.oidcName, "oidc-name", "your organization's sign-in", "the provider's name on the sign-in page")
	f.StringVar(&o.hl7MLLP, "hl7-mllp", "", "listen for HL7 v2 over MLLP on this address: ADT (patient registry), ORM/OML/ORU (clinical context)")
	f.BoolVar(&o.hl7TLS, "hl7-mllp-tls", false, "wrap the MLLP listener in TLS (the same certificate as syslog over TLS)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM) for syslog; default: a self-signed one in DATA/tls")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM) for syslog")
	f.StringVar(&o.apiToken, "api-token", "", "API bearer token (default: DATA/api.token, created on first run); prefer LABTRUST_API_TOKEN_FILE")
	f.DurationVar(&o.cpInterval, "checkpoint-interval", 400*time.Millisecond, "how often to sign a checkpoint while events arrive")
	f.StringVar(&o.rules, "rules", "", "Sigma rules directory, beside the built-in pack (default DATA/rules; reloaded when it changes)")
	f.BoolVar(&o.explain, "explain", false, "explain every access by the orders in the events and alert on the rest (on with --demo); for sources whose audit names the orders")
	f.StringVar(&o.roster, "roster", "", "staff assignments as FHIR PractitionerRole (NDJSON or Bundle): coworkers' and own records, and access off shift (the demo's with --demo)")
	f.StringVar(&o.rosterTZ, "roster-tz", "", "the zone of the roster's times (-05:00 or America/Chicago; default UTC)")
	f.StringVar(&o.geoip, "geoip", "", "MaxMind City database (GeoLite2-City.mmdb): impossible travel (the demo's with --demo)")
	f.StringVar(&o.intel, "threat-intel", "", "STIX 2.1 bundle of indicators: access from their addresses raises alerts (reloaded when it changes)")
	f.StringVar(&o.alertWebhook, "alert-webhook", "", "POST each new alert as JSON to this URL (no PHI in it)")
	f.StringSliceVar(&o.alertEmailTo, "alert-email-to", nil, "email each new alert to these addresses (needs --smtp-host)")
	f.StringVar(&o.smtp.Host, "smtp-host", "", "outgoing mail server")
	f.IntVar(&o.smtp.Port, "smtp-port", 587, "its port (465 with --smtp-tls implicit)")
	f.StringVar(&o.smtp.Username, "smtp-user", "", "SMTP user (the password in LABTRUST_SMTP_PASSWORD_FILE)")
	f.StringVar(&o.smtp.Password, "smtp-password", "", "SMTP password; prefer LABTRUST_SMTP_PASSWORD_FILE")
	f.StringVar(&o.smtp.TLS, "smtp-tls", "mandatory", "mandatory (STARTTLS), implicit, opportunistic or none")
	f.DurationVar(&o.mailEvery, "update-mail-every", time.Minute, "how often the portal looks for public updates to mail its subscribers (needs --smtp-host)")
	f.StringVar(&o.smtpCA, "smtp-ca", "", "PEM file of the CA that signed the mail server's certificate (default: the system's)")
	f.StringVar(&o.smtp.From, "alert-email-from", "labtrust@localhost", "sender of alert mail and of the portal's update mail")
	o.lab.flags(cmd)
	f.BoolVar(&o.demo, "demo", false, "generate and ingest a synthetic demo lab if the data directory is empty")
	f.IntVar(&o.demoPatients, "demo-patients", 2000, "patients in the demo lab")
	f.Int64Var(&o.demoEvents, "demo-events", 20000, "events in the demo lab")
	f.Uint64Var(&o.demoSeed, "demo-seed", 1, "seed of the demo lab")
	return cmd
}

func runServe(ctx context.Context, g *globalOpts, o *serveOpts, sources map[string]config.Source) error {
	// Committed batches go straight to detection (once it runs).
	var live atomic.Pointer[detect.Runner]
	onCommit := func(es []labtrust.Entry) {
		if r := live.Load(); r != nil {
			r.Feed(es)
		}
	}
	a, err := openApp(ctx, g, sources, openOpts{writer: true, ingest: ingest.Config{CheckpointInterval: o.cpInterval, OnCommit: onCommit}})
	if err != nil {
		return err
	}
	defer a.Close()
	token, err := apiToken(a.p, o.apiToken)
	if err != nil {
		return err
	}
	runCtx, stopPipe := context.WithCancel(context.Background())
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- a.pipe.Run(runCtx) }()
	stopPipeline := func() error {
		stopPipe()
		return <-pipeDone
	}
	// A rotation or retirement made with the CLI while the server runs
	// takes effect here within keyReloadInterval: no restart. Staff actions
	// the CLI queued reach the ledger within a second.
	go func() {
		keysT, outboxT := time.NewTicker(keyReloadInterval), time.NewTicker(time.Second)
		defer keysT.Stop()
		defer outboxT.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-keysT.C:
				if err := a.keys.Reload(runCtx); err != nil && runCtx.Err() == nil {
					a.log.Error("reload keys", "err", err)
				}
			case <-outboxT.C:
				if err := a.drainOutbox(runCtx); err != nil && runCtx.Err() == nil {
					a.log.Error("record queued staff actions", "err", err)
				}
			}
		}
	}()

	if o.demo {
		if err := seedDemo(ctx, g, a, o); err != nil {
			stopPipeline()
			return err
		}
	}

	// Detection follows the ledger from where it stopped (the demo's
	// events included) and reloads changed rules.
	rulesDir := o.rules
	if rulesDir == "" {
		rulesDir = a.p.rules()
	}
	eng, err := detect.Open(rulesDir, sigma.Options{})
	if err != nil {
		stopPipeline()
		return fmt.Errorf("detection rules: %w", err)
	}
	if o.intel != "" {
		n, skipped, err := eng.LoadIntel(o.intel)
		if err != nil {
			stopPipeline()
			return err
		}
		a.log.Info("threat intelligence loaded", "indicators", n, "skipped", len(skipped))
		go watchIntel(runCtx, a, eng, o.intel)
	}
	if o.explain || o.demo {
		// Orders are learned from the events: before following the ledger,
		// the explainer learns those of the entries detection already read
		// (the last few million), so a restart does not forget them.
		// Keyed with the lab's blind index, so the imported clinical
		// context (labtrust clinical import) loads into it.
		eng.Explain(explain.NewBlinded(a.keys.Blind, a.keys.Blinder))
		if n, err := eng.LoadClinical(ctx, a.db, time.Now().Add(-180*24*time.Hour)); err != nil {
			stopPipeline()
			return fmt.Errorf("explain: load the clinical context: %w", err)
		} else if n > 0 {
			a.log.Info("clinical context loaded", "records", n)
		}
		cur, err := a.db.DetectCursor(ctx, "sigma")
		if err != nil {
			stopPipeline()
			return err
		}
		rosterDir := ""
		if o.demo {
			rosterDir = a.p.demo()
		}
		if o.roster != "" || rosterDir != "" {
			if err := loadRoster(eng, o.roster, o.rosterTZ, rosterDir); err != nil {
				stopPipeline()
				return err
			}
		}
		// The registry's VIP and deceased patients, again every minute
		// (ADT changes them).
		if err := loadFlags(ctx, a, eng); err != nil {
			stopPipeline()
			return err
		}
		go func() {
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					if err := loadFlags(runCtx, a, eng); err != nil && runCtx.Err() == nil {
						a.log.Error("reload the registry's flagged patients", "err", err)
					}
				}
			}
		}()
		const warm = 5_000_000
		if err := eng.WarmExplain(ctx, a.db, a.keys, cur-min(cur, warm), cur); err != nil {
			stopPipeline()
			return fmt.Errorf("explain: learn the stored orders: %w", err)
		}
	}
	if o.geoip != "" || o.demo {
		demoDir := ""
		if o.demo {
			demoDir = a.p.demo()
		}
		closeGeo, err := loadGeo(eng, o.geoip, demoDir)
		if err != nil {
			stopPipeline()
			return err
		}
		defer closeGeo()
	}
	runner := &detect.Runner{Engine: eng, Store: a.db, Keys: a.keys, Logger: a.log}
	var notifiers []func(context.Context, labtrust.Alert) error
	if o.alertWebhook != "" {
		notifiers = append(notifiers, (&detect.Webhook{URL: o.alertWebhook}).Send)
	}
	if o.smtpCA != "" {
		pem, err := os.ReadFile(o.smtpCA)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			stopPipeline()
			return &labtrust.Error{Code: "invalid", Message: "--smtp-ca " + o.smtpCA + " holds no PEM certificate", Err: err}
		}
		o.smtp.TLSConfig = &tls.Config{RootCAs: pool, ServerName: o.smtp.Host, MinVersion: tls.VersionTLS12}
	}
	// Public updates wake the portal's mail to subscribers at once (it
	// also looks every minute, and after a restart).
	postedKick := make(chan struct{}, 1)
	a.updatePosted = func() {
		select {
		case postedKick <- struct{}{}:
		default:
		}
	}
	if len(o.alertEmailTo) > 0 {
		if o.smtp.Host == "" {
			stopPipeline()
			return &labtrust.Error{Code: "invalid", Message: "--alert-email-to needs an outgoing mail server", Hint: "add --smtp-host (and --smtp-user with LABTRUST_SMTP_PASSWORD_FILE)"}
		}
		consoleURL := o.publicURL
		if consoleURL != "" {
			consoleURL = strings.TrimSuffix(consoleURL, "/") + "/console"
		}
		notifiers = append(notifiers, (&detect.Mail{Sender: &o.smtp, To: o.alertEmailTo, ConsoleURL: consoleURL}).Send)
	}
	if len(notifiers) > 0 {
		// Off the detection goroutine: a slow mail server must not hold
		// up detection.
		runner.Notify = func(ctx context.Context, al labtrust.Alert) {
			go func() {
				for _, n := range notifiers {
					if err := n(ctx, al); err != nil && ctx.Err() == nil {
						a.log.Error("notify on-call of an alert", "alert", al.ID, "err", err)
					}
				}
			}()
		}
	}
	live.Store(runner)
	detectDone := make(chan error, 1)
	go func() {
		detectDone <- runner.Run(runCtx, func() uint64 { return a.pipe.Status().Committed }, 20*time.Millisecond, 5*time.Second)
	}()
	stopIngest := stopPipeline
	stopPipeline = func() error {
		err := stopIngest() // cancels runCtx, which stops detection too
		<-detectDone
		return err
	}

	var sso *console.OIDC
	if o.oidcIssuer != "" {
		base := o.publicURL
		if base == "" {
			base = "http://" + o.addr
		}
		if sso, err = console.NewOIDC(ctx, o.oidcName, o.oidcIssuer, o.oidcClient, o.oidcSecret, strings.TrimSuffix(base, "/")+"/console/oidc/callback"); err != nil {
			stopPipeline()
			return err
		}
	}
	// Passkeys need the host name browsers use (WebAuthn refuses IP
	// addresses): --public-url, else localhost on the listening port.
	pub := o.publicURL
	if pub == "" {
		_, port, _ := net.SplitHostPort(o.addr)
		pub = "http://localhost:" + port
	}
	pu, err := url.Parse(pub)
	if err != nil || pu.Hostname() == "" {
		stopPipeline()
		return fmt.Errorf("--public-url %q is not a URL", o.publicURL)
	}
	pk, err := identity.NewPasskeys(a.db, pu.Hostname(), []string{strings.TrimSuffix(pub, "/")})
	if err != nil {
		stopPipeline()
		return err
	}
	lab := o.lab
	if o.demo && lab.name == "" {
		lab = labOpts{name: "Demo Clinical Laboratory", address: "1 Lab Way; Austin, TX 78702", phone: "1-800-555-0199",
			email: "privacy@lab.example", website: "https://lab.example", portal: strings.TrimSuffix(pub, "/") + "/portal/"}
	}
	portalLab, _ := lab.lab() // without a name or number the portal still serves updates
	if portalLab.Name == "" {
		portalLab.Name = lab.name
	}
	// The console sends notices (email) and hands out the mail-house
	// files with the lab's settings, on jobs that outlive the request.
	jobsCtx, stopJobs := context.WithCancel(context.Background())
	defer stopJobs()
	a.notices = &noticeJobs{ctx: jobsCtx, lab: portalLab}
	if o.smtp.Host != "" {
		a.notices.smtp = &o.smtp
	}
	con, err := newConsole(a, sso, pk, func(context.Context) ([]console.Source, error) {
		var out []console.Source
		names := make([]string, 0, len(sources))
		for n := range sources {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			src := sources[n]
			d := "ingest API: POST /api/v1/events?source=" + n
			if src.CSV != nil {
				d += "; CSV columns mapped in labtrust.yaml"
			}
			out = append(out, console.Source{Name: n, Format: src.Format, Detail: d})
		}
		if o.syslogTLS != "" {
			out = append(out, console.Source{Name: "syslog", Format: "RFC 5425 syslog over TLS (ATNA)", Detail: "listening on " + o.syslogTLS})
		}
		if o.syslogUDP != "" {
			out = append(out, console.Source{Name: "syslog", Format: "RFC 5426 syslog over UDP", Detail: "listening on " + o.syslogUDP})
		}
		if o.hl7MLLP != "" {
			out = append(out, console.Source{Name: "hl7", Format: "HL7 v2 ADT over MLLP (registry)", Detail: "listening on " + o.hl7MLLP})
		}
		return out, nil
	})
	if err != nil {
		stopPipeline()
		return err
	}
	apiIncSvc, err := incident.New(a.db, a.keys, ledgerRecorder{a}, nil)
	if err != nil {
		stopPipeline()
		return err
	}
	apiIncSvc.Unreachable = a.db.UndeliveredNotices
	apiIncSvc.Posted = a.updatePosted
	apiLaws, err := breach.BuiltinLaws()
	if err != nil {
		stopPipeline()
		return err
	}
	apiInc := &server.Incidents{Service: apiIncSvc, Laws: apiLaws}
	vkey, _ := os.ReadFile(a.p.verifier())
	pt := &portal.Portal{Incidents: apiIncSvc, Notices: notices(a), Keys: a.keys, Record: ledgerRecorder{a}, Lab: portalLab,
		Log: a.log, Secure: strings.HasPrefix(o.publicURL, "https://"),
		Verifier: a.verifier, LogKey: strings.TrimSpace(string(vkey)), Feedback: a.db, Reports: func(ctx context.Context, mrn string) (*accessreport.Report, error) {
			return patientReport(ctx, a, mrn)
		}}
	pt.Stats, pt.Laws = a.db, apiLaws
	if o.smtp.Host != "" && portalLab.PortalURL != "" {
		// Email updates need a mail server and the portal's public
		// address for the links in the mail.
		pt.Subscriptions, pt.Mail, pt.Blind = a.db, &o.smtp, a.keys.Blind
	}
	portalHandler, err := pt.Handler()
	if err != nil {
		stopPipeline()
		return err
	}
	srv := &server.Server{Pipeline: a.pipe, Store: a.db, Parsers: parsers{sources}, Token: token, Console: con, Portal: portalHandler,
		LedgerDir: a.p.ledger(), Gatherer: a.reg, Log: a.log,
		Formats:   func(s string) (string, bool) { src, ok := sources[s]; return src.Format, ok },
		Alerts:    a.db,
		Incidents: apiInc,
		Record: func(ctx context.Context, by, what string, action labtrust.Action, detail string) {
			identity.New(a.db, a.keys, ledgerRecorder{a}, identity.Config{}, nil).Record(ctx, by, what, action, labtrust.OutcomeSuccess, detail)
		},
		RetryPatient: func(ctx context.Context, id int64) (any, error) {
			pr, err := retryPatient(ctx, a, id)
			if pr == nil {
				return nil, err // not a typed nil: the server tells "not a patient record" by nil
			}
			return pr, err
		}}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		stopPipeline()
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	// Bounded reads keep a slow or stalled client from holding a connection
	// (and its part of the ingest queue) forever; 5 minutes fits the
	// largest body (256 MiB) on a slow link.
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
		WriteTimeout: 6 * time.Minute, IdleTimeout: 2 * time.Minute}
	listenCtx, stopListen := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		pt.FlushStatsEvery(listenCtx, 10*time.Second)
	}()
	if pt.Subscriptions != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pt.DeliverEvery(listenCtx, o.mailEvery, postedKick)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	syslogSink := a.pipe.NewBatcher()
	if o.syslogTLS != "" {
		tcfg, err := syslogTLSConfig(a.p, o)
		if err != nil {
			stopListen()
			hs.Close()
			stopPipeline()
			return err
		}
		sl, err := net.Listen("tcp", o.syslogTLS)
		if err != nil {
			stopListen()
			hs.Close()
			stopPipeline()
			return fmt.Errorf("listen for syslog on %s: %w", o.syslogTLS, err)
		}
		fmt.Fprintf(g.stdout, "syslog over TLS on %s\n", sl.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := syslog.ServeStream(listenCtx, tls.NewListener(sl, tcfg), "syslog", syslogSink, a.log); err != nil {
				errc <- err
			}
		}()
	}
	if o.syslogUDP != "" {
		pc, err := net.ListenPacket("udp", o.syslogUDP)
		if err != nil {
			stopListen()
			hs.Close()
			stopPipeline()
			return fmt.Errorf("listen for syslog on udp %s: %w", o.syslogUDP, err)
		}
		fmt.Fprintf(g.stdout, "syslog over UDP on %s\n", pc.LocalAddr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := syslog.ServeUDP(listenCtx, pc, "syslog", syslogSink, a.log); err != nil {
				errc <- err
			}
		}()
	}
	if o.hl7MLLP != "" {
		hl, err := net.Listen("tcp", o.hl7MLLP)
		if err != nil {
			stopListen()
			hs.Close()
			stopPipeline()
			return fmt.Errorf("listen for HL7 MLLP on %s: %w", o.hl7MLLP, err)
		}
		if o.hl7TLS {
			tcfg, err := syslogTLSConfig(a.p, o)
			if err != nil {
				hl.Close()
				stopListen()
				hs.Close()
				stopPipeline()
				return err
			}
			hl = tls.NewListener(hl, tcfg)
		}
		fmt.Fprintf(g.stdout, "HL7 v2 over MLLP on %s\n", hl.Addr())
		mllp := &hl7.Server{Source: "hl7", Log: a.log,
			Sink: &registry.Direct{Sink: registry.Sink{Reg: registry.New(a.db, a.keys), Quarantine: a.pipe.Quarantine}},
			// Orders and results (ORM, OML, ORU) are clinical context:
			// stored, and taught to the running explainer at once.
			Other: func(ctx context.Context, m *hl7.Message, raw []byte, pos string) (string, error) {
				sink := &clinicalSink{a: a, source: "hl7", explainer: eng}
				if err := clinical.ParseHL7(ctx, "hl7", bytes.NewReader(raw), sink); err != nil {
					return "", err
				}
				if err := sink.flush(ctx); err != nil {
					return "", err
				}
				return sink.lastReject, nil
			}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := mllp.Serve(listenCtx, hl); err != nil {
				errc <- err
			}
		}()
	}
	// Syslog has no application-level acknowledgement: flush what the
	// listeners gathered often, so it is durable within a fraction of a second.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-listenCtx.Done():
				return
			case <-t.C:
				if _, err := syslogSink.Flush(listenCtx); err != nil && listenCtx.Err() == nil {
					a.log.Error("syslog flush failed", "err", err)
				}
			}
		}
	}()

	fmt.Fprintf(g.stdout, "labtrust serving on http://%s (data %s, ledger origin %s)\n", ln.Addr(), g.data, a.origin)
	fmt.Fprintf(g.stdout, "staff console: %s/console/\n", strings.TrimSuffix(pub, "/"))
	fmt.Fprintf(g.stdout, "API token: %s\n", a.p.token())
	if names := config.SourceNames(sources); len(names) > 0 {
		for _, n := range names {
			fmt.Fprintf(g.stdout, "source %s: %s\n", n, sources[n].Format)
		}
	} else {
		fmt.Fprintln(g.stdout, "no sources configured: name the format per request (?format= or Content-Type)")
	}
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// Shut down in reverse order: stop taking input, flush, stop the
	// pipeline (it signs a final checkpoint), then close the store.
	stopListen()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	wg.Wait()
	stopJobs()
	a.notices.wg.Wait()
	if _, err := syslogSink.Flush(sctx); err != nil {
		a.log.Error("final syslog flush failed", "err", err)
	}
	if err := stopPipeline(); err != nil && runErr == nil {
		runErr = err
	}
	fmt.Fprintln(g.stdout, "labtrust stopped")
	return runErr
}

// syslogTLSConfig loads the configured certificate or makes a self-signed
// one (kept in DATA/tls) so a demo works without a PKI.
// newConsole wires the staff console to the data directory.
func newConsole(a *app, sso *console.OIDC, pk *identity.Passkeys, srcs func(context.Context) ([]console.Source, error)) (http.Handler, error) {
	reg := registry.New(a.db, a.keys)
	id := identity.New(a.db, a.keys, ledgerRecorder{a}, identity.Config{}, nil)
	id.SetPasskeys(pk)
	inc, err := incident.New(a.db, a.keys, ledgerRecorder{a}, nil)
	if err != nil {
		return nil, err
	}
	inc.Unreachable = a.db.UndeliveredNotices
	inc.Posted = a.updatePosted
	laws, err := breach.BuiltinLaws()
	if err != nil {
		return nil, err
	}
	incPages := &console.Incidents{Service: inc, Scoper: scoper(a), Checkpoint: a.pipe.LatestCheckpoint, Signer: a.signer, Laws: laws,
		Notices: notices(a), NoticeCounts: a.db.NoticeCounts, MonitoringCounts: a.db.MonitoringCounts,
		SendEmails: a.notices.sendEmails(a), MailHouse: a.notices.mailHouseZip(a),
		Survey: a.db.SurveyByWeek, Callbacks: a.db.Callbacks, CloseCallback: a.db.CloseCallback, Subscribers: a.db.SubscriberCounts, PortalStats: a.db.PortalStats, Keys: a.keys}
	c := &console.Console{
		PasskeysOn: pk != nil,
		SSO:        sso,
		Admin: &console.Admin{Keys: a.keys, KEK: a.kek.ID(), Sources: srcs,
			Quarantine: func(ctx context.Context) ([]store.QuarantineItem, error) {
				return a.db.ListQuarantine(ctx, store.QuarantineFilter{Status: store.QuarantinePending, Limit: 500})
			},
			Verify: func(ctx context.Context) (string, error) {
				rep, err := ledger.VerifyFS(ctx, os.DirFS(a.p.ledger()), a.origin, a.verifier, nil)
				if err != nil {
					return "", err
				}
				if !rep.OK() {
					return "", fmt.Errorf("%d problems, the first: %s (run labtrust verify for all)", len(rep.Problems), rep.Problems[0])
				}
				return fmt.Sprintf("OK: %d entries, %d checkpoints, %d tiles; every signature, consistency proof and tile checks (labtrust verify also checks the stored bodies).", rep.Entries, rep.Checkpoints, rep.Tiles), nil
			}},
		ID:        id,
		Alerts:    a.db,
		Incidents: incPages,
		Patients:  reg,
		Log:       a.log,
		History: func(ctx context.Context, mrn string) ([]labtrust.Event, error) {
			blinds, err := reg.Blinds(ctx, mrn)
			if err != nil {
				return nil, err
			}
			entries, err := ingest.PatientEvents(ctx, a.db, a.keys, blinds)
			if err != nil {
				return nil, err
			}
			out := make([]labtrust.Event, len(entries))
			for i := range entries {
				out[len(entries)-1-i] = entries[i].Event // newest first
			}
			return out, nil
		},
		Ledger: func(ctx context.Context) (console.LedgerStatus, error) {
			st := a.pipe.Status()
			stats, err := a.db.Stats(ctx)
			if err != nil {
				return console.LedgerStatus{}, err
			}
			return console.LedgerStatus{Size: st.LedgerSize, Checkpointed: st.CheckpointSize, Quarantine: stats.QuarantinePending}, nil
		},
	}
	return c.Handler()
}

// keyReloadInterval is how often the server picks up key changes.
const keyReloadInterval = 10 * time.Second

func syslogTLSConfig(p paths, o *serveOpts) (*tls.Config, error) {
	cert, key := o.tlsCert, o.tlsKey
	if cert == "" && key == "" {
		cert, key = filepath.Join(p.tlsDir(), "syslog.crt"), filepath.Join(p.tlsDir(), "syslog.key")
		if _, err := os.Stat(cert); errors.Is(err, os.ErrNotExist) {
			if err := selfSigned(cert, key); err != nil {
				return nil, fmt.Errorf("self-signed syslog certificate: %w", err)
			}
		}
	}
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("syslog TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
}

func selfSigned(certPath, keyPath string) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "labtrust syslog"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(2, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// watchIntel reloads the threat-intelligence bundle when the file changes
// (a feed drops a new one); a bundle that does not read keeps the last.
func watchIntel(ctx context.Context, a *app, eng *detect.Engine, path string) {
	last := time.Time{}
	if st, err := os.Stat(path); err == nil {
		last = st.ModTime()
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := os.Stat(path)
		if err != nil || !st.ModTime().After(last) {
			continue
		}
		last = st.ModTime()
		if n, skipped, err := eng.LoadIntel(path); err != nil {
			a.log.Error("threat intelligence did not reload; the previous indicators stay", "err", err)
		} else {
			a.log.Info("threat intelligence reloaded", "indicators", n, "skipped", len(skipped))
		}
	}
}
