package registry

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/labtrust/labtrust"
)

// CSVFormat is the Reject.Format of patient CSV rejects (not "csv", which
// is the event CSV parser's).
const CSVFormat = "csv-patient"

// CSVColumns are the header names ParseCSV reads (case-insensitive; others
// are ignored): the demo's patients.csv has them.
var CSVColumns = []string{"mrn", "mrn_system", "given", "family", "sex", "birth_date", "address", "city", "state",
	"postal_code", "country", "phone", "email", "language", "ssn", "guardian_name", "guardian_relationship", "guardian_phone", "deceased_date", "vip"}

// ParseCSV reads patients from a CSV export with a header row naming
// CSVColumns (mrn is required) and hands each row to sink: a record, or a
// reject whose Raw is the header and the row.
func ParseCSV(ctx context.Context, source string, r io.Reader, sink labtrust.PatientSink) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return sink.Reject(ctx, labtrust.Reject{Source: source, Format: CSVFormat, Position: "line 1", Reason: "header: " + csvReason(err)})
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	if _, ok := col["mrn"]; !ok {
		return sink.Reject(ctx, labtrust.Reject{Source: source, Format: CSVFormat, Position: "line 1", Reason: `header: no "mrn" column`, Raw: encodeRow(header)})
	}
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("registry: read CSV: %w", err)
			}
			if err := sink.Reject(ctx, labtrust.Reject{Source: source, Format: CSVFormat, Position: "line " + strconv.Itoa(pe.Line), Reason: csvReason(err), Raw: encodeRow(header)}); err != nil {
				return err
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		pos := "line " + strconv.Itoa(line)
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		rec := labtrust.PatientRecord{Source: source, Trigger: "csv", ControlID: pos}
		p := &rec.Patient
		p.ID = labtrust.PatientRef{System: get("mrn_system"), ID: get("mrn")}
		p.Name = labtrust.HumanName{Family: get("family")}
		if g := get("given"); g != "" {
			p.Name.Given = strings.Fields(g)
		}
		p.Sex, p.BirthDate, p.SSN, p.Language = get("sex"), get("birth_date"), get("ssn"), labtrust.NormalizeLanguage(get("language"))
		if a := get("address"); a != "" || get("city") != "" || get("state") != "" {
			addr := labtrust.Address{Use: "home", City: get("city"), State: strings.ToUpper(get("state")), PostalCode: get("postal_code"), Country: get("country")}
			if a != "" {
				addr.Lines = []string{a}
			}
			p.Addresses = []labtrust.Address{addr}
		}
		if ph := get("phone"); ph != "" {
			p.Phones = []string{ph}
		}
		if em := get("email"); em != "" {
			p.Emails = []string{em}
		}
		if gn := get("guardian_name"); gn != "" {
			given, family, _ := strings.Cut(gn, " ")
			rel := map[string]string{"mother": "MTH", "father": "FTH", "guardian": "GRD", "parent": "PAR"}[strings.ToLower(get("guardian_relationship"))]
			if rel == "" {
				rel = strings.ToUpper(get("guardian_relationship"))
			}
			p.Guardian = &labtrust.Contact{Name: labtrust.HumanName{Family: family, Given: []string{given}}, Relationship: rel}
			if gp := get("guardian_phone"); gp != "" {
				p.Guardian.Phones = []string{gp}
			}
		}
		if d := get("deceased_date"); d != "" {
			p.Deceased, p.DeceasedAt = true, d
		}
		switch strings.ToLower(get("vip")) {
		case "true", "yes", "y", "1", "vip":
			p.VIP = true
		}
		var sinkErr error
		if err := rec.Validate(); err != nil {
			sinkErr = sink.Reject(ctx, labtrust.Reject{Source: source, Format: CSVFormat, Position: pos, Reason: err.Error(), Raw: append(encodeRow(header), encodeRow(row)...)})
		} else {
			sinkErr = sink.Patient(ctx, rec)
		}
		if sinkErr != nil {
			return sinkErr
		}
	}
}

func encodeRow(row []string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(row)
	w.Flush()
	return b.Bytes()
}

// csvReason describes a CSV error by position, without quoting the input.
func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("column %d: %v", pe.Column, pe.Err)
	}
	return "unreadable CSV"
}
