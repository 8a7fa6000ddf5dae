package csvsrc

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/labtrust/labtrust"
)

// countRecords counts the records encoding/csv sees, counting a malformed
// one as one record, as Parse does.
func countRecords(in []byte, comma, comment rune) int {
	r := csv.NewReader(bytes.NewReader(in))
	r.Comma, r.Comment, r.FieldsPerRecord = comma, comment, -1
	n := 0
	for {
		_, err := r.Read()
		if err == io.EOF {
			return n
		}
		var perr *csv.ParseError
		if err != nil && !errors.As(err, &perr) {
			panic(err)
		}
		n++
	}
}

// FuzzParse checks that Parse never panics, that every record becomes
// exactly one Event or Reject, that events are valid and encodable, and
// that every Reject's Raw re-ingests as exactly one record.
func FuzzParse(f *testing.F) {
	sample, err := os.ReadFile("testdata/lis-export.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample, false)
	f.Add([]byte(hdr+"2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\n"), false)
	f.Add([]byte(hdr+"2025-03-03 08:01,jdoe,PRINT,DENIED,MRN-1,\"a\nb\"\r\n#x\n\n"), true)
	f.Add([]byte(hdr+"2025-03-03 08:01,\"jdoe\"x,VIEW,OK,MRN-1,\nx,y\"z\n"), false)
	f.Add([]byte(hdr+"2025-03-03 08:01,jdoe,VIEW,OK,\"MRN-1,\n"), false)
	f.Add([]byte("accessed_at,us\"er\n1,2\n"), false)
	f.Add([]byte("\uFEFF"+hdr+"2025-03-03 08:01,jdoe,EDIT,OK,,\n"), true)
	f.Add([]byte(hdr+"2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,"+strings.Repeat("x", 300)+"\n2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\n"), false)
	f.Add([]byte(hdr+"2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\""+strings.Repeat("y\n", 200)+"\"\n2025-03-03 08:01,jdoe,VIEW,OK,MRN-1,\n"), true)
	f.Add([]byte("1741000000;jdoe;VIEW;OK;P1;P2\n1741000000.5;jdoe;EDIT;DENIED;;\n1;;;\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, comment bool) {
		m := baseMapping()
		if len(in) > 0 && in[0] == '1' {
			// Exercise numbered columns too: no header, ';' separated.
			m.Header, m.Delimiter = new(false), ";"
			m.Columns = Columns{Time: "1", ActorID: "2", Action: "3", Outcome: "4", PatientID: "5", PatientIDs: []string{"6"}}
			m.TimeLayout = "unix"
		}
		m.MaxRowBytes = 256 // exercise the too-long path
		var cm rune
		if comment {
			m.Comment, cm = "#", '#'
		}
		var c collect
		if err := Parse(context.Background(), "fuzz", m, bytes.NewReader(in), &c); err != nil {
			t.Fatalf("Parse: %v", err)
		}
		for _, e := range c.events {
			if err := e.Validate(); err != nil {
				t.Fatalf("invalid event: %v", err)
			}
			if _, err := (&labtrust.Entry{Event: e}).MarshalCanonical(); err != nil {
				t.Fatalf("event does not encode: %v", err)
			}
		}
		for _, r := range c.rejects {
			if r.Format != "csv" || !strings.HasPrefix(r.Reason, r.Position+": ") {
				t.Fatalf("reject %+v", r)
			}
			if strings.Contains(r.Reason, "longer than") {
				continue // its Raw is cut short on purpose
			}
			var again collect
			if err := Parse(context.Background(), "fuzz", m, bytes.NewReader(r.Raw), &again); err != nil {
				t.Fatal(err)
			}
			if n := len(again.order); n != 1 && !(n == 2 && strings.Contains(r.Reason, "header")) {
				t.Fatalf("Raw of %q re-ingests as %d records: %q", r.Reason, n, r.Raw)
			}
		}
		// Without the too-long path, encoding/csv's own record count is
		// the number of outputs, less a header that was read.
		for _, r := range c.rejects {
			if strings.Contains(r.Reason, "longer than") {
				return
			}
		}
		want := countRecords(in, []rune(m.Delimiter + ",")[0], cm)
		if want > 0 && m.HasHeader() && !(len(c.rejects) > 0 && strings.Contains(c.rejects[0].Reason, ": header: ")) {
			want-- // the header is not a data row
		}
		if got := len(c.order); got != want {
			t.Fatalf("%d records in, %d events + %d rejects out", want, len(c.events), len(c.rejects))
		}
	})
}
