package portal

import (
	"context"
	"time"
)

// Stats keeps the portal's daily counts (the store).
type Stats interface {
	AddPortalStats(ctx context.Context, day time.Time, counts map[string]int) error
}

// Metrics the portal counts: what people did, never who.
const (
	MetricLookup         = "portal-lookup" // a look-up that found the notice
	MetricLookupMiss     = "lookup-miss"   // wrong code or birth date
	MetricLookupLimited  = "lookup-limited"
	MetricNoticeView     = "portal-notice-view"
	MetricAccessReport   = "portal-access-report"
	MetricLetter         = "portal-letter-download"
	MetricMonitoring     = "monitoring-shown"
	MetricSuspicious     = "suspicious-report"
	MetricSubscribe      = "subscribe"
	MetricSurvey         = "survey"
	MetricCallback       = "callback"
	MetricReportDownload = "portal-access-report-download"
)

// count adds one to a metric; FlushStats writes the counts out.
func (p *Portal) count(metric string) {
	if p.Stats == nil {
		return
	}
	p.statsMu.Lock()
	if p.counts == nil {
		p.counts = map[string]int{}
	}
	p.counts[metric]++
	p.statsMu.Unlock()
}

// FlushStats adds the counts so far to today's totals in the store. The
// counts are kept in memory between flushes (a write per look-up would
// halve the look-up rate), so a crash loses at most one interval's.
func (p *Portal) FlushStats(ctx context.Context) error {
	if p.Stats == nil {
		return nil
	}
	p.statsMu.Lock()
	c := p.counts
	p.counts = nil
	p.statsMu.Unlock()
	if len(c) == 0 {
		return nil
	}
	if err := p.Stats.AddPortalStats(ctx, p.now(), c); err != nil {
		// Put them back for the next flush.
		p.statsMu.Lock()
		if p.counts == nil {
			p.counts = map[string]int{}
		}
		for k, n := range c {
			p.counts[k] += n
		}
		p.statsMu.Unlock()
		return err
	}
	return nil
}

func (p *Portal) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// FlushStatsEvery flushes the counts every interval until ctx ends, and
// once more then.
func (p *Portal) FlushStatsEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p.FlushStats(fctx)
			cancel()
			return
		case <-t.C:
			if err := p.FlushStats(ctx); err != nil && ctx.Err() == nil {
				p.Log.Error("portal: stats", "err", err)
			}
		}
	}
}
