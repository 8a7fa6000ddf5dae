package hl7_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/hl7"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func record(t *testing.T, raw []byte) labtrust.PatientRecord {
	t.Helper()
	m, err := hl7.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hl7.Record(m, "epic")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestA01FullDemographics(t *testing.T) {
	r := record(t, read(t, "a01.hl7"))
	want := labtrust.PatientRecord{
		Source: "epic", Trigger: "A01", ControlID: "MSG00001",
		Time: time.Date(2026, 10, 15, 13, 29, 55, 0, time.UTC),
		Patient: labtrust.Patient{
			ID:        labtrust.PatientRef{System: "NORTHLAB", ID: "MRN0012345"},
			OtherIDs:  []labtrust.PatientRef{{System: "EPIC", ID: "PI998877"}},
			SSN:       "123-45-6789",
			Name:      labtrust.HumanName{Family: "García", Given: []string{"María", "Elena"}, Prefix: "Dra."},
			BirthDate: "1984-03-12",
			Sex:       "female",
			Addresses: []labtrust.Address{{Use: "home", Lines: []string{"123 Main St", "Apt 4B"}, City: "Springfield", State: "IL", PostalCode: "62704", Country: "USA"}},
			Phones:    []string{"(217) 555-0100", "(217) 555-0199"},
			Emails:    []string{"maria@example.org"},
			Language:  "es",
		},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("record\n got %+v\nwant %+v", r, want)
	}
	if r.Patient.Guardian != nil {
		t.Fatal("a spouse is not a guardian")
	}
}

func TestLatin1AndGuardian(t *testing.T) {
	r := record(t, read(t, "a04_latin1.hl7"))
	p := r.Patient
	if p.Name.Family != "Peña" || p.Name.Given[0] != "Lucía" {
		t.Fatalf("Latin-1 name not converted: %+v", p.Name)
	}
	if r.Time != time.Date(2026, 10, 15, 9, 0, 0, 0, time.UTC) || r.Trigger != "A04" {
		t.Fatalf("time %v trigger %s", r.Time, r.Trigger)
	}
	if age, ok := p.AgeOn(r.Time); !ok || age != 11 {
		t.Fatalf("age %d %v", age, ok)
	}
	if p.Guardian == nil || p.Guardian.Name.Family != "Peña" || p.Guardian.Relationship != "MTH" ||
		len(p.Guardian.Phones) != 1 || p.Guardian.Address == nil || p.Guardian.Address.State != "TX" {
		t.Fatalf("guardian %+v", p.Guardian)
	}
}

func TestMerge(t *testing.T) {
	r := record(t, read(t, "a40.hl7"))
	if r.Trigger != "A40" || r.MergedFrom == nil || *r.MergedFrom != (labtrust.PatientRef{System: "NORTHLAB", ID: "MRN0099999"}) ||
		r.Patient.ID.ID != "MRN0012345" {
		t.Fatalf("merge %+v from %+v", r.Patient.ID, r.MergedFrom)
	}
	// A merge without MRG, or into itself, is refused.
	noMRG := bytes.ReplaceAll(read(t, "a40.hl7"), []byte("MRG|MRN0099999^^^NORTHLAB^MR\r"), nil)
	self := bytes.ReplaceAll(read(t, "a40.hl7"), []byte("MRN0099999"), []byte("MRN0012345"))
	for name, raw := range map[string][]byte{"no MRG": noMRG, "self": self} {
		m, err := hl7.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hl7.Record(m, "x"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEveryRegistryTrigger(t *testing.T) {
	for _, trig := range hl7.RegistryTriggers {
		raw := fmt.Sprintf("MSH|^~\\&|A|B|C|D|20261001120000+0000||ADT^%s|C%s|P|2.5\rPID|1||M1^^^LAB^MR||Doe^Jane\r", trig, trig)
		if trig == "A40" {
			raw += "MRG|M0^^^LAB^MR\r"
		}
		m, err := hl7.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		r, err := hl7.Record(m, "x")
		if err != nil || r.Trigger != trig {
			t.Errorf("%s: %v", trig, err)
		}
	}
}

func TestEscapesAndStructure(t *testing.T) {
	raw := "MSH|^~\\&|A|B|C|D|202610011200||ADT^A08|1|P|2.5\n" +
		`PID|1||M\T\1^^^LAB^MR||O\S\Brien\E\x^Ann\.br\Marie\X41\^^^^^L||2001|U|||1 A St\F\B^^Reno^NV^89501` + "\n"
	r := record(t, []byte(raw))
	p := r.Patient
	if p.ID.ID != "M&1" || p.Name.Family != `O^Brien\x` || !reflect.DeepEqual(p.Name.Given, []string{"Ann\nMarieA"}) {
		t.Fatalf("escapes: id %q name %+v", p.ID.ID, p.Name)
	}
	if p.BirthDate != "2001" || p.Sex != "unknown" || p.Addresses[0].Lines[0] != "1 A St|B" {
		t.Fatalf("fields: %+v", p)
	}
}

func TestRejectsWithoutValues(t *testing.T) {
	secret := "Zyxwvut"
	base := "MSH|^~\\&|A|B|C|D|202610011200||ADT^A08|1|P|2.5\rPID|1||M1^^^LAB^MR||" + secret + "^Q||19990101\r"
	cases := map[string]string{
		"not MSH":          "PID|1||x\r",
		"bad delimiters":   "MSH|^^\\&|A\r",
		"second MSH":       base + "MSH|^~\\&|A\r",
		"bad segment ID":   base + "pid|1\r",
		"not ADT":          strings.Replace(base, "ADT^A08", "ORU^R01", 1),
		"unsupported A03":  strings.Replace(base, "ADT^A08", "ADT^A03", 1),
		"no PID":           "MSH|^~\\&|A|B|C|D|202610011200||ADT^A08|1|P|2.5\r",
		"no identifier":    strings.Replace(base, "M1^^^LAB^MR", "", 1),
		"only SSN":         strings.Replace(base, "M1^^^LAB^MR", "123^^^SSA^SS", 1),
		"bad DOB":          strings.Replace(base, "19990101", "19991340", 1),
		"bad time":         strings.Replace(base, "202610011200", "2026-10-01", 1),
		"invalid UTF-8":    strings.Replace(base, secret, secret+"\xff", 1),
		"unknown charset":  strings.Replace(base, "|2.5\r", "|2.5||||||ISO IR87\r", 1),
		"value in MSH-9":   strings.Replace(base, "ADT^A08", "ADT^"+secret, 1),
		"value as trigger": strings.Replace(base, "ADT^A08", "ADT^ZZ"+secret[:2], 1),
	}
	for name, raw := range cases {
		m, err := hl7.Parse([]byte(raw))
		if err == nil {
			_, err = hl7.Record(m, "x")
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		var he *hl7.Error
		var ve *labtrust.ValidationError
		if !errors.As(err, &he) && !errors.As(err, &ve) {
			t.Errorf("%s: error %T %v is not located", name, err, err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "Q") && strings.Contains(err.Error(), "Zyx") {
			t.Errorf("%s: error %q quotes the message", name, err)
		}
	}
}

type collect struct {
	recs    []labtrust.PatientRecord
	rejects []labtrust.Reject
}

func (c *collect) Patient(_ context.Context, r labtrust.PatientRecord) error {
	c.recs = append(c.recs, r)
	return nil
}

func (c *collect) Reject(_ context.Context, r labtrust.Reject) error {
	c.rejects = append(c.rejects, r)
	return nil
}

func TestParseStreamFileAndMLLP(t *testing.T) {
	msgs := [][]byte{read(t, "a01.hl7"), []byte("MSH|^~\\&|A|B|C|D|202610011200||ORU^R01|9|P|2.5\rOBX|1\r"), read(t, "a04_latin1.hl7"), read(t, "a40.hl7")}
	// A file with \r terminators, one with \n, one with \r\n and blank lines.
	var cr, lf, crlf, framed bytes.Buffer
	for _, m := range msgs {
		cr.Write(m)
		lf.Write(bytes.ReplaceAll(m, []byte("\r"), []byte("\n")))
		crlf.Write(bytes.ReplaceAll(m, []byte("\r"), []byte("\r\n")))
		crlf.WriteString("\r\n")
		hl7.WriteFrame(&framed, m)
		framed.WriteString("\n")
	}
	for name, in := range map[string][]byte{"cr": cr.Bytes(), "lf": lf.Bytes(), "crlf": crlf.Bytes(), "mllp": framed.Bytes()} {
		var c collect
		if err := hl7.ParseStream(context.Background(), "epic", bytes.NewReader(in), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(c.recs) != 3 || len(c.rejects) != 1 {
			t.Fatalf("%s: %d records, %d rejects", name, len(c.recs), len(c.rejects))
		}
		rj := c.rejects[0]
		if rj.Position != "message 2" || rj.Format != "hl7v2" || !strings.Contains(rj.Reason, "MSH-9") {
			t.Fatalf("%s: reject %+v", name, rj)
		}
		// The reject's raw bytes, parsed alone, give the same reject.
		var again collect
		hl7.ParseStream(context.Background(), "epic", bytes.NewReader(rj.Raw), &again)
		if len(again.rejects) != 1 || again.rejects[0].Reason != rj.Reason {
			t.Fatalf("%s: raw does not reproduce the reject: %+v", name, again)
		}
		if c.recs[1].Patient.Name.Family != "Peña" || c.recs[2].MergedFrom == nil {
			t.Fatalf("%s: records %+v", name, c.recs)
		}
	}
}

func TestFrameReader(t *testing.T) {
	var in bytes.Buffer
	hl7.WriteFrame(&in, []byte("MSH|one"))
	in.WriteString("junk")
	hl7.WriteFrame(&in, []byte("MSH|two"))
	in.Write([]byte{0x0b})
	in.WriteString("MSH|" + strings.Repeat("x", 100))
	in.Write([]byte{0x1c, 0x0d})
	hl7.WriteFrame(&in, []byte("MSH|three"))
	in.Write([]byte{0x0b})
	in.WriteString("MSH|cut")
	fr := hl7.NewFrameReader(&in, 64)
	var got []string
	for {
		msg, raw, err := fr.Next()
		if err == io.EOF {
			break
		}
		switch {
		case errors.Is(err, hl7.ErrFrame):
			got = append(got, "bad:"+strings.SplitN(err.Error(), ": ", 3)[2][:8]+":"+fmt.Sprint(len(raw)))
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, string(msg))
		}
	}
	want := []string{"MSH|one", "bad:4 bytes :4", "MSH|two", "bad:larger t:64", "MSH|three", "bad:the stre:7"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("frames\n got %q\nwant %q", got, want)
	}
}

func TestAck(t *testing.T) {
	m, err := hl7.Parse(read(t, "a01.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	ack := hl7.Ack(m, "AE", "PID-7: not an HL7 date", time.Date(2026, 10, 15, 13, 30, 0, 0, time.UTC))
	am, err := hl7.Parse(ack)
	if err != nil {
		t.Fatalf("ack does not parse: %v\n%q", err, ack)
	}
	if am.Field("MSH", 3).String() != "LABTRUST" || am.Field("MSH", 5).String() != "EPIC" ||
		am.Field("MSH", 9).Comp(1) != "ACK" || am.Field("MSH", 9).Comp(2) != "A01" ||
		am.Field("MSA", 1).String() != "AE" || am.Field("MSA", 2).String() != "MSG00001" ||
		am.Field("MSA", 3).String() != "PID-7: not an HL7 date" {
		t.Fatalf("ack %q", ack)
	}
}

func TestNormalizeLanguage(t *testing.T) {
	for in, want := range map[string]string{"SPA": "es", "es-MX": "es", "en_US": "en", "English": "en", "vie": "vie", "": ""} {
		if got := labtrust.NormalizeLanguage(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"a01.hl7", "a04_latin1.hl7", "a40.hl7"} {
		f.Add(read(f, n))
	}
	f.Add([]byte("MSH|^~\\&|\\X4\\|\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := hl7.Parse(b)
		if err != nil {
			return
		}
		for _, s := range m.Segments {
			for n := 1; n < 40; n++ {
				fld := m.FieldOf(&s, n)
				for _, r := range fld.Reps() {
					for c := 1; c < 10; c++ {
						_ = r.Sub(c, 1)
						_ = r.Sub(c, 2)
					}
				}
				_ = fld.String()
			}
		}
		if r, err := hl7.Record(m, "x"); err == nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("Record returned an invalid record: %v", err)
			}
		}
		_ = hl7.Ack(m, "AA", "", time.Unix(0, 0))
	})
}

func FuzzParseStream(f *testing.F) {
	var framed bytes.Buffer
	hl7.WriteFrame(&framed, read(f, "a01.hl7"))
	f.Add(framed.Bytes())
	f.Add(append(read(f, "a01.hl7"), read(f, "a40.hl7")...))
	f.Add([]byte("\x0bMSH|\x1c\rjunk\x0b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c collect
		if err := hl7.ParseStream(context.Background(), "x", bytes.NewReader(b), &c); err != nil {
			return
		}
		// Nothing is lost: every byte that is not whitespace belongs to a
		// record or a reject.
		if len(bytes.TrimSpace(b)) > 0 && len(c.recs)+len(c.rejects) == 0 {
			t.Fatalf("input produced neither records nor rejects")
		}
	})
}

func BenchmarkParseADT(b *testing.B) {
	raw := read(b, "a01.hl7")
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		m, err := hl7.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := hl7.Record(m, "x"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "patients/s")
}

func TestServerAcknowledgesAfterTheSink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collect{}
	srv := &hl7.Server{Source: "epic", Sink: c}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	unsupported := []byte("MSH|^~\\&|A|B|C|D|202610011200||ADT^A03|CTL9|P|2.5\rPID|1||M1^^^LAB^MR\r")
	for _, m := range [][]byte{read(t, "a01.hl7"), unsupported, read(t, "a40.hl7")} {
		if err := hl7.WriteFrame(conn, m); err != nil {
			t.Fatal(err)
		}
	}
	fr := hl7.NewFrameReader(conn, 0)
	var acks []string
	for i := 0; i < 3; i++ {
		msg, _, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7.Parse(msg)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, m.Field("MSA", 1).String()+" "+m.Field("MSA", 2).String())
	}
	conn.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []string{"AA MSG00001", "AE CTL9", "AA MSG00003"}; !reflect.DeepEqual(acks, want) {
		t.Fatalf("acks %q, want %q", acks, want)
	}
	if len(c.recs) != 2 || len(c.rejects) != 1 || !strings.HasPrefix(c.rejects[0].Position, "message 2 from 127.0.0.1:") {
		t.Fatalf("%d records, rejects %+v", len(c.recs), c.rejects)
	}
}

func TestEncodeADTRoundTrip(t *testing.T) {
	p := labtrust.Patient{
		ID:        labtrust.PatientRef{System: "LAB", ID: "MRN|7^x"},
		OtherIDs:  []labtrust.PatientRef{{System: "EPIC", ID: "E1"}},
		SSN:       "123-45-6789",
		Name:      labtrust.HumanName{Family: "O'Brien & Sons", Given: []string{"Ana", "María"}, Prefix: "Dr."},
		BirthDate: "2012-02-29", Sex: "female",
		Addresses: []labtrust.Address{{Use: "home", Lines: []string{"1 Main St", "Apt 2"}, City: "Reno", State: "NV", PostalCode: "89501", Country: "USA"}},
		Phones:    []string{"775-555-0100"}, Emails: []string{"ana@example.org"}, Language: "es",
		Guardian: &labtrust.Contact{Name: labtrust.HumanName{Family: "O'Brien", Given: []string{"Rosa"}}, Relationship: "MTH", Phones: []string{"775-555-0101"},
			Address: &labtrust.Address{Use: "home", Lines: []string{"1 Main St"}, City: "Reno", State: "NV", PostalCode: "89501"}},
	}
	raw := hl7.EncodeADT(p, "A04", "C1", time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), nil)
	m, err := hl7.Parse(raw)
	if err != nil {
		t.Fatalf("%v\n%q", err, raw)
	}
	r, err := hl7.Record(m, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Patient, p) {
		t.Fatalf("round trip\n got %+v\nwant %+v", r.Patient, p)
	}
}
