package syslog_test

import (
	"fmt"

	"github.com/labtrust/labtrust/syslog"
)

func ExampleParseMessage() {
	e, err := syslog.ParseMessage("bastion",
		[]byte("<38>1 2025-03-09T08:07:06Z bastion1 sshd 4242 - - Failed password for invalid user admin from 203.0.113.5 port 40001 ssh2"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Time, e.Kind, e.Type.Code, e.Subtype[0].Display, e.Outcome, e.Actor.ID, e.Actor.Site, e.Network)
	// Output: 2025-03-09 08:07:06 +0000 UTC security 110114 Login 8 admin bastion1 203.0.113.5
}
