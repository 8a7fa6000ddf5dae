package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/incident"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/notify"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/spf13/cobra"
)

// labOpts is how the lab signs its notices; they come from flags or
// labtrust.yaml (lab-name, lab-address, lab-phone, lab-email, lab-website,
// portal-url).
type labOpts struct{ name, address, phone, email, website, portal string }

func (o *labOpts) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.name, "lab-name", "", "the lab's name, as letters are signed")
	f.StringVar(&o.address, "lab-address", "", `the lab's postal address, lines separated by ";" ("1 Lab Way; Austin, TX 78702")`)
	f.StringVar(&o.phone, "lab-phone", "", "the toll-free number people call (45 CFR 164.404(c)(1)(E))")
	f.StringVar(&o.email, "lab-email", "", "the address people write to")
	f.StringVar(&o.website, "lab-website", "", "the lab's website")
	f.StringVar(&o.portal, "portal-url", "", "where people look their notice up with its code")
}

func (o *labOpts) lab() (notice.Lab, error) {
	if o.name == "" || o.phone == "" {
		return notice.Lab{}, &labtrust.Error{Code: "invalid", Message: "letters need the lab's name and a toll-free number",
			Hint: "--lab-name and --lab-phone, or lab-name: and lab-phone: in labtrust.yaml"}
	}
	var addr []string
	for _, l := range strings.Split(o.address, ";") {
		if l = strings.TrimSpace(l); l != "" {
			addr = append(addr, l)
		}
	}
	return notice.Lab{Name: o.name, Address: addr, TollFree: o.phone, Email: o.email, Website: o.website, PortalURL: o.portal}, nil
}

func notices(a *app) *notice.Service {
	return notice.NewService(a.db, a.keys, a.keys.Blind, registry.New(a.db, a.keys), nil)
}

func newNotices(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notices",
		Short: "Prepare the notices a breach owes, write their letters and the mail-house files",
		Long: `Each person in an incident's scope gets a notice with a unique code: a letter in their
language (English or Spanish, from the registry) carrying what 45 CFR 164.404(c) requires,
by first-class mail, or substitute notice when the registry has no postal address.

  labtrust notices text 1 --lang en --what "..." --doing "..."   (and --lang es)
  labtrust notices prepare 1
  labtrust notices letter 7K3D-9QMX-2HFA --out letter.pdf
  labtrust notices export 1 --out mailhouse/`,
	}
	var language, what, doing string
	text := &cobra.Command{
		Use:   "text ID --lang en|es --what TEXT --doing TEXT",
		Short: "Write what the notices say happened and what the lab is doing, in one language",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIncident(cmd, g, args, func(ctx context.Context, a *app, s *incident.Service, id int64) error {
				in, err := s.SetNoticeText(ctx, operator(), id, language, what, doing)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d: notice text saved (%s)\n", id, language)
				if len(in.Timeline) > 0 && strings.Contains(in.Timeline[len(in.Timeline)-1].Text, "approval is withdrawn") {
					fmt.Fprintf(g.stdout, "the earlier approval is withdrawn: the director approves the new words (labtrust notices approve %d)\n", id)
				}
				return nil
			})
		},
	}
	text.Flags().StringVar(&language, "lang", "en", "en or es")
	text.Flags().StringVar(&what, "what", "", "what happened, in plain words, without naming anyone")
	text.Flags().StringVar(&doing, "doing", "", "what the lab is doing to investigate, mitigate and prevent it")
	var quiet bool
	prepare := &cobra.Command{
		Use:   "prepare ID",
		Short: "Make a notice, with its code, for everyone in the incident's latest scope who has none",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIncident(cmd, g, args, func(ctx context.Context, a *app, inc *incident.Service, id int64) error {
				in, err := inc.Get(ctx, id)
				if err != nil {
					return err
				}
				if in.Scope == nil {
					return &labtrust.Error{Code: "invalid", Message: "compute the incident's scope first", Hint: fmt.Sprintf("labtrust scope %d", id)}
				}
				bar, progress := newBar(g, int64(in.Scope.Summary.Patients), "notices", quiet)
				var fn func(done, total int)
				if progress != nil {
					fn = func(done, total int) { progress(int64(done), int64(total)) }
				}
				p, err := notices(a).PrepareFrom(ctx, id, notice.ScopeSource{
					Each:          func(each func([]breach.Affected) error) error { return inc.ScopePatients(ctx, id, each) },
					Total:         in.Scope.Summary.Patients,
					WholeRegistry: breach.CoversRegistry(in.Indicators), // a hint: the notices are the same either way
				}, fn)
				if bar != nil {
					bar.Finish()
				}
				if err != nil {
					return err
				}
				recordAction(ctx, a, "notices-prepare", labtrust.ActionCreate, fmt.Sprintf("incident %d: %d notices", id, p.Added))
				fmt.Fprintf(g.stdout, "incident %d: %d notices prepared (%d already had one): %d by mail, %d substitute; %d English, %d Spanish\n",
					id, p.Added, p.Existing, p.Mail, p.Substitute, p.English, p.Spanish)
				return nil
			})
		},
	}
	prepare.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	list := &cobra.Command{
		Use:   "list ID",
		Short: "Count an incident's notices by channel, language and delivery status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust incident list")
			if err != nil {
				return err
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				cs, err := a.db.NoticeCounts(cmd.Context(), id)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CHANNEL\tLANGUAGE\tSTATUS\tNOTICES")
				for _, c := range cs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", c.Channel, c.Language, c.Status, c.N)
				}
				tw.Flush()
				if len(cs) == 0 {
					fmt.Fprintf(g.stdout, "no notices yet: labtrust notices prepare %d\n", id)
				}
				return nil
			})
		},
	}
	var lab labOpts
	var out string
	letter := &cobra.Command{
		Use:   "letter CODE --out FILE.pdf",
		Short: "Write one person's letter (the access is recorded in their history)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return &labtrust.Error{Code: "invalid", Message: "--out is required"}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				l, err := lab.lab() // after withApp applied labtrust.yaml to the flags
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				row, rec, err := notices(a).Lookup(ctx, args[0])
				if err != nil {
					return &labtrust.Error{Code: "not_found", Message: "no notice has that code", Err: err}
				}
				pdf, err := renderLetter(ctx, a, row, rec, l)
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, pdf, 0o600); err != nil {
					return err
				}
				recordPatientAccess(ctx, a, "notice-letter", labtrust.PatientRef{ID: rec.MRN})
				fmt.Fprintf(g.stdout, "letter written to %s (%s, %d bytes)\n", out, rec.Language, len(pdf))
				return nil
			})
		},
	}
	lab.flags(letter)
	letter.Flags().StringVar(&out, "out", "", "the PDF to write")
	var exportLab labOpts
	var dir string
	var batch int
	export := &cobra.Command{
		Use:   "export ID --out DIR [--batch 5000]",
		Short: "Write the mail-house files: a CSV of the mailing and print-ready PDF batches",
		Long: `Writes DIR/mailhouse.csv (one row per letter: notice code, language, recipient and address,
batch and sequence) and DIR/letters-NNNN.pdf (the letters of each batch, in CSV order), for the
notices sent by mail. The files hold names and addresses: DIR is created 0700 and the files 0600;
hand them to the mail house over a secure channel and delete them after.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust incident list")
			if err != nil {
				return err
			}
			if dir == "" || batch < 1 {
				return &labtrust.Error{Code: "invalid", Message: "--out DIR and a positive --batch are required"}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				l, err := exportLab.lab() // after withApp applied labtrust.yaml to the flags
				if err != nil {
					return err
				}
				n, files, err := exportMailHouse(cmd.Context(), g, a, id, l, dir, batch, quiet)
				if err != nil {
					return err
				}
				recordAction(cmd.Context(), a, "notices-export", labtrust.ActionExecute, fmt.Sprintf("incident %d: %d letters in %d files", id, n, files))
				fmt.Fprintf(g.stdout, "%d letters in %d PDF batches and %s\n", n, files, filepath.Join(dir, "mailhouse.csv"))
				return nil
			})
		},
	}
	exportLab.flags(export)
	export.Flags().StringVar(&dir, "out", "", "directory to write")
	export.Flags().IntVar(&batch, "batch", 5000, "letters per PDF batch")
	export.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	var offer struct {
		vendor, url, enrolBy, codes string
		months                      int
	}
	monitoring := &cobra.Command{
		Use:   "monitoring ID --vendor NAME --months N --url https://... --enrol-by DATE --codes FILE",
		Short: "Offer credit monitoring: the vendor's terms and its pool of enrolment codes, one per notice",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust incident list")
			if err != nil {
				return err
			}
			by, err := parseDay(offer.enrolBy, "enrol-by")
			if err != nil {
				return err
			}
			var codes []string
			if offer.codes != "" {
				b, err := os.ReadFile(offer.codes)
				if err != nil {
					return err
				}
				codes = strings.Split(string(b), "\n")
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ctx := cmd.Context()
				inc, err := incidents(a)
				if err != nil {
					return err
				}
				if _, err := inc.SetMonitoringOffer(ctx, operator(), id, incident.MonitoringOffer{Vendor: offer.vendor, Months: offer.months, URL: offer.url, EnrolBy: by}); err != nil {
					return incidentErr(err)
				}
				n, err := notices(a).AddMonitoringCodes(ctx, id, codes)
				if err != nil {
					return err
				}
				total, given, _, err := a.db.MonitoringCounts(ctx, id)
				if err != nil {
					return err
				}
				recordAction(ctx, a, "monitoring-codes", labtrust.ActionCreate, fmt.Sprintf("incident %d: %d codes", id, n))
				fmt.Fprintf(g.stdout, "incident %d: %d codes added; the pool holds %d, %d given out\n", id, n, total, given)
				return nil
			})
		},
	}
	mf := monitoring.Flags()
	mf.StringVar(&offer.vendor, "vendor", "", "the credit-monitoring vendor")
	mf.IntVar(&offer.months, "months", 24, "months of monitoring offered")
	mf.StringVar(&offer.url, "url", "", "where people enrol (https)")
	mf.StringVar(&offer.enrolBy, "enrol-by", "", "the last day to enrol (YYYY-MM-DD)")
	mf.StringVar(&offer.codes, "codes", "", "the vendor's enrolment codes, one per line")
	var status, codesFile string
	mark := &cobra.Command{
		Use:   "mark --status sent|delivered|returned|bounced (CODE... | --codes FILE)",
		Short: "Record delivery: sent, delivered, mail returned, email bounced (returned and bounced count toward substitute notice)",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch status {
			case notice.StatusSent, notice.StatusDelivered, notice.StatusReturned, notice.StatusBounced:
			default:
				return &labtrust.Error{Code: "invalid", Message: "--status is sent, delivered, returned or bounced"}
			}
			codes := append([]string(nil), args...)
			if codesFile != "" {
				b, err := os.ReadFile(codesFile)
				if err != nil {
					return err
				}
				for _, l := range strings.Split(string(b), "\n") {
					// A mail house's returns file: the code is the first column.
					if c := strings.TrimSpace(strings.SplitN(l, ",", 2)[0]); c != "" && c != "notice_code" {
						codes = append(codes, c)
					}
				}
			}
			if len(codes) == 0 {
				return &labtrust.Error{Code: "invalid", Message: "name the notices: codes as arguments or --codes FILE"}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ctx := cmd.Context()
				s := notices(a)
				n := 0
				for _, c := range codes {
					row, _, err := s.Lookup(ctx, c)
					if err != nil {
						fmt.Fprintf(g.stderr, "skipped %q: no notice has that code\n", c)
						continue
					}
					if err := a.db.SetNoticeStatus(ctx, row.ID, status, time.Now()); err != nil {
						return err
					}
					n++
				}
				recordAction(ctx, a, "notices-mark", labtrust.ActionUpdate, fmt.Sprintf("%d notices %s", n, status))
				fmt.Fprintf(g.stdout, "%d notices marked %s\n", n, status)
				return nil
			})
		},
	}
	mark.Flags().StringVar(&status, "status", "", "sent, delivered, returned (mail came back) or bounced (email)")
	mark.Flags().StringVar(&codesFile, "codes", "", "a file of notice codes, one per line (or a CSV whose first column is the code)")
	var emailLab labOpts
	var smtpHost, smtpUser, smtpTLS, smtpCA, from string
	var smtpPort int
	var agreed bool
	email := &cobra.Command{
		Use:   "email ID --agreed --smtp-host HOST --from ADDRESS [--smtp-*]",
		Short: "Email each notice whose person has an email address: the letter as text and as PDF",
		Long: `45 CFR 164.404(d)(1) allows notice by email only to people who agreed to electronic notice;
--agreed confirms the lab holds that agreement for the addresses in the registry. The message
is the letter in the person's language, with the PDF attached; delivery marks the notice sent.
The SMTP password comes from LABTRUST_SMTP_PASSWORD_FILE.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust incident list")
			if err != nil {
				return err
			}
			if !agreed {
				return &labtrust.Error{Code: "invalid", Message: "email notice needs the people's agreement to electronic notice (45 CFR 164.404(d)(1))",
					Hint: "add --agreed once the lab holds it; otherwise mail the letters (labtrust notices export)"}
			}
			srv := &notify.SMTP{Host: smtpHost, Port: smtpPort, Username: smtpUser, Password: g.getenv("LABTRUST_SMTP_PASSWORD"), TLS: smtpTLS, From: from}
			if f := g.getenv("LABTRUST_SMTP_PASSWORD_FILE"); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				srv.Password = strings.TrimSpace(string(b))
			}
			if smtpCA != "" {
				pem, err := os.ReadFile(smtpCA)
				if err != nil {
					return err
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return &labtrust.Error{Code: "invalid", Message: "--smtp-ca holds no PEM certificate"}
				}
				srv.TLSConfig = &tls.Config{RootCAs: pool, ServerName: smtpHost, MinVersion: tls.VersionTLS12}
			}
			if smtpHost == "" || from == "" {
				return &labtrust.Error{Code: "invalid", Message: "--smtp-host and --from are required"}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				l, err := emailLab.lab() // after withApp applied labtrust.yaml to the flags
				if err != nil {
					return err
				}
				sent, failed, err := emailNotices(cmd.Context(), g, a, id, l, srv, quiet)
				if err != nil {
					return err
				}
				recordAction(cmd.Context(), a, "notices-email", labtrust.ActionExecute, fmt.Sprintf("incident %d: %d sent, %d failed", id, sent, failed))
				fmt.Fprintf(g.stdout, "%d notices emailed, %d failed (they stay prepared; mail them)\n", sent, failed)
				return nil
			})
		},
	}
	emailLab.flags(email)
	ef := email.Flags()
	ef.BoolVar(&agreed, "agreed", false, "the people agreed to electronic notice")
	ef.StringVar(&smtpHost, "smtp-host", "", "outgoing mail server")
	ef.IntVar(&smtpPort, "smtp-port", 587, "its port")
	ef.StringVar(&smtpUser, "smtp-user", "", "SMTP user (password in LABTRUST_SMTP_PASSWORD_FILE)")
	ef.StringVar(&smtpTLS, "smtp-tls", "mandatory", "mandatory (STARTTLS), implicit, opportunistic or none")
	ef.StringVar(&smtpCA, "smtp-ca", "", "PEM file of the CA that signed the mail server's certificate")
	ef.StringVar(&from, "from", "", "sender address (the lab's privacy office)")
	ef.BoolVar(&quiet, "quiet", false, "no progress bar")
	var docLab labOpts
	var docDir string
	documents := &cobra.Command{
		Use:   "documents ID --out DIR",
		Short: "Write the HHS report fields, the substitute and media notices and each state regulator's packet",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := argID(args[0], "labtrust incident list")
			if err != nil {
				return err
			}
			if docDir == "" {
				return &labtrust.Error{Code: "invalid", Message: "--out DIR is required"}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				l, err := docLab.lab() // after withApp applied labtrust.yaml to the flags
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				inc, err := incidents(a)
				if err != nil {
					return err
				}
				laws, err := breach.BuiltinLaws()
				if err != nil {
					return err
				}
				in, obs, err := inc.Obligations(ctx, id, laws)
				if err != nil {
					return incidentErr(err)
				}
				if in.Scope == nil {
					return &labtrust.Error{Code: "invalid", Message: "compute the incident's scope first", Hint: fmt.Sprintf("labtrust scope %d", id)}
				}
				b := &notice.Breach{Incident: id, Lab: l, Texts: map[string]notice.Text{}, Playbooks: in.Playbooks, Discovered: in.Discovered,
					Summary: in.Scope.Summary, Obligations: obs, NoticeFrom: time.Now().UTC()}
				for k, t := range in.NoticeText {
					b.Texts[k] = notice.Text{What: t.What, Doing: t.Doing}
				}
				// The breach's dates: the first and last affected access.
				err = inc.ScopePatients(ctx, id, func(part []breach.Affected) error {
					for _, p := range part {
						if !p.First.IsZero() && (b.From.IsZero() || p.First.Before(b.From)) {
							b.From = p.First
						}
						if p.Last.After(b.To) {
							b.To = p.Last
						}
					}
					return nil
				})
				if err != nil {
					return incidentErr(err)
				}
				for _, o := range obs {
					if o.Key == "hipaa/individuals" {
						b.NoticeTo = o.Due
					}
				}
				docs, err := b.Documents()
				if err != nil {
					return err
				}
				if err := os.MkdirAll(docDir, 0o700); err != nil {
					return err
				}
				names := make([]string, 0, len(docs))
				for name, body := range docs {
					if err := os.WriteFile(filepath.Join(docDir, name), body, 0o600); err != nil {
						return err
					}
					names = append(names, name)
				}
				sort.Strings(names)
				recordAction(ctx, a, "notices-documents", labtrust.ActionExecute, fmt.Sprintf("incident %d: %d documents", id, len(names)))
				fmt.Fprintf(g.stdout, "%d documents in %s: %s\n", len(names), docDir, strings.Join(names, ", "))
				return nil
			})
		},
	}
	docLab.flags(documents)
	documents.Flags().StringVar(&docDir, "out", "", "directory to write")
	approve := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve the notices as written (the lab director's step before letters and emails go out)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withIncident(cmd, g, args, func(ctx context.Context, a *app, inc *incident.Service, id int64) error {
				if _, err := inc.ApproveNotices(ctx, operator(), id); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "incident %d: notices approved\n", id)
				return nil
			})
		},
	}
	cmd.AddCommand(text, approve, prepare, list, letter, export, monitoring, mark, email, documents)
	return cmd
}

// renderLetter builds a notice's letter with its incident's text.
func renderLetter(ctx context.Context, a *app, row store.NoticeRow, rec *notice.Record, l notice.Lab) ([]byte, error) {
	in, texts, mon, err := noticeInputs(ctx, a, row.Incident)
	if err != nil {
		return nil, err
	}
	letter := rec.Letter(l, texts, in.Discovered, time.Now())
	if laws, err := breach.BuiltinLaws(); err == nil {
		letter.ForState(laws, rec.State)
	}
	if mon != nil {
		code, err := notices(a).MonitoringCode(ctx, row)
		if err != nil {
			return nil, &labtrust.Error{Code: "invalid", Message: "no credit-monitoring code left for this letter",
				Hint: fmt.Sprintf("add the vendor's codes: labtrust notices monitoring %d --codes FILE ...", row.Incident), Err: err}
		}
		mon.Code = code
		letter.Monitoring = mon
	}
	return letter.PDF(notice.DefaultFonts())
}

// approved refuses to send notices nobody approved.
func approved(ctx context.Context, a *app, id int64) error {
	inc, err := incidents(a)
	if err != nil {
		return err
	}
	in, err := inc.Get(ctx, id)
	if err != nil {
		return incidentErr(err)
	}
	if in.NoticesApproved == nil {
		return &labtrust.Error{Code: "invalid", Message: "the notices are not approved yet",
			Hint: fmt.Sprintf("the lab director approves them: labtrust notices approve %d (or the console)", id)}
	}
	return nil
}

// noticeInputs reads what every letter of the incident says: the lab's
// words in each language, the discovery date and the monitoring offer
// (without a code).
func noticeInputs(ctx context.Context, a *app, id int64) (*incident.Incident, map[string]notice.Text, *notice.Monitoring, error) {
	inc, err := incidents(a)
	if err != nil {
		return nil, nil, nil, err
	}
	in, err := inc.Get(ctx, id)
	if err != nil {
		return nil, nil, nil, incidentErr(err)
	}
	texts := map[string]notice.Text{}
	for k, t := range in.NoticeText {
		texts[k] = notice.Text{What: t.What, Doing: t.Doing}
	}
	if texts["en"].What == "" {
		return nil, nil, nil, &labtrust.Error{Code: "invalid", Message: "write the notice text first",
			Hint: fmt.Sprintf(`labtrust notices text %d --lang en --what "..." --doing "..." (and --lang es)`, id)}
	}
	var mon *notice.Monitoring
	if m := in.Monitoring; m != nil {
		mon = &notice.Monitoring{Vendor: m.Vendor, Months: m.Months, URL: m.URL, EnrolBy: m.EnrolBy}
	}
	return in, texts, mon, nil
}

// mailHouse is the incident's mail-house job, checked: approved, notices
// to mail, and enough monitoring codes for them.
func mailHouse(ctx context.Context, a *app, id int64, l notice.Lab, batch int) (*notice.MailHouse, int, error) {
	if err := approved(ctx, a, id); err != nil {
		return nil, 0, err
	}
	counts, err := a.db.NoticeCounts(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	total := 0
	for _, c := range counts {
		if c.Channel == notice.ChannelMail {
			total += c.N
		}
	}
	if total == 0 {
		return nil, 0, &labtrust.Error{Code: "invalid", Message: "no notices to mail", Hint: fmt.Sprintf("labtrust notices prepare %d", id)}
	}
	in, texts, mon, err := noticeInputs(ctx, a, id)
	if err != nil {
		return nil, 0, err
	}
	fonts, err := notice.NewBatchFonts(notice.DefaultFonts())
	if err != nil {
		return nil, 0, err
	}
	if mon != nil {
		pool, _, _, err := a.db.MonitoringCounts(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		if pool < total {
			// Checked first: every letter needs a code of its own.
			return nil, 0, &labtrust.Error{Code: "invalid", Message: fmt.Sprintf("the credit-monitoring pool holds %d codes for %d letters", pool, total),
				Hint: fmt.Sprintf("add the vendor's codes: labtrust notices monitoring %d --codes FILE ...", id)}
		}
	}
	laws, err := breach.BuiltinLaws()
	if err != nil {
		return nil, 0, err
	}
	return &notice.MailHouse{Service: notices(a), Rows: a.db.Notices, Lab: l, Texts: texts, Discovered: in.Discovered, Date: time.Now(),
		Fonts: fonts, Batch: batch, Monitoring: mon, Laws: laws}, total, nil
}

func poolErr(id int64, err error) error {
	if errors.Is(err, store.ErrPoolEmpty) {
		return &labtrust.Error{Code: "invalid", Message: "the credit-monitoring code pool ran out",
			Hint: fmt.Sprintf("add the vendor's codes: labtrust notices monitoring %d --codes FILE ...", id), Err: err}
	}
	return err
}

func exportMailHouse(ctx context.Context, g *globalOpts, a *app, id int64, l notice.Lab, dir string, batch int, quiet bool) (letters, files int, err error) {
	mh, total, err := mailHouse(ctx, a, id, l, batch)
	if err != nil {
		return 0, 0, err
	}
	bar, progress := newBar(g, int64(total), "letters", quiet)
	if progress != nil {
		mh.Progress = func(done int) { progress(int64(done), int64(total)) }
	}
	w, err := mh.Write(ctx, id, dir)
	if bar != nil {
		bar.Finish()
	}
	return w.Letters, w.Files, poolErr(id, err)
}

// emails is the incident's email job, checked: approved, and its words
// written. Its messages go over one connection to srv, which the caller
// closes when the job is done.
func emails(ctx context.Context, a *app, id int64, l notice.Lab, srv *notify.SMTP) (*notice.Emails, *notify.Conn, int, error) {
	if err := approved(ctx, a, id); err != nil {
		return nil, nil, 0, err
	}
	in, texts, mon, err := noticeInputs(ctx, a, id)
	if err != nil {
		return nil, nil, 0, err
	}
	counts, err := a.db.NoticeCounts(ctx, id)
	if err != nil {
		return nil, nil, 0, err
	}
	total := 0
	for _, c := range counts {
		if c.Status == notice.StatusPrepared {
			total += c.N
		}
	}
	laws, err := breach.BuiltinLaws()
	if err != nil {
		return nil, nil, 0, err
	}
	conn := srv.Conn()
	return &notice.Emails{Service: notices(a), Rows: a.db.Notices, Lab: l, Texts: texts, Discovered: in.Discovered, Date: time.Now(),
		Monitoring: mon, Fonts: notice.DefaultFonts(), Laws: laws, SetStatus: a.db.SetNoticeStatus, Log: a.log, Reason: notify.Reason,
		Send: func(ctx context.Context, to, subject, body, file string, pdf []byte) error {
			return conn.SendWith(ctx, []string{to}, subject, body, notify.Attachment{Name: file, Data: pdf})
		}}, conn, total, nil
}

// emailNotices emails every prepared notice that has an email address.
func emailNotices(ctx context.Context, g *globalOpts, a *app, id int64, l notice.Lab, srv *notify.SMTP, quiet bool) (sent, failed int, err error) {
	job, conn, total, err := emails(ctx, a, id, l, srv)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	bar, progress := newBar(g, int64(total), "emails", quiet)
	if progress != nil {
		job.Progress = func(done int) { progress(int64(done), int64(total)) }
	}
	sent, failed, err = job.Run(ctx, id)
	if bar != nil {
		bar.Finish()
	}
	return sent, failed, poolErr(id, err)
}

// noticeJobs runs the console's notice actions on the server: emailing in
// the background (one run per incident at a time) and the mail-house zip.
type noticeJobs struct {
	ctx     context.Context // ends at shutdown
	lab     notice.Lab
	smtp    *notify.SMTP // nil: no mail server, no email from the console
	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[int64]bool
}

// sendEmails starts emailing an incident's notices (nil without a mail
// server or the lab's name and number).
func (j *noticeJobs) sendEmails(a *app) func(ctx context.Context, id int64) (int, error) {
	if j == nil || j.smtp == nil || j.lab.Name == "" || j.lab.TollFree == "" {
		return nil
	}
	return func(ctx context.Context, id int64) (int, error) {
		job, conn, total, err := emails(ctx, a, id, j.lab, j.smtp)
		if err != nil {
			return 0, err
		}
		j.mu.Lock()
		if j.running[id] {
			j.mu.Unlock()
			return 0, &labtrust.Error{Code: "conflict", Message: "the notices of this incident are being emailed already"}
		}
		if j.running == nil {
			j.running = map[int64]bool{}
		}
		j.running[id] = true
		j.mu.Unlock()
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			defer func() { j.mu.Lock(); delete(j.running, id); j.mu.Unlock() }()
			defer conn.Close()
			sent, failed, err := job.Run(j.ctx, id)
			if err != nil && j.ctx.Err() == nil {
				a.log.Error("emailing notices", "incident", id, "err", err)
			}
			a.log.Info("notices emailed", "incident", id, "sent", sent, "failed", failed)
		}()
		return total, nil
	}
}

// mailHouseZip writes an incident's mail-house files as a zip (nil
// without the lab's name and number).
func (j *noticeJobs) mailHouseZip(a *app) func(ctx context.Context, id int64, w io.Writer) error {
	if j == nil || j.lab.Name == "" || j.lab.TollFree == "" {
		return nil
	}
	return func(ctx context.Context, id int64, w io.Writer) error {
		mh, _, err := mailHouse(ctx, a, id, j.lab, 0) // 0: notice.MailHouse's default batch
		if err != nil {
			return err
		}
		_, err = mh.WriteZip(ctx, id, w, "")
		return poolErr(id, err)
	}
}
