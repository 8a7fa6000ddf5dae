package labtrust

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/labtrust/labtrust/internal/jsonstr"
)

// decodeCanonical reads the JSON shape appendCanonical writes, about ten
// times faster than encoding/json (which reflection and its generic
// decoder make slow: detection and access reports read every stored
// entry). It accepts any JSON object of that shape (and ignores what
// follows it); UnmarshalCanonical adds the check that the bytes are
// exactly canonical.
func decodeCanonical(b []byte) (*Entry, error) {
	d := cdec{b: b}
	en := &Entry{}
	e := &en.Event
	v := 0
	var haveTime bool
	err := d.object(func(key string) error {
		var err error
		switch key {
		case "action":
			var s string
			s, err = d.str()
			e.Action = Action(s)
		case "actor":
			a := &e.Actor
			err = d.strings("actor", func(k string) *string {
				return pick(k, "altId", &a.AltID, "id", &a.ID, "name", &a.Name, "role", &a.Role, "site", &a.Site, "type", &a.UserType)
			})
		case "index":
			en.Index, err = d.uint()
		case "kind":
			var s string
			s, err = d.str()
			e.Kind = Kind(s)
		case "links":
			err = d.array(func() error {
				var l Link
				hash := false
				err := d.object(func(k string) error {
					var err error
					switch k {
					case "hasPrev":
						l.HasPrev, err = d.boolean()
					case "patient":
						var n int64
						n, err = d.int()
						l.Patient = int(n)
					case "prevHash":
						var s string
						if s, err = d.str(); err == nil {
							h, herr := hex.DecodeString(s)
							if herr != nil || len(h) != 32 {
								return fmt.Errorf("link prevHash is not 64 hex digits")
							}
							copy(l.PrevHash[:], h)
							hash = true
						}
					case "prevIndex":
						l.PrevIndex, err = d.uint()
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
			e.Network, err = d.str()
		case "objects":
			err = d.array(func() error {
				var o Object
				err := d.strings("objects", func(k string) *string {
					return pick(k, "id", &o.ID, "query", &o.Query, "role", &o.Role, "type", &o.Type)
				})
				e.Objects = append(e.Objects, o)
				return err
			})
		case "outcome":
			var n int64
			n, err = d.int()
			e.Outcome = Outcome(n)
		case "patients":
			err = d.array(func() error {
				var p PatientRef
				err := d.strings("patients", func(k string) *string { return pick(k, "id", &p.ID, "system", &p.System) })
				e.Patients = append(e.Patients, p)
				return err
			})
		case "purpose":
			e.Purpose, err = d.codes()
		case "source":
			e.Source, err = d.str()
		case "sourceRef":
			e.SourceRef, err = d.str()
		case "subtype":
			e.Subtype, err = d.codes()
		case "time":
			var s string
			if s, err = d.str(); err == nil {
				if e.Time, err = time.Parse(TimeLayout, s); err != nil {
					return fmt.Errorf("time: %w", err)
				}
				haveTime = true
			}
		case "type":
			e.Type, err = d.code()
		case "v":
			var n int64
			n, err = d.int()
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

// cdec is a small strict JSON reader over one buffer.
type cdec struct {
	b []byte
	i int
}

var errEnd = errors.New("unexpected end")

func (d *cdec) fail(what string) error {
	if d.i >= len(d.b) {
		return errEnd
	}
	return fmt.Errorf("%s at offset %d", what, d.i)
}

func (d *cdec) ws() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\t' || d.b[d.i] == '\n' || d.b[d.i] == '\r') {
		d.i++
	}
}

func (d *cdec) expect(c byte) error {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != c {
		return d.fail(fmt.Sprintf("expected %q", c))
	}
	d.i++
	return nil
}

// object reads {"key": value, ...}, calling fn to read each value.
func (d *cdec) object(fn func(key string) error) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		k, err := d.str()
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return errEnd
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.fail("expected , or }")
		}
	}
}

func (d *cdec) array(fn func() error) error {
	if err := d.expect('['); err != nil {
		return err
	}
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return errEnd
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.fail("expected , or ]")
		}
	}
}

func (d *cdec) code() (Code, error) {
	var c Code
	err := d.strings("code", func(k string) *string { return pick(k, "code", &c.Code, "display", &c.Display, "system", &c.System) })
	return c, err
}

// strings reads an object whose members are all strings, each stored
// where field says (nil: not a member this object has).
func (d *cdec) strings(what string, field func(k string) *string) error {
	return d.object(func(k string) error {
		dst := field(k)
		if dst == nil {
			return fmt.Errorf("unknown field %s.%s", what, k)
		}
		var err error
		*dst, err = d.str()
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

func (d *cdec) codes() ([]Code, error) {
	var out []Code
	err := d.array(func() error {
		c, err := d.code()
		out = append(out, c)
		return err
	})
	return out, err
}

func (d *cdec) boolean() (bool, error) {
	d.ws()
	switch {
	case len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
		return true, nil
	case len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
		return false, nil
	}
	return false, d.fail("expected a boolean")
}

func (d *cdec) number() ([]byte, error) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == start || d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return nil, d.fail("expected an integer")
	}
	return d.b[start:d.i], nil
}

func (d *cdec) uint() (uint64, error) {
	n, err := d.number()
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(n), 10, 64)
}

func (d *cdec) int() (int64, error) {
	n, err := d.number()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(n), 10, 64)
}

// str reads a JSON string: one copy, unescaping only when needed.
func (d *cdec) str() (string, error) {
	if err := d.expect('"'); err != nil {
		return "", err
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := string(d.b[start:d.i])
			d.i++
			return s, nil
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return "", d.fail("control character in a string")
		}
		d.i++
	}
	return "", errEnd
}

func (d *cdec) strEscaped(start int) (string, error) {
	out, next, err := jsonstr.Append(append([]byte(nil), d.b[start:d.i]...), d.b, d.i)
	d.i = next
	if err != nil {
		if err.EOF {
			return "", errEnd
		}
		return "", fmt.Errorf("%s at offset %d", err.Msg, err.Off)
	}
	return string(out), nil
}
