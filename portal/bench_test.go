package portal_test

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkLookup measures "Was I affected?" look-ups (POST with a notice
// code and date of birth, the session cookie set, each recorded in the
// ledger) from 64 concurrent clients on 127.0.0.1, on SQLite, and reports
// look-ups per second and the p99 latency:
//
//	go test -run '^$' -bench Lookup -benchtime 20000x ./portal
func BenchmarkLookup(b *testing.B) {
	e := newBenchEnv(b, filepath.Join(b.TempDir(), "p.db"))
	codes := []string{e.codes["P1"], e.codes["P2"]}
	dobs := map[string][3]string{e.codes["P1"]: {"1975", "4", "9"}, e.codes["P2"]: {"1990", "12", "1"}}
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const workers = 64
	lat := make([][]time.Duration, workers)
	var next sync.WaitGroup
	jobs := make(chan int, b.N)
	for i := range b.N {
		jobs <- i
	}
	close(jobs)
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		next.Add(1)
		go func() {
			defer next.Done()
			for i := range jobs {
				c := codes[i%len(codes)]
				d := dobs[c]
				form := url.Values{"code": {c}, "year": {d[0]}, "month": {d[1]}, "day": {d[2]}}
				t0 := time.Now()
				res, err := cl.Post(e.srv.URL+"/portal/lookup", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
				if err != nil {
					b.Error(err)
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusSeeOther {
					b.Errorf("look-up answered %d: %.300s", res.StatusCode, body)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	next.Wait()
	took := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/took.Seconds(), "lookups/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
}
