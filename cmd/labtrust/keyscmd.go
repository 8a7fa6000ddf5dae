package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/vault"

	"github.com/spf13/cobra"
)

func newKeys(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Show and rotate the data keys",
		Long: `Event bodies and quarantined records are sealed with AES-256-GCM keys from a Tink AEAD
keyset, and patient identifiers are indexed by HMAC-SHA-256 under a Tink PRF keyset. Each
keyset is stored only encrypted by the key-encryption key (KEK): by default a local key file
(DATA/keys/kek.key, mode 0600), or a HashiCorp Vault Transit key (--kek hcvault://…) or an
AWS KMS key (--kek aws-kms://…), whose key material never leaves the KMS. The ledger's
Ed25519 signing key (DATA/keys/ledger.key) is separate from all of them.`,
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List the data keys (never their values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ks, err := a.db.LoadKeys(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KEY\tPURPOSE\tPRIMARY\tSTATUS\tTYPE")
				for _, k := range a.keys.Info() {
					primary := ""
					if k.Primary {
						primary = "primary"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", k.ID, k.Purpose, primary, k.Status, k.Type)
				}
				tw.Flush()
				fmt.Fprintln(g.stdout)
				tw = tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STORED\tPURPOSE\tENCRYPTED BY\tSAVED")
				for _, k := range ks {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", k.ID, k.Purpose, k.KEKID, k.Created.Format("2006-01-02 15:04:05Z"))
				}
				tw.Flush()
				fmt.Fprintf(g.stdout, "key-encryption key: %s\n", a.kek.ID())
				fmt.Fprintf(g.stdout, "ledger signing key: %s (public key %s)\n", a.p.signer(), a.p.verifier())
				return nil
			})
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new data key the primary one (old keys keep decrypting what they sealed)",
		Long: `rotate adds a new AES-256-GCM key to the AEAD keyset and makes it the primary; new
events are sealed with it from the next start of the server. Earlier keys stay in the
keyset to open what they sealed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				if err := a.keys.Rotate(cmd.Context()); err != nil {
					return err
				}
				recordAction(cmd.Context(), a, "key-rotate", labtrust.ActionUpdate, "new primary data key")
				fmt.Fprintln(g.stdout, "rotated: a new data key is active")
				return nil
			})
		},
	}
	var to string
	rewrap := &cobra.Command{
		Use:   "rewrap --to KEK",
		Short: "Move the data keys to another key-encryption key (a KMS, or a new key file)",
		Long: `rewrap unwraps every data key with the current KEK (--kek) and wraps it with the one named
by --to, checking that the new KEK gives each key back before it replaces the stored
wrapping, all in one transaction. The data keys themselves do not change, so nothing that
is sealed needs re-sealing and ingest need not stop for long: restart the server with the
new --kek afterwards. --kek-ca, --kek-token and --aws-kms-endpoint apply to both KEKs.`,
		Example: `  labtrust keys rewrap --to hcvault://vault.lab.internal:8200/transit/keys/labtrust
  labtrust keys rewrap --to aws-kms://arn:aws:kms:us-east-2:111122223333:key/1234abcd-…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return &labtrust.Error{Code: "invalid", Message: "--to is required", Hint: "name the new KEK: a key file path, hcvault://… or aws-kms://…"}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ctx := cmd.Context()
				next, err := g.kek.open(ctx, a.p, to, g.getenv)
				if err != nil {
					return err
				}
				if next.ID() == a.kek.ID() {
					return &labtrust.Error{Code: "invalid", Message: "--to names the KEK the keys are already wrapped by"}
				}
				keys, err := vault.Rewrap(ctx, a.kek, next, a.db)
				if err != nil {
					return err
				}
				if err := a.db.ReplaceWrapped(ctx, keys); err != nil {
					return err
				}
				recordAction(ctx, a, "key-rewrap", labtrust.ActionUpdate, "from "+a.kek.ID()+" to "+next.ID())
				fmt.Fprintf(g.stdout, "rewrapped %d data keys from %s to %s\nfrom now on run labtrust with --kek %s (or kek: in labtrust.yaml)\n"+
					"the old KEK wraps nothing here any more; keep it only as long as backups taken before this rewrap\n", len(keys), a.kek.ID(), next.ID(), to)
				return nil
			})
		},
	}
	rewrap.Flags().StringVar(&to, "to", "", "the new key-encryption key")

	var dryRun, quiet bool
	reencrypt := &cobra.Command{
		Use:   "reencrypt",
		Short: "Re-seal everything an older key sealed under the primary key (ingest keeps running)",
		Long: `reencrypt reads every stored frame and quarantined record, and re-seals under the
primary key whatever an older key sealed, a chunk at a time, while the server keeps
ingesting. After a full run no ciphertext depends on the older keys, which can then be
retired. --dry-run only counts what each key still seals.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ctx := cmd.Context()
				n, err := a.db.NextIndex(ctx)
				if err != nil {
					return err
				}
				bar, progress := newBar(g, int64(n), "re-encrypt", quiet)
				rep, err := ingest.Reencrypt(ctx, a.db, a.keys, dryRun, progress)
				if bar != nil {
					bar.Finish()
				}
				if err != nil {
					return err
				}
				if !dryRun {
					recordAction(ctx, a, "key-reencrypt", labtrust.ActionUpdate, fmt.Sprintf("%d re-sealed", rep.Resealed))
				}
				fmt.Fprintf(g.stdout, "%d frames and %d quarantined records read, %d re-sealed under the primary key\n", rep.Frames, rep.Quarantined, rep.Resealed)
				if len(rep.Remaining) == 0 {
					fmt.Fprintln(g.stdout, "nothing depends on an older key: they can be retired (labtrust keys retire KEY)")
				}
				for id, c := range rep.Remaining {
					fmt.Fprintf(g.stdout, "key %d still seals %d ciphertexts\n", id, c)
				}
				return nil
			})
		},
	}
	reencrypt.Flags().BoolVar(&dryRun, "dry-run", false, "only count what each older key still seals")
	reencrypt.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")

	retire := &cobra.Command{
		Use:   "retire KEY",
		Short: "Remove an older key from the AEAD keyset once nothing depends on it",
		Long: `retire deletes a non-primary key (its ID from labtrust keys status) from the AEAD keyset.
It first checks, as reencrypt --dry-run does, that no stored ciphertext depends on the key,
and refuses otherwise: a retired key's ciphertexts would never open again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id64, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil {
				return &labtrust.Error{Code: "invalid", Message: "KEY must be a key ID from labtrust keys status"}
			}
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				ctx := cmd.Context()
				rep, err := ingest.Reencrypt(ctx, a.db, a.keys, true, nil)
				if err != nil {
					return err
				}
				if c := rep.Remaining[uint32(id64)]; c > 0 {
					return &labtrust.Error{Code: "in_use", Message: fmt.Sprintf("key %d still seals %d ciphertexts", id64, c),
						Hint: "run labtrust keys reencrypt first"}
				}
				if err := a.keys.Retire(ctx, uint32(id64)); err != nil {
					return err
				}
				recordAction(ctx, a, "key-retire", labtrust.ActionDelete, "key "+args[0])
				fmt.Fprintf(g.stdout, "retired key %d\n", id64)
				return nil
			})
		},
	}
	cmd.AddCommand(status, rotate, rewrap, reencrypt, retire)
	return cmd
}
