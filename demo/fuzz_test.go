package demo

import (
	"context"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

// FuzzStream checks the stream's invariants over arbitrary configurations:
// exact count, time order, valid and unique events, every manifest event
// present, and every background access event a step of its order.
func FuzzStream(f *testing.F) {
	f.Add(uint64(1), uint32(5000), uint16(0), uint8(3), uint16(3000), uint8(14), int32(0))
	f.Add(uint64(7), uint32(1), uint16(12), uint8(1), uint16(5), uint8(1), int32(-1))
	f.Add(uint64(99), uint32(120), uint16(30), uint8(9), uint16(2500), uint8(2), int32(1234567))
	f.Add(uint64(3), uint32(1_000_000), uint16(0), uint8(0), uint16(4000), uint8(90), int32(-7777777))
	f.Fuzz(func(t *testing.T, seed uint64, patients uint32, staff uint16, sites uint8, events uint16, days uint8,
		startMin int32) {
		cfg := Config{Seed: seed, Patients: int(patients % 2_000_000), Staff: int(staff % 400), Sites: int(sites),
			Events: int64(events%6000) + 1, Days: int(days%120) + 1,
			Start: defaultStart.Add(time.Duration(startMin%(10*366*24*60)) * time.Minute)}
		l := NewLab(cfg)
		cfg = l.Config()
		var evs []labtrust.Event
		if err := l.Stream(context.Background(), func(ev labtrust.Event) error {
			evs = append(evs, ev)
			return nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		if int64(len(evs)) != cfg.Events {
			t.Fatalf("%d events, want %d", len(evs), cfg.Events)
		}
		refs := map[string]int{}
		for i, ev := range evs {
			if err := ev.Validate(); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if i > 0 && ev.Time.Before(evs[i-1].Time) {
				t.Fatalf("event %d out of order", i)
			}
			if ev.Time.Before(cfg.Start) {
				t.Fatalf("event %d before the start", i)
			}
			if _, dup := refs[ev.SourceRef]; dup {
				t.Fatalf("event %d repeats a source ref", i)
			}
			refs[ev.SourceRef] = i
		}
		anom := map[string]bool{}
		for _, a := range l.Manifest().Anomalies {
			for _, r := range a.SourceRefs {
				i, ok := refs[r]
				if !ok {
					t.Fatalf("%s: event missing", a.ID)
				}
				if evs[i].Time.Before(a.From) || evs[i].Time.After(a.To) || !evs[i].Time.Before(cfg.End()) {
					t.Fatalf("%s: event outside its window", a.ID)
				}
				anom[r] = true
			}
		}
		checked := 0
		for _, ev := range evs {
			if ev.Kind != labtrust.KindAccess || anom[ev.SourceRef] || checked == 20 {
				continue
			}
			checked++
			i, err := l.OrderIndex(orderOf(ev))
			if err != nil {
				t.Fatalf("background access without an order: %v", err)
			}
			o, _ := l.Order(i)
			found := false
			for _, s := range o.Steps {
				found = found || (s.SourceRef == ev.SourceRef && s.Actor == ev.Actor.ID && s.Time.Equal(ev.Time))
			}
			if !found || o.MRN != ev.Patients[0].ID {
				t.Fatalf("event is not a step of order %s", o.ID)
			}
		}
	})
}
