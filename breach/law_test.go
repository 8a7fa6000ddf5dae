package breach

import (
	"os"
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
