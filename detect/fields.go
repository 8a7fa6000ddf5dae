// Package detect watches the ledger's events: Sigma rules (package sigma)
// over every stored event, streaming, with alerts that carry their
// explanation and the ledger entries behind them.
package detect

import (
	"strconv"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/sigma"
)

// Product is the Sigma logsource product of every labtrust event; its
// category is the event's kind (access, security, staff, report) and its
// service the configured source name.
const Product = "labtrust"

// Field numbers of the Schema, in the order of fieldNames.
const (
	fTime = iota
	fSource
	fKind
	fTypeSystem
	fTypeCode
	fTypeDisplay
	fSubtypeCode
	fSubtypeDisplay
	fAction
	fOutcome
	fActorID
	fActorName
	fActorRole
	fActorSite
	fActorAltID
	fActorType
	fPatientID
	fPatientSystem
	fPatientCount
	fObjectType
	fObjectID
	fObjectRole
	fObjectQuery
	fNetwork
	fPurposeCode
	fSourceRef
	fIndex
)

// fieldNames is the field mapping rules are written against (the README
// lists it with examples).
var fieldNames = []string{
	"time", "source", "kind", "type.system", "type.code", "type.display", "subtype.code", "subtype.display",
	"action", "outcome", "actor.id", "actor.name", "actor.role", "actor.site", "actor.altId", "actor.type",
	"patient.id", "patient.system", "patient.count", "object.type", "object.id", "object.role", "object.query",
	"network", "purpose.code", "sourceRef", "index",
}

// aliases let rules use common Sigma taxonomy names.
var aliases = map[string]string{
	"User": "actor.id", "user.name": "actor.id", "SubjectUserName": "actor.id",
	"SourceIp": "network", "src_ip": "network", "source.ip": "network", "IpAddress": "network", "ClientIP": "network",
	"EventType": "type.code", "Outcome": "outcome", "Action": "action",
}

// Schema is the field mapping of labtrust events.
var Schema = sigma.NewSchema(fieldNames, aliases)

// FieldNames returns the fields rules may name (aliases aside).
func FieldNames() []string { return append([]string(nil), fieldNames...) }

// Fill resets d and loads entry en into it.
func Fill(d *sigma.Doc, en *labtrust.Entry) {
	d.Reset()
	e := &en.Event
	d.Time, d.Ref = e.Time, en.Index
	d.Logsource = sigma.Logsource{Product: Product, Category: string(e.Kind), Service: e.Source}
	d.Add(fTime, e.Time.UTC().Format("2006-01-02T15:04:05.999999Z07:00"))
	d.Add(fSource, e.Source)
	d.Add(fKind, string(e.Kind))
	if !e.Type.IsZero() {
		d.Add(fTypeSystem, e.Type.System)
		d.Add(fTypeCode, e.Type.Code)
		d.Add(fTypeDisplay, e.Type.Display)
	}
	for _, c := range e.Subtype {
		d.Add(fSubtypeCode, c.Code)
		d.Add(fSubtypeDisplay, c.Display)
	}
	if e.Action != "" {
		d.Add(fAction, string(e.Action))
	}
	d.Add(fOutcome, strconv.Itoa(int(e.Outcome)))
	add := func(f int, v string) {
		if v != "" {
			d.Add(f, v)
		}
	}
	add(fActorID, e.Actor.ID)
	add(fActorName, e.Actor.Name)
	add(fActorRole, e.Actor.Role)
	add(fActorSite, e.Actor.Site)
	add(fActorAltID, e.Actor.AltID)
	add(fActorType, e.Actor.UserType)
	for _, p := range e.Patients {
		d.Add(fPatientID, p.ID)
		add(fPatientSystem, p.System)
	}
	d.Add(fPatientCount, strconv.Itoa(len(e.Patients)))
	for _, o := range e.Objects {
		add(fObjectType, o.Type)
		add(fObjectID, o.ID)
		add(fObjectRole, o.Role)
		add(fObjectQuery, o.Query)
	}
	add(fNetwork, e.Network)
	for _, c := range e.Purpose {
		add(fPurposeCode, c.Code)
	}
	add(fSourceRef, e.SourceRef)
	d.Add(fIndex, strconv.FormatUint(en.Index, 10))
}
