package atna

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that what it accepts is a valid
// Event, and that every accepted message survives Encode and Parse again
// unchanged.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(message("", okActor)))
	f.Add([]byte(message("", `<ActiveParticipant UserID="a&amp;&#x9;b"/><ParticipantObjectIdentification ParticipantObjectID="p" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"/>`)))
	f.Add([]byte(message("", okActor+`<ParticipantObjectIdentification ParticipantObjectID="q"><ParticipantObjectQuery><![CDATA[AAEC]]></ParticipantObjectQuery><ParticipantObjectDetail type="labtrust:role" value="eA=="/></ParticipantObjectIdentification>`)))
	f.Add([]byte(`<!DOCTYPE x><AuditMessage/>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		e, err := Parse("fuzz", doc)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid event: %v", err)
		}
		enc, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode of a parsed event: %v", err)
		}
		again, err := Parse("fuzz", enc)
		if err != nil {
			t.Fatalf("Parse(Encode): %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, e)
		}
	})
}
