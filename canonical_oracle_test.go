package labtrust

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// marshalCanonicalJSON is the reference encoder: encoding/json over the
// canonical structs. MarshalCanonical must produce the same bytes.
func marshalCanonicalJSON(en *Entry) ([]byte, error) {
	e := &en.Event
	c := canonicalEntry{
		Actor: canonicalActor{AltID: e.Actor.AltID, ID: e.Actor.ID, Name: e.Actor.Name,
			Role: e.Actor.Role, Site: e.Actor.Site, Type: e.Actor.UserType},
		Action: string(e.Action), Index: en.Index, Kind: string(e.Kind), Network: e.Network,
		Outcome: int(e.Outcome), Purpose: codes(e.Purpose), Source: e.Source, SourceRef: e.SourceRef,
		Subtype: codes(e.Subtype), Time: e.Time.UTC().Format(TimeLayout), V: CanonicalVersion,
	}
	if !e.Type.IsZero() {
		c.Type = &canonicalCode{Code: e.Type.Code, Display: e.Type.Display, System: e.Type.System}
	}
	for _, p := range e.Patients {
		c.Patients = append(c.Patients, canonicalPat{ID: p.ID, System: p.System})
	}
	for _, o := range e.Objects {
		c.Objects = append(c.Objects, canonicalObj{ID: o.ID, Query: o.Query, Role: o.Role, Type: o.Type})
	}
	for _, l := range en.Links {
		cl := canonicalLink{HasPrev: l.HasPrev, Patient: l.Patient, PrevIndex: l.PrevIndex}
		if l.HasPrev {
			cl.PrevHash = hex.EncodeToString(l.PrevHash[:])
		}
		c.Links = append(c.Links, cl)
	}
	if err := e.checkText(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("canonical encoding: %w", err)
	}
	return unescapeLineSeparators(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

func TestMarshalCanonicalMatchesReference(t *testing.T) {
	for i, en := range oracleEntries() {
		got, err := en.MarshalCanonical()
		if err != nil {
			t.Fatal(err)
		}
		want, err := marshalCanonicalJSON(en)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("entry %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func oracleEntries() []*Entry {
	t0 := time.Date(2026, 10, 1, 8, 0, 0, 123456789, time.FixedZone("x", -5*3600))
	var h [32]byte
	for i := range h {
		h[i] = byte(i * 7)
	}
	return []*Entry{
		{Index: 0, Event: Event{Time: t0, Source: "s", Kind: KindSecurity, Actor: Actor{ID: "u"}}},
		{Index: 1<<53 - 1, Event: Event{Time: t0, Source: "ehr \"quoted\" \\ back", Kind: KindAccess, Action: ActionRead,
			Outcome: OutcomeSeriousFailure, Type: Code{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110110", Display: "Patient Record"},
			Subtype: []Code{{Code: "read"}, {}}, Purpose: []Code{{System: "v3", Code: "TREAT", Display: "treatment <&>"}},
			Actor:    Actor{ID: "u1", Name: "Nguyễn Thị Ánh \u2028", Role: "lab-tech", Site: "north\tsite", AltID: "alt", UserType: "person"},
			Patients: []PatientRef{{System: "http://lab.example/mrn", ID: "MRN1\n"}, {ID: "P2\x01\x1f\x7f"}},
			Objects:  []Object{{Type: "DiagnosticReport", ID: "DiagnosticReport/9", Role: "report", Query: "q=\u2029&x"}, {}},
			Network:  "10.0.0.1", SourceRef: "ev-1\b\f\r"},
			Links: []Link{{Patient: 0, HasPrev: true, PrevIndex: 42, PrevHash: h}, {Patient: 1}}},
	}
}

func FuzzMarshalCanonicalMatchesReference(f *testing.F) {
	f.Add("u", "MRN1", "name", "q", int64(0), uint64(3), true)
	f.Add("\u2028\x00\"", "\xff", "<&>", "\\u2028", int64(1<<40), uint64(1<<53), false)
	f.Fuzz(func(t *testing.T, actor, patient, name, query string, ts int64, idx uint64, prev bool) {
		en := &Entry{Index: idx, Event: Event{Time: time.UnixMicro(ts % (1 << 48)).UTC(), Source: name, Kind: KindAccess,
			Actor: Actor{ID: actor, Name: name}, Patients: []PatientRef{{ID: patient, System: query}},
			Objects: []Object{{Query: query}}, Subtype: []Code{{Display: name}}},
			Links: []Link{{Patient: 0, HasPrev: prev, PrevIndex: idx / 2}}}
		got, err := en.MarshalCanonical()
		want, werr := marshalCanonicalJSON(en)
		if (err == nil) != (werr == nil) {
			t.Fatalf("errors differ: %v vs %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
