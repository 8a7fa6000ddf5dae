package demo

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/geo"
)

// labFile is the shape of lab.json.
type labFile struct {
	Config     Config  `json:"config"`
	ZoneOffset string  `json:"zoneOffset"` // lab-local clock used by schedules
	Sites      []Site  `json:"sites"`
	Staff      []Staff `json:"staff"`
}

// WriteLab writes lab.json (config, sites, staff), patients.csv (one row per
// patient, streamed), roster.ndjson (the staff as FHIR PractitionerRole),
// geoip.mmdb (where the demo's addresses are) and manifest.json into dir,
// which must exist.
func WriteLab(dir string, l *Lab) error {
	if err := writeFile(filepath.Join(dir, "lab.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(labFile{Config: l.cfg, ZoneOffset: "-05:00", Sites: l.Sites(), Staff: l.Staff()})
	}); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "patients.csv"), l.WritePatients); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "roster.ndjson"), l.WriteRoster); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "geoip.mmdb"), l.WriteGeoIP); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "manifest.json"), l.Manifest().WriteJSON)
}

func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demo: %w", cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		return fmt.Errorf("demo: write %s: %w", filepath.Base(path), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("demo: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

var patientHeader = []string{"mrn", "given", "family", "sex", "birth_date", "address", "city", "state",
	"postal_code", "phone", "email", "language", "minor", "guardian_name", "guardian_relationship",
	"guardian_phone", "deceased_date", "vip", "dormant", "staff_id", "home_site"}

// WritePatients writes all patients as CSV with a header row, one patient at
// a time.
func (l *Lab) WritePatients(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(patientHeader); err != nil {
		return err
	}
	row := make([]string, len(patientHeader))
	for i := range l.cfg.Patients {
		p := l.Patient(i)
		row = append(row[:0], p.MRN, p.Given, p.Family, p.Sex, p.BirthDate, p.Address.Line, p.Address.City,
			p.Address.State, p.Address.PostalCode, p.Phone, p.Email, p.Language, strconv.FormatBool(p.Minor))
		if g := p.Guardian; g != nil {
			row = append(row, g.Name, g.Relationship, g.Phone)
		} else {
			row = append(row, "", "", "")
		}
		row = append(row, p.DeceasedDate, strconv.FormatBool(p.VIP), strconv.FormatBool(p.Dormant), p.StaffID,
			l.sites[p.HomeSite].ID)
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("patient row %d: %w", i+1, err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteEvents streams the lab's events to w, one encoded record per line (a
// newline is added unless encode already ends its record with one), so an
// encoder producing FHIR JSON yields NDJSON. It stops at the first error from
// encode, w or ctx; encode errors name the event's position, never its
// content.
func WriteEvents(ctx context.Context, w io.Writer, l *Lab, encode func(labtrust.Event) ([]byte, error),
	progress func(done, total int64)) error {
	if encode == nil {
		return errors.New("demo: WriteEvents: nil encoder")
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var n int64
	err := l.Stream(ctx, func(ev labtrust.Event) error {
		n++
		b, err := encode(ev)
		if err != nil {
			return fmt.Errorf("encode event %d: %w", n, err)
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			return bw.WriteByte('\n')
		}
		return nil
	}, progress)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("demo: write events: %w", err)
	}
	return nil
}

// WriteRoster writes the staff as FHIR R4 PractitionerRole resources
// (NDJSON): each account's role, home site and weekly schedule in lab-local
// time (UTC-05:00), and, for staff who are patients, their MRN in the
// extension package roster reads.
func (l *Lab) WriteRoster(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	dayNames := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	for _, st := range l.Staff() {
		pr := map[string]any{
			"resourceType": "PractitionerRole",
			"id":           st.ID,
			"active":       true,
			"practitioner": map[string]any{"identifier": map[string]string{"system": "https://lab.example/staff", "value": st.ID}, "display": st.Name},
			"code":         []any{map[string]any{"coding": []any{map[string]string{"system": "https://labtrust.example/role", "code": string(st.Role)}}}},
			"location":     []any{map[string]any{"identifier": map[string]string{"value": l.sites[st.Site].ID}, "display": l.sites[st.Site].Name}},
		}
		var avail []any
		for _, sh := range st.Schedule {
			at := map[string]any{"daysOfWeek": []string{dayNames[sh.Day]}}
			if sh.Hours >= 24 {
				at["allDay"] = true
			} else {
				at["availableStartTime"] = fmt.Sprintf("%02d:00:00", sh.Start)
				at["availableEndTime"] = fmt.Sprintf("%02d:00:00", (sh.Start+sh.Hours)%24)
			}
			avail = append(avail, at)
		}
		if avail != nil {
			pr["availableTime"] = avail
		}
		if st.MRN != "" {
			pr["extension"] = []any{map[string]any{"url": "https://labtrust.example/fhir/StructureDefinition/staff-patient-mrn",
				"valueIdentifier": map[string]string{"system": MRNSystem, "value": st.MRN}}}
		}
		if err := enc.Encode(pr); err != nil {
			return err
		}
	}
	return nil
}

// siteCoordinates places the demo's site cities (latitude, longitude).
var siteCoordinates = map[string][2]float64{
	"Austin": {30.2672, -97.7431}, "Oklahoma City": {35.4676, -97.5164}, "Shreveport": {32.5252, -93.7502},
	"Albuquerque": {35.0844, -106.6504}, "Little Rock": {34.7465, -92.2896}, "Wichita": {37.6872, -97.3301},
}

// WriteGeoIP writes a MaxMind DB (City-shaped) for the demo's addresses:
// each site's subnet at its city, and the documentation ranges the planted
// anomalies use abroad (198.51.100.0/24 in Lagos, 203.0.113.0/24 in Kyiv).
func (l *Lab) WriteGeoIP(w io.Writer) error {
	var ranges []geo.Range
	for _, s := range l.Sites() {
		c, ok := siteCoordinates[s.City]
		if !ok {
			continue
		}
		p, err := netip.ParsePrefix(s.Subnet)
		if err != nil {
			return err
		}
		ranges = append(ranges, geo.Range{Prefix: p, Place: geo.Place{City: s.City, Country: "US", Lat: c[0], Lon: c[1]}})
	}
	ranges = append(ranges,
		geo.Range{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Place: geo.Place{City: "Lagos", Country: "NG", Lat: 6.5244, Lon: 3.3792}},
		geo.Range{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Place: geo.Place{City: "Kyiv", Country: "UA", Lat: 50.4501, Lon: 30.5234}})
	return geo.Write(w, ranges)
}
