package notice_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
)

// TestMailHouse: 25 letters in batches of 10 on two workers make three
// PDFs and a CSV in notice order; each letter has its own monitoring
// code, kept on a second export; a short pool stops the export.
func TestMailHouse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, keys, reg := openLab(t, dsn, t.TempDir())
		var recs []labtrust.PatientRecord
		sc := &breach.Scope{}
		for i := range 25 {
			mrn := fmt.Sprintf("M%02d", i)
			lang := []string{"en", "es"}[i%2]
			recs = append(recs, labtrust.PatientRecord{Source: "adt", Time: time.Now(), Patient: labtrust.Patient{ID: labtrust.PatientRef{ID: mrn},
				Name: labtrust.HumanName{Family: fmt.Sprintf("Núñez%02d", i), Given: []string{"Ana"}}, BirthDate: "1980-02-03", Language: lang,
				Addresses: []labtrust.Address{{Lines: []string{"5 Oak Ave"}, City: "El Paso", State: "TX", PostalCode: "79901"}}}})
			sc.Patients = append(sc.Patients, breach.Affected{MRN: mrn, Blind: keys.Blind(mrn), Elements: []breach.Element{breach.ElementName, breach.ElementResults}})
		}
		if err := reg.Import(ctx, recs); err != nil {
			t.Fatal(err)
		}
		s := notice.NewService(db, keys, keys.Blind, reg, nil)
		if _, err := s.Prepare(ctx, 1, sc, nil); err != nil {
			t.Fatal(err)
		}
		var codes []string
		for i := range 24 {
			codes = append(codes, fmt.Sprintf("CW-%04d", i))
		}
		s.AddMonitoringCodes(ctx, 1, codes)
		fonts, err := notice.NewBatchFonts(notice.DefaultFonts())
		if err != nil {
			t.Fatal(err)
		}
		mh := &notice.MailHouse{Service: s, Rows: db.Notices, Lab: notice.Lab{Name: "Valley Lab", TollFree: "1-800-555-0100"},
			Texts:      map[string]notice.Text{"en": {What: "An export.", Doing: "We stopped it."}, "es": {What: "Una exportación.", Doing: "La detuvimos."}},
			Discovered: time.Date(2026, 10, 9, 0, 0, 0, 0, time.UTC), Date: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
			Monitoring: &notice.Monitoring{Vendor: "CreditWatch", Months: 24, URL: "https://cw.example", EnrolBy: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
			Fonts:      fonts, Batch: 10, Workers: 2}
		dir := t.TempDir()
		// 24 codes for 25 letters: the batch that runs out stops the export.
		if _, err := mh.Write(ctx, 1, dir); !errors.Is(err, store.ErrPoolEmpty) {
			t.Fatalf("short pool: %v", err)
		}
		s.AddMonitoringCodes(ctx, 1, []string{"CW-LAST"})
		w, err := mh.Write(ctx, 1, dir)
		if err != nil || w.Letters != 25 || w.Files != 3 || w.Pages < 25 {
			t.Fatalf("write: %+v %v", w, err)
		}
		read := func() [][]string {
			f, _ := os.Open(filepath.Join(dir, "mailhouse.csv"))
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		rows := read()
		if len(rows) != 26 || rows[0][0] != "notice_code" {
			t.Fatalf("csv: %d rows", len(rows))
		}
		var want []string
		db.Notices(ctx, 1, func(r store.NoticeRow) error {
			rec, _ := s.Open(r)
			want = append(want, rec.Code)
			return nil
		})
		for i, r := range rows[1:] {
			if r[0] != want[i] || r[6] != fmt.Sprintf("letters-%05d.pdf", i/10+1) || r[7] != fmt.Sprint(i%10+1) {
				t.Fatalf("csv row %d %v: want code %s in file %d", i, r, want[i], i/10+1)
			}
		}
		// Each letter's own monitoring code, in its batch.
		given := map[string]string{}
		if _, err := exec.LookPath("pdftotext"); err == nil {
			for f := 1; f <= 3; f++ {
				out, err := exec.Command("pdftotext", "-enc", "UTF-8", filepath.Join(dir, fmt.Sprintf("letters-%05d.pdf", f)), "-").Output()
				if err != nil {
					t.Fatal(err)
				}
				txt := strings.Join(strings.Fields(string(out)), " ")
				for _, r := range rows[1:] {
					if r[6] != fmt.Sprintf("letters-%05d.pdf", f) {
						continue
					}
					at := strings.Index(txt, r[0]+" ")
					if at < 0 {
						t.Fatalf("letter %s not in file %d", r[0], f)
					}
					i := strings.Index(txt[at:], "CW-")
					code := txt[at+i : at+i+7]
					if prev, dup := given[code]; dup {
						t.Fatalf("code %s given to %s and %s", code, prev, r[0])
					}
					given[code] = r[0]
				}
			}
			if len(given) != 25 {
				t.Fatalf("%d monitoring codes printed", len(given))
			}
		}
		// Exporting again keeps everyone's code.
		if _, err := mh.Write(ctx, 1, dir); err != nil {
			t.Fatalf("second export: %v", err)
		}
		if total, alloc, _, _ := db.MonitoringCounts(ctx, 1); total != 25 || alloc != 25 {
			t.Fatalf("pool after two exports: %d %d", total, alloc)
		}
	})
}
