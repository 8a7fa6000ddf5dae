package atna_test

import (
	"fmt"

	"github.com/labtrust/labtrust/atna"
)

func ExampleParse() {
	msg := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<AuditMessage>
  <EventIdentification EventActionCode="R" EventDateTime="2024-05-06T07:08:09.5+02:00" EventOutcomeIndicator="0">
    <EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/>
  </EventIdentification>
  <ActiveParticipant UserID="lab-tech-7" UserIsRequestor="true" NetworkAccessPointID="10.0.0.7" NetworkAccessPointTypeCode="2"/>
  <AuditSourceIdentification AuditSourceID="lis-1"/>
  <ParticipantObjectIdentification ParticipantObjectID="MRN-42" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">
    <ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/>
  </ParticipantObjectIdentification>
</AuditMessage>`)
	e, err := atna.Parse("lis", msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Time, e.Kind, e.Action, e.Type.Code, e.Actor.ID, e.Actor.Site, e.Network, len(e.Patients))
	// Output: 2024-05-06 05:08:09.5 +0000 UTC access R 110110 lab-tech-7 lis-1 10.0.0.7 1
}
