package notice_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
)

// TestPrepareWholeRegistry: a scope of everyone, prepared with one read
// of the whole registry beside it, gives the same notices as reading each
// person's row, when the registry changed after the scope: someone moved,
// joined, was forgotten or merged into another record, and the scope also
// holds someone only the ledger knew.
func TestPrepareWholeRegistry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, keys, reg := openLab(t, dsn, t.TempDir())
		pt := func(i int, city string) labtrust.PatientRecord {
			p := labtrust.Patient{ID: labtrust.PatientRef{ID: fmt.Sprintf("M%03d", i)}, Name: labtrust.HumanName{Family: fmt.Sprintf("Fam%d", i), Given: []string{"Ana"}},
				BirthDate: "1980-02-03"}
			if i%4 == 0 {
				p.Language = "es"
			}
			if i%5 != 0 {
				p.Addresses = []labtrust.Address{{Lines: []string{fmt.Sprintf("%d Oak Ave", i)}, City: city, State: "TX", PostalCode: "79901"}}
			}
			return labtrust.PatientRecord{Source: "adt", Time: time.Now(), Patient: p}
		}
		var recs []labtrust.PatientRecord
		for i := range 60 {
			recs = append(recs, pt(i, "El Paso"))
		}
		if err := reg.Import(ctx, recs); err != nil {
			t.Fatal(err)
		}
		scoper := &breach.Scoper{Events: db, Keys: keys, Blind: keys.Blind, Patients: reg}
		ins := []breach.Indicator{{Kind: breach.IndicatorRegistry, Elements: []breach.Element{breach.ElementName, breach.ElementAddress}}}
		sc, err := scoper.Compute(ctx, ins, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Patients) != 60 || !breach.CoversRegistry(sc.Indicators) {
			t.Fatalf("scope of %d", len(sc.Patients))
		}
		// Someone the ledger alone knew, in blind-index order.
		ghost := breach.Affected{MRN: "GHOST", Blind: keys.Blind("GHOST"), Elements: []breach.Element{breach.ElementName}}
		sc.Patients = append(sc.Patients, ghost)
		slices.SortFunc(sc.Patients, func(a, b breach.Affected) int { return bytes.Compare(a.Blind, b.Blind) })
		// The registry after the scope.
		moved := pt(7, "Austin")
		merged := pt(12, "El Paso")
		merged.MergedFrom = &labtrust.PatientRef{ID: "M013"}
		if err := reg.Import(ctx, []labtrust.PatientRecord{moved, pt(100, "Dallas"), merged}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Forget(ctx, "M021"); err != nil {
			t.Fatal(err)
		}
		counted := &countingRegistry{Registry: reg}
		s := notice.NewService(db, keys, keys.Blind, counted, nil)
		read := func(incident int64, whole bool) (notice.Prepared, map[string]notice.Record) {
			counted.rows.Store(0)
			src := notice.ScopeSource{Each: func(fn func([]breach.Affected) error) error {
				// In parts, as a stored scope is read.
				for start := 0; start < len(sc.Patients); start += 7 {
					if err := fn(sc.Patients[start:min(start+7, len(sc.Patients))]); err != nil {
						return err
					}
				}
				return nil
			}, Total: len(sc.Patients), WholeRegistry: whole}
			p, err := s.PrepareFrom(ctx, incident, src, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]notice.Record{}
			if err := db.Notices(ctx, incident, func(r store.NoticeRow) error {
				rec, err := s.Open(r)
				if err != nil {
					return err
				}
				rec.Code = ""
				out[rec.MRN] = *rec
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return p, out
		}
		pOne, one := read(1, false)
		if counted.rows.Load() != 61 {
			t.Fatalf("one row at a time read %d rows, want everyone's", counted.rows.Load())
		}
		pAll, all := read(2, true)
		if counted.rows.Load() != 3 {
			t.Fatalf("with the whole registry, %d rows were read one at a time; want the merged, the forgotten and the ghost", counted.rows.Load())
		}
		if pOne != pAll || len(all) != 61 {
			t.Fatalf("prepared one row at a time %+v, with the whole registry %+v (%d notices)", pOne, pAll, len(all))
		}
		if !reflect.DeepEqual(one, all) {
			for mrn := range one {
				if !reflect.DeepEqual(one[mrn], all[mrn]) {
					t.Errorf("%s: one row at a time %+v, whole registry %+v", mrn, one[mrn], all[mrn])
				}
			}
		}
		if a := all["M007"].Address; len(a) != 2 || a[1] != "Austin, TX 79901" {
			t.Errorf("the moved patient's letter goes to %q", a)
		}
		if all["M013"].Name != "Ana Fam12" || all["M021"].Name != "" || all["GHOST"].Name != "" || pAll.Unregistered != 2 {
			t.Errorf("merged %+v, forgotten %+v, ghost %+v, unregistered %d", all["M013"], all["M021"], all["GHOST"], pAll.Unregistered)
		}
	})
}

// countingRegistry counts the people read a row at a time.
type countingRegistry struct {
	*registry.Registry
	rows atomic.Int64
}

func (c *countingRegistry) GetIDs(ctx context.Context, ids []int64) (map[int64]*registry.Entry, error) {
	c.rows.Add(int64(len(ids)))
	return c.Registry.GetIDs(ctx, ids)
}

func (c *countingRegistry) GetMany(ctx context.Context, mrns []string) (map[string]*registry.Entry, error) {
	c.rows.Add(int64(len(mrns)))
	return c.Registry.GetMany(ctx, mrns)
}
