package notice

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// batchOf renders letters into one batch PDF.
func batchOf(t testing.TB, f Fonts, letters ...*Letter) []byte {
	t.Helper()
	var buf bytes.Buffer
	bf, err := NewBatchFonts(f)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(&buf, bf)
	for _, l := range letters {
		if err := b.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBatch: a mail-house batch holds each letter in order with the same
// text as the single-letter PDF, names outside Latin-1 print, every page
// names its notice code, and pdfcpu finds the file valid.
func TestBatch(t *testing.T) {
	for _, f := range []struct {
		name  string
		fonts Fonts
	}{{"go", goFonts()}, {"default", DefaultFonts()}} {
		t.Run(f.name, func(t *testing.T) {
			var letters []*Letter
			for i, who := range []string{"Łukasz Núñez-Ørsted", "Σοφία Παπαδοπούλου", "Иван Петров", "Rosa García"} {
				l := sample([]string{"en", "es"}[i%2])
				l.Recipient = who
				l.Code = fmt.Sprintf("7K3D-9QMX-2HF%d", i)
				l.Address = []string{fmt.Sprintf("%d Elm St", 10+i), "Austin, TX 78701"}
				if i == 3 {
					l.Monitoring = nil
				} else {
					l.Monitoring.Code = fmt.Sprintf("CW-123%d", i)
				}
				letters = append(letters, l)
			}
			pdf := batchOf(t, f.fonts, letters...)
			if err := api.Validate(bytes.NewReader(pdf), model.NewDefaultConfiguration()); err != nil {
				t.Fatalf("pdfcpu: %v", err)
			}
			txt := pdfText(t, pdf)
			last := -1
			for i, l := range letters {
				greet := "Dear " + l.Recipient + ","
				if l.Language == "es" {
					greet = "Estimado/a " + l.Recipient + ":"
				}
				at := strings.Index(txt, greet)
				if at < 0 || at < last {
					t.Fatalf("letter %d (%q) missing or out of order in:\n%s", i, greet, txt)
				}
				last = at
				// The person's own lines, each in their letter only (letters
				// of a kind share a template with placeholders).
				own := []string{fmt.Sprintf("%d Elm St", 10+i)}
				if l.Monitoring != nil {
					own = append(own, l.Monitoring.Code+" ")
				}
				for _, o := range own {
					if n := strings.Count(txt, o); n != 1 {
						t.Fatalf("letter %d: %q printed %d times", i, o, n)
					}
					if j := strings.Index(txt, o); j < strings.Index(txt, l.Recipient) || (i+1 < len(letters) && j > strings.Index(txt, letters[i+1].Recipient)) {
						t.Fatalf("letter %d: %q printed outside its letter", i, o)
					}
				}
			}
			// The single-letter PDF's text, sentence for sentence.
			for _, l := range letters[:2] {
				for _, s := range l.Sections() {
					for _, p := range append(append([]string{s.Heading}, s.Body...), s.Items...) {
						if p != "" && !strings.Contains(txt, strings.Join(strings.Fields(p), " ")) {
							t.Fatalf("batch lacks %q", p)
						}
					}
				}
			}
			if !strings.Contains(txt, "Aviso de una violación de datos") || !strings.Contains(txt, "CW-1231") {
				t.Fatal("Spanish title or monitoring code missing")
			}
			pages := regexp.MustCompile(`(?:Your notice code|Su código de aviso) 7K3D-9QMX-2HF(\d) · (\d)/(\d)`).FindAllStringSubmatch(txt, -1)
			if len(pages) < len(letters) {
				t.Fatalf("page footers: %v", pages)
			}
			for _, p := range pages {
				if p[2] > p[3] {
					t.Fatalf("footer %v", p)
				}
			}
			if bin, err := exec.LookPath("pdfinfo"); err == nil {
				p := filepath.Join(t.TempDir(), "b.pdf")
				os.WriteFile(p, pdf, 0o600)
				out, err := exec.Command(bin, p).CombinedOutput()
				if err != nil || !regexp.MustCompile(fmt.Sprintf(`Pages:\s+%d\n`, len(pages))).Match(out) {
					t.Fatalf("pdfinfo: %v %s (want %d pages)", err, out, len(pages))
				}
			}
		})
	}
}

// BenchmarkLetters: a batch letter against the single-letter PDF
// (maroto), same letter, same run.
func BenchmarkLetters(b *testing.B) {
	f := DefaultFonts()
	b.Run("maroto", func(b *testing.B) {
		l := sample("en")
		for b.Loop() {
			if _, err := l.PDF(f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batch", func(b *testing.B) {
		const per = 5000 // the mail-house default
		var size int
		bf, err := NewBatchFonts(f)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			var cw countWriter
			bt := NewBatch(&cw, bf)
			for i := 0; i < per; i++ {
				l := sample([]string{"en", "es"}[i%2])
				l.Code = fmt.Sprintf("7K3D-9QMX-%04d", i)
				l.Recipient = fmt.Sprintf("Rosa García %d", i)
				l.Monitoring.Code = fmt.Sprintf("CW-%06d", i)
				bt.Add(l)
			}
			bt.Close()
			size = int(cw)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per)/1000, "µs/letter")
		b.ReportMetric(float64(size)/per, "B/letter")
	})
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// TestBatchRuns: letters of one kind set their template's paragraphs as a
// few runs (Form XObjects made on a run's second use), not a placement per
// paragraph; the text is the same whatever the person's address makes of
// the page breaks, down to a letter with no address lines at all.
func TestBatchRuns(t *testing.T) {
	var letters []*Letter
	for i := range 12 {
		l := sample("en")
		l.Recipient = fmt.Sprintf("Rosa García %02d", i)
		l.Code = fmt.Sprintf("7K3D-9QMX-%04d", i)
		l.Monitoring.Code = fmt.Sprintf("CW-%06d", i)
		l.Address = []string{fmt.Sprintf("%d Elm St", 10+i), "Austin, TX 78701"}
		switch i {
		case 5:
			l.Address = append(l.Address, "Apt 4")
		case 8:
			l.Address = nil
		}
		letters = append(letters, l)
	}
	pdf := batchOf(t, goFonts(), letters...)
	if err := api.Validate(bytes.NewReader(pdf), model.NewDefaultConfiguration()); err != nil {
		t.Fatalf("pdfcpu: %v", err)
	}
	// Page content streams are the ones written without a filter.
	streams := regexp.MustCompile(`(?s)<< /Length \d+>>\nstream\n(.*?)\nendstream`).FindAllSubmatch(pdf, -1)
	if len(streams) < len(letters) {
		t.Fatalf("%d page streams for %d letters", len(streams), len(letters))
	}
	for i, s := range streams[len(streams)/2:] {
		if n := bytes.Count(s[1], []byte(" Do Q")); n > 6 {
			t.Fatalf("page %d of the second half places %d forms; want the template's few runs", len(streams)/2+i, n)
		}
	}
	txt := strings.Join(strings.Fields(pdfText(t, pdf)), " ")
	for i, l := range letters {
		start := strings.Index(txt, "Dear "+l.Recipient+",")
		end := len(txt)
		if i+1 < len(letters) {
			end = strings.Index(txt, "Dear "+letters[i+1].Recipient+",")
		}
		if start < 0 || end < start {
			t.Fatalf("letter %d missing or out of order", i)
		}
		own := txt[start:end]
		for _, s := range l.Sections() {
			for _, p := range append(append([]string{s.Heading}, s.Body...), s.Items...) {
				if p = strings.Join(strings.Fields(p), " "); p != "" && !strings.Contains(own, p) {
					t.Fatalf("letter %d lacks %q", i, p)
				}
			}
		}
		if !strings.Contains(own, l.Monitoring.Code) {
			t.Fatalf("letter %d lacks its monitoring code", i)
		}
	}
}
