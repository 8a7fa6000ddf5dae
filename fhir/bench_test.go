package fhir

import (
	"bytes"
	"context"
	"testing"

	"github.com/labtrust/labtrust"
)

// countSink counts records without keeping them, so the benchmark measures
// the parser.
type countSink struct{ events, rejects int }

func (c *countSink) Event(context.Context, labtrust.Event) error   { c.events++; return nil }
func (c *countSink) Reject(context.Context, labtrust.Reject) error { c.rejects++; return nil }

func encodedStream(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		line, err := Encode(sampleEvent(i))
		if err != nil {
			b.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// BenchmarkParseNDJSON parses a stream of BALP events made by Encode
// (about 1.7 KB each). Target: at least 150,000 events/s on one core.
func BenchmarkParseNDJSON(b *testing.B) {
	const n = 2000
	in := encodedStream(b, n)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	var sink countSink
	for i := 0; i < b.N; i++ {
		if err := Parse(context.Background(), "lis-main", bytes.NewReader(in), &sink); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if sink.rejects != 0 || sink.events != n*b.N {
		b.Fatalf("events %d rejects %d", sink.events, sink.rejects)
	}
	b.ReportMetric(float64(sink.events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkParseBundle parses the same events as one pretty-ish Bundle.
func BenchmarkParseBundle(b *testing.B) {
	const n = 2000
	var buf bytes.Buffer
	buf.WriteString("{\n\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[\n")
	for i, line := range bytes.Split(bytes.TrimSpace(encodedStream(b, n)), []byte("\n")) {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.WriteString(`{"resource":`)
		buf.Write(line)
		buf.WriteString("}")
	}
	buf.WriteString("]}\n")
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	var sink countSink
	for i := 0; i < b.N; i++ {
		if err := Parse(context.Background(), "lis-main", bytes.NewReader(in), &sink); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if sink.rejects != 0 || sink.events != n*b.N {
		b.Fatalf("events %d rejects %d", sink.events, sink.rejects)
	}
	b.ReportMetric(float64(sink.events)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkEncode(b *testing.B) {
	events := make([]labtrust.Event, 256)
	for i := range events {
		events[i] = sampleEvent(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		out, err := Encode(events[i%len(events)])
		if err != nil {
			b.Fatal(err)
		}
		n += len(out)
	}
	b.SetBytes(int64(n / b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
