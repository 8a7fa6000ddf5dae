// Package ingest turns parsed Events into durable ledger entries: it assigns
// indices, links each patient's entries into a chain, commits to each entry
// with a random nonce, seals the body, stores the row and its index rows in
// one transaction, appends the commitment to the ledger, and publishes a
// signed checkpoint at a fixed interval. Rejected records go to the
// quarantine, sealed. Nothing is acknowledged before it is durable.
package ingest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/internal/par"
	"github.com/labtrust/labtrust/store"
)

// Store is what the pipeline needs from the database.
type Store interface {
	AppendFrames(ctx context.Context, frames []store.Frame) error
	NextIndex(ctx context.Context) (uint64, error)
	PatientHead(ctx context.Context, blind []byte) (uint64, [32]byte, error)
	// PatientHeads calls fn for every patient-index row; the highest index
	// per patient is its head.
	PatientHeads(ctx context.Context, fn func(blind []byte, idx uint64, c [32]byte) error) error
	CountPatients(ctx context.Context) (int64, error)
	Commitments(ctx context.Context, from, to uint64, fn func(idx uint64, c [32]byte) error) error
	AddQuarantine(ctx context.Context, items []store.QuarantineItem) error
}

// Ledger is the single-writer Merkle log. The pipeline is its only writer.
type Ledger interface {
	Append(entries [][]byte) (first uint64, err error)
	Checkpoint(ctx context.Context) ([]byte, error)
	Size() uint64
	Checkpointed() uint64
}

// Keys seals bodies and computes blind indexes.
type Keys interface {
	Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error)
	Open(dst, sealed, aad []byte) ([]byte, error)
	Blinder() func(id string) []byte
}

// Config tunes the pipeline; zero values take the defaults.
type Config struct {
	// MaxBatch caps events per store transaction (default 4096: larger
	// batches gain no throughput and add acknowledgement latency).
	MaxBatch int
	// CheckpointInterval is how often a checkpoint is signed while entries
	// arrive (default 400ms: with a commit and the checkpoint's own fsyncs
	// in between, checkpoint lag stays under one second).
	CheckpointInterval time.Duration
	// QueueDepth bounds requests waiting for the sequencer (default 4, so
	// with the Batcher's chunks about 8k events wait at most); beyond it
	// Submit blocks, which is the back-pressure that keeps memory and
	// acknowledgement latency bounded when parsers outrun the store.
	QueueDepth int
	// FrameSize is how many consecutive entries share one sealed,
	// compressed frame (default frame.Size).
	FrameSize int
	// HeadCache bounds how many patients' chain heads stay in memory
	// (default 2,000,000). While every patient fits, all heads are loaded at
	// start and a patient missing from the cache is known to be new; beyond
	// it, misses are read from the store (one query each, much slower).
	HeadCache int
	Logger    *slog.Logger
	Metrics   *Metrics
	Now       func() time.Time
	// OnAck, if set, is called from the committer for every acknowledged
	// request with its size and its submission-to-acknowledgement time
	// (benchmarks use it for exact latency percentiles).
	OnAck func(events int, latency time.Duration)
	// OnCommit, if set, is called from the committer with each batch's
	// entries once they are durable in the store and appended to the
	// ledger, in index order: live detection reads them from memory
	// instead of back from the store. It must not block (hand them off and
	// return) and must not modify them.
	OnCommit func(entries []labtrust.Entry)
}

// Result says what a Submit stored.
type Result struct {
	First uint64 // index of the first event
	Count int
}

type request struct {
	events []labtrust.Event // dropped once prepared, so memory follows the queue, not the stream
	n      int
	done   chan error
	first  uint64
	start  time.Time
}

type prepared struct {
	reqs        []*request
	rows        []store.EventRow
	frames      []store.Frame
	commitments [][]byte
	sources     map[string]int
	last        uint64           // one past the last index
	entries     []labtrust.Entry // kept only for OnCommit
}

type head struct {
	idx   uint64
	c     [32]byte
	batch uint64 // batchSeq of the batch that set it; c is unset while it is the current one
	pos   int    // position in that batch
}

// Pipeline is the single writer of the store's events and the ledger.
type Pipeline struct {
	st   Store
	lg   Ledger
	keys Keys
	cfg  Config
	log  *slog.Logger
	m    *Metrics
	reqs chan *request
	cq   chan *prepared
	now  func() time.Time

	// Owned by the sequencer goroutine.
	next     uint64
	heads    map[string]head
	complete bool // heads holds every patient: a miss means a first entry
	batchSeq uint64

	committed  atomic.Uint64         // one past the last durable index
	size       atomic.Uint64         // ledger size (appended)
	cpSize     atomic.Uint64         // ledger size at the last checkpoint
	cpTime     atomic.Int64          // unix nanos of the last checkpoint
	broken     atomic.Pointer[error] // the store failed; the sequencer resynchronizes
	ledgerErr  atomic.Pointer[error] // the ledger failed; nothing more until a restart
	resync     chan struct{}
	stopped    chan struct{}
	runOnce    sync.Once
	lastNoteMu sync.Mutex
	lastNote   []byte
}

// New reconciles the ledger with the store (after a crash the store may
// hold entries the last checkpoint does not cover: they are appended again
// and checkpointed) and returns a pipeline ready to Run.
func New(ctx context.Context, cfg Config, st Store, lg Ledger, keys Keys) (*Pipeline, error) {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 4096
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = 400 * time.Millisecond
	}
	if cfg.QueueDepth <= 0 {
		cfg.QueueDepth = 4
	}
	if cfg.FrameSize <= 0 {
		cfg.FrameSize = frame.Size
	}
	if cfg.HeadCache <= 0 {
		cfg.HeadCache = 2_000_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pipeline{st: st, lg: lg, keys: keys, cfg: cfg, log: cfg.Logger, m: cfg.Metrics, now: cfg.Now,
		reqs: make(chan *request, cfg.QueueDepth), cq: make(chan *prepared, 2),
		heads: map[string]head{}, resync: make(chan struct{}, 1), stopped: make(chan struct{})}
	if err := p.reconcile(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// reconcile brings the ledger up to the store: the store is committed
// first, so after a crash it can only be ahead.
func (p *Pipeline) reconcile(ctx context.Context) error {
	next, err := p.st.NextIndex(ctx)
	if err != nil {
		return fmt.Errorf("ingest: read store size: %w", err)
	}
	size := p.lg.Size()
	if size > next {
		return &labtrust.Error{Code: "ledger_ahead",
			Message: fmt.Sprintf("the ledger holds %d entries but the store only %d", size, next),
			Hint:    "the database is older than the ledger: restore the database from the backup that matches the ledger, or run `labtrust verify` to see which entries are missing"}
	}
	if size < next {
		p.log.Info("appending stored entries the last checkpoint does not cover", "from", size, "to", next)
		batch := make([][]byte, 0, 4096)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if _, err := p.lg.Append(batch); err != nil {
				return err
			}
			batch = batch[:0]
			return nil
		}
		if err := p.st.Commitments(ctx, size, next, func(idx uint64, c [32]byte) error {
			if idx != size {
				return fmt.Errorf("ingest: store has a gap at index %d (found %d)", size, idx)
			}
			size++
			cc := c
			batch = append(batch, cc[:])
			if len(batch) == cap(batch) {
				return flush()
			}
			return nil
		}); err != nil {
			return fmt.Errorf("ingest: recover ledger from store: %w", err)
		}
		if err := flush(); err != nil {
			return fmt.Errorf("ingest: recover ledger from store: %w", err)
		}
		if size != next {
			return fmt.Errorf("ingest: store has %d entries but only %d could be read", next, size)
		}
	}
	if p.lg.Size() > p.lg.Checkpointed() || p.lg.Checkpointed() == 0 {
		note, err := p.lg.Checkpoint(ctx)
		if err != nil {
			return fmt.Errorf("ingest: checkpoint after recovery: %w", err)
		}
		p.setNote(note)
	}
	if err := p.loadHeads(ctx); err != nil {
		return err
	}
	p.next = next
	p.committed.Store(next)
	p.size.Store(p.lg.Size())
	p.cpSize.Store(p.lg.Checkpointed())
	p.cpTime.Store(p.now().UnixNano())
	return nil
}

// loadHeads fills the head cache with every patient's newest entry when
// they all fit, which spares a store query for each new patient.
func (p *Pipeline) loadHeads(ctx context.Context) error {
	p.heads = map[string]head{}
	p.complete = false
	n, err := p.st.CountPatients(ctx)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if n > int64(p.cfg.HeadCache)/2 {
		p.log.Warn("more patients than half the head cache: chain heads are read from the store on demand", "patients", n, "cache", p.cfg.HeadCache)
		return nil
	}
	if err := p.st.PatientHeads(ctx, func(b []byte, idx uint64, c [32]byte) error {
		if h, ok := p.heads[string(b)]; !ok || idx > h.idx {
			p.heads[string(b)] = head{idx: idx, c: c}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("ingest: load patient chain heads: %w", err)
	}
	p.complete = true
	return nil
}

// Run sequences and commits until ctx ends, then signs a final checkpoint.
// It MUST be called exactly once.
func (p *Pipeline) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	var cerr error
	go func() {
		defer wg.Done()
		cerr = p.commitLoop()
	}()
	p.sequenceLoop(ctx)
	close(p.cq)
	wg.Wait()
	close(p.stopped)
	// Fail whatever is still queued: it was never acknowledged.
	for {
		select {
		case r := <-p.reqs:
			r.done <- labtrust.ErrPushback
		default:
			return cerr
		}
	}
}

// Submit stores events and returns once they are durable (committed to the
// store and appended to the ledger; a checkpoint covering them follows within
// CheckpointInterval). Events MUST be valid (parsers call Validate). On
// error nothing of this request was acknowledged.
func (p *Pipeline) Submit(ctx context.Context, events []labtrust.Event) (Result, error) {
	r, err := p.enqueue(ctx, events)
	if err != nil {
		return Result{}, err
	}
	return p.wait(ctx, r)
}

func (p *Pipeline) enqueue(ctx context.Context, events []labtrust.Event) (*request, error) {
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return nil, fmt.Errorf("ingest: event %d: %w", i, err)
		}
	}
	return p.enqueueValid(ctx, events)
}

// enqueueValid is enqueue for events already validated (the Batcher
// validates each as it arrives, to turn an invalid one into a reject).
func (p *Pipeline) enqueueValid(ctx context.Context, events []labtrust.Event) (*request, error) {
	r := &request{events: events, n: len(events), done: make(chan error, 1), start: p.now()}
	select {
	case p.reqs <- r:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.stopped:
		return nil, labtrust.ErrPushback
	}
}

func (p *Pipeline) wait(ctx context.Context, r *request) (Result, error) {
	select {
	case err := <-r.done:
		if err != nil {
			return Result{}, err
		}
		return Result{First: r.first, Count: r.n}, nil
	case <-ctx.Done():
		// The request may still be committed; the caller did not get an
		// acknowledgement, which is the contract.
		return Result{}, ctx.Err()
	}
}

func (p *Pipeline) sequenceLoop(ctx context.Context) {
	for {
		// A fresh slice each time: the committer still holds the last one.
		var batch []*request
		select {
		case <-ctx.Done():
			return
		case r := <-p.reqs:
			batch = append(batch, r)
		}
		n := len(batch[0].events)
	more:
		for n < p.cfg.MaxBatch {
			select {
			case r := <-p.reqs:
				batch = append(batch, r)
				n += len(r.events)
			default:
				break more
			}
		}
		if p.broken.Load() != nil {
			p.recover(ctx)
		}
		pb, err := p.prepare(ctx, batch)
		if err != nil {
			for _, r := range batch {
				r.done <- err
			}
			continue
		}
		p.cq <- pb
	}
}

// recover waits for in-flight batches to fail, then re-reads the store so
// indices and chain heads continue from what is durable.
func (p *Pipeline) recover(ctx context.Context) {
	p.cq <- nil // a marker: the committer answers on p.resync when it reaches it
	<-p.resync
	next, err := p.st.NextIndex(ctx)
	if err != nil {
		p.log.Error("ingest: store still failing", "err", err)
		return
	}
	p.next = next
	if err := p.loadHeads(ctx); err != nil {
		p.log.Error("ingest: reload chain heads", "err", err)
		return
	}
	p.broken.Store(nil)
}

// prepare assigns indices and chain links in order (cheap, sequential), then
// encodes and commits: entries whose previous patient entry is in an earlier
// batch on every core, the rest in order (each needs its predecessor's
// commitment), and finally seals every body on every core.
func (p *Pipeline) prepare(ctx context.Context, batch []*request) (*prepared, error) {
	n := 0
	for _, r := range batch {
		n += len(r.events)
	}
	p.batchSeq++
	pb := &prepared{reqs: batch, rows: make([]store.EventRow, n), commitments: make([][]byte, n), sources: map[string]int{}}
	entries := make([]labtrust.Entry, n)
	// Blind indexes are keyed hashes: compute them on every core before
	// the sequential pass needs them.
	evs := make([]*labtrust.Event, 0, n)
	for _, r := range batch {
		for k := range r.events {
			evs = append(evs, &r.events[k])
		}
	}
	blinds := make([][][]byte, n)
	if err := par.With(n, 256, p.keys.Blinder, func(blind func(string) []byte, i int) error {
		ps := evs[i].Patients
		if len(ps) == 0 {
			return nil
		}
		bs := make([][]byte, len(ps))
		for j := range ps {
			bs[j] = blind(ps[j].ID)
		}
		blinds[i] = bs
		return nil
	}); err != nil {
		return nil, err
	}
	type dep struct{ link, pos int }
	deps := map[int][]dep{} // batch position → links that point inside the batch
	// level[i] is 0 for an entry with no link inside the batch, else one
	// more than the highest level it links to: each level can be committed
	// in parallel once the previous one is.
	level := make([]int32, n)
	maxLevel := int32(0)
	i := 0
	idx := p.next
	for _, r := range batch {
		r.first = idx
		for k := range r.events {
			e := &r.events[k]
			e.Time = e.Time.UTC().Truncate(time.Microsecond)
			en := &entries[i]
			en.Index, en.Event = idx, *e
			row := &pb.rows[i]
			row.Index, row.Time, row.Source, row.Kind = idx, e.Time, e.Source, string(e.Kind)
			row.Actor, row.Action, row.Outcome = actorKey(e.Actor), string(e.Action), int(e.Outcome)
			pb.sources[e.Source]++
			for j := range e.Patients {
				b := blinds[i][j]
				if containsBytes(row.Patients, b) {
					continue // the same patient named twice gets one link
				}
				row.Patients = append(row.Patients, b)
				bk := string(b)
				h, ok := p.heads[bk]
				if !ok && !p.complete {
					hi, hc, err := p.st.PatientHead(ctx, b)
					switch {
					case err == nil:
						h, ok = head{idx: hi, c: hc}, true
					case !errors.Is(err, labtrust.ErrNotFound):
						return nil, fmt.Errorf("ingest: read patient chain head: %w", err)
					}
				}
				l := labtrust.Link{Patient: j}
				if ok {
					l.HasPrev, l.PrevIndex, l.PrevHash = true, h.idx, h.c
					if h.batch == p.batchSeq {
						deps[i] = append(deps[i], dep{link: len(en.Links), pos: h.pos})
						if l := level[h.pos] + 1; l > level[i] {
							level[i] = l
							maxLevel = max(maxLevel, l)
						}
					}
				}
				en.Links = append(en.Links, l)
				p.heads[bk] = head{idx: idx, batch: p.batchSeq, pos: i}
			}
			idx++
			i++
		}
	}
	for _, r := range batch {
		r.events = nil
	}
	nonces := make([]byte, n*labtrust.NonceSize)
	if _, err := rand.Read(nonces); err != nil {
		return nil, fmt.Errorf("ingest: nonces: %w", err)
	}
	canon := make([][]byte, n)
	commit := func(i int) error {
		c, err := entries[i].MarshalCanonical()
		if err != nil {
			return fmt.Errorf("ingest: encode event %d: %w", entries[i].Index, err)
		}
		canon[i] = c
		pb.rows[i].Commitment = labtrust.Commit(nonces[i*labtrust.NonceSize:(i+1)*labtrust.NonceSize], c)
		pb.commitments[i] = pb.rows[i].Commitment[:]
		return nil
	}
	// Commit level by level, each on every core: an entry's links need
	// the commitments of its predecessors in this batch, which are all on
	// lower levels. Chains are short (a patient's few accesses in one
	// batch), so nearly everything is on level 0.
	byLevel := make([][]int, maxLevel+1)
	for i := range n {
		byLevel[level[i]] = append(byLevel[level[i]], i)
	}
	for _, ids := range byLevel {
		if err := parallel(len(ids), func(k int) error {
			i := ids[k]
			for _, d := range deps[i] {
				entries[i].Links[d.link].PrevHash = pb.rows[d.pos].Commitment
			}
			return commit(i)
		}); err != nil {
			return nil, err
		}
	}
	size := p.cfg.FrameSize
	pb.frames = make([]store.Frame, (n+size-1)/size)
	if err := par.Do(len(pb.frames), 4, func(f int) error {
		lo, hi := f*size, min((f+1)*size, n)
		recs := make([]frame.Record, hi-lo)
		for i := lo; i < hi; i++ {
			recs[i-lo] = frame.Record{Nonce: nonces[i*labtrust.NonceSize : (i+1)*labtrust.NonceSize], Canonical: canon[i]}
		}
		body, err := frame.Seal(ctx, p.keys, entries[lo].Index, recs)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		pb.frames[f] = store.Frame{First: entries[lo].Index, Rows: pb.rows[lo:hi], Body: body}
		return nil
	}); err != nil {
		return nil, err
	}
	// Heads now carry commitments, for links from later batches.
	for i := range pb.rows {
		for _, b := range pb.rows[i].Patients {
			if h := p.heads[string(b)]; h.batch == p.batchSeq && h.pos == i {
				p.heads[string(b)] = head{idx: h.idx, c: pb.rows[i].Commitment}
			}
		}
	}
	p.evictHeads()
	pb.last = idx
	p.next = idx
	if p.cfg.OnCommit != nil {
		pb.entries = entries
	}
	return pb, nil
}

// evictHeads keeps the chain-head cache bounded. Any head may go: a miss is
// read back from the store, and every head from a finished batch is already
// in the store or in flight ahead of any batch that could read it.
func (p *Pipeline) evictHeads() {
	over := len(p.heads) - p.cfg.HeadCache
	if over <= 0 {
		return
	}
	committed := p.committed.Load()
	for k, h := range p.heads {
		if over <= 0 {
			break
		}
		if h.idx < committed { // never evict a head whose row is not yet durable
			delete(p.heads, k)
			p.complete = false
			over--
		}
	}
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if string(x) == string(b) {
			return true
		}
	}
	return false
}

// parallel runs fn(0..n-1) across the available cores.
func parallel(n int, fn func(i int) error) error { return par.Do(n, 256, fn) }

func actorKey(a labtrust.Actor) string {
	switch {
	case a.ID != "":
		return a.ID
	case a.AltID != "":
		return a.AltID
	}
	return a.Name
}

func (p *Pipeline) setNote(n []byte) {
	p.lastNoteMu.Lock()
	p.lastNote = n
	p.lastNoteMu.Unlock()
}

// LatestCheckpoint returns the newest signed checkpoint note.
func (p *Pipeline) LatestCheckpoint() []byte {
	p.lastNoteMu.Lock()
	defer p.lastNoteMu.Unlock()
	return p.lastNote
}

// Status is a snapshot for health and metrics.
type Status struct {
	Committed      uint64
	LedgerSize     uint64
	CheckpointSize uint64
	CheckpointAge  time.Duration
	Broken         error
}

// Status reports the pipeline's progress; safe from any goroutine.
func (p *Pipeline) Status() Status {
	s := Status{Committed: p.committed.Load(), LedgerSize: p.size.Load(), CheckpointSize: p.cpSize.Load(),
		CheckpointAge: p.now().Sub(time.Unix(0, p.cpTime.Load()))}
	if e := p.broken.Load(); e != nil {
		s.Broken = *e
	}
	if e := p.ledgerErr.Load(); e != nil {
		s.Broken = *e
	}
	return s
}

func (p *Pipeline) commitLoop() error {
	t := time.NewTicker(p.cfg.CheckpointInterval / 4)
	defer t.Stop()
	lastCP := p.now()
	checkpoint := func() error {
		if p.lg.Size() == p.lg.Checkpointed() {
			lastCP = p.now()
			return nil
		}
		note, err := p.lg.Checkpoint(context.Background())
		if err != nil {
			err = fmt.Errorf("ingest: checkpoint: %w", err)
			p.ledgerErr.Store(&err)
			return err
		}
		lastCP = p.now()
		p.setNote(note)
		p.cpSize.Store(p.lg.Checkpointed())
		p.cpTime.Store(lastCP.UnixNano())
		if p.m != nil {
			p.m.checkpoints.Inc()
		}
		return nil
	}
	for {
		select {
		case pb, ok := <-p.cq:
			if !ok {
				if err := checkpoint(); err != nil {
					p.log.Error("final checkpoint failed", "err", err)
					return err
				}
				return nil
			}
			if pb == nil {
				p.resync <- struct{}{}
				continue
			}
			p.commit(pb)
			if p.now().Sub(lastCP) >= p.cfg.CheckpointInterval {
				if err := checkpoint(); err != nil {
					p.log.Error("checkpoint failed", "err", err)
				}
			}
		case <-t.C:
			if p.now().Sub(lastCP) >= p.cfg.CheckpointInterval {
				if err := checkpoint(); err != nil {
					p.log.Error("checkpoint failed", "err", err)
				}
			}
		}
	}
}

func (p *Pipeline) commit(pb *prepared) {
	fail := func(err error) {
		for _, r := range pb.reqs {
			r.done <- err
		}
	}
	if e := p.ledgerErr.Load(); e != nil {
		// The ledger must be reopened (restart); storing more rows that
		// no one is told about would only be ingested twice on resend.
		fail(*e)
		return
	}
	if e := p.broken.Load(); e != nil {
		fail(*e)
		return
	}
	if err := p.st.AppendFrames(context.Background(), pb.frames); err != nil {
		err = fmt.Errorf("ingest: store batch at index %d: %w", pb.rows[0].Index, err)
		p.log.Error("store append failed; ingest resynchronizes", "err", err)
		p.broken.Store(&err)
		fail(err)
		return
	}
	p.committed.Store(pb.last)
	if _, err := p.lg.Append(pb.commitments); err != nil {
		// The rows are durable; the ledger catches up from the store on
		// the next start. Refuse further work until then.
		err = fmt.Errorf("ingest: ledger append at index %d: %w", pb.rows[0].Index, err)
		p.log.Error("ledger append failed; ingest stops until restart", "err", err)
		p.ledgerErr.Store(&err)
		fail(err)
		return
	}
	p.size.Store(p.lg.Size())
	if p.m != nil {
		// Count before acknowledging, so a client that reads /metrics
		// after its answer sees its events.
		for s, n := range pb.sources {
			p.m.ingested.WithLabelValues(s).Add(float64(n))
		}
	}
	if p.cfg.OnCommit != nil {
		p.cfg.OnCommit(pb.entries)
		pb.entries = nil
	}
	now := p.now()
	for _, r := range pb.reqs {
		if p.m != nil {
			p.m.latency.Observe(now.Sub(r.start).Seconds())
		}
		if p.cfg.OnAck != nil {
			p.cfg.OnAck(r.n, now.Sub(r.start))
		}
		r.done <- nil
	}
}
