package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the pipeline's OpenMetrics series. Build them with NewMetrics
// and pass them in Config; nil disables them.
type Metrics struct {
	ingested    *prometheus.CounterVec
	quarantined *prometheus.CounterVec
	latency     prometheus.Histogram
	checkpoints prometheus.Counter
}

// NewMetrics registers the ingest series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "labtrust_events_ingested_total", Help: "Events durably stored and appended to the ledger, per source."}, []string{"source"}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "labtrust_events_quarantined_total", Help: "Records rejected into the quarantine, per source and format."}, []string{"source", "format"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "labtrust_ingest_latency_seconds", Help: "Time from submission to durable acknowledgement.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2.5, 5, 10}}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "labtrust_ledger_checkpoints_total", Help: "Signed checkpoints published."}),
	}
	reg.MustRegister(m.ingested, m.quarantined, m.latency, m.checkpoints)
	return m
}
