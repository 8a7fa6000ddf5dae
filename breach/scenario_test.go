package breach

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// scenario is one check of a jurisdiction's law, written from the statute
// (the provision in Cite), independently of the law file it runs against.
type scenario struct {
	Name      string    `yaml:"name"`
	Cite      string    `yaml:"cite"`
	Residents int       `yaml:"residents"`
	Elements  []Element `yaml:"elements"`
	HIPAA     bool      `yaml:"hipaa"`
	Expect    struct {
		Individuals    string `yaml:"individuals"` // owed, deemed, none
		IndividualDays int    `yaml:"individual_days"`
		Regulator      bool   `yaml:"regulator"`
		RegulatorDays  int    `yaml:"regulator_days"`
		CRA            bool   `yaml:"cra"`
	} `yaml:"expect"`
}

// TestJurisdictionScenarios runs every jurisdiction's scenarios through
// the obligations engine with the shipped laws: each of the 54
// jurisdictions must have at least one, and each cites its provision.
func TestJurisdictionScenarios(t *testing.T) {
	laws, err := BuiltinLaws()
	if err != nil {
		t.Fatal(err)
	}
	if m := laws.Missing(); len(m) > 0 {
		t.Errorf("no law file for %v", m)
	}
	discovered := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, code := range Jurisdictions {
		b, err := os.ReadFile(filepath.Join("testdata", "scenarios", code+".yaml"))
		if err != nil {
			t.Errorf("%s: no scenarios: %v", code, err)
			continue
		}
		var scs []scenario
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&scs); err != nil {
			t.Errorf("%s: scenarios: %v", code, err)
			continue
		}
		if len(scs) == 0 {
			t.Errorf("%s: no scenarios", code)
		}
		law := laws[code]
		if law == nil {
			continue
		}
		for _, sc := range scs {
			t.Run(code+"/"+sc.Name, func(t *testing.T) {
				if sc.Cite == "" {
					t.Fatal("a scenario cites the provision it checks")
				}
				entity := EntityOther
				if sc.HIPAA {
					entity = EntityCoveredEntity
				}
				ps := make([]Affected, sc.Residents)
				for i := range ps {
					ps[i] = Affected{MRN: fmt.Sprint(i), State: code, Elements: sc.Elements, HasAddress: true}
				}
				obs := Obligations(Situation{Discovered: discovered, Entity: entity, Assessed: true, NoticeOwed: true, Patients: ps}, laws)
				by := map[string]Obligation{}
				for _, o := range obs {
					by[o.Key] = o
				}
				pre := "state/" + code + "/"
				got := "none"
				ind, owed := by[pre+"individuals"]
				switch {
				case owed && ind.Status == StatusOwed:
					got = "owed"
				case by[pre+"individuals-hipaa"].Status == StatusDeemed:
					got = "deemed"
				}
				if got != sc.Expect.Individuals {
					t.Fatalf("individuals %s, want %s (%s)", got, sc.Expect.Individuals, sc.Cite)
				}
				if got == "owed" {
					want := sc.Expect.IndividualDays
					if sc.HIPAA && (want == 0 || want > 60) {
						want = 60 // HIPAA's outer limit binds a covered entity
					}
					if g := dayCount(discovered, ind.Due); g != want {
						t.Errorf("individual notice due after %d days, want %d (%s)", g, want, sc.Cite)
					}
				}
				reg, hasReg := by[pre+"regulator"]
				if hasReg != sc.Expect.Regulator {
					t.Errorf("regulator notice %v, want %v (%s)", hasReg, sc.Expect.Regulator, sc.Cite)
				}
				if hasReg && sc.Expect.Regulator && sc.Expect.RegulatorDays > 0 {
					if g := dayCount(discovered, reg.Due); g != sc.Expect.RegulatorDays {
						t.Errorf("regulator notice due after %d days, want %d (%s)", g, sc.Expect.RegulatorDays, sc.Cite)
					}
				}
				if _, cra := by[pre+"cra"]; cra != sc.Expect.CRA {
					t.Errorf("consumer reporting agency notice %v, want %v (%s)", cra, sc.Expect.CRA, sc.Cite)
				}
			})
		}
	}
}

func dayCount(from, to time.Time) int {
	if to.IsZero() {
		return 0
	}
	return int(to.Sub(from).Hours() / 24)
}

func mustDate(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}
