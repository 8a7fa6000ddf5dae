package notice

import (
	"fmt"

	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/internal/jsonread"
)

// decodeRecord reads a notice record's plaintext. A mail-house export
// opens every notice of a breach (ten million at a large one), and
// encoding/json was the largest part of opening one; this reads the shape
// json.Marshal writes for Record directly and hands anything else to
// encoding/json. The tests hold the two to the same result.
func decodeRecord(b []byte) (Record, error) { return jsonread.Decode(b, readRecord) }

func readRecord(d *jsonread.Reader) (Record, error) {
	var r Record
	err := d.Object(func(k string) error {
		var err error
		switch k {
		case "code":
			r.Code, err = d.Str()
		case "mrn":
			r.MRN, err = d.Str()
		case "name":
			r.Name, err = d.Str()
		case "address":
			r.Address, err = d.Strings()
		case "state":
			r.State, err = d.Str()
		case "email":
			r.Email, err = d.Str()
		case "language":
			r.Language, err = d.Str()
		case "birthDate":
			r.BirthDate, err = d.Str()
		case "minor":
			r.Minor, err = d.Bool()
		case "deceased":
			r.Deceased, err = d.Bool()
		case "elements":
			var es []string
			if es, err = d.Strings(); err == nil && es != nil {
				r.Elements = make([]breach.Element, len(es))
				for i, e := range es {
					r.Elements[i] = breach.Element(e)
				}
			} else if err == nil {
				r.Elements = nil
			}
		case "first", "last":
			var s string
			if s, err = d.Str(); err == nil {
				t := &r.First
				if k == "last" {
					t = &r.Last
				}
				err = t.UnmarshalText([]byte(s)) // as encoding/json reads a time
			}
		case "monitoring":
			r.Monitoring, err = d.Str()
		default:
			return fmt.Errorf("unknown field %q", k)
		}
		return err
	})
	return r, err
}
