package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/store"
	"github.com/spf13/cobra"
)

func newVerify(g *globalOpts) *cobra.Command {
	var asJSON, quiet, skipStore bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify the ledger: signatures, consistency, tiles, and the stored events",
		Long: `verify checks every signed checkpoint in the ledger's history (signature, origin, growing
size, consistency with the next), recomputes every tile from the entry bundles and
compares them byte for byte, and checks the root against the latest checkpoint. Unless
--skip-store, it also opens every stored event body and checks that it hashes to the
ledger entry at its index. Any changed, removed, reordered or inserted byte is reported
with where it is. The exit code is 1 if anything is wrong.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := resolve(cmd, g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := openApp(ctx, g, sources, openOpts{})
			if err != nil {
				return err
			}
			defer a.Close()
			res, err := verifyAll(ctx, g, a, !skipStore, quiet || asJSON)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				enc.Encode(res)
			} else {
				res.print(g)
			}
			if !res.OK {
				return &labtrust.Error{Code: "verify_failed", Message: fmt.Sprintf("the ledger does not verify: %d problem(s)", len(res.Problems)),
					Hint: "each problem names the file and entry; restore those from a backup or a witness's copy and investigate how they changed"}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	cmd.Flags().BoolVar(&skipStore, "skip-store", false, "check the ledger files only, not the stored event bodies")
	return cmd
}

type verifyResult struct {
	OK             bool     `json:"ok"`
	Origin         string   `json:"origin"`
	CheckpointSize uint64   `json:"checkpointSize"`
	Checkpoints    int      `json:"checkpoints"`
	Entries        uint64   `json:"entries"`
	Tiles          int      `json:"tiles"`
	StoreChecked   bool     `json:"storeChecked"`
	StoreAhead     uint64   `json:"storeAhead"`  // stored events not yet under a checkpoint
	StoreErased    uint64   `json:"storeErased"` // entries erased when a patient they named was forgotten
	Problems       []string `json:"problems"`
	Seconds        float64  `json:"seconds"`
	EventsPerSec   float64  `json:"eventsPerSecond"`
}

func (r *verifyResult) print(g *globalOpts) {
	status := "OK"
	if !r.OK {
		status = "FAILED"
	}
	fmt.Fprintf(g.stdout, "%s: ledger %s, checkpoint size %d, %d checkpoints, %d entries, %d tiles in %.2fs (%.0f entries/s)\n",
		status, r.Origin, r.CheckpointSize, r.Checkpoints, r.Entries, r.Tiles, r.Seconds, r.EventsPerSec)
	if r.StoreChecked {
		fmt.Fprintf(g.stdout, "store: every event body opens and matches its ledger entry\n")
		if r.StoreErased > 0 {
			fmt.Fprintf(g.stdout, "store: %d entries were erased when a patient they named was forgotten (their commitments stay in the ledger)\n", r.StoreErased)
		}
		if r.StoreAhead > 0 {
			fmt.Fprintf(g.stdout, "store: %d newer events are stored but not yet under a checkpoint (the next start of the server checkpoints them)\n", r.StoreAhead)
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintln(g.stdout, "  problem:", p)
	}
}

// verifyAll runs the ledger verification with a store cross-check.
func verifyAll(ctx context.Context, g *globalOpts, a *app, withStore, quiet bool) (*verifyResult, error) {
	start := time.Now()
	var opts []ledger.VerifyOption
	var sc *storeCheck
	if withStore {
		sc = newStoreCheck(ctx, a, checkpointSize(ctx, a))
		defer sc.stop()
		opts = append(opts, ledger.WithEntryCheck(sc.check))
	}
	var progress func(done, total uint64)
	bar, prog := newBar(g, -1, "verify", quiet)
	if prog != nil {
		progress = func(done, total uint64) {
			if total > 0 {
				bar.ChangeMax64(int64(total))
			}
			prog(int64(done), int64(total))
		}
	}
	rep, err := ledger.Verify(ctx, a.p.ledger(), a.origin, a.verifier, progress, opts...)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return nil, err
	}
	res := &verifyResult{Origin: a.origin, CheckpointSize: rep.Checkpoint.Size, Checkpoints: rep.Checkpoints,
		Entries: rep.Entries, Tiles: rep.Tiles, StoreChecked: withStore}
	for _, p := range rep.Problems {
		res.Problems = append(res.Problems, p.String())
	}
	if rep.Truncated {
		res.Problems = append(res.Problems, fmt.Sprintf("... and %d more problems", rep.Dropped))
	}
	if sc != nil {
		next, err := a.db.NextIndex(ctx)
		if err != nil {
			return nil, err
		}
		switch {
		case next < rep.Checkpoint.Size:
			res.Problems = append(res.Problems, fmt.Sprintf("store: holds %d events but the ledger %d: events %d to %d are missing from the store",
				next, rep.Checkpoint.Size, next, rep.Checkpoint.Size-1))
		default:
			res.StoreAhead = next - rep.Checkpoint.Size
		}
		res.StoreErased = sc.erased
	}
	res.OK = len(res.Problems) == 0
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.EventsPerSec = float64(res.Entries) / res.Seconds
	}
	return res, nil
}

// storeCheck opens stored bodies on every core: workers read consecutive
// ranges of the store concurrently, open and hash them, and hand results
// back in index order, so the ledger's entry callback only compares hashes.
type storeCheck struct {
	results chan chan []checked
	cancel  context.CancelFunc
	cur     []checked
	done    bool
	erased  uint64 // erasure records met (read by the ledger's single check goroutine)
	wg      sync.WaitGroup
}

type checked struct {
	idx    uint64
	c      [32]byte
	erased bool
	err    error
}

const storeChunk = 8192

func newStoreCheck(ctx context.Context, a *app, size uint64) *storeCheck {
	ctx, cancel := context.WithCancel(ctx)
	workers := runtime.GOMAXPROCS(0)
	sc := &storeCheck{results: make(chan chan []checked, workers*2), cancel: cancel}
	type job struct {
		from, to uint64
		out      chan []checked
	}
	jobs := make(chan job)
	for w := 0; w < workers; w++ {
		sc.wg.Add(1)
		go func() {
			defer sc.wg.Done()
			var rd frame.Reader
			for j := range jobs {
				res := make([]checked, 0, j.to-j.from)
				err := a.db.Frames(ctx, j.from, j.to, func(f *store.Frame) error {
					res = openFrame(a, &rd, f, j.from, j.to, res)
					return nil
				})
				if err != nil {
					res = append(res, checked{idx: j.from, err: fmt.Errorf("reading the store: %w", err)})
				}
				j.out <- res
			}
		}()
	}
	sc.wg.Add(1)
	go func() {
		defer sc.wg.Done()
		defer close(jobs)
		defer close(sc.results)
		for from := uint64(0); from < size; from += storeChunk {
			out := make(chan []checked, 1)
			select {
			case sc.results <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{from, min(from+storeChunk, size), out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return sc
}

// checkpointSize is how far the store check reads: the latest checkpoint's
// size as written (its signature is Verify's business), or the store's size
// if the checkpoint cannot be read.
func checkpointSize(ctx context.Context, a *app) uint64 {
	if b, err := os.ReadFile(filepath.Join(a.p.ledger(), "checkpoint")); err == nil {
		if text, _, ok := bytes.Cut(b, []byte("\n\n")); ok {
			if cp, err := ledger.ParseCheckpoint(append(text, '\n')); err == nil {
				return cp.Size
			}
		}
	}
	n, _ := a.db.NextIndex(ctx)
	return n
}

// openFrame appends the check of each entry of f with from <= index < to.
func openFrame(a *app, rd *frame.Reader, f *store.Frame, from, to uint64, res []checked) []checked {
	lo, hi := max(from, f.First), min(to, f.Next())
	recs, err := rd.Open(a.keys, f.First, len(f.Rows), f.Body)
	if err != nil {
		for idx := lo; idx < hi; idx++ {
			res = append(res, checked{idx: idx, err: fmt.Errorf("store event %d: its frame (entries %d to %d) does not open (changed, moved or its key is gone): %v",
				idx, f.First, f.Next()-1, err)})
		}
		return res
	}
	for idx := lo; idx < hi; idx++ {
		c := checked{idx: idx}
		rec, row := recs[idx-f.First], &f.Rows[idx-f.First]
		if labtrust.IsErased(rec.Nonce) {
			// Its patient was forgotten: the body no longer opens the
			// commitment, but it must be a well-formed erasure record, and
			// the row's commitment must still be the ledger's entry.
			c.c, c.erased = row.Commitment, true
			if _, err := labtrust.UnmarshalStored(rec.Nonce, rec.Canonical); err != nil {
				c.err = fmt.Errorf("store event %d: %v", idx, err)
			}
			res = append(res, c)
			continue
		}
		c.c = labtrust.Commit(rec.Nonce, rec.Canonical)
		if c.c != row.Commitment {
			c.err = fmt.Errorf("store event %d: body hashes to %s but the row's commitment is %s", idx, hex.EncodeToString(c.c[:8]), hex.EncodeToString(row.Commitment[:8]))
		}
		res = append(res, c)
	}
	return res
}

func (sc *storeCheck) check(i uint64, entry []byte) error {
	for len(sc.cur) == 0 {
		if sc.done {
			return fmt.Errorf("store event %d: missing from the store", i)
		}
		ch, ok := <-sc.results
		if !ok {
			sc.done = true
			continue
		}
		sc.cur = <-ch
	}
	c := sc.cur[0]
	if c.err == nil && c.idx > i {
		// A gap in the store: the row for i is missing; keep c for later.
		return fmt.Errorf("store event %d: missing from the store", i)
	}
	sc.cur = sc.cur[1:]
	if c.err != nil {
		return c.err
	}
	if c.erased {
		sc.erased++
	}
	if !bytes.Equal(c.c[:], entry) {
		return fmt.Errorf("store event %d: body hashes to %s but the ledger entry is %s", i, hex.EncodeToString(c.c[:8]), hex.EncodeToString(entry[:min(8, len(entry))]))
	}
	return nil
}

func (sc *storeCheck) stop() {
	sc.cancel()
	go func() {
		for range sc.results {
		}
	}()
	sc.wg.Wait()
}
