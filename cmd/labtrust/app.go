package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/config"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/vault"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

// paths names the files of a data directory.
type paths struct{ dir string }

func (p paths) db() string         { return filepath.Join(p.dir, "labtrust.db") }
func (p paths) kek() string        { return filepath.Join(p.dir, "keys", "kek.key") }
func (p paths) signer() string     { return filepath.Join(p.dir, "keys", "ledger.key") }
func (p paths) verifier() string   { return filepath.Join(p.dir, "ledger.vkey") }
func (p paths) ledger() string     { return filepath.Join(p.dir, "ledger") }
func (p paths) token() string      { return filepath.Join(p.dir, "api.token") }
func (p paths) demo() string       { return filepath.Join(p.dir, "demo") }
func (p paths) tlsDir() string     { return filepath.Join(p.dir, "tls") }
func (p paths) configFile() string { return config.DefaultPath(p.dir) }
func (p paths) rules() string      { return filepath.Join(p.dir, "rules") }

// app is an opened data directory: store, keys, ledger and pipeline.
type app struct {
	p        paths
	opts     *globalOpts
	sources  map[string]config.Source
	db       *store.DB
	keys     *vault.Keyring
	kek      vault.KEK
	signer   note.Signer
	verifier note.Verifier
	origin   string
	lg       *ledger.Log
	pipe     *ingest.Pipeline
	reg      *prometheus.Registry
	log      *slog.Logger
	unlock   func() // releases the store's writer lock
	// updatePosted, when serving, wakes the portal's mail to subscribers
	// after a public update.
	updatePosted func()
	// notices, when serving, runs the console's notice jobs.
	notices *noticeJobs
}

// kekOpts name the key-encryption key and how to reach it.
type kekOpts struct {
	uri, ca, token, awsEndpoint string
}

// open opens the KEK named by uri (the data directory's key file if empty).
func (k kekOpts) open(ctx context.Context, p paths, uri string, getenv func(string) string) (vault.KEK, error) {
	if uri == "" {
		uri = p.kek()
	}
	kek, err := vault.OpenKEK(ctx, uri, vault.KEKOptions{VaultToken: k.token, CAFile: k.ca, AWSEndpoint: k.awsEndpoint, Getenv: getenv})
	if err != nil {
		return nil, &labtrust.Error{Code: "kek", Message: "cannot open the key-encryption key: " + err.Error(),
			Hint: "check --kek (a key file, hcvault://… or aws-kms://…), and for Vault the token (LABTRUST_KEK_TOKEN_FILE or VAULT_TOKEN) and --kek-ca", Err: err}
	}
	return kek, nil
}

// openOpts says how much of the data directory a command needs.
type openOpts struct {
	writer bool // take the ledger's writer lock and build the pipeline
	ingest ingest.Config
}

func openApp(ctx context.Context, g *globalOpts, sources map[string]config.Source, o openOpts) (*app, error) {
	a := &app{p: paths{g.data}, opts: g, sources: sources, log: g.logger()}
	if err := os.MkdirAll(g.data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", g.data, err)
	}
	dsn := g.db
	if dsn == "" {
		dsn = a.p.db()
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	a.db = db
	kek, err := g.kek.open(ctx, a.p, g.kek.uri, g.getenv)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.kek = kek
	if a.keys, err = vault.Open(ctx, kek, db); err != nil {
		a.Close()
		var wrong *vault.WrongKEKError
		if errors.As(err, &wrong) {
			return nil, &labtrust.Error{Code: "wrong_kek", Message: fmt.Sprintf("the data keys are wrapped by KEK %s, not by %s", wrong.WrappedBy, wrong.Given),
				Hint: "pass --kek naming the KEK that wraps them (or set kek: in labtrust.yaml); `labtrust keys rewrap --to URI` moves them to another KEK", Err: err}
		}
		return nil, err
	}
	signer, verifier, err := loadSigner(a.p, g.origin)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.signer, a.verifier, a.origin = signer, verifier, verifier.Name()
	if !o.writer {
		return a, nil
	}
	if a.unlock, err = db.LockWriter(ctx); err != nil {
		a.Close()
		return nil, &labtrust.Error{Code: "locked", Message: "another labtrust process is writing to this database",
			Hint: "one instance ingests; point the others at its API", Err: err}
	}
	if a.lg, err = ledger.Open(ctx, a.p.ledger(), a.origin, signer); err != nil {
		a.Close()
		if errors.Is(err, labtrust.ErrLocked) {
			return nil, &labtrust.Error{Code: "locked", Message: "the data directory " + g.data + " is in use by another labtrust process",
				Hint: "stop `labtrust serve`, or send the events to its API instead (POST /api/v1/events)", Err: err}
		}
		return nil, err
	}
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := o.ingest
	cfg.Logger, cfg.Metrics = a.log, ingest.NewMetrics(a.reg)
	if a.pipe, err = ingest.New(ctx, cfg, db, a.lg, a.keys); err != nil {
		a.Close()
		return nil, err
	}
	a.registerGauges()
	return a, nil
}

// Close releases everything; the pipeline must have stopped already.
func (a *app) Close() error {
	var errs []error
	if a.lg != nil {
		errs = append(errs, a.lg.Close())
	}
	if a.unlock != nil {
		a.unlock()
	}
	if a.db != nil {
		errs = append(errs, a.db.Close())
	}
	return errors.Join(errs...)
}

// loadSigner reads the ledger signing key, creating it (and the public
// verifier key next to the data) on first use. The origin is fixed by the
// key's name once created.
func loadSigner(p paths, origin string) (note.Signer, note.Verifier, error) {
	skey, err := os.ReadFile(p.signer())
	if errors.Is(err, fs.ErrNotExist) {
		if origin == "" {
			origin = "labtrust.example/" + sanitizeOrigin(filepath.Base(mustAbs(p.dir)))
		}
		s, v, err := ledger.NewKey(origin)
		if err != nil {
			return nil, nil, fmt.Errorf("ledger key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(p.signer()), 0o700); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(p.signer(), []byte(s+"\n"), 0o600); err != nil {
			return nil, nil, fmt.Errorf("write ledger key: %w", err)
		}
		if err := os.WriteFile(p.verifier(), []byte(v+"\n"), 0o644); err != nil {
			return nil, nil, fmt.Errorf("write ledger public key: %w", err)
		}
		skey = []byte(s)
	} else if err != nil {
		return nil, nil, fmt.Errorf("read ledger key: %w", err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, nil, fmt.Errorf("ledger key %s: %w", p.signer(), err)
	}
	if origin != "" && origin != signer.Name() {
		return nil, nil, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("this ledger's origin is %q, not %q", signer.Name(), origin),
			Hint: "the origin is fixed when the ledger is created; drop --origin"}
	}
	vkey, err := os.ReadFile(p.verifier())
	if err != nil {
		return nil, nil, fmt.Errorf("read ledger public key: %w", err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return nil, nil, fmt.Errorf("ledger public key %s: %w", p.verifier(), err)
	}
	return signer, verifier, nil
}

func sanitizeOrigin(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '-'
	}, s)
	if s == "" {
		return "lab"
	}
	return s
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// apiToken returns the API bearer token: the configured one, or the one in
// the data directory, created on first use.
func apiToken(p paths, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	b, err := os.ReadFile(p.token())
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	t := hex.EncodeToString(raw)
	if err := os.WriteFile(p.token(), []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write API token: %w", err)
	}
	return t, nil
}

// withPipeline runs the pipeline around fn and stops it after (signing a
// final checkpoint).
func withPipeline(a *app, fn func() error) error {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.pipe.Run(ctx) }()
	err := a.drainOutbox(context.Background())
	err = errors.Join(err, fn(), a.drainOutbox(context.Background()))
	stop()
	return errors.Join(err, <-done)
}

// drainOutbox moves events other processes queued (staff actions from the
// CLI beside a server) into the ledger. An event is deleted from the queue
// only once the ledger acknowledged it: a crash in between records it
// twice, never not at all.
func (a *app) drainOutbox(ctx context.Context) error {
	for {
		rows, err := a.db.Outbox(ctx, 1000)
		if err != nil || len(rows) == 0 {
			return err
		}
		events := make([]labtrust.Event, 0, len(rows))
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
			var e labtrust.Event
			b, err := a.keys.Open(nil, r.Event, outboxAAD)
			if err != nil {
				// Sealed under a key rotated in after this process
				// loaded its keys (the rotation's own event, say).
				if rerr := a.keys.Reload(ctx); rerr != nil {
					return rerr
				}
				b, err = a.keys.Open(nil, r.Event, outboxAAD)
			}
			if err == nil {
				err = json.Unmarshal(b, &e)
			}
			if err != nil || e.Validate() != nil {
				// Not an event any more (a changed format): keep it in
				// the quarantine rather than lose or retry it forever.
				if _, qerr := a.pipe.Quarantine(ctx, []labtrust.Reject{{Source: "labtrust", Format: "outbox", Position: "outbox " + strconv.FormatInt(r.ID, 10),
					Reason: "a queued staff event does not open or decode", Raw: r.Event}}); qerr != nil {
					return qerr
				}
				continue
			}
			events = append(events, e)
		}
		if len(events) > 0 {
			if _, err := a.pipe.Submit(ctx, events); err != nil {
				return fmt.Errorf("record queued staff actions: %w", err)
			}
		}
		if err := a.db.DeleteOutbox(ctx, ids); err != nil {
			return err
		}
	}
}

// registerGauges exposes the ledger's state and the quarantine backlog.
func (a *app) registerGauges() {
	status := a.pipe.Status
	a.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "labtrust_ledger_size", Help: "Entries appended to the ledger."},
			func() float64 { return float64(status().LedgerSize) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "labtrust_ledger_checkpoint_size", Help: "Tree size of the latest signed checkpoint."},
			func() float64 { return float64(status().CheckpointSize) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "labtrust_ledger_checkpoint_age_seconds", Help: "Seconds since the latest signed checkpoint was published."},
			func() float64 { return status().CheckpointAge.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "labtrust_ledger_unsigned_entries", Help: "Entries appended but not yet under a signed checkpoint."},
			func() float64 { s := status(); return float64(s.LedgerSize - s.CheckpointSize) }),
		quarantineCollector{a.db},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "labtrust_quarantine_pending", Help: "Rejected records waiting for a fix and a retry."},
			func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				st, err := a.db.Stats(ctx)
				if err != nil {
					return -1
				}
				return float64(st.QuarantinePending)
			}),
	)
}

// withApp resolves the command's settings, opens the data directory as o
// says, runs fn, and closes it.
func withApp(cmd *cobra.Command, g *globalOpts, o openOpts, fn func(a *app) error) error {
	sources, err := resolve(cmd, g)
	if err != nil {
		return err
	}
	a, err := openApp(cmd.Context(), g, sources, o)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

// quarantineCollector reports the quarantine's contents per source, format
// and status from the store at each scrape, so the counts survive restarts
// (the ingest counters count this process's rejects only).
type quarantineCollector struct{ db *store.DB }

var quarantineDesc = prometheus.NewDesc("labtrust_quarantine_records",
	"Records in the quarantine, per source, format and status (pending or ingested).", []string{"source", "format", "status"}, nil)

func (c quarantineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- quarantineDesc }

func (c quarantineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.db.QuarantineCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(quarantineDesc, err)
		return
	}
	for _, q := range counts {
		ch <- prometheus.MustNewConstMetric(quarantineDesc, prometheus.GaugeValue, float64(q.N), q.Source, q.Format, q.Status)
	}
}
