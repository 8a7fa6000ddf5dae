package notice

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust/breach"
)

func sample(language string) *Letter {
	d := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	return &Letter{Language: language, Code: "7K3D-9QMX-2HFA", Date: d.AddDate(0, 1, 0), Recipient: "Łukasz Núñez-Ørsted",
		Address: []string{"12 Elm St", "Austin, TX 78701"},
		Lab: Lab{Name: "Valley Clinical Laboratory", Address: []string{"1 Lab Way", "Austin, TX 78702"}, TollFree: "1-800-555-0100",
			Email: "privacy@valleylab.example", PortalURL: "https://trust.valleylab.example"},
		What: "An employee's account exported patient records at night without a work reason.", From: d, To: d,
		Discovered: d.AddDate(0, 0, 8), Elements: []breach.Element{breach.ElementName, breach.ElementDOB, breach.ElementResults},
		Doing:      "We disabled the account, reported it to law enforcement and added alerts for bulk exports.",
		Monitoring: &Monitoring{Vendor: "CreditWatch", Months: 24, Code: "CW-1234", URL: "https://creditwatch.example/enrol", EnrolBy: d.AddDate(0, 4, 0)}}
}

// pdfText extracts a PDF's text with poppler's pdftotext, so the test
// reads the letter as a person's tools would.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("LABTRUST_REQUIRE_CHROMIUM") != "" { // CI installs poppler-utils with chromium
			t.Fatal("pdftotext (poppler-utils) is required here")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	p := filepath.Join(t.TempDir(), "l.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// TestLetterContent checks each language's letter carries what 45 CFR
// 164.404(c) requires, and that a name outside Latin-1 prints.
func TestLetterContent(t *testing.T) {
	for _, c := range []struct {
		lang string
		want []string
	}{
		{"en", []string{"Notice of a data breach", "Your notice code: 7K3D-9QMX-2HFA", "Dear Łukasz Núñez-Ørsted,",
			"What happened", "The breach happened on October 5, 2026. We discovered it on October 13, 2026.",
			"your laboratory test results", "your date of birth", "What we are doing", "We disabled the account",
			"24 months of credit monitoring from CreditWatch", "CW-1234", "1-800-555-0100", "https://trust.valleylab.example",
			"Equifax: 1-800-685-1111", "www.identitytheft.gov"}},
		{"es", []string{"Aviso de una violación de datos", "Su código de aviso: 7K3D-9QMX-2HFA", "Estimado/a Łukasz Núñez-Ørsted:",
			"Qué pasó", "La violación ocurrió el 5 de octubre de 2026. La descubrimos el 13 de octubre de 2026.",
			"sus resultados de laboratorio", "Qué estamos haciendo", "meses de monitoreo de crédito", "TransUnion: 1-888-909-8872"}},
	} {
		pdf, err := sample(c.lang).PDF(DefaultFonts())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatal("not a PDF")
		}
		got := pdfText(t, pdf)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s letter lacks %q:\n%s", c.lang, w, got)
			}
		}
	}
	// With the Go fonts built in (no DejaVu on the machine) the name still prints.
	pdf, err := sample("en").PDF(Fonts{Regular: goFonts().Regular, Bold: goFonts().Bold})
	if err != nil {
		t.Fatal(err)
	}
	if got := pdfText(t, pdf); !strings.Contains(got, "Łukasz Núñez-Ørsted") {
		t.Errorf("built-in fonts: %s", got)
	}
	// A minor's letter goes to the parent or guardian.
	l := sample("en")
	l.Minor = true
	if s := l.Sections()[0].Body[0]; s != "To the parent or guardian of Łukasz Núñez-Ørsted," {
		t.Errorf("minor: %q", s)
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c, err := NewCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 14 || c[4] != '-' || c[9] != '-' || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		if n, err := NormalizeCode(strings.ToLower(strings.ReplaceAll(c, "-", " "))); err != nil || n != c {
			t.Fatalf("normalize %q: %q %v", c, n, err)
		}
	}
	if n, err := NormalizeCode("7k3d 9qmx 2hfo"); err != nil || n != "7K3D-9QMX-2HF0" {
		t.Fatalf("O for 0: %q %v", n, err)
	}
	for _, bad := range []string{"", "7K3D-9QMX", "7K3D-9QMX-2HFA-1", "7K3D-9QMX-2HF!", "ÑK3D-9QMX-2HFA"} {
		if _, err := NormalizeCode(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzNormalizeCode: whatever is typed, a code either normalizes to the
// canonical shape (and normalizing again changes nothing) or is refused.
func FuzzNormalizeCode(f *testing.F) {
	f.Add("7k3d 9qmx 2hfo")
	f.Add("7K3D-9QMX-2HFA")
	f.Add("ÑK3D")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := NormalizeCode(s)
		if err != nil {
			return
		}
		if len(c) != 14 || c[4] != '-' || c[9] != '-' {
			t.Fatalf("%q → %q", s, c)
		}
		if again, err := NormalizeCode(c); err != nil || again != c {
			t.Fatalf("not stable: %q → %q → %q %v", s, c, again, err)
		}
	})
}

// TestLetterForState: a Maryland resident's letter carries Maryland's
// paragraph (its Attorney General's contacts) in their language, in the
// PDF and the batch; a Texan's carries none.
func TestLetterForState(t *testing.T) {
	laws, err := breach.BuiltinLaws()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ lang, heading string }{{"en", "Information for residents of Maryland"}, {"es", "Información para residentes de Maryland"}} {
		l := sample(c.lang)
		l.ForState(laws, "md")
		pdf, err := l.PDF(DefaultFonts())
		if err != nil {
			t.Fatal(err)
		}
		for name, txt := range map[string]string{"letter": pdfText(t, pdf), "batch": pdfText(t, batchOf(t, DefaultFonts(), l))} {
			if !strings.Contains(txt, c.heading) || !strings.Contains(txt, "www.marylandattorneygeneral.gov") {
				t.Fatalf("%s (%s) lacks Maryland's paragraph:\n%s", name, c.lang, txt)
			}
		}
	}
	tx := sample("en")
	tx.ForState(laws, "TX")
	for _, s := range tx.Sections() {
		if strings.HasPrefix(s.Heading, "Information for residents") {
			t.Fatal("a Texas letter has a state paragraph")
		}
	}
}
