package atna

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dcm(code, display string) labtrust.Code {
	return labtrust.Code{System: SystemDCM, Code: code, Display: display}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// ww1 is what the DICOM PS3.17 Annex WW example maps to, once its
// EventDateTime is given a time zone.
var ww1 = labtrust.Event{
	Time:    mustTime("2001-12-17T14:30:47Z"),
	Source:  "pacs",
	Kind:    labtrust.KindAccess,
	Type:    dcm("110104", "DICOM Instances Transferred"),
	Action:  labtrust.ActionCreate,
	Outcome: labtrust.OutcomeSuccess,
	Actor: labtrust.Actor{ID: "smitty@readingroom.hospital.org", AltID: "smith@nema", Name: "Dr. Smith",
		Role: "110153", Site: "Hospital"},
	Network:  "192.168.1.2",
	Patients: []labtrust.PatientRef{{System: "2", ID: "ptid12345"}},
	Objects:  []labtrust.Object{{Type: "Study Instance UID", ID: "1.2.840.10008.2.3.4.5.6.7.78.8", Role: "report"}},
}

func TestParseVectors(t *testing.T) {
	ww1Zoned := func(name string) []byte {
		b := readVector(t, name)
		out := bytes.Replace(b, []byte(`EventDateTime="2001-12-17T09:30:47"`), []byte(`EventDateTime="2001-12-17T09:30:47-05:00"`), 1)
		if bytes.Equal(out, b) {
			t.Fatalf("%s: EventDateTime not found", name)
		}
		return out
	}
	login := labtrust.Event{
		Time: mustTime("2010-12-17T21:12:04.287Z"), Source: "pacs", Kind: labtrust.KindSecurity,
		Type: dcm("110114", "UserAuthenticated"), Subtype: []labtrust.Code{dcm("110122", "Login")},
		Action: labtrust.ActionExecute, Outcome: labtrust.OutcomeSuccess,
		// The first of the two requestors wins.
		Actor:   labtrust.Actor{ID: "fe80::5999:d1ef:63de:a8bb%11", Role: "110150", Site: "End User"},
		Network: "125.20.175.12",
	}
	loginDICOM := login
	loginDICOM.Time = mustTime("2013-10-17T21:12:04.287Z")

	tests := []struct {
		name string
		doc  []byte
		want labtrust.Event
	}{
		{"dicom-ps3.17-ww1-rfc3881form.xml", ww1Zoned("dicom-ps3.17-ww1-rfc3881form.xml"), ww1},
		{"dicom-ps3.17-ww1-dicomform.xml", ww1Zoned("dicom-ps3.17-ww1-dicomform.xml"), ww1},
		{"ihe-wiki-user-login-rfc3881form.xml", readVector(t, "ihe-wiki-user-login-rfc3881form.xml"), login},
		{"ihe-wiki-user-login-dicomform.xml", readVector(t, "ihe-wiki-user-login-dicomform.xml"), loginDICOM},
		{"openhim-pix-query-rfc3881form.xml", readVector(t, "openhim-pix-query-rfc3881form.xml"), labtrust.Event{
			Time: mustTime("2015-03-05T10:52:31.356Z"), Source: "pacs", Kind: labtrust.KindAccess,
			Type:    dcm("110112", "Query"),
			Subtype: []labtrust.Code{{System: SystemIHETransactions, Code: "ITI-9", Display: "PIX Query"}},
			Action:  labtrust.ActionExecute, Outcome: labtrust.OutcomeSuccess,
			Actor:    labtrust.Actor{ID: "openhim-mediator-ohie-xds|openhim", AltID: "9293", Role: "110153", Site: "openhim"},
			Network:  "192.168.1.111",
			Patients: []labtrust.PatientRef{{System: "2", ID: "fc133984036647e^^^&1.3.6.1.4.1.21367.2005.13.20.3000&ISO"}},
			Objects: []labtrust.Object{{Type: "PIX Query", ID: "c7bd7244-29bc-4ab5-80ee-74b56eed9db0", Role: "query",
				Query: "MSH|^~\\&|openhim|openhim-mediator-ohie-xds|pix|pix|20150305125231+0200||QBP^Q23^QBP_Q21|bb073b85-57a9-40ba-9291-15d2118d48f3|P|2.5\r" +
					"QPD|IHE PIX Query|ffd8e9f7-ac2b-4625-bd80-de704592d9f3|1111111111^^^&1.2.3&ISO^PI|^^^ECID&ECID&ISO^PI\r" +
					"RCP|I\r"}},
		}},
		{"dcm4chee-user-authentication-login.xml", readVector(t, "dcm4chee-user-authentication-login.xml"), labtrust.Event{
			Time: mustTime("2017-01-26T16:28:59.553Z"), Source: "pacs", Kind: labtrust.KindSecurity,
			Type: dcm("110122", "Login"), Action: labtrust.ActionExecute, Outcome: labtrust.OutcomeSuccess,
			Actor:   labtrust.Actor{ID: "admin", UserType: "person", Site: "dcm4chee-arc"},
			Network: "127.0.0.1",
		}},
		{"dcm4chee-query-qido.xml", readVector(t, "dcm4chee-query-qido.xml"), labtrust.Event{
			Time: mustTime("2017-07-27T07:12:21.331Z"), Source: "pacs", Kind: labtrust.KindSecurity,
			Type: dcm("110112", "Query"), Action: labtrust.ActionExecute, Outcome: labtrust.OutcomeSuccess,
			Actor:   labtrust.Actor{ID: "127.0.0.1", UserType: "person", Role: "110153", Site: "dcm4chee-arc"},
			Network: "127.0.0.1",
			Objects: []labtrust.Object{{Type: "QIDO_Query", ID: "SearchForPatients", Role: "query",
				Query: "/dcm4chee-arc/aets/DCM4CHEE/rs/patientsincludefield=all&offset=0&limit=21&orderby=PatientName"}},
		}},
		{"dcm4chee-query-cfind.xml", readVector(t, "dcm4chee-query-cfind.xml"), labtrust.Event{
			Time: mustTime("2019-02-05T17:01:25Z"), Source: "pacs", Kind: labtrust.KindSecurity,
			Type: dcm("110112", "Query"), Action: labtrust.ActionExecute, Outcome: labtrust.OutcomeSuccess,
			Actor:   labtrust.Actor{ID: "FINDSCU", UserType: "system", Role: "110153", Site: "dcm4chee-arc"},
			Network: "localhost",
			// A C-FIND identifier is a binary data set: it stays base64.
			Objects: []labtrust.Object{{Type: "SOP Class UID", ID: "1.2.840.10008.5.1.4.1.2.2.1", Role: "report",
				Query: "base64:CABSAAYAAABTVFVEWSAgAA0ALAAAADIuMjUuMjIzNDk1ODQxNjcyNTIzMjI3ODMyMTMzMTUzNTY3ODg2NjU5ODAx"}},
		}},
		{"dcm4chee-patient-record-created.xml", readVector(t, "dcm4chee-patient-record-created.xml"), labtrust.Event{
			Time: mustTime("2024-09-03T11:03:17.930Z"), Source: "pacs", Kind: labtrust.KindAccess,
			Type: dcm("110110", "Patient Record"), Action: labtrust.ActionCreate, Outcome: labtrust.OutcomeSuccess,
			Actor:    labtrust.Actor{ID: "STORESCU", UserType: "system", Role: "110153", Site: "dcm4chee-arc"},
			Network:  "view-localhost",
			Patients: []labtrust.PatientRef{{System: "2", ID: "54321"}},
		}},
		{"dcm4chee-application-start-rest.xml", readVector(t, "dcm4chee-application-start-rest.xml"), labtrust.Event{
			Time: mustTime("2023-11-14T16:14:44.048Z"), Source: "pacs", Kind: labtrust.KindSecurity,
			Type: dcm("110100", "Application Activity"), Subtype: []labtrust.Code{dcm("110120", "Application Start")},
			Action: labtrust.ActionExecute, Outcome: labtrust.OutcomeSuccess,
			Actor:   labtrust.Actor{ID: "admin", AltID: "40918", UserType: "person", Role: "110151", Site: "dcm4chee-arc"},
			Network: "127.0.0.1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("pacs", tc.doc)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			en := labtrust.Entry{Event: got}
			if _, err := en.MarshalCanonical(); err != nil {
				t.Errorf("MarshalCanonical: %v", err)
			}
			// Round trip through the DICOM form.
			enc, err := Encode(got)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			again, err := Parse("pacs", enc)
			if err != nil {
				t.Fatalf("Parse(Encode): %v\n%s", err, enc)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("round trip:\n got %+v\nwant %+v\n%s", again, got, enc)
			}
		})
	}
}

// The example in DICOM PS3.17 gives EventDateTime without a time zone, which
// labtrust cannot place on the timeline: it is rejected, naming the
// attribute and nothing from the message.
func TestParseRejectsTimeWithoutZone(t *testing.T) {
	for _, name := range []string{"dicom-ps3.17-ww1-rfc3881form.xml", "dicom-ps3.17-ww1-dicomform.xml"} {
		_, err := Parse("pacs", readVector(t, name))
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		var ve *labtrust.ValidationError
		if !errors.As(err, &ve) || ve.Field != "EventIdentification/@EventDateTime" || ve.Reason != "no time zone" {
			t.Errorf("%s: error %v, want EventDateTime no time zone", name, err)
		}
		for _, phi := range []string{"ptid12345", "John Doe", "smitty", "2001"} {
			if strings.Contains(err.Error(), phi) {
				t.Errorf("%s: error %q leaks %q", name, err, phi)
			}
		}
	}
}

// message builds an AuditMessage around parts; the values are marked
// SECRET so the error tests can check none of them leaks.
func message(event, rest string) string {
	if event == "" {
		event = `<EventIdentification EventActionCode="R" EventDateTime="2024-01-02T03:04:05Z" EventOutcomeIndicator="0">` +
			`<EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/></EventIdentification>`
	}
	return `<AuditMessage>` + event + rest + `</AuditMessage>`
}

const okActor = `<ActiveParticipant UserID="SECRETuser" UserIsRequestor="true"/>`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty", ``, "no root element"},
		{"not xml", `SECRET`, "text outside the root element"},
		{"wrong root", `<Audit>SECRET</Audit>`, "root element: not AuditMessage"},
		{"no event", `<AuditMessage>` + okActor + `</AuditMessage>`, "EventIdentification: missing"},
		{"two events", message("", message("", "")[len("<AuditMessage>"):len(message("", ""))-len("</AuditMessage>")]+okActor), "EventIdentification: more than one"},
		{"no time", message(`<EventIdentification EventOutcomeIndicator="0"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventDateTime: missing"},
		{"bad time", message(`<EventIdentification EventDateTime="SECRET-12-17T09:30:47Z" EventOutcomeIndicator="0"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventDateTime: not an xs:dateTime"},
		{"bad time 2", message(`<EventIdentification EventDateTime="2001-13-17T09:30:47+01:00" EventOutcomeIndicator="0"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventDateTime: not an xs:dateTime with time zone"},
		{"one-digit hour", message(`<EventIdentification EventDateTime="2001-12-17T9:30:47Z" EventOutcomeIndicator="0"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventDateTime: not an xs:dateTime"},
		{"comma fraction", message(`<EventIdentification EventDateTime="2001-12-17T09:30:47,5Z" EventOutcomeIndicator="0"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventDateTime: not an xs:dateTime with time zone"},
		{"year before 0000 in UTC", message(`<EventIdentification EventDateTime="0000-01-01T00:00:00+01:00" EventOutcomeIndicator="0"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventDateTime: outside years"},
		{"no zone", message(`<EventIdentification EventDateTime="2001-12-17T09:30:47.123456" EventOutcomeIndicator="0"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventDateTime: no time zone"},
		{"no outcome", message(`<EventIdentification EventDateTime="2001-12-17T09:30:47Z"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventOutcomeIndicator: missing"},
		{"bad outcome", message(`<EventIdentification EventDateTime="2001-12-17T09:30:47Z" EventOutcomeIndicator="SECRET"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventOutcomeIndicator: not one of 0, 4, 8, 12"},
		{"bad action", message(`<EventIdentification EventActionCode="SECRET" EventDateTime="2001-12-17T09:30:47Z" EventOutcomeIndicator="0"><EventID csd-code="1"/></EventIdentification>`, okActor), "EventActionCode: not one of C, R, U, D, E"},
		{"no event id", message(`<EventIdentification EventDateTime="2001-12-17T09:30:47Z" EventOutcomeIndicator="0"/>`, okActor), "EventID: missing"},
		{"empty event id", message(`<EventIdentification EventDateTime="2001-12-17T09:30:47Z" EventOutcomeIndicator="0"><EventID codeSystemName="DCM"/></EventIdentification>`, okActor), "EventID: no code"},
		{"no actor", message("", ""), "actor: no identifier"},
		{"patient without id", message("", okActor+`<ParticipantObjectIdentification ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectName>SECRET</ParticipantObjectName></ParticipantObjectIdentification>`),
			"ParticipantObjectIdentification[1]/@ParticipantObjectID: missing or empty"},
		{"bad query", message("", okActor+`<ParticipantObjectIdentification ParticipantObjectID="x"/><ParticipantObjectIdentification ParticipantObjectID="SECRET" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="24"><ParticipantObjectQuery>SECRET!!</ParticipantObjectQuery></ParticipantObjectIdentification>`),
			"ParticipantObjectIdentification[2]/ParticipantObjectQuery: not valid base64"},
		{"doctype", `<!DOCTYPE AuditMessage [<!ENTITY SECRET "x">]>` + message("", okActor), "document type declarations are not allowed"},
		{"mismatched", `<AuditMessage><SECRET></AuditMessage>`, "end tag does not match"},
		{"unclosed", `<AuditMessage><EventIdentification>`, "unexpected end of input"},
		{"undefined entity", message("", `<ActiveParticipant UserID="&SECRET;"/>`), "malformed or undefined entity reference"},
		{"bad char ref", message("", `<ActiveParticipant UserID="&#0;"/>`), "malformed or undefined entity reference"},
		{"control char", message("", "<ActiveParticipant UserID=\"SECRET\x01\"/>"), "control character"},
		{"lt in attribute", message("", `<ActiveParticipant UserID="SECRET<"/>`), "'<' in an attribute value"},
		{"duplicate attribute", message("", `<ActiveParticipant UserID="SECRET" UserID="SECRET"/>`), "duplicate attribute"},
		{"unquoted", message("", `<ActiveParticipant UserID=SECRET/>`), "expected a quoted attribute value"},
		{"second root", message("", okActor) + `<AuditMessage/>`, "second root element"},
		{"trailing text", message("", okActor) + `SECRET`, "text outside the root element"},
		{"not utf8", message("", "<ActiveParticipant UserID=\"SECRET\xff\"/>"), "not valid UTF-8"},
		{"nonchar", message("", "<ActiveParticipant UserID=\"SECRET\uFFFE\"/>"), "non-character"},
		{"too deep", `<AuditMessage>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</AuditMessage>`, "nested too deeply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("src", []byte(tc.doc))
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "atna: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q leaks a value", err)
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	t.Run("entities and whitespace", func(t *testing.T) {
		doc := message("", `<!-- comment --><ActiveParticipant UserID="a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#x41;&#66;" `+
			"UserName=\"x\ty\r\nz\" AlternativeUserID=\"p&#xA;q\"/>")
		e, err := Parse("s", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if want := `a&b <c> "d" 'e' AB`; e.Actor.ID != want {
			t.Errorf("ID %q, want %q", e.Actor.ID, want)
		}
		// Attribute-value normalization: literal TAB and CRLF become one space each.
		if want := "x y z"; e.Actor.Name != want {
			t.Errorf("Name %q, want %q", e.Actor.Name, want)
		}
		// A character reference keeps the newline.
		if want := "p\nq"; e.Actor.AltID != want {
			t.Errorf("AltID %q, want %q", e.Actor.AltID, want)
		}
	})
	t.Run("requestor choice", func(t *testing.T) {
		e, err := Parse("s", []byte(message("", `<ActiveParticipant UserID="first" NetworkAccessPointID="n1"/>`+
			`<ActiveParticipant UserID="second" UserIsRequestor=" 1 " NetworkAccessPointID="n2"><RoleIDCode originalText="Clerk"/><RoleIDCode csd-code="ignored"/></ActiveParticipant>`)))
		if err != nil {
			t.Fatal(err)
		}
		if e.Actor.ID != "second" || e.Network != "n2" || e.Actor.Role != "Clerk" {
			t.Errorf("actor %+v network %q", e.Actor, e.Network)
		}
		e, err = Parse("s", []byte(message("", `<ActiveParticipant UserID="first" UserIsRequestor="false"/><ActiveParticipant UserID="second" UserIsRequestor="false"/>`)))
		if err != nil {
			t.Fatal(err)
		}
		if e.Actor.ID != "first" {
			t.Errorf("without a requestor the first participant should act, got %q", e.Actor.ID)
		}
	})
}

func TestParseMore(t *testing.T) {
	// Separate from TestParseDetails so failures read clearly.
	doc := `<?xml version="1.0"?>` + "\n" + `<a:AuditMessage xmlns:a="urn:x">` +
		`<a:EventIdentification EventActionCode="R" EventDateTime="2024-02-29T23:59:59.123456789+14:00" EventOutcomeIndicator="12">` +
		`<a:EventID code="1" csd-code="110110" codeSystem="1.2.840.10008.2.16.4" displayName="dn" originalText="Patient Record"/>` +
		`<a:PurposeOfUse csd-code="TREAT" codeSystemName="2.16.840.1.113883.5.8" originalText="treatment"/>` +
		`<a:PurposeOfUse csd-code="X" codeSystemName="local"/>` +
		`</a:EventIdentification>` + okActor +
		`<a:AuditSourceIdentification AuditSourceID="src"/><a:AuditSourceIdentification AuditEnterpriseSiteID="ignored"/>` +
		`<a:ParticipantObjectIdentification ParticipantObjectID="q1" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="24">` +
		`<a:ParticipantObjectQuery>c2Vs<![CDATA[ZWN0]]>&#x20;</a:ParticipantObjectQuery></a:ParticipantObjectIdentification>` +
		`<a:ParticipantObjectIdentification ParticipantObjectID="o2" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="99"/>` +
		`<a:ParticipantObjectIdentification ParticipantObjectID="o3"><a:ParticipantObjectDetail type="labtrust:role" value="` +
		`Y3VzdG9t"/></a:ParticipantObjectIdentification>` +
		`</a:AuditMessage>`
	e, err := Parse("s", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := labtrust.Event{
		Time: mustTime("2024-02-29T09:59:59.123456789Z"), Source: "s", Kind: labtrust.KindSecurity,
		Type:    dcm("110110", "Patient Record"),
		Action:  labtrust.ActionRead,
		Outcome: labtrust.OutcomeMajorFailure,
		Purpose: []labtrust.Code{{System: SystemActReason, Code: "TREAT", Display: "treatment"}, {System: "local", Code: "X"}},
		Actor:   labtrust.Actor{ID: "SECRETuser", Site: "src"},
		Objects: []labtrust.Object{
			{ID: "q1", Role: "query", Query: "select"},
			{ID: "o2", Role: "99"},
			{ID: "o3", Role: "custom"},
		},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("\n got %+v\nwant %+v", e, want)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	events := []labtrust.Event{
		ww1,
		{
			Time: time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC), Source: "lis <main> & \"co\"", Kind: labtrust.KindAccess,
			Type:    labtrust.Code{System: "urn:oid:1.2.3", Code: "read", Display: "Read\tit\nnow\r"},
			Subtype: []labtrust.Code{{Code: "only-code"}, {Display: "only display"}},
			Purpose: []labtrust.Code{{System: SystemActReason, Code: "TREAT"}},
			Action:  labtrust.ActionRead, Outcome: labtrust.OutcomeSeriousFailure,
			Actor: labtrust.Actor{ID: "  spaced  ", Name: "Zoë Ünïcode 😀", Role: "LAB-TECH", Site: "", AltID: "x'y",
				UserType: "person"},
			Network: "2001:db8::1",
			Patients: []labtrust.PatientRef{
				{ID: "MRN-1"},
				{System: "urn:oid:2.16.840.1.113883.19.5", ID: "12345^^^&1.2&ISO"},
				{System: "1", ID: "x"},
			},
			Objects: []labtrust.Object{
				{Type: "DiagnosticReport", ID: "DiagnosticReport/1", Role: "report"},
				{Type: "Query", Role: "query", Query: "GET /Patient?name=a&b\r\nx\ty"},
				{Query: "binary\x00"}, // not text: comes back as base64, tested below
				{Role: "25"},
				{Role: "5"},
				{Role: "07"},
				{Role: "patient"},
				{Role: "some role"},
				{Query: "base64:aGVsbG8="}, // text that only looks like the binary marker
				{Query: "base64:AAEC"},     // the binary marker Parse writes
				{},
			},
		},
		{
			Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), Source: "s", Kind: labtrust.KindSecurity,
			Type: labtrust.Code{Code: "x"}, Outcome: labtrust.OutcomeMinorFailure,
			Actor: labtrust.Actor{AltID: "only-alt", UserType: "system", Role: "110152"},
		},
	}
	for i, e := range events {
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("%d: Encode: %v", i, err)
		}
		got, err := Parse(e.Source, b)
		if err != nil {
			t.Fatalf("%d: Parse: %v\n%s", i, err, b)
		}
		if i == 1 {
			if q := got.Objects[2].Query; q != "base64:YmluYXJ5AA==" {
				t.Errorf("binary query came back as %q", q)
			}
			got.Objects[2].Query = e.Objects[2].Query
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%d: round trip\n got %+v\nwant %+v\n%s", i, got, e, b)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	base := labtrust.Event{Time: time.Unix(0, 0), Source: "s", Kind: labtrust.KindSecurity,
		Type: labtrust.Code{Code: "x"}, Actor: labtrust.Actor{ID: "u"}}
	tests := []struct {
		name string
		edit func(*labtrust.Event)
		want string
	}{
		{"invalid", func(e *labtrust.Event) { e.Source = "" }, "source: missing"},
		{"staff kind", func(e *labtrust.Event) { e.Kind = labtrust.KindStaff }, "kind"},
		{"security with patient", func(e *labtrust.Event) { e.Patients = []labtrust.PatientRef{{ID: "SECRET"}} }, "patients"},
		{"no type", func(e *labtrust.Event) { e.Type = labtrust.Code{} }, "type: missing"},
		{"bad action", func(e *labtrust.Event) { e.Action = "X" }, "action"},
		{"bad user type", func(e *labtrust.Event) { e.Actor.UserType = "robot" }, "actor.type"},
		{"control char", func(e *labtrust.Event) { e.Actor.Name = "SECRET\x01" }, "actor.name: control character"},
		{"bad utf8", func(e *labtrust.Event) { e.Objects = []labtrust.Object{{ID: "SECRET\xff"}} }, "objects[0].id: not valid UTF-8"},
		{"year", func(e *labtrust.Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := base
			tc.edit(&e)
			_, err := Encode(e)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q leaks a value", err)
			}
		})
	}
}
