package registry

import (
	"fmt"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/internal/jsonread"
)

// decodeRecord reads a sealed record's plaintext. A breach scope and its
// notices open every record of the registry (ten million at a large
// lab), and encoding/json spent most of the time opening one; this reads
// the shape json.Marshal writes for sealedRecord directly, and hands
// anything else (a record written before a field was added, say) to
// encoding/json, so no record a version wrote becomes unreadable. The
// tests hold the two to the same result.
func decodeRecord(b []byte) (sealedRecord, error) { return jsonread.Decode(b, readRecord) }

func readRecord(d *jsonread.Reader) (sealedRecord, error) {
	var sr sealedRecord
	err := d.Object(func(k string) error {
		switch k {
		case "patient":
			return readPatient(d, &sr.Patient)
		case "merged":
			var err error
			sr.Merged, err = readRefs(d)
			return err
		}
		return fmt.Errorf("unknown field %q", k)
	})
	return sr, err
}

func readPatient(d *jsonread.Reader, p *labtrust.Patient) error {
	return d.Object(func(k string) error {
		var err error
		switch k {
		case "ID":
			p.ID, err = readRef(d)
		case "OtherIDs":
			p.OtherIDs, err = readRefs(d)
		case "SSN":
			p.SSN, err = d.Str()
		case "Name":
			err = readName(d, &p.Name)
		case "BirthDate":
			p.BirthDate, err = d.Str()
		case "Sex":
			p.Sex, err = d.Str()
		case "Addresses":
			if d.Null() {
				p.Addresses = nil
				return nil
			}
			p.Addresses = []labtrust.Address{}
			err = d.Array(func() error {
				var a labtrust.Address
				err := readAddress(d, &a)
				p.Addresses = append(p.Addresses, a)
				return err
			})
		case "Phones":
			p.Phones, err = d.Strings()
		case "Emails":
			p.Emails, err = d.Strings()
		case "Language":
			p.Language, err = d.Str()
		case "Guardian":
			if d.Null() {
				p.Guardian = nil
				return nil
			}
			if p.Guardian == nil { // as encoding/json: a repeated member fills the same one
				p.Guardian = &labtrust.Contact{}
			}
			err = readContact(d, p.Guardian)
		case "Deceased":
			p.Deceased, err = d.Bool()
		case "DeceasedAt":
			p.DeceasedAt, err = d.Str()
		case "VIP":
			p.VIP, err = d.Bool()
		default:
			return fmt.Errorf("unknown field patient.%s", k)
		}
		return err
	})
}

func readRef(d *jsonread.Reader) (labtrust.PatientRef, error) {
	var r labtrust.PatientRef
	err := d.Object(func(k string) error {
		var err error
		switch k {
		case "system":
			r.System, err = d.Str()
		case "id":
			r.ID, err = d.Str()
		default:
			return fmt.Errorf("unknown field ref.%s", k)
		}
		return err
	})
	return r, err
}

func readRefs(d *jsonread.Reader) ([]labtrust.PatientRef, error) {
	if d.Null() {
		return nil, nil
	}
	out := []labtrust.PatientRef{}
	err := d.Array(func() error {
		r, err := readRef(d)
		out = append(out, r)
		return err
	})
	return out, err
}

func readName(d *jsonread.Reader, n *labtrust.HumanName) error {
	return d.Object(func(k string) error {
		var err error
		switch k {
		case "Family":
			n.Family, err = d.Str()
		case "Given":
			n.Given, err = d.Strings()
		case "Prefix":
			n.Prefix, err = d.Str()
		case "Suffix":
			n.Suffix, err = d.Str()
		default:
			return fmt.Errorf("unknown field name.%s", k)
		}
		return err
	})
}

func readAddress(d *jsonread.Reader, a *labtrust.Address) error {
	return d.Object(func(k string) error {
		var err error
		switch k {
		case "Use":
			a.Use, err = d.Str()
		case "Lines":
			a.Lines, err = d.Strings()
		case "City":
			a.City, err = d.Str()
		case "State":
			a.State, err = d.Str()
		case "PostalCode":
			a.PostalCode, err = d.Str()
		case "Country":
			a.Country, err = d.Str()
		default:
			return fmt.Errorf("unknown field address.%s", k)
		}
		return err
	})
}

func readContact(d *jsonread.Reader, c *labtrust.Contact) error {
	return d.Object(func(k string) error {
		var err error
		switch k {
		case "Name":
			err = readName(d, &c.Name)
		case "Relationship":
			c.Relationship, err = d.Str()
		case "Phones":
			c.Phones, err = d.Strings()
		case "Address":
			if d.Null() {
				c.Address = nil
				return nil
			}
			if c.Address == nil {
				c.Address = &labtrust.Address{}
			}
			err = readAddress(d, c.Address)
		default:
			return fmt.Errorf("unknown field contact.%s", k)
		}
		return err
	})
}
