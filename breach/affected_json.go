package breach

import (
	"encoding/base64"
	"fmt"

	"github.com/labtrust/labtrust/internal/jsonread"
)

// DecodeAffected reads a scope part: the JSON json.Marshal writes for
// []Affected. Notices read every part of a scope (ten million people at a
// large breach), and encoding/json was most of the time their reader
// spent; this reads that shape directly and hands anything else (a part
// written before a field was added, say) to encoding/json. The tests hold
// the two to the same result.
func DecodeAffected(b []byte) ([]Affected, error) { return jsonread.Decode(b, readPart) }

func readPart(d *jsonread.Reader) ([]Affected, error) {
	if d.Null() {
		return nil, nil
	}
	out := []Affected{}
	err := d.Array(func() error {
		out = append(out, Affected{})
		return readAffected(d, &out[len(out)-1])
	})
	return out, err
}

func readAffected(d *jsonread.Reader, a *Affected) error {
	return d.Object(func(k string) error {
		var err error
		switch k {
		case "mrn":
			a.MRN, err = d.Str()
		case "blind":
			if d.Null() {
				a.Blind = nil
				return nil
			}
			var s string
			if s, err = d.Str(); err == nil {
				a.Blind = make([]byte, base64.StdEncoding.DecodedLen(len(s)))
				var n int
				n, err = base64.StdEncoding.Decode(a.Blind, []byte(s))
				a.Blind = a.Blind[:n]
			}
		case "state":
			a.State, err = d.Str()
		case "language":
			a.Language, err = d.Str()
		case "elements":
			var es []string
			if es, err = d.Strings(); err == nil && es != nil {
				a.Elements = make([]Element, len(es))
				for i, e := range es {
					a.Elements[i] = Element(e)
				}
			} else if err == nil {
				a.Elements = nil
			}
		case "hasAddress":
			a.HasAddress, err = d.Bool()
		case "hasEmail":
			a.HasEmail, err = d.Bool()
		case "minor":
			a.Minor, err = d.Bool()
		case "deceased":
			a.Deceased, err = d.Bool()
		case "registered":
			a.Registered, err = d.Bool()
		case "accesses":
			a.Accesses, err = readInt(d)
		case "count":
			a.Count, err = readInt(d)
		case "registry":
			a.Registry, err = d.Int()
		case "entries":
			if d.Null() {
				a.Entries = nil
				return nil
			}
			a.Entries = []uint64{}
			err = d.Array(func() error {
				n, err := d.Uint()
				a.Entries = append(a.Entries, n)
				return err
			})
		case "first", "last":
			var s string
			if s, err = d.Str(); err == nil {
				t := &a.First
				if k == "last" {
					t = &a.Last
				}
				err = t.UnmarshalText([]byte(s)) // as encoding/json reads a time
			}
		default:
			return fmt.Errorf("unknown field %q", k)
		}
		return err
	})
}

func readInt(d *jsonread.Reader) (int, error) {
	n, err := d.Int()
	if err == nil && int64(int(n)) != n {
		err = d.Fail("integer out of range")
	}
	return int(n), err
}
