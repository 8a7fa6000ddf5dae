package notice

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/store"
)

// MailHouse writes the files a mail house prints and posts from: a CSV of
// every letter (code, language, recipient, address, which file and page
// sequence) and print-ready PDF batches of the letters, in notice order.
// Batches are set on every core; the notices are streamed from the store,
// so memory stays flat however many there are.
type MailHouse struct {
	Service *Service
	// Rows streams the incident's notices in id order (the store's Notices).
	Rows       func(ctx context.Context, incident int64, fn func(store.NoticeRow) error) error
	Lab        Lab
	Texts      map[string]Text
	Discovered time.Time
	Date       time.Time
	// Monitoring is the credit-monitoring offer (nil: none); each letter
	// gets its own code from the pool.
	Monitoring *Monitoring
	Fonts      *BatchFonts
	// Laws add each state's paragraph to its residents' letters (nil: none).
	Laws    breach.Laws
	Batch   int // letters per PDF (default 5000: the two embedded fonts, ~0.7 MB, are then ~150 bytes a letter)
	Workers int // default GOMAXPROCS
	// Progress is called with the letters done so far.
	Progress func(done int)
}

// Written says what Write produced.
type Written struct {
	Letters, Files, Pages int
}

type mhJob struct {
	seq   int
	rows  []store.NoticeRow
	codes map[int64]string // credit-monitoring codes by notice ID
}

type mhResult struct {
	seq   int
	lines [][]string
	pages int
	err   error
}

// Write writes mailhouse.csv and letters-NNNNN.pdf into dir for the
// incident's notices that go by mail.
func (m *MailHouse) Write(ctx context.Context, incident int64, dir string) (Written, error) {
	var out Written
	batch, workers := m.Batch, m.Workers
	if batch <= 0 {
		batch = 5000
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return out, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "mailhouse.csv"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return out, err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"notice_code", "language", "recipient", "address_1", "address_2", "address_3", "file", "sequence", "pages"})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan mhJob, workers)
	results := make(chan mhResult, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r := m.render(ctx, incident, dir, j)
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	// Notices are read, given their monitoring codes, and set into PDFs
	// at the same time: one goroutine reads, one allocates codes (a write
	// transaction per batch, one at a time: two on SQLite would deadlock
	// rather than wait), the workers render.
	var readErr, allocErr error
	batches := make(chan mhJob, 2)
	go func() {
		defer close(jobs)
		for j := range batches {
			if allocErr == nil && m.Monitoring != nil {
				ids := make([]int64, len(j.rows))
				for i, r := range j.rows {
					ids[i] = r.ID
				}
				if j.codes, allocErr = m.Service.MonitoringCodes(ctx, incident, ids); allocErr != nil {
					cancel()
				}
			}
			if allocErr != nil {
				continue // draining, so the reader ends
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
			}
		}
	}()
	go func() {
		defer close(batches)
		seq := 0
		var chunk []store.NoticeRow
		send := func() bool {
			seq++
			select {
			case batches <- mhJob{seq: seq, rows: chunk}:
				chunk = nil
				return true
			case <-ctx.Done():
				return false
			}
		}
		readErr = m.Rows(ctx, incident, func(r store.NoticeRow) error {
			if r.Channel != ChannelMail {
				return nil
			}
			chunk = append(chunk, r)
			if len(chunk) == batch && !send() {
				return ctx.Err()
			}
			return nil
		})
		if readErr == nil && len(chunk) > 0 {
			send()
		}
	}()
	go func() { wg.Wait(); close(results) }()
	// Results arrive out of order; the CSV is written in file order.
	pending := map[int]mhResult{}
	next := 1
	var firstErr error
	for r := range results {
		if r.err != nil && firstErr == nil {
			firstErr = r.err
			cancel()
		}
		pending[r.seq] = r
		for {
			p, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if p.err != nil {
				continue
			}
			for _, l := range p.lines {
				w.Write(l)
			}
			out.Files++
			out.Letters += len(p.lines)
			out.Pages += p.pages
			if m.Progress != nil {
				m.Progress(out.Letters)
			}
		}
	}
	// The error that stopped the others, not theirs on being stopped;
	// and stopped from outside, maybe with batches not rendered, is one.
	errs := []error{firstErr, allocErr, readErr, ctx.Err()}
	firstErr = nil
	for _, err := range errs {
		if err != nil && (firstErr == nil || errors.Is(firstErr, context.Canceled) && !errors.Is(err, context.Canceled)) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return out, firstErr
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return out, err
	}
	return out, f.Close()
}

// render sets one batch of letters into its PDF file.
func (m *MailHouse) render(ctx context.Context, incident int64, dir string, j mhJob) mhResult {
	res := mhResult{seq: j.seq}
	if ctx.Err() != nil {
		res.err = ctx.Err()
		return res
	}
	codes := j.codes
	name := fmt.Sprintf("letters-%05d.pdf", j.seq)
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		res.err = err
		return res
	}
	defer f.Close()
	b := NewBatch(f, m.Fonts)
	for i, r := range j.rows {
		rec, err := m.Service.Open(r)
		if err != nil {
			res.err = err
			return res
		}
		l := rec.Letter(m.Lab, m.Texts, m.Discovered, m.Date)
		l.ForState(m.Laws, rec.State)
		if m.Monitoring != nil {
			mon := *m.Monitoring
			mon.Code = codes[r.ID]
			l.Monitoring = &mon
		}
		before := b.Pages()
		if err := b.Add(l); err != nil {
			res.err = fmt.Errorf("notice: %s: %w", name, err)
			return res
		}
		addr := append(append([]string{}, rec.Address...), "", "", "")
		who := rec.Name
		if rec.Minor {
			who = "Parent or guardian of " + who
		}
		res.lines = append(res.lines, []string{rec.Code, l.Language, who, addr[0], addr[1], addr[2], name, strconv.Itoa(i + 1), strconv.Itoa(b.Pages() - before)})
	}
	if err := b.Close(); err != nil {
		res.err = fmt.Errorf("notice: %s: %w", name, err)
		return res
	}
	res.pages = b.Pages()
	if err := f.Close(); err != nil {
		res.err = err
	}
	return res
}

// MonitoringCodes gives each notice its credit-monitoring code (the one
// it has, else the next free ones of the pool), in one transaction.
func (s *Service) MonitoringCodes(ctx context.Context, incident int64, notices []int64) (map[int64]string, error) {
	var sealed map[int64][]byte
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		// Two exports at once can race for the same free codes: the
		// loser tries again.
		if sealed, err = s.st.AllocateMonitoringCodes(ctx, incident, notices, s.now().UTC()); !errors.Is(err, labtrust.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(sealed))
	for n, c := range sealed {
		b, err := s.key.Open(nil, c, monitoringAAD(incident))
		if err != nil {
			return nil, fmt.Errorf("notice: monitoring code does not authenticate: %w", err)
		}
		out[n] = string(b)
	}
	return out, nil
}

// WriteZip writes the mail-house files as one zip archive to w (the
// console's download): they are made in a temporary directory under tmp
// (the system's when empty), which is removed after.
func (m *MailHouse) WriteZip(ctx context.Context, incident int64, w io.Writer, tmp string) (Written, error) {
	dir, err := os.MkdirTemp(tmp, "mailhouse-")
	if err != nil {
		return Written{}, err
	}
	defer os.RemoveAll(dir)
	out, err := m.Write(ctx, incident, dir)
	if err != nil {
		return out, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out, err
	}
	zw := zip.NewWriter(w)
	for _, e := range entries {
		// PDFs are deflated already inside; store them as they are.
		method := zip.Store
		if strings.HasSuffix(e.Name(), ".csv") {
			method = zip.Deflate
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name(), Method: method, Modified: time.Now()})
		if err != nil {
			return out, err
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return out, err
		}
		_, err = io.Copy(fw, f)
		f.Close()
		if err != nil {
			return out, err
		}
	}
	return out, zw.Close()
}
