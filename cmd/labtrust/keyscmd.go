package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newKeys(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Show and rotate the data keys",
		Long: `Event bodies and quarantined records are sealed with AES-256-GCM data keys; each data key is
stored only wrapped by the key-encryption key (DATA/keys/kek.key, mode 0600). Patient
identifiers are indexed by HMAC under a separate blind-index key. The ledger's Ed25519
signing key (DATA/keys/ledger.key) is separate from all of them.`,
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
				fmt.Fprintln(tw, "ID\tPURPOSE\tWRAPPED BY\tCREATED")
				for _, k := range ks {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", k.ID, k.Purpose, k.KEKID, k.Created.Format("2006-01-02 15:04:05Z"))
				}
				tw.Flush()
				fmt.Fprintf(g.stdout, "ledger signing key: %s (public key %s)\n", a.p.signer(), a.p.verifier())
				return nil
			})
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new data key the active one (old keys keep decrypting what they sealed)",
		Long: `rotate adds a new data key; new events are sealed with it from the next start of
the server. Earlier keys stay to open what they sealed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, openOpts{}, func(a *app) error {
				if err := a.keys.Rotate(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, "rotated: a new data key is active")
				return nil
			})
		},
	}
	cmd.AddCommand(status, rotate)
	return cmd
}
