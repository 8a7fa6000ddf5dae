package explain_test

import (
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/explain"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func access(i int, min int, actor, mrn string, action labtrust.Action, objs ...labtrust.Object) labtrust.Entry {
	return labtrust.Entry{Index: uint64(i), Event: labtrust.Event{Time: t0.Add(time.Duration(min) * time.Minute), Source: "lis", Kind: labtrust.KindAccess,
		Action: action, Actor: labtrust.Actor{ID: actor, Role: "lab-tech", Site: "north"}, Patients: []labtrust.PatientRef{{ID: mrn}}, Objects: objs}}
}

var (
	order    = labtrust.Object{Type: "ServiceRequest", ID: "SR-1", Role: "order"}
	specimen = labtrust.Object{Type: "Specimen", ID: "SP-1", Role: "specimen"}
)

func run(x *explain.Explainer, es ...labtrust.Entry) []explain.Unexplained {
	var out []explain.Unexplained
	for i := range es {
		if a, ok := x.Summarize(&es[i]); ok {
			out = append(out, x.Observe(a)...)
		}
	}
	return out
}

func TestOrdersExplain(t *testing.T) {
	x := explain.New()
	got := run(x,
		access(0, 0, "desk", "P1", labtrust.ActionExecute, order), // looked up before the order exists
		access(1, 2, "desk", "P1", labtrust.ActionCreate, order),  // the order
		access(2, 30, "phleb", "P1", labtrust.ActionCreate, order, specimen),
		access(3, 90, "tech", "P1", labtrust.ActionRead, specimen),  // the specimen alone
		access(4, 100, "snoop", "P2", labtrust.ActionRead, order),   // P1's order, P2's record
		access(5, 110, "snoop", "P3", labtrust.ActionRead),          // nothing at all
		access(6, 400, "billing", "P1", labtrust.ActionRead, order), // hours later
	)
	got = append(got, x.Flush()...)
	st := x.Stats()
	if st.Accesses != 7 || st.Explained != 5 || st.Unexplained != 2 || len(got) != 2 {
		t.Fatalf("stats %+v, unexplained %+v", st, got)
	}
	if got[0].Index != 4 || got[0].Why != "it names an order that is not the patient's or that no one created" ||
		got[1].Index != 5 || got[1].Why != "no order, specimen or result links the account to the patient" {
		t.Fatalf("unexplained %+v", got)
	}
	if st.ByReason["part of an order for the patient (created after the access)"] != 1 || st.ByReason["a specimen or report of an order for the patient"] != 1 {
		t.Fatalf("reasons %+v", st.ByReason)
	}
}

func TestGraceAndLife(t *testing.T) {
	x := explain.New()
	x.Grace, x.OrderLife = 10*time.Minute, 24*time.Hour
	// An access waits the grace period: an unrelated later event moves
	// time on, and it comes out unexplained without a Flush.
	got := run(x, access(0, 0, "a", "P1", labtrust.ActionRead), access(1, 11, "b", "P9", labtrust.ActionCreate, labtrust.Object{Type: "ServiceRequest", ID: "SR-9"}))
	if len(got) != 1 || got[0].Index != 0 {
		t.Fatalf("after the grace period: %+v", got)
	}
	// An order older than its life explains nothing.
	got = run(x, access(2, 2*24*60, "c", "P9", labtrust.ActionRead, labtrust.Object{Type: "ServiceRequest", ID: "SR-9"}))
	got = append(got, x.Flush()...)
	if len(got) != 1 || got[0].Index != 2 {
		t.Fatalf("an expired order explained an access: %+v", got)
	}
	// Security events and accesses without patients are not accesses.
	e := access(3, 0, "a", "P1", labtrust.ActionRead)
	e.Event.Kind = labtrust.KindSecurity
	if _, ok := x.Summarize(&e); ok {
		t.Fatal("a security event was summarized")
	}
}
