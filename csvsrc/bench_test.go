package csvsrc

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/labtrust/labtrust"
)

// countSink counts, so the benchmark measures Parse rather than a slice.
type countSink struct{ events, rejects int }

func (c *countSink) Event(context.Context, labtrust.Event) error   { c.events++; return nil }
func (c *countSink) Reject(context.Context, labtrust.Reject) error { c.rejects++; return nil }

// BenchmarkParse parses a typical 10-column export; the target is at least
// 300,000 rows/s on one core.
func BenchmarkParse(b *testing.B) {
	m := Mapping{
		TimeLayout: "2006-01-02 15:04:05",
		TimeZone:   "America/Chicago",
		Columns: Columns{Time: "accessed_at", ActorID: "user_id", ActorName: "user_name", ActorRole: "role",
			Network: "workstation", Action: "action", Outcome: "result", PatientID: "mrn",
			ObjectID: "accession", SourceRef: "audit_id"},
		ActionMap:  map[string]ActionRule{"VIEW": {Action: "R"}, "PRINT": {Action: "R", Role: "print"}, "EDIT": {Action: "U"}},
		OutcomeMap: map[string]labtrust.Outcome{"OK": 0, "DENIED": 4},
	}
	const rows = 10000
	var in bytes.Buffer
	in.WriteString("audit_id,accessed_at,user_id,user_name,role,workstation,action,result,mrn,accession\n")
	actions := []string{"VIEW", "PRINT", "EDIT", "VIEW"}
	for i := range rows {
		fmt.Fprintf(&in, "A-%06d,2025-03-03 %02d:%02d:%02d,user%03d,User Number %d,MLS,10.20.%d.%d,%s,OK,MRN-%06d,ACC-25-%05d\n",
			i, i/3600%24, i/60%60, i%60, i%500, i%500, i%250, i%200, actions[i%4], i*7%100000, i)
	}
	data := in.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		var c countSink
		if err := Parse(context.Background(), "lis", m, bytes.NewReader(data), &c); err != nil {
			b.Fatal(err)
		}
		if c.events != rows {
			b.Fatalf("%d events, %d rejects", c.events, c.rejects)
		}
		n += c.events
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
