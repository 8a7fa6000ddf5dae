package csvsrc_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/csvsrc"
	"go.yaml.in/yaml/v3"
)

// printSink prints what Parse hands it.
type printSink struct{}

func (printSink) Event(_ context.Context, e labtrust.Event) error {
	fmt.Printf("event  %s %s %s by %s, outcome %d, %d patient(s), objects %+v\n",
		e.Time.Format("2006-01-02T15:04Z"), e.Kind, e.Action, e.Actor.ID, e.Outcome, len(e.Patients), e.Objects)
	return nil
}

func (printSink) Reject(_ context.Context, r labtrust.Reject) error {
	fmt.Printf("reject %s\n", r.Reason)
	return nil
}

func ExampleParse() {
	const config = `
timeLayout: "2006-01-02 15:04"
timeZone: Europe/Berlin
columns:
  time: accessed_at
  actorId: user
  action: action
  outcome: result
  patientId: mrn
actionMap:
  VIEW: R
  PRINT: {action: R, role: print}
  LOGIN: E
outcomeMap:
  OK: 0
  DENIED: 4
`
	var m csvsrc.Mapping
	if err := yaml.Unmarshal([]byte(config), &m); err != nil {
		panic(err)
	}
	export := `accessed_at,user,action,result,mrn
2025-03-03 08:00,jdoe,LOGIN,OK,
2025-03-03 08:01,jdoe,VIEW,OK,MRN-000101
2025-03-03 08:02,jdoe,PRINT,DENIED,MRN-000101
2025-03-03 08:03,jdoe,ARCHIVE,OK,MRN-000101
`
	err := csvsrc.Parse(context.Background(), "lis-main", m, strings.NewReader(export), printSink{})
	fmt.Println("error:", err)
	// Output:
	// event  2025-03-03T07:00Z security E by jdoe, outcome 0, 0 patient(s), objects []
	// event  2025-03-03T07:01Z access R by jdoe, outcome 0, 1 patient(s), objects []
	// event  2025-03-03T07:02Z access R by jdoe, outcome 4, 1 patient(s), objects [{Type: ID: Role:print Query:}]
	// reject line 5: column "action": value is not in actionMap
	// error: <nil>
}
