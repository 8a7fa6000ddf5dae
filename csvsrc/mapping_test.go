package csvsrc

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/labtrust/labtrust"
	"go.yaml.in/yaml/v3"
)

// baseMapping is a small valid mapping the tests vary.
func baseMapping() Mapping {
	return Mapping{
		TimeLayout: "2006-01-02 15:04",
		Columns: Columns{
			Time: "accessed_at", ActorID: "user", Action: "action", Outcome: "result",
			PatientID: "mrn",
		},
		ActionMap:  map[string]ActionRule{"VIEW": {Action: "R"}, "PRINT": {Action: "R", Role: "print"}, "EDIT": {Action: "U"}},
		OutcomeMap: map[string]labtrust.Outcome{"OK": 0, "DENIED": 4},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *Mapping)
		want string // "" means valid
	}{
		{"base", func(m *Mapping) {}, ""},
		{"rfc3339 default", func(m *Mapping) { m.TimeLayout = "" }, ""},
		{"unix", func(m *Mapping) { m.TimeLayout = "unix" }, ""},
		{"unixms", func(m *Mapping) { m.TimeLayout = "unixms" }, ""},
		{"tab and comment", func(m *Mapping) { m.Delimiter = "\t"; m.Comment = "#" }, ""},
		{"star", func(m *Mapping) { m.ActionMap["*"] = ActionRule{Action: "E"} }, ""},
		{"no header numbers", func(m *Mapping) {
			m.Header = new(false)
			m.Columns = Columns{Time: "1", ActorID: "2", PatientIDs: []string{"3", "4"}}
			m.ActionMap, m.OutcomeMap = nil, nil
		}, ""},
		{"time required", func(m *Mapping) { m.Columns.Time = "" }, "columns.time: required"},
		{"actor required", func(m *Mapping) { m.Columns.ActorID = "" }, "columns: actorId or actorName is required (every event needs an actor)"},
		{"blank column", func(m *Mapping) { m.Columns.Network = "  " }, "columns.network: column name is blank"},
		{"empty patientIds entry", func(m *Mapping) { m.Columns.PatientIDs = []string{"a", ""} }, "columns.patientIds[1]: empty column name"},
		{"layout name typo", func(m *Mapping) { m.TimeLayout = "rfc3999" },
			`timeLayout: unknown name "rfc3999" (names are rfc3339, unix, unixms; anything else is a Go layout such as "2006-01-02 15:04:05")`},
		{"layout without date", func(m *Mapping) { m.TimeLayout = "15:04:05" },
			`timeLayout: Go layout "15:04:05" does not hold year, month, day, hour and minute`},
		{"layout strftime", func(m *Mapping) { m.TimeLayout = "%Y-%m-%d %H:%M" },
			`timeLayout: Go layout "%Y-%m-%d %H:%M" does not hold year, month, day, hour and minute`},
		{"zone", func(m *Mapping) { m.TimeZone = "Europe/Berln" }, `timeZone: unknown zone "Europe/Berln"`},
		{"action value", func(m *Mapping) { m.ActionMap["ARCHIVE"] = ActionRule{Action: "X"} },
			`actionMap: value "X" is not one of C R U D E (source value "ARCHIVE")`},
		{"action map without column", func(m *Mapping) { m.Columns.Action = "" }, "actionMap: set but columns.action is not"},
		{"action column without map", func(m *Mapping) { m.ActionMap = nil }, "actionMap: required when columns.action is set"},
		{"action keys fold", func(m *Mapping) { m.ActionMap["view"] = ActionRule{Action: "R"} },
			`actionMap: keys "VIEW" and "view" differ only in case`},
		{"outcome value", func(m *Mapping) { m.OutcomeMap["WARN"] = 2 }, `outcomeMap: value 2 is not one of 0 4 8 12 (source value "WARN")`},
		{"outcome map without column", func(m *Mapping) { m.Columns.Outcome = "" }, "outcomeMap: set but columns.outcome is not"},
		{"kind", func(m *Mapping) { m.Kind = labtrust.KindStaff }, `kind: "staff" is not one of access security (or empty to derive it)`},
		{"delimiter two chars", func(m *Mapping) { m.Delimiter = ";;" }, `delimiter: must be exactly one character, not ";;"`},
		{"delimiter quote", func(m *Mapping) { m.Delimiter = `"` }, `delimiter: "\"" cannot be used`},
		{"comment equals delimiter", func(m *Mapping) { m.Comment = "," }, "comment: must differ from the delimiter"},
		{"negative max", func(m *Mapping) { m.MaxRowBytes = -1 }, "maxRowBytes: must not be negative"},
		{"number without header", func(m *Mapping) { m.Header = new(false) },
			`columns.time: "accessed_at" is not a column number (header is false, so columns are numbered from 1)`},
		{"zero column number", func(m *Mapping) {
			m.Header = new(false)
			m.Columns = Columns{Time: "1", ActorID: "0"}
			m.ActionMap, m.OutcomeMap = nil, nil
		}, `columns.actorId: "0" is not a column number (header is false, so columns are numbered from 1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseMapping()
			tt.edit(&m)
			err := m.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want %q", tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Fatalf("Validate() = %q\nwant          %q", err, tt.want)
			}
		})
	}
}

func TestMappingYAML(t *testing.T) {
	b, err := os.ReadFile("testdata/lis-mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got Mapping
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := Mapping{
		Delimiter:     ",",
		Header:        new(true),
		TimeLayout:    "2006-01-02 15:04:05",
		TimeZone:      "America/Chicago",
		PatientSystem: "urn:oid:2.16.840.1.113883.19.5",
		PurposeSystem: "http://terminology.hl7.org/CodeSystem/v3-ActReason",
		ObjectType:    "DiagnosticReport",
		Columns: Columns{
			Time: "accessed_at", ActorID: "user_id", ActorName: "user_name", ActorRole: "role",
			ActorSite: "site", Network: "workstation", Action: "action", Outcome: "result",
			PatientID: "mrn", PatientIDs: []string{"linked_mrn"}, ObjectType: "object_type",
			ObjectID: "accession", Purpose: "reason", SourceRef: "audit_id",
		},
		ActionMap: map[string]ActionRule{
			"VIEW": {Action: "R"}, "PRINT": {Action: "R", Role: "print"}, "CREATE": {Action: "C"},
			"EDIT": {Action: "U"}, "DELETE": {Action: "D"}, "EXPORT": {Action: "E"},
			"LOGIN": {Action: "E"}, "LOGOUT": {Action: "E"}, "LOGIN_FAILED": {Action: "E"},
		},
		OutcomeMap: map[string]labtrust.Outcome{"OK": 0, "DENIED": 4, "ERROR": 8},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("YAML mapping:\n got %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("sample mapping does not validate: %v", err)
	}
}

func TestMappingYAMLInline(t *testing.T) {
	const doc = `
header: false
delimiter: "\t"
comment: "#"
kind: access
eventType: {system: "http://dicom.nema.org/resources/ontology/DCM", code: "110110", display: Patient Record}
timeLayout: unixms
columns: {time: "1", actorName: "2", action: "3", patientId: "4"}
actionMap:
  "*": R
  x: {action: D}
`
	var m Mapping
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.HasHeader() || m.Delimiter != "\t" || m.Comment != "#" || m.Kind != labtrust.KindAccess ||
		m.EventType != (labtrust.Code{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110110", Display: "Patient Record"}) ||
		m.ActionMap["*"] != (ActionRule{Action: "R"}) || m.ActionMap["x"] != (ActionRule{Action: "D"}) {
		t.Fatalf("decoded %+v", m)
	}

	// A wrong shape is a decode error, not a silent zero value.
	if err := yaml.Unmarshal([]byte("actionMap: {VIEW: [R]}"), &m); err == nil {
		t.Fatal("a list as an action rule decoded without error")
	}
}

func TestMappingJSONRoundTrip(t *testing.T) {
	m := baseMapping()
	m.Header = new(true)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Mapping
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("JSON round trip:\n got %+v\nwant %+v\njson %s", back, m, b)
	}
	y, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var backY Mapping
	if err := yaml.Unmarshal(y, &backY); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(backY, m) {
		t.Fatalf("YAML round trip:\n got %+v\nwant %+v\nyaml %s", backY, m, y)
	}
}
