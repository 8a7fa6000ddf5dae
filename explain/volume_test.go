package explain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/explain"
)

// TestVolume: forty lab techs open ten records an hour for a day; then one
// of them opens eighty in an hour (a burst), another fifteen (a busy
// hour), and a new account twenty-five (within what its peers do).
func TestVolume(t *testing.T) {
	x, v := explain.New(), explain.NewVolume()
	var bursts []*explain.Burst
	observe := func(actor string, hour, n, first int) {
		for i := 0; i < n; i++ {
			e := labtrust.Entry{Event: labtrust.Event{Time: t0.Add(time.Duration(hour)*time.Hour + time.Duration(i)*time.Second), Kind: labtrust.KindAccess,
				Actor: labtrust.Actor{ID: actor, Role: "lab-tech"}, Patients: []labtrust.PatientRef{{ID: fmt.Sprint("P", first+i)}}}}
			a, _ := x.Summarize(&e)
			if b := v.Observe(a); b != nil {
				bursts = append(bursts, b)
			}
		}
	}
	for h := 0; h < 24; h++ {
		for k := 0; k < 40; k++ {
			observe(fmt.Sprint("tech", k), h, 10, k*1000+h*10)
		}
	}
	if len(bursts) != 0 {
		t.Fatalf("normal hours raised %d bursts", len(bursts))
	}
	observe("tech1", 24, 80, 500000)
	observe("tech2", 24, 15, 600000)
	observe("newcomer", 24, 25, 700000)
	observe("tech3", 24, 10, 800000)
	observe("tech3", 24, 10, 800000) // the same ten again: distinct patients count
	if len(bursts) != 1 || bursts[0].Actor != "tech1" || bursts[0].Count != 30 || bursts[0].Own != 10 || bursts[0].Peer != 10 {
		t.Fatalf("bursts %+v", bursts)
	}
}
