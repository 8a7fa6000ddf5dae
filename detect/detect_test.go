package detect_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/detect"
	"github.com/labtrust/labtrust/explain"
	"github.com/labtrust/labtrust/geo"
	"github.com/labtrust/labtrust/ingest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/roster"
	"github.com/labtrust/labtrust/sigma"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
	"golang.org/x/mod/sumdb/note"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func login(min int, user, network string, ok bool) labtrust.Event {
	e := labtrust.Event{Time: t0.Add(time.Duration(min) * time.Minute), Source: "ad", Kind: labtrust.KindSecurity,
		Type:   labtrust.Code{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110114", Display: "User Authentication"},
		Action: labtrust.ActionExecute, Actor: labtrust.Actor{ID: user}, Network: network}
	if !ok {
		e.Outcome = labtrust.OutcomeMinorFailure
	}
	return e
}

func export(min int, user, mrn string) labtrust.Event {
	return labtrust.Event{Time: t0.Add(time.Duration(min) * time.Minute), Source: "lis", Kind: labtrust.KindAccess,
		Type:   labtrust.Code{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110106", Display: "Export"},
		Action: labtrust.ActionRead, Actor: labtrust.Actor{ID: user, Role: "billing"},
		Patients: []labtrust.PatientRef{{ID: mrn}}, Objects: []labtrust.Object{{Type: "Query", Query: "Patient/$export?name=" + mrn}}}
}

func TestBuiltinPack(t *testing.T) {
	rs, err := detect.Load("", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rs.Rules()); n < 10 {
		t.Fatalf("%d built-in rules", n)
	}
	e, err := detect.Open("", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []labtrust.Alert
	var evs []labtrust.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, login(i, "ana", "10.0.0.5", false)) // one account guessed at
	}
	for i, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
		evs = append(evs, login(20+i, u, "203.0.113.9", false)) // one address, many accounts
	}
	evs = append(evs, login(30, "bob", "10.0.0.6", true))
	for i := 0; i < 5; i++ {
		evs = append(evs, export(40+i, "cy", fmt.Sprintf("MRN%03d", i)))
	}
	for i, ev := range evs {
		e.Eval(&labtrust.Entry{Index: uint64(i), Event: ev}, func(a labtrust.Alert) { got = append(got, a) })
	}
	titles := map[string]labtrust.Alert{}
	for _, a := range got {
		titles[a.Rule] = a
	}
	if len(got) != 3 {
		t.Fatalf("%d alerts: %+v", len(got), got)
	}
	burst, spray, exp := titles["failed_signin_burst"], titles["password_spraying"], titles["export_burst"]
	if burst.Actor != "ana" || burst.Count != 5 || burst.Severity != "medium" || len(burst.Entries) != 5 || burst.Entries[0] != 0 {
		t.Errorf("burst: %+v", burst)
	}
	if spray.Severity != "high" || !strings.Contains(spray.Explanation, "network 203.0.113.9") || !strings.Contains(spray.Explanation, "within 10m for") || spray.Count != 5 {
		t.Errorf("spraying: %+v", spray)
	}
	if exp.Actor != "cy" || exp.Severity != "high" {
		t.Errorf("export burst: %+v", exp)
	}
	// No patient identifier or query text reaches an alert.
	for _, a := range got {
		if strings.Contains(a.Explanation, "MRN") || strings.Contains(a.Key, "MRN") {
			t.Errorf("PHI in alert %q: %s", a.Title, a.Explanation)
		}
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	good := "title: night reads\nlogsource: {product: labtrust, category: access}\ndetection:\n  sel: {time|hour|lt: 5}\n  condition: sel\nlevel: low\n"
	os.WriteFile(filepath.Join(dir, "night.yml"), []byte(good), 0o600)
	e, err := detect.Open(dir, sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(e.Rules())
	// A broken edit is reported with its line and the rules in use stay.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(filepath.Join(dir, "night.yml"), []byte(strings.Replace(good, "time|hour", "tme|hour", 1)), 0o600)
	if _, err := e.Reload(); err == nil || !strings.Contains(err.Error(), "night.yml:4:") || !strings.Contains(err.Error(), `unknown field "tme"`) {
		t.Fatalf("broken rule: %v", err)
	}
	if len(e.Rules()) != n {
		t.Fatal("a broken reload dropped the running rules")
	}
	os.WriteFile(filepath.Join(dir, "night.yml"), []byte(good+"---\n"+strings.Replace(good, "night reads", "night reads 2", 1)), 0o600)
	if changed, err := e.Reload(); err != nil || !changed || len(e.Rules()) != n+1 {
		t.Fatalf("fixed reload: %v %v %d", changed, err, len(e.Rules()))
	}
	if changed, _ := e.Reload(); changed {
		t.Fatal("reloaded without a change")
	}
}

type fixture struct {
	db   *store.DB
	keys *vault.Keyring
	pipe *ingest.Pipeline
	stop func()
}

func open(t *testing.T, dsn string) *fixture { return openWith(t, dsn, nil) }

func openWith(t *testing.T, dsn string, onCommit func([]labtrust.Entry)) *fixture {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := vault.LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vault.Open(ctx, kek, db)
	if err != nil {
		t.Fatal(err)
	}
	skey, _, _ := ledger.NewKey("test")
	signer, _ := note.NewSigner(skey)
	lg, err := ledger.Open(ctx, filepath.Join(dir, "ledger"), "test", signer)
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := ingest.New(ctx, ingest.Config{CheckpointInterval: 20 * time.Millisecond, OnCommit: onCommit}, db, lg, keys)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pipe.Run(runCtx) }()
	f := &fixture{db: db, keys: keys, pipe: pipe}
	f.stop = func() { cancel(); <-done; lg.Close(); db.Close() }
	t.Cleanup(f.stop)
	return f
}

// TestRunner follows a real store: alerts are stored once, repeats within
// the window update the open alert, the cursor survives, and triage moves
// an alert.
func TestRunner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		var evs []labtrust.Event
		for i := 0; i < 10; i++ {
			evs = append(evs, login(i, "ana", "10.0.0.5", false))
		}
		if _, err := f.pipe.Submit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		e, err := detect.Open("", sigma.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var notified []labtrust.Alert
		r := &detect.Runner{Engine: e, Store: f.db, Keys: f.keys, Notify: func(_ context.Context, a labtrust.Alert) { notified = append(notified, a) }}
		n, err := r.Step(ctx, 10)
		if err != nil || n != 10 {
			t.Fatalf("step: %d %v", n, err)
		}
		alerts, err := f.db.ListAlerts(ctx, store.AlertFilter{})
		if err != nil {
			t.Fatal(err)
		}
		// Ten failures: the burst rule fires twice (at 5 and 10), both
		// folded into one open alert.
		if len(alerts) != 1 || alerts[0].Count != 10 || len(alerts[0].Entries) != 10 || alerts[0].Status != labtrust.AlertNew || len(notified) != 1 {
			t.Fatalf("alerts %+v, notified %d", alerts, len(notified))
		}
		if c, _ := f.db.DetectCursor(ctx, "sigma"); c != 10 {
			t.Fatalf("cursor %d", c)
		}
		if n, _ := r.Step(ctx, 10); n != 0 {
			t.Fatalf("a second step read %d entries again", n)
		}
		// Triage: explained-benign with a reason; the next burst is a new alert.
		if err := f.db.SetAlertStatus(ctx, alerts[0].ID, labtrust.AlertBenign, "locked-out user, reset at help desk", "sec-officer"); err != nil {
			t.Fatal(err)
		}
		evs = evs[:0]
		for i := 0; i < 5; i++ {
			evs = append(evs, login(11+i, "ana", "10.0.0.5", false))
		}
		if _, err := f.pipe.Submit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Step(ctx, 15); err != nil {
			t.Fatal(err)
		}
		alerts, _ = f.db.ListAlerts(ctx, store.AlertFilter{})
		if len(alerts) != 2 || alerts[0].Status != labtrust.AlertNew || alerts[1].Reason == "" || alerts[1].UpdatedBy != "sec-officer" {
			t.Fatalf("after triage: %+v", alerts)
		}
		got, err := f.db.GetAlert(ctx, alerts[1].ID)
		if err != nil || got.Status != labtrust.AlertBenign {
			t.Fatalf("get: %+v %v", got, err)
		}
		// Allowing the same (rule, account) absorbs the next bursts:
		// counted on the allow-list entry, no alert, no notification.
		entry, err := f.db.AllowLike(ctx, alerts[1].ID, "locked-out user", "sec-officer", time.Now().Add(time.Hour))
		if err != nil || entry.Rule != "failed_signin_burst" || entry.Actor != "ana" {
			t.Fatalf("allow: %+v %v", entry, err)
		}
		if err := f.db.SetAlertStatus(ctx, alerts[0].ID, labtrust.AlertBenign, "same", "sec-officer"); err != nil {
			t.Fatal(err)
		}
		evs = evs[:0]
		for i := 0; i < 5; i++ {
			evs = append(evs, login(16+i, "ana", "10.0.0.5", false))
		}
		if _, err := f.pipe.Submit(ctx, evs); err != nil {
			t.Fatal(err)
		}
		before := len(notified)
		if _, err := r.Step(ctx, 20); err != nil {
			t.Fatal(err)
		}
		if as, _ := f.db.ListAlerts(ctx, store.AlertFilter{}); len(as) != 2 || len(notified) != before {
			t.Fatalf("an allowed burst raised an alert: %d alerts, %d notified", len(as), len(notified)-before)
		}
		if es, _ := f.db.AllowList(ctx); len(es) != 1 || es[0].Suppressed != 5 {
			t.Fatalf("allow-list %+v", es)
		}
		if err := f.db.EndAllow(ctx, entry.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.db.EndAllow(ctx, entry.ID); !errors.Is(err, labtrust.ErrNotFound) {
			t.Fatalf("ending twice: %v", err)
		}

		// The parallel path raises what evaluating one entry at a time does.
		var spray []labtrust.Event
		for i := 0; i < 3000; i++ {
			spray = append(spray, login(20+i/100, fmt.Sprintf("user%d", i%40), fmt.Sprintf("10.9.%d.1", i%7), i%3 != 0))
		}
		if _, err := f.pipe.Submit(ctx, spray); err != nil {
			t.Fatal(err)
		}
		var seq, par []string
		one, _ := detect.Open("", sigma.Options{})
		detect.Scan(ctx, f.db, f.keys, 5, 3020, func(en *labtrust.Entry) error {
			one.Eval(en, func(a labtrust.Alert) { seq = append(seq, fmt.Sprint(a.Rule, a.Key, a.Entries)) })
			return nil
		})
		two, _ := detect.Open("", sigma.Options{})
		n, err = two.Process(ctx, f.db, f.keys, 5, 3020, func(a labtrust.Alert) { par = append(par, fmt.Sprint(a.Rule, a.Key, a.Entries)) })
		if err != nil || n != 3015 || len(seq) < 10 || strings.Join(seq, "\n") != strings.Join(par, "\n") {
			t.Fatalf("Process read %d (%v): %d alerts, Eval %d", n, err, len(par), len(seq))
		}
	})
}

// TestLive: committed batches reach detection from memory; the alert is
// raised without reading the store back.
func TestLive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		e, err := detect.Open("", sigma.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := &detect.Runner{Engine: e}
		f := openWith(t, dsn, r.Feed)
		r.Store, r.Keys = f.db, f.keys
		// The batches are committed (and fed) before the runner starts, so
		// it finds them waiting in memory: no timing decides the path.
		for i := 0; i < 6; i++ {
			if _, err := f.pipe.Submit(ctx, []labtrust.Event{login(i, "ana", "10.0.0.5", false)}); err != nil {
				t.Fatal(err)
			}
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- r.Run(runCtx, func() uint64 { return f.pipe.Status().Committed }, 5*time.Millisecond, 0)
		}()
		defer func() { cancel(); <-done }()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			as, err := f.db.ListAlerts(ctx, store.AlertFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(as) == 1 && as[0].Rule == "failed_signin_burst" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no alert: %+v", as)
			}
		}
		// The alert came with the fifth; wait for the sixth too.
		for deadline := time.Now().Add(5 * time.Second); r.Live.Load()+r.Stored.Load() < 6 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if r.Live.Load() != 6 || r.Stored.Load() != 0 {
			t.Fatalf("%d entries from memory, %d from the store", r.Live.Load(), r.Stored.Load())
		}
	})
}

// TestThreatIntel: an access from an address a STIX bundle lists raises an
// alert naming the indicator; other addresses, and times outside the
// indicator's validity, do not.
func TestThreatIntel(t *testing.T) {
	e, err := detect.Open("", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, skipped, err := e.LoadIntel(filepath.Join("..", "stix", "testdata", "bundle.json"))
	if err != nil || n != 2 || len(skipped) != 5 {
		t.Fatalf("loaded %d, skipped %d: %v", n, len(skipped), err)
	}
	evs := []labtrust.Entry{
		{Index: 0, Event: login(0, "ana", "198.51.100.23", true)},
		{Index: 1, Event: login(1, "bob", "10.0.0.6", true)},
		{Index: 2, Event: export(2, "cy", "MRN001")},
	}
	evs[2].Event.Network = "2001:db8:beef::9"
	var got []labtrust.Alert
	e.ProcessEntries(evs, func(a labtrust.Alert) { got = append(got, a) })
	if len(got) != 2 || got[0].Rule != detect.IntelRule || got[0].Actor != "ana" || got[0].Entries[0] != 0 ||
		!strings.Contains(got[0].Explanation, `"Credential-stuffing botnet" (STIX indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f, malicious-activity)`) ||
		got[1].Entries[0] != 2 || !strings.Contains(got[1].Explanation, "Ransomware operator VPN exit") {
		t.Fatalf("alerts %+v", got)
	}
	if strings.Contains(got[1].Explanation, "MRN001") {
		t.Fatal("PHI in an intel alert")
	}
	late := labtrust.Entry{Index: 3, Event: export(0, "cy", "MRN001")}
	late.Event.Network, late.Event.Time = "2001:db8:beef::9", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	got = nil
	e.Eval(&late, func(a labtrust.Alert) { got = append(got, a) })
	if len(got) != 0 {
		t.Fatalf("an expired indicator matched: %+v", got)
	}
}

// TestExplainAcrossRestart: the explainer learns the stored orders before
// following the ledger, so an access after a restart that is part of an
// order created before it is explained.
func TestExplainAcrossRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := open(t, dsn)
		order := labtrust.Object{Type: "ServiceRequest", ID: "SR-77", Role: "order"}
		create := export(0, "desk", "MRN-7")
		create.Type, create.Action, create.Objects = labtrust.Code{}, labtrust.ActionCreate, []labtrust.Object{order}
		if _, err := f.pipe.Submit(ctx, []labtrust.Event{create}); err != nil {
			t.Fatal(err)
		}
		read := create
		read.Action, read.Actor, read.Time = labtrust.ActionRead, labtrust.Actor{ID: "tech", Role: "lab-tech"}, create.Time.Add(3*time.Hour)
		for _, warm := range []bool{false, true} {
			e, err := detect.Open("", sigma.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e.Explain(explain.New())
			if warm {
				if err := e.WarmExplain(ctx, f.db, f.keys, 0, 1); err != nil {
					t.Fatal(err)
				}
			}
			var got []labtrust.Alert
			e.Eval(&labtrust.Entry{Index: 1, Event: read}, func(a labtrust.Alert) { got = append(got, a) })
			e.FlushExplain(func(a labtrust.Alert) { got = append(got, a) })
			if warm && len(got) != 0 || !warm && (len(got) != 1 || got[0].Rule != detect.UnexplainedRule || got[0].Actor != "tech") {
				t.Fatalf("warm %v: %+v", warm, got)
			}
			if !warm && strings.Contains(got[0].Explanation, "MRN-7") {
				t.Fatal("PHI in the alert")
			}
		}
	})
}

// TestRoster: with the staff assignments, an account opening its own
// record, a coworker's record with no order, and patient data off shift
// each raise their alert; on-shift work on an order raises nothing.
func TestRoster(t *testing.T) {
	e, err := detect.Open("", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Explain(explain.New())
	ro, err := roster.Read(strings.NewReader(`{"resourceType":"PractitionerRole","practitioner":{"identifier":{"value":"ana"}},"code":[{"text":"lab-tech"}],"availableTime":[{"daysOfWeek":["mon"],"availableStartTime":"08:00:00","availableEndTime":"16:00:00"}],"extension":[{"url":"`+roster.PatientMRNExtension+`","valueIdentifier":{"value":"MRN-ANA"}}]}
{"resourceType":"PractitionerRole","practitioner":{"identifier":{"value":"bob"}},"code":[{"text":"lab-tech"}],"availableTime":[{"daysOfWeek":["mon"],"availableStartTime":"08:00:00","availableEndTime":"16:00:00"}],"extension":[{"url":"`+roster.PatientMRNExtension+`","valueIdentifier":{"value":"MRN-BOB"}}]}`), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	e.SetRoster(ro)
	mon := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) // a Monday
	at := func(d time.Duration, actor, mrn string, objs ...labtrust.Object) labtrust.Entry {
		return labtrust.Entry{Event: labtrust.Event{Time: mon.Add(d), Source: "lis", Kind: labtrust.KindAccess, Action: labtrust.ActionRead,
			Actor: labtrust.Actor{ID: actor, Role: "lab-tech"}, Patients: []labtrust.PatientRef{{ID: mrn}}, Objects: objs}}
	}
	order := labtrust.Object{Type: "ServiceRequest", ID: "SR-1"}
	create := at(0, "bob", "MRN-9", order)
	create.Event.Action = labtrust.ActionCreate
	entries := []labtrust.Entry{
		create,                                  // on shift, the order itself
		at(time.Minute, "bob", "MRN-9", order),  // on shift, part of the order
		at(2*time.Minute, "ana", "MRN-ANA"),     // her own record
		at(3*time.Minute, "ana", "MRN-BOB"),     // a coworker's, no order
		at(12*time.Hour, "bob", "MRN-9", order), // 22:00, off shift
	}
	for i := range entries {
		entries[i].Index = uint64(i)
	}
	var got []string
	e.ProcessEntries(entries, func(a labtrust.Alert) { got = append(got, fmt.Sprint(a.Rule, " ", a.Actor, " ", a.Entries)) })
	e.FlushExplain(func(a labtrust.Alert) { got = append(got, fmt.Sprint(a.Rule, " ", a.Actor, " ", a.Entries)) })
	want := []string{"self_access ana [2]", "off_shift_access bob [4]", "coworker_record ana [3]"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("alerts\n %s\nwant\n %s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
}

// TestFlagged: the registry's VIP and deceased patients name the alert of
// an unexplained access to them.
func TestFlagged(t *testing.T) {
	e, err := detect.Open("", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Explain(explain.New())
	blind := func(mrn string) []byte { return []byte("b:" + mrn) }
	e.SetFlagged(blind, map[string]store.Flags{"b:MRN-VIP": {VIP: true}, "b:MRN-DEAD": {Deceased: true}},
		map[string]map[string]string{"b:MRN-SIS": {"u1": "address"}, "b:MRN-NAMESAKE": {"u2": "surname"}})
	var got []string
	for i, mrn := range []string{"MRN-VIP", "MRN-DEAD", "MRN-PLAIN", "MRN-SIS", "MRN-NAMESAKE"} {
		en := labtrust.Entry{Index: uint64(i), Event: labtrust.Event{Time: t0, Source: "lis", Kind: labtrust.KindAccess, Action: labtrust.ActionRead,
			Actor: labtrust.Actor{ID: "u1"}, Patients: []labtrust.PatientRef{{ID: mrn}}}}
		e.Eval(&en, func(a labtrust.Alert) { got = append(got, a.Rule+" "+a.Severity) })
	}
	e.FlushExplain(func(a labtrust.Alert) { got = append(got, a.Rule+" "+a.Severity) })
	// u1 shares MRN-SIS's address; MRN-NAMESAKE shares u2's surname, not u1's.
	if strings.Join(got, "; ") != "vip_record high; deceased_record medium; unexplained_access medium; kin_record high; unexplained_access medium" {
		t.Fatalf("alerts: %v", got)
	}
}

// TestImpossibleTravel: an account signed in on site, then from abroad 25
// minutes later, raises an alert naming both places; moves within the
// country at road speed, and failed attempts, do not.
func TestImpossibleTravel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	f, _ := os.Create(path)
	if err := geo.Write(f, []geo.Range{
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Place: geo.Place{City: "Austin", Country: "US", Lat: 30.2672, Lon: -97.7431}},
		{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Place: geo.Place{City: "San Antonio", Country: "US", Lat: 29.4241, Lon: -98.4936}},
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Place: geo.Place{City: "Lagos", Country: "NG", Lat: 6.5244, Lon: 3.3792}},
	}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := detect.Open("", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.SetGeo(db)
	evs := []labtrust.Event{
		login(0, "ana", "10.1.0.5", true),
		login(90, "ana", "10.2.0.9", true),        // 120 km in 1.5 h: driving
		login(100, "ana", "198.51.100.23", false), // a failed attempt from abroad: not ana travelling
		login(115, "ana", "198.51.100.23", true),  // 10,000 km in 25 minutes
	}
	var got []labtrust.Alert
	for i := range evs {
		e.Eval(&labtrust.Entry{Index: uint64(i), Event: evs[i]}, func(a labtrust.Alert) {
			if a.Rule == detect.TravelRule {
				got = append(got, a)
			}
		})
	}
	if len(got) != 1 || got[0].Actor != "ana" || got[0].Entries[0] != 1 || got[0].Entries[1] != 3 ||
		!strings.Contains(got[0].Explanation, "San Antonio, US (10.2.0.9)") || !strings.Contains(got[0].Explanation, "Lagos, NG (198.51.100.23)") {
		t.Fatalf("travel alerts %+v", got)
	}
}

// TestPrintsAndMassChanges: prints count as exports, and updates as well
// as deletions count toward mass modification.
func TestPrintsAndMassChanges(t *testing.T) {
	e, err := detect.Open("", sigma.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	i := 0
	feed := func(ev labtrust.Event) {
		e.Eval(&labtrust.Entry{Index: uint64(i), Event: ev}, func(a labtrust.Alert) { got = append(got, a.Rule) })
		i++
	}
	for k := 0; k < 5; k++ {
		ev := export(k, "billing1", fmt.Sprint("P", k))
		ev.Type, ev.Objects = labtrust.Code{Code: "110110"}, []labtrust.Object{{Type: "DiagnosticReport", ID: "R", Role: "print"}}
		feed(ev)
	}
	for k := 0; k < 50; k++ {
		ev := export(10, "tech9", fmt.Sprint("Q", k))
		ev.Type, ev.Objects, ev.Action = labtrust.Code{}, nil, []labtrust.Action{labtrust.ActionUpdate, labtrust.ActionDelete}[k%2]
		ev.Time = ev.Time.Add(time.Duration(k) * time.Second)
		feed(ev)
	}
	if strings.Join(got, " ") != "export_burst mass_modification" {
		t.Fatalf("alerts %v", got)
	}
}
