package ledger

import (
	"fmt"
	"os"
	"sync"
)

// flusher writes tile files and fsyncs them in the background while entries
// keep arriving, so a checkpoint only waits for the last few. It fsyncs each
// file rather than the whole filesystem (syncfs), because a checkpoint must
// not wait for unrelated dirty data, such as the database's own writes or a
// large file another process just wrote.
type flusher struct {
	jobs chan flushJob
	wg   sync.WaitGroup // outstanding jobs
	mu   sync.Mutex
	err  error
	stop sync.Once
	done sync.WaitGroup // workers
}

type flushJob struct {
	path string
	data []byte
}

// flushWorkers bounds concurrent write+fsync calls; fsync latency, not CPU,
// is what they overlap.
const flushWorkers = 8

func newFlusher() *flusher {
	f := &flusher{jobs: make(chan flushJob, 4096)}
	for i := 0; i < flushWorkers; i++ {
		f.done.Add(1)
		go f.work()
	}
	return f
}

func (f *flusher) work() {
	defer f.done.Done()
	for j := range f.jobs {
		if err := writeFileSync(j.path, j.data); err != nil {
			f.mu.Lock()
			if f.err == nil {
				f.err = err
			}
			f.mu.Unlock()
		}
		f.wg.Done()
	}
}

// submit queues a durable write of data (which the flusher now owns) to path,
// replacing any file there.
func (f *flusher) submit(path string, data []byte) {
	f.wg.Add(1)
	f.jobs <- flushJob{path, data}
}

// wait blocks until every submitted write is on disk and returns the first
// error any of them had.
func (f *flusher) wait() error {
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *flusher) close() {
	f.stop.Do(func() {
		close(f.jobs)
		f.done.Wait()
	})
}

func writeFileSync(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
