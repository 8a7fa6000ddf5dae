package breach

import (
	"os"
	"strings"
	"testing"
)

// TestLawFiles loads every shipped law file through the strict parser.
func TestLawFiles(t *testing.T) {
	laws, err := LoadLaws(os.DirFS("."), "laws")
	if err != nil {
		t.Fatal(err)
	}
	if len(laws) == 0 {
		t.Fatal("no law files")
	}
	for _, c := range laws.Codes() {
		t.Logf("%s %s (%s)", c, laws[c].Name, laws[c].Statute)
	}
}

// TestLawLetterParagraphs: the states whose content rules name their
// Attorney General's contacts or a police report carry a paragraph for
// their residents' letters in both languages, and a file with only one
// language is refused.
func TestLawLetterParagraphs(t *testing.T) {
	laws, err := LoadLaws(os.DirFS("."), "laws")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{"MD": "marylandattorneygeneral.gov", "NC": "ncdoj.gov", "DC": "oag.dc.gov", "IA": "iowaattorneygeneral.gov",
		"OR": "doj.state.or.us", "RI": "police report", "MA": "police report", "NY": "dos.ny.gov"} {
		l := laws[code]
		if l == nil || !strings.Contains(l.Letter["en"], want) || l.Letter["es"] == "" {
			t.Errorf("%s: letter paragraph lacks %q: %v", code, want, l.Letter)
		}
	}
	if laws["TX"].Letter != nil {
		t.Error("Texas asks no paragraph of its own")
	}
	bad := *laws["MD"]
	bad.Letter = map[string]string{"en": "English only."}
	if err := bad.check(); err == nil || !strings.Contains(err.Error(), "Spanish") {
		t.Fatalf("a one-language paragraph: %v", err)
	}
}
