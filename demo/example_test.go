package demo_test

import (
	"context"
	"fmt"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/demo"
)

func Example() {
	lab := demo.NewLab(demo.Config{Seed: 7, Patients: 2000, Events: 5000, Days: 7})

	kinds := map[labtrust.Kind]int{}
	var first labtrust.Event
	err := lab.Stream(context.Background(), func(ev labtrust.Event) error {
		if kinds[labtrust.KindAccess] == 0 && ev.Kind == labtrust.KindAccess {
			first = ev
		}
		kinds[ev.Kind]++
		return nil
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("events:", kinds[labtrust.KindAccess]+kinds[labtrust.KindSecurity])
	fmt.Println("first access:", first.Actor.Role, first.Action, first.Objects[0].Type)

	// The first access is a step of an order, which explains it.
	i, _ := lab.OrderIndex(first.Objects[0].ID)
	order, _ := lab.Order(i)
	fmt.Println("order steps:", len(order.Steps), "patient matches:", order.MRN == first.Patients[0].ID)

	for _, a := range lab.Manifest().Anomalies {
		fmt.Println(a.ID, a.Kind, len(a.SourceRefs))
	}
	// Output:
	// events: 5000
	// first access: front-desk E ServiceRequest
	// order steps: 6 patient matches: true
	// A1 coworker-record 3
	// A2 after-hours-export 4
	// A3 password-spraying 12
	// A4 vip-unrelated-access 4
	// A6 bulk-read-burst 40
	// A7 impossible-travel 6
}
