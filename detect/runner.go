package detect

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/store"
)

// Reader is the store's read side detection needs.
type Reader interface {
	NextIndex(ctx context.Context) (uint64, error)
	Frames(ctx context.Context, from, to uint64, fn func(*store.Frame) error) error
}

// AlertStore keeps alerts and detection's place in the ledger.
type AlertStore interface {
	Reader
	RaiseAlerts(ctx context.Context, alerts []labtrust.Alert, window time.Duration) ([]int64, []bool, error)
	DetectCursor(ctx context.Context, name string) (uint64, error)
	SetDetectCursor(ctx context.Context, name string, next uint64) error
}

// Scan opens the stored entries from <= index < to and calls fn with each,
// in ledger order. Frames are read and decoded on every core; fn runs on
// the caller's goroutine, one entry at a time.
func Scan(ctx context.Context, st Reader, keys frame.Opener, from, to uint64, fn func(*labtrust.Entry) error) error {
	return scan(ctx, st, keys, from, to, func() func(*labtrust.Entry) (labtrust.Entry, bool) {
		return func(en *labtrust.Entry) (labtrust.Entry, bool) { return *en, true }
	}, func(en labtrust.Entry) error { return fn(&en) })
}

// scan reads and decodes the entries from <= index < to on every core;
// each worker also runs its own work on them (newWork makes one per
// worker) and keeps what it returns true for, and consume gets the kept
// items in ledger order, on the caller's goroutine.
func scan[T any](ctx context.Context, st Reader, keys frame.Opener, from, to uint64, newWork func() func(*labtrust.Entry) (T, bool), consume func(T) error) error {
	if from >= to {
		return nil
	}
	const chunk = 4096
	type part struct {
		items []T
		err   error
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	order := make(chan chan part, workers*2)
	jobs := make(chan struct {
		from, to uint64
		out      chan part
	})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rd frame.Reader
			work := newWork()
			for j := range jobs {
				var p part
				p.err = st.Frames(ctx, j.from, j.to, func(f *store.Frame) error {
					recs, err := rd.Open(keys, f.First, len(f.Rows), f.Body)
					if err != nil {
						return err
					}
					for i := range recs {
						idx := f.First + uint64(i)
						if idx < j.from || idx >= j.to {
							continue
						}
						en, err := labtrust.DecodeStored(recs[i].Nonce, recs[i].Canonical)
						if err != nil {
							return fmt.Errorf("entry %d: %w", idx, err)
						}
						if item, keep := work(en); keep {
							p.items = append(p.items, item)
						}
					}
					return nil
				})
				j.out <- p
			}
		}()
	}
	go func() {
		defer close(jobs)
		defer close(order)
		for lo := from; lo < to; lo += chunk {
			out := make(chan part, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- struct {
				from, to uint64
				out      chan part
			}{lo, min(lo+chunk, to), out}:
			case <-ctx.Done():
				out <- part{err: ctx.Err()} // its reader is waiting for it
				return
			}
		}
	}()
	var err error
	for out := range order {
		p := <-out
		if err != nil {
			continue
		}
		if p.err != nil {
			err = fmt.Errorf("detect: read the store: %w", p.err)
			cancel()
			continue
		}
		for i := range p.items {
			if e := consume(p.items[i]); e != nil {
				err = e
				cancel()
				break
			}
		}
	}
	wg.Wait()
	if perr := parent.Err(); perr != nil {
		return perr // stopped before the end: the caller must not move on
	}
	return err
}

// Runner follows the ledger: it evaluates every new entry, stores the
// alerts (grouping repeats within the suppression window), and records
// how far it got, so a restart resumes there.
type Runner struct {
	Engine *Engine
	Store  AlertStore
	Keys   frame.Opener
	// Window is the suppression window: a match whose key has an open
	// alert seen within it updates that alert (default one hour).
	Window time.Duration
	// Notify, if set, is called with each newly raised alert (not with
	// updates of open ones).
	Notify func(ctx context.Context, a labtrust.Alert)
	Logger *slog.Logger
	// Name keys the cursor (default "sigma").
	Name string

	live     chan []labtrust.Entry
	liveOnce sync.Once
	lastLive time.Time // when the last live batch was handled

	// Live and Stored count the entries evaluated from memory and read
	// back from the store.
	Live, Stored atomic.Int64
	next         uint64 // the cursor, once read
	haveNext     bool
}

// Feed hands the runner a batch the pipeline just committed (wire it to
// ingest.Config.OnCommit). It never blocks: when detection is behind, the
// batch is dropped and read back from the store later.
func (r *Runner) Feed(entries []labtrust.Entry) {
	r.liveOnce.Do(func() { r.live = make(chan []labtrust.Entry, 16) })
	select {
	case r.live <- entries:
	default:
	}
}

// raise stores alerts and notifies the new ones.
func (r *Runner) raise(ctx context.Context, alerts []labtrust.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	window := r.Window
	if window <= 0 {
		window = time.Hour
	}
	ids, fresh, err := r.Store.RaiseAlerts(ctx, alerts, window)
	if err != nil {
		return err
	}
	for i := range alerts {
		alerts[i].ID = ids[i]
		if fresh[i] && r.Notify != nil {
			r.Notify(ctx, alerts[i])
		}
	}
	return nil
}

// stepLive evaluates a batch from memory if it continues where detection
// stands (after catching up from the store to its start).
func (r *Runner) stepLive(ctx context.Context, batch []labtrust.Entry) error {
	if len(batch) == 0 {
		return nil
	}
	first, end := batch[0].Index, batch[len(batch)-1].Index+1
	for {
		cur, err := r.cursor(ctx)
		if err != nil {
			return err
		}
		if cur >= end {
			return nil // read from the store already
		}
		if cur >= first {
			batch = batch[cur-first:]
			break
		}
		if _, err := r.Step(ctx, first); err != nil {
			return err
		}
	}
	var alerts []labtrust.Alert
	r.Engine.ProcessEntries(batch, func(a labtrust.Alert) { alerts = append(alerts, a) })
	r.Live.Add(int64(len(batch)))
	if err := r.raise(ctx, alerts); err != nil {
		return err
	}
	r.lastLive = time.Now()
	return r.setCursor(ctx, end)
}

func (r *Runner) cursor(ctx context.Context) (uint64, error) {
	if !r.haveNext {
		n, err := r.Store.DetectCursor(ctx, r.name())
		if err != nil {
			return 0, err
		}
		r.next, r.haveNext = n, true
	}
	return r.next, nil
}

func (r *Runner) setCursor(ctx context.Context, next uint64) error {
	if err := r.Store.SetDetectCursor(ctx, r.name(), next); err != nil {
		r.haveNext = false
		return err
	}
	r.next, r.haveNext = next, true
	return nil
}

func (r *Runner) name() string {
	if r.Name == "" {
		return "sigma"
	}
	return r.Name
}

// Step evaluates the entries from the cursor up to upTo (exclusive),
// stores what they raise and moves the cursor. It returns how many
// entries it read.
func (r *Runner) Step(ctx context.Context, upTo uint64) (int, error) {
	from, err := r.cursor(ctx)
	if err != nil || from >= upTo {
		return 0, err
	}
	// Bounded steps keep alerts flowing during a long catch-up.
	to := min(upTo, from+64*1024)
	var alerts []labtrust.Alert
	n, err := r.Engine.Process(ctx, r.Store, r.Keys, from, to, func(a labtrust.Alert) { alerts = append(alerts, a) })
	r.Stored.Add(int64(n))
	if err != nil {
		return n, err
	}
	if err := r.raise(ctx, alerts); err != nil {
		return n, err
	}
	// The cursor moves after the alerts are stored: a crash in between
	// raises them again, which the open alert absorbs.
	return n, r.setCursor(ctx, to)
}

// Run steps whenever committed (the pipeline's committed size) grows,
// polling every interval, and reloads changed rules every reload.
func (r *Runner) Run(ctx context.Context, committed func() uint64, interval, reload time.Duration) error {
	r.liveOnce.Do(func() { r.live = make(chan []labtrust.Entry, 16) })
	t := time.NewTicker(interval)
	defer t.Stop()
	lastReload := time.Now()
	for {
		// Batches fed live go first: no store read, no decoding.
		for drained := false; !drained; {
			select {
			case batch := <-r.live:
				if err := r.stepLive(ctx, batch); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					r.log().Error("detection step failed", "err", err)
				}
			default:
				drained = true
			}
		}
		// The store is read for what did not come live: a backlog at
		// start, batches dropped while detection was behind (the next live
		// batch catches up to itself), or a pipeline that does not feed.
		for time.Since(r.lastLive) > 250*time.Millisecond {
			n, err := r.Step(ctx, committed())
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				r.log().Error("detection step failed", "err", err)
				break
			}
			if n == 0 {
				break
			}
		}
		if reload > 0 && time.Since(lastReload) >= reload {
			lastReload = time.Now()
			if changed, err := r.Engine.Reload(); err != nil {
				r.log().Error("rules did not reload; the previous rules stay in use", "err", err)
			} else if changed {
				r.log().Info("rules reloaded", "rules", len(r.Engine.Rules()))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case batch := <-r.live:
			if err := r.stepLive(ctx, batch); err != nil && ctx.Err() == nil {
				r.log().Error("detection step failed", "err", err)
			}
		case <-t.C:
		}
	}
}

func (r *Runner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
