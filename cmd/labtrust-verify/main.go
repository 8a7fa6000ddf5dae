// Command labtrust-verify checks a labtrust access report offline: the
// checkpoint's signature, every entry's commitment and inclusion proof, and
// the patient's chain (no gaps). It needs only the report and the log's
// public key, ideally obtained from a witness rather than from the lab.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/labtrust/labtrust/accessreport"
	"golang.org/x/mod/sumdb/note"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("labtrust-verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	key := fs.String("key", "", "the ledger's public key (a file holding the note verifier key, or the key itself)")
	quiet := fs.Bool("q", false, "print nothing on success")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: labtrust-verify --key ledger.vkey REPORT.json\n\nVerifies a labtrust access report offline.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *key == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	vkey := *key
	if b, err := os.ReadFile(vkey); err == nil {
		vkey = string(b)
	}
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		fmt.Fprintf(stderr, "error: public key: %v\n", err)
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	defer f.Close()
	rep, err := accessreport.Read(f)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	res, err := accessreport.Verify(rep, v)
	if err != nil {
		var ve *accessreport.Error
		if errors.As(err, &ve) {
			fmt.Fprintf(stderr, "FAILED: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	if !*quiet {
		fmt.Fprintf(stdout, "OK: %d entries for patient %s verified against checkpoint %s size %d; chain complete\n",
			len(res.Entries), rep.Patient.ID, rep.Origin, res.CheckpointSize)
		for _, e := range res.Entries {
			ev := e.Event
			fmt.Fprintf(stdout, "  #%d  %s  %-8s %-3s actor=%s role=%s site=%s source=%s\n", e.Index,
				ev.Time.Format("2006-01-02 15:04:05Z"), ev.Kind, ev.Action, ev.Actor.ID, ev.Actor.Role, ev.Actor.Site, ev.Source)
		}
		if len(res.Erased) > 0 {
			fmt.Fprintf(stdout, "%d entries erased (each also named a patient since forgotten): their inclusion is proved, their content is the lab's word\n", len(res.Erased))
			for _, e := range res.Erased {
				ev := e.Event
				fmt.Fprintf(stdout, "  #%d  %s  %-8s %-3s actor=%s source=%s  erased %s\n", e.Index,
					ev.Time.Format("2006-01-02 15:04:05Z"), ev.Kind, ev.Action, ev.Actor.ID, ev.Source, e.Erased.Format("2006-01-02"))
			}
		}
	}
	return 0
}
