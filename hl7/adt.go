package hl7

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// Format is the labtrust.Reject.Format of every reject this package emits.
const Format = "hl7v2"

// RegistryTriggers are the ADT events the patient registry takes: admit,
// register, update, pre-admit/add person, update person, and merge.
var RegistryTriggers = []string{"A01", "A04", "A08", "A28", "A31", "A40"}

func registryTrigger(t string) bool {
	for _, x := range RegistryTriggers {
		if x == t {
			return true
		}
	}
	return false
}

// guardianRelations are HL7 table 0063 codes for someone who can act for a
// minor.
var guardianRelations = map[string]bool{"GRD": true, "MTH": true, "FTH": true, "PAR": true, "FND": false}

// Record maps one ADT message to a registry record. For A40 (merge) the
// PID is the surviving patient and MRG-1 the record merged into it.
func Record(m *Message, source string) (labtrust.PatientRecord, error) {
	r := labtrust.PatientRecord{Source: source, ControlID: m.Field("MSH", 10).String()}
	typ := m.Field("MSH", 9)
	if code := typ.Comp(1); code != "ADT" {
		return r, errf("MSH-9", "message type %s is not ADT", safeCode(code))
	}
	r.Trigger = typ.Comp(2)
	if r.Trigger == "" {
		r.Trigger = m.Field("EVN", 1).String()
	}
	if !registryTrigger(r.Trigger) {
		return r, errf("MSH-9", "trigger event %s is not a registry event (the registry takes %s)", safeCode(r.Trigger), strings.Join(RegistryTriggers, ", "))
	}
	ts := m.Field("EVN", 2).Comp(1)
	where := "EVN-2"
	if ts == "" {
		ts, where = m.Field("MSH", 7).Comp(1), "MSH-7"
	}
	t, err := parseTS(ts)
	if err != nil {
		return r, errf(where, "%v", err)
	}
	r.Time = t
	pid := m.Segment("PID")
	if pid == nil {
		return r, errf("PID", "missing")
	}
	p := &r.Patient
	ids := m.FieldOf(pid, 3)
	if ids.IsEmpty() {
		return r, errf("PID-3", "no patient identifier")
	}
	var mrnSet bool
	for _, rep := range ids.Reps() {
		ref, kind := cx(rep)
		if ref.ID == "" {
			continue
		}
		switch {
		case kind == "SS":
			p.SSN = ref.ID
		case !mrnSet && (kind == "MR" || kind == ""):
			p.ID, mrnSet = ref, true
		default:
			p.OtherIDs = append(p.OtherIDs, ref)
		}
	}
	if !mrnSet {
		// No MR: the first non-SSN identifier is the record's key.
		if len(p.OtherIDs) == 0 {
			return r, errf("PID-3", "no patient identifier other than an SSN")
		}
		p.ID, p.OtherIDs = p.OtherIDs[0], p.OtherIDs[1:]
	}
	if ssn := m.FieldOf(pid, 19).String(); ssn != "" {
		p.SSN = ssn
	}
	p.Name = xpn(m.FieldOf(pid, 5))
	if dob := m.FieldOf(pid, 7).Comp(1); dob != "" {
		d, err := partialDate(dob)
		if err != nil {
			return r, errf("PID-7", "%v", err)
		}
		p.BirthDate = d
	}
	p.Sex = sex(m.FieldOf(pid, 8).Comp(1))
	for _, rep := range m.FieldOf(pid, 11).Reps() {
		if a := xad(rep); a != nil {
			p.Addresses = append(p.Addresses, *a)
		}
	}
	for _, n := range []int{13, 14} {
		for _, rep := range m.FieldOf(pid, n).Reps() {
			phone, email := xtn(rep)
			if phone != "" {
				p.Phones = append(p.Phones, phone)
			}
			if email != "" {
				p.Emails = append(p.Emails, email)
			}
		}
	}
	if lang := m.FieldOf(pid, 15); !lang.IsEmpty() {
		code := lang.Comp(1)
		if code == "" {
			code = lang.Comp(2)
		}
		p.Language = labtrust.NormalizeLanguage(code)
	}
	if dt := m.FieldOf(pid, 29).Comp(1); dt != "" {
		d, err := partialDate(dt)
		if err != nil {
			return r, errf("PID-29", "%v", err)
		}
		p.DeceasedAt, p.Deceased = d, true
	}
	switch m.FieldOf(pid, 30).String() {
	case "Y":
		p.Deceased = true
	case "N":
		if p.DeceasedAt == "" {
			p.Deceased = false
		}
	}
	if pv1 := m.Segment("PV1"); pv1 != nil {
		// PV1-16 VIP Indicator (user table 0099): any value marks the
		// record; "N" and "NO" say it is not one.
		switch v := strings.ToUpper(m.FieldOf(pv1, 16).Comp(1)); v {
		case "", "N", "NO":
		default:
			p.VIP = true
		}
	}
	for _, nk1 := range m.All("NK1") {
		rel := m.FieldOf(nk1, 3).Comp(1)
		if !guardianRelations[strings.ToUpper(rel)] {
			continue
		}
		c := &labtrust.Contact{Name: xpn(m.FieldOf(nk1, 2)), Relationship: rel}
		for _, rep := range m.FieldOf(nk1, 5).Reps() {
			if phone, _ := xtn(rep); phone != "" {
				c.Phones = append(c.Phones, phone)
			}
		}
		c.Address = xad(m.FieldOf(nk1, 4))
		p.Guardian = c
		break
	}
	if r.Trigger == "A40" {
		mrg := m.Segment("MRG")
		if mrg == nil {
			return r, errf("MRG", "missing from a merge (A40)")
		}
		var from *labtrust.PatientRef
		for _, rep := range m.FieldOf(mrg, 1).Reps() {
			if ref, kind := cx(rep); ref.ID != "" && kind != "SS" {
				from = &ref
				break
			}
		}
		if from == nil {
			return r, errf("MRG-1", "no prior patient identifier")
		}
		if from.System == "" {
			from.System = p.ID.System
		}
		r.MergedFrom = from
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	return r, nil
}

// safeCode returns a code for an error message only if it looks like one
// (letters, digits, up to 8), so a misplaced value never reaches a log.
func safeCode(s string) string {
	if s == "" {
		return "(empty)"
	}
	if len(s) > 8 {
		return "(unrecognized)"
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "(unrecognized)"
		}
	}
	return s
}

// cx reads an extended composite ID: ID^check digit^scheme^assigning
// authority (HD: namespace&universal ID&type)^identifier type code.
func cx(f Field) (labtrust.PatientRef, string) {
	ref := labtrust.PatientRef{ID: strings.TrimSpace(f.Comp(1))}
	if u := f.Sub(4, 2); u != "" {
		ref.System = u
	} else {
		ref.System = f.Sub(4, 1)
	}
	return ref, strings.ToUpper(f.Comp(5))
}

// xpn reads an extended person name: family (FN: surname&...)^given^
// further given names^suffix^prefix^degree^name type. With repetitions,
// the legal name (type L) wins, else the first.
func xpn(f Field) labtrust.HumanName {
	reps := f.Reps()
	pick := reps[0]
	for _, r := range reps {
		if r.Comp(7) == "L" {
			pick = r
			break
		}
	}
	n := labtrust.HumanName{Family: pick.Sub(1, 1), Suffix: pick.Comp(4), Prefix: pick.Comp(5)}
	if g := pick.Comp(2); g != "" {
		n.Given = append(n.Given, g)
	}
	if g := pick.Comp(3); g != "" {
		n.Given = append(n.Given, strings.Fields(g)...)
	}
	return n
}

// xad reads an extended address: street (SAD: street&...)^other
// designation^city^state^zip^country^type; nil when empty.
func xad(f Field) *labtrust.Address {
	if f.IsEmpty() || f.IsNull() {
		return nil
	}
	a := &labtrust.Address{City: f.Comp(3), State: strings.TrimSpace(f.Comp(4)), PostalCode: f.Comp(5), Country: f.Comp(6)}
	if s := f.Sub(1, 1); s != "" {
		a.Lines = append(a.Lines, s)
	}
	if s := f.Comp(2); s != "" {
		a.Lines = append(a.Lines, s)
	}
	if labtrust.IsUSState(a.State) {
		a.State = strings.ToUpper(a.State)
	}
	switch f.Comp(7) {
	case "H":
		a.Use = "home"
	case "B", "O":
		a.Use = "work"
	case "M":
		a.Use = "mailing"
	case "C":
		a.Use = "temp"
	}
	if len(a.Lines) == 0 && a.City == "" && a.State == "" && a.PostalCode == "" {
		return nil
	}
	return a
}

// xtn reads an extended telecommunication number: the phone as written
// (component 1, or built from 5 country, 6 area and 7 local, 8 extension),
// and the email (component 4) when the equipment type is Internet.
func xtn(f Field) (phone, email string) {
	if f.IsEmpty() || f.IsNull() {
		return "", ""
	}
	if e := f.Comp(4); e != "" && (f.Comp(3) == "Internet" || f.Comp(2) == "NET" || strings.Contains(e, "@")) {
		email = e
	}
	phone = strings.TrimSpace(f.Comp(1))
	if phone == "" && f.Comp(7) != "" {
		phone = strings.TrimSpace(strings.Join([]string{f.Comp(5), f.Comp(6), f.Comp(7)}, " "))
		if x := f.Comp(8); x != "" {
			phone += " x" + x
		}
	}
	return phone, email
}

func sex(code string) string {
	switch strings.ToUpper(code) {
	case "F":
		return "female"
	case "M":
		return "male"
	case "O", "A", "N":
		return "other"
	case "U":
		return "unknown"
	}
	return ""
}

// partialDate turns an HL7 DTM (YYYY[MM[DD[HH[MM[SS]]]]][+/-ZZZZ]) into a
// date with the source's precision: YYYY, YYYY-MM or YYYY-MM-DD.
func partialDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		s = s[:i]
	}
	digits := s
	if i := strings.IndexByte(digits, '.'); i >= 0 {
		digits = digits[:i]
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", errors.New("not an HL7 date")
		}
	}
	var layout, out string
	switch {
	case len(digits) >= 8:
		layout, out = "20060102", digits[:8]
	case len(digits) == 6:
		layout, out = "200601", digits
	case len(digits) == 4:
		layout, out = "2006", digits
	default:
		return "", errors.New("not an HL7 date")
	}
	t, err := time.Parse(layout, out)
	if err != nil {
		return "", errors.New("not a calendar date")
	}
	switch len(out) {
	case 8:
		return t.Format("2006-01-02"), nil
	case 6:
		return t.Format("2006-01"), nil
	}
	return t.Format("2006"), nil
}

// parseTS reads an HL7 DTM timestamp to at least minute precision. Without
// an offset it is taken as UTC, which is what most US interfaces mean
// when they leave it out only if the lab runs on UTC; sources should send
// the offset.
func parseTS(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	zone := ""
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		s, zone = s[:i], s[i:]
	}
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i:]
	}
	var layout string
	switch len(s) {
	case 8:
		layout = "20060102"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	default:
		return time.Time{}, errors.New("not an HL7 timestamp (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ])")
	}
	if frac != "" {
		if len(s) != 14 || len(frac) < 2 || len(frac) > 5 {
			return time.Time{}, errors.New("bad fractional seconds")
		}
		layout += "." + strings.Repeat("0", len(frac)-1)
		s += frac
	}
	if zone != "" {
		if len(zone) != 5 {
			return time.Time{}, errors.New("bad time zone offset")
		}
		layout += "-0700"
		s += zone
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, errors.New("not a valid timestamp")
	}
	return t.UTC(), nil
}

// Ack builds the acknowledgement of m (original mode): code AA (accepted),
// AE (error) or AR (rejected), with text that MUST NOT hold PHI.
func Ack(m *Message, code, text string, now time.Time) []byte {
	d := m.delims
	f := string(d.field)
	enc := m.Field("MSH", 2).String()
	if enc == "" {
		enc = string([]byte{d.comp, d.rep, d.esc, d.sub})
	}
	ctl := m.Field("MSH", 10).String()
	var b strings.Builder
	b.WriteString("MSH" + f + enc + f)
	// Sender and receiver swap.
	b.WriteString(string(m.Field("MSH", 5).raw) + f + string(m.Field("MSH", 6).raw) + f)
	b.WriteString(string(m.Field("MSH", 3).raw) + f + string(m.Field("MSH", 4).raw) + f)
	b.WriteString(now.UTC().Format("20060102150405") + "+0000" + f + f)
	trig := m.Field("MSH", 9).Comp(2)
	b.WriteString("ACK" + string(d.comp) + d.escape(trig) + string(d.comp) + "ACK" + f)
	b.WriteString(d.escape("ACK"+ctl) + f + string(m.Field("MSH", 11).raw) + f + string(m.Field("MSH", 12).raw) + "\r")
	b.WriteString("MSA" + f + code + f + d.escape(ctl))
	if text != "" {
		b.WriteString(f + d.escape(text))
	}
	b.WriteString("\r")
	return []byte(b.String())
}

// ParseStream reads ADT messages from r and hands each to sink: a file of
// messages one after another (each starting at an MSH segment, separated by
// segment terminators or blank lines) or an MLLP-framed capture (detected
// by its first byte). Every message becomes exactly one sink.Patient or one
// sink.Reject, whose Position is "message N" and whose Raw is the message.
func ParseStream(ctx context.Context, source string, r io.Reader, sink labtrust.PatientSink) error {
	return Each(ctx, r, func(pos string, raw []byte, frameErr error) error {
		if frameErr != nil {
			return reject(ctx, sink, source, pos, frameErr.Error(), raw)
		}
		m, err := Parse(raw)
		if err != nil {
			return reject(ctx, sink, source, pos, err.Error(), raw)
		}
		rec, err := Record(m, source)
		if err != nil {
			return reject(ctx, sink, source, pos, err.Error(), raw)
		}
		if err := sink.Patient(ctx, rec); err != nil {
			return fmt.Errorf("hl7: %s: %w", pos, err)
		}
		return nil
	})
}

// ParseTime reads an HL7 v2 timestamp (DTM): YYYYMMDD[HHMM[SS[.S...]]]
// with an optional +/-ZZZZ offset (UTC without one).
func ParseTime(s string) (time.Time, error) { return parseTS(s) }

// Each splits a stream of HL7 v2 messages (MLLP frames, or a file where each
// MSH segment starts a message) and calls fn with each message, its
// position ("message N"), and the framing error that makes it unreadable
// (the caller quarantines it), in order.
func Each(ctx context.Context, r io.Reader, fn func(pos string, raw []byte, frameErr error) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := br.Peek(1)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hl7: read: %w", err)
	}
	n := 0
	handle := func(raw []byte, frameErr error) error {
		n++
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("hl7: %w", err)
			}
		}
		return fn("message "+strconv.Itoa(n), raw, frameErr)
	}
	if first[0] == startBlock {
		fr := NewFrameReader(br, 0)
		for {
			_, raw, err := fr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil && !errors.Is(err, ErrFrame) {
				return fmt.Errorf("hl7: read: %w", err)
			}
			if err := handle(bytes.Clone(raw), err); err != nil {
				return err
			}
		}
	}
	// A file: segments end with \r, \n or \r\n, and each MSH starts a
	// message. The scanner holds one segment at a time.
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), MaxMessage)
	sc.Split(scanSegments)
	var cur []byte
	oversized := false
	flush := func() error {
		defer func() { cur, oversized = cur[:0], false }()
		if len(cur) == 0 {
			return nil
		}
		if oversized {
			return handle(bytes.Clone(cur[:MaxMessage]), fmt.Errorf("message larger than %d bytes", MaxMessage))
		}
		return handle(bytes.Clone(cur), nil)
	}
	for sc.Scan() {
		seg := sc.Bytes()
		if len(bytes.TrimSpace(seg)) == 0 {
			continue
		}
		if bytes.HasPrefix(seg, []byte("MSH")) {
			if err := flush(); err != nil {
				return err
			}
		}
		if oversized {
			continue
		}
		cur = append(append(cur, seg...), '\r')
		if len(cur) > MaxMessage {
			oversized = true
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("hl7: message %d: a segment longer than %d bytes", n+1, MaxMessage)
		}
		return fmt.Errorf("hl7: read: %w", err)
	}
	return flush()
}

// scanSegments splits at \r, \n or \r\n.
func scanSegments(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		adv := i + 1
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			adv++
		} else if data[i] == '\r' && i+1 == len(data) && !atEOF {
			return 0, nil, nil // a \n may follow
		}
		return adv, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func reject(ctx context.Context, sink labtrust.PatientSink, source, pos, reason string, raw []byte) error {
	if err := sink.Reject(ctx, labtrust.Reject{Source: source, Format: Format, Position: pos, Reason: reason, Raw: raw}); err != nil {
		return fmt.Errorf("hl7: %s: reject: %w", pos, err)
	}
	return nil
}
