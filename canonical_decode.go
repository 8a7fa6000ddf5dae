package labtrust

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/labtrust/labtrust/internal/jsonread"
)

// decodeCanonical reads the JSON shape appendCanonical writes, about ten
// times faster than encoding/json (which reflection and its generic
// decoder make slow: detection and access reports read every stored
// entry). It accepts any JSON object of that shape (and ignores what
// follows it); UnmarshalCanonical adds the check that the bytes are
// exactly canonical.
func decodeCanonical(b []byte) (*Entry, error) {
	d := jsonread.New(b)
	en := &Entry{}
	e := &en.Event
	v := 0
	var haveTime bool
	err := d.Object(func(key string) error {
		var err error
		switch key {
		case "action":
			var s string
			s, err = d.Str()
			e.Action = Action(s)
		case "actor":
			a := &e.Actor
			err = readStrings(d, "actor", func(k string) *string {
				return pick(k, "altId", &a.AltID, "id", &a.ID, "name", &a.Name, "role", &a.Role, "site", &a.Site, "type", &a.UserType)
			})
		case "index":
			en.Index, err = d.Uint()
		case "kind":
			var s string
			s, err = d.Str()
			e.Kind = Kind(s)
		case "links":
			err = d.Array(func() error {
				var l Link
				hash := false
				err := d.Object(func(k string) error {
					var err error
					switch k {
					case "hasPrev":
						l.HasPrev, err = d.Bool()
					case "patient":
						var n int64
						n, err = d.Int()
						l.Patient = int(n)
					case "prevHash":
						var s string
						if s, err = d.Str(); err == nil {
							h, herr := hex.DecodeString(s)
							if herr != nil || len(h) != 32 {
								return fmt.Errorf("link prevHash is not 64 hex digits")
							}
							copy(l.PrevHash[:], h)
							hash = true
						}
					case "prevIndex":
						l.PrevIndex, err = d.Uint()
					default:
						return fmt.Errorf("unknown field links.%s", k)
					}
					return err
				})
				if err == nil && l.HasPrev && !hash {
					err = fmt.Errorf("link prevHash is not 64 hex digits")
				}
				en.Links = append(en.Links, l)
				return err
			})
		case "network":
			e.Network, err = d.Str()
		case "objects":
			err = d.Array(func() error {
				var o Object
				err := readStrings(d, "objects", func(k string) *string {
					return pick(k, "id", &o.ID, "query", &o.Query, "role", &o.Role, "type", &o.Type)
				})
				e.Objects = append(e.Objects, o)
				return err
			})
		case "outcome":
			var n int64
			n, err = d.Int()
			e.Outcome = Outcome(n)
		case "patients":
			err = d.Array(func() error {
				var p PatientRef
				err := readStrings(d, "patients", func(k string) *string { return pick(k, "id", &p.ID, "system", &p.System) })
				e.Patients = append(e.Patients, p)
				return err
			})
		case "purpose":
			e.Purpose, err = readCodes(d)
		case "source":
			e.Source, err = d.Str()
		case "sourceRef":
			e.SourceRef, err = d.Str()
		case "subtype":
			e.Subtype, err = readCodes(d)
		case "time":
			var s string
			if s, err = d.Str(); err == nil {
				if e.Time, err = time.Parse(TimeLayout, s); err != nil {
					return fmt.Errorf("time: %w", err)
				}
				haveTime = true
			}
		case "type":
			e.Type, err = readCode(d)
		case "v":
			var n int64
			n, err = d.Int()
			v = int(n)
		default:
			return fmt.Errorf("unknown field %q", key)
		}
		return err
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("canonical entry: %w", err)
	case v != CanonicalVersion:
		return nil, fmt.Errorf("canonical entry: unknown version %d", v)
	case !haveTime:
		return nil, fmt.Errorf("canonical entry: no time")
	}
	return en, nil
}

func readCode(d *jsonread.Reader) (Code, error) {
	var c Code
	err := readStrings(d, "code", func(k string) *string { return pick(k, "code", &c.Code, "display", &c.Display, "system", &c.System) })
	return c, err
}

// readStrings reads an object whose members are all strings, each stored
// where field says (nil: not a member this object has).
func readStrings(d *jsonread.Reader, what string, field func(k string) *string) error {
	return d.Object(func(k string) error {
		dst := field(k)
		if dst == nil {
			return fmt.Errorf("unknown field %s.%s", what, k)
		}
		var err error
		*dst, err = d.Str()
		return err
	})
}

// pick returns the target paired with key k in pairs (name, *string, ...).
func pick(k string, pairs ...any) *string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].(string) == k {
			return pairs[i+1].(*string)
		}
	}
	return nil
}

func readCodes(d *jsonread.Reader) ([]Code, error) {
	var out []Code
	err := d.Array(func() error {
		c, err := readCode(d)
		out = append(out, c)
		return err
	})
	return out, err
}
