// Package registry keeps the lab's patients: who they are and how to reach
// them, each record sealed with the patient's own data key, found by exact
// lookups through blind indexes, with ADT merges followed so that a merged
// MRN's history belongs to the surviving patient. Forgetting a patient
// deletes their key: the record can never be read again, while the ledger,
// which holds only commitments, still verifies.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/internal/par"
	"github.com/labtrust/labtrust/store"
	"github.com/tink-crypto/tink-go/v2/tink"
	"golang.org/x/text/unicode/norm"
)

// Store is what the registry needs from the database.
type Store interface {
	PatientByBlind(ctx context.Context, b []byte) (store.PatientRow, error)
	PatientsByBlind(ctx context.Context, blinds [][]byte) (map[string]store.PatientRow, error)
	LivePatients(ctx context.Context, fn func([]store.PatientRow) error) error
	PatientByID(ctx context.Context, id int64) (store.PatientRow, error)
	PatientsByID(ctx context.Context, ids []int64) (map[int64]store.PatientRow, error)
	MergedPatients(ctx context.Context, id int64) ([]store.PatientRow, error)
	LookupPatients(ctx context.Context, kind string, b []byte) ([]int64, error)
	PatientKeys(ctx context.Context, blinds [][]byte) (map[string][]byte, error)
	UpsertPatients(ctx context.Context, rows []store.PatientRow) error
	MergePatient(ctx context.Context, from, into []byte, source string, at time.Time) error
	ForgetPatient(ctx context.Context, id int64, at time.Time, merged ...int64) error
}

// Keys are the vault's: blind indexes and per-record keys.
type Keys interface {
	Blinder() func(id string) []byte
	NewRecordKey(ctx context.Context, owner []byte) (tink.AEAD, []byte, error)
	OpenRecordKey(sealed, owner []byte) (tink.AEAD, error)
}

// Registry is the patient registry. It is safe for concurrent use.
type Registry struct {
	st   Store
	keys Keys
	now  func() time.Time
}

// New returns a registry over st, sealing with keys.
func New(st Store, keys Keys) *Registry { return &Registry{st: st, keys: keys, now: time.Now} }

// batchHinter is a store that knows its best import batch size.
type batchHinter interface{ ImportBatch() int }

// importBatch is how many records a Sink imports at once by default.
func (r *Registry) importBatch() int {
	if h, ok := r.st.(batchHinter); ok {
		return h.ImportBatch()
	}
	return 1000
}

// ErrForgotten is returned for a patient whose record was crypto-shredded.
var ErrForgotten = errors.New("registry: this patient was forgotten")

// Entry is a patient as the registry holds them.
type Entry struct {
	ID int64
	// Blind is the blind index of the MRN the row holds (the keyring's
	// Blind): it names the patient without PHI.
	Blind     []byte
	Patient   labtrust.Patient
	Source    string
	UpdatedAt time.Time
	// Merged are the identifiers of records merged into this one: their
	// events are this patient's too.
	Merged []labtrust.PatientRef
}

// sealedRecord is what a record's ciphertext holds: the patient and the
// identifiers merged into them (kept sealed, since an MRN is PHI).
type sealedRecord struct {
	Patient labtrust.Patient      `json:"patient"`
	Merged  []labtrust.PatientRef `json:"merged,omitempty"`
}

func recordAAD(blind []byte) []byte { return append([]byte("patient record\x00"), blind...) }

// Import stores records in order: updates replace what the registry held
// for the MRN, merges fold the merged record into the survivor. One
// transaction per run of non-merge records, so a batch of ADT updates costs
// a few statements, not a commit each.
func (r *Registry) Import(ctx context.Context, recs []labtrust.PatientRecord) error {
	for start := 0; start < len(recs); {
		end := start
		for end < len(recs) && recs[end].MergedFrom == nil {
			end++
		}
		if end > start {
			if err := r.upsert(ctx, recs[start:end]); err != nil {
				return err
			}
		}
		if end < len(recs) {
			if err := r.merge(ctx, recs[end]); err != nil {
				return err
			}
			end++
		}
		start = end
	}
	return nil
}

func (r *Registry) upsert(ctx context.Context, recs []labtrust.PatientRecord) error {
	blind := r.keys.Blinder()
	blinds := make([][]byte, len(recs))
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return fmt.Errorf("registry: record %d: %w", i, err)
		}
		blinds[i] = blind(recs[i].Patient.ID.ID)
	}
	existing, err := r.st.PatientKeys(ctx, blinds)
	if err != nil {
		return err
	}
	// One key per patient, even if the batch names them twice: opened if
	// stored, else made. Keys and records are sealed on every core.
	type slot struct {
		blind  []byte
		sealed []byte
		stored bool
		aead   tink.AEAD
	}
	slots := map[string]*slot{}
	var order []*slot
	for _, b := range blinds {
		if slots[string(b)] == nil {
			sl := &slot{blind: b, sealed: existing[string(b)]}
			sl.stored = sl.sealed != nil
			slots[string(b)] = sl
			order = append(order, sl)
		}
	}
	if err := par.With(len(order), 64, r.keys.Blinder, func(_ func(string) []byte, i int) error {
		sl := order[i]
		var err error
		if sl.stored {
			if sl.aead, err = r.keys.OpenRecordKey(sl.sealed, sl.blind); err != nil {
				return fmt.Errorf("registry: open a patient's key: %w", err)
			}
			return nil
		}
		if sl.aead, sl.sealed, err = r.keys.NewRecordKey(ctx, sl.blind); err != nil {
			return fmt.Errorf("registry: new patient key: %w", err)
		}
		return nil
	}); err != nil {
		return err
	}
	rows := make([]store.PatientRow, len(recs))
	err = par.With(len(recs), 64, r.keys.Blinder, func(blind func(string) []byte, i int) error {
		rec := &recs[i]
		sl := slots[string(blinds[i])]
		b := sl.blind
		// Merged identifiers live in the sealed record; keep them across
		// updates.
		var merged []labtrust.PatientRef
		if sl.stored {
			if old, err := r.st.PatientByBlind(ctx, b); err == nil && old.Record != nil {
				if pt, err := sl.aead.Decrypt(old.Record, recordAAD(b)); err == nil {
					if prev, err := decodeRecord(pt); err == nil {
						merged = prev.Merged
					}
				}
			}
		}
		pt, err := json.Marshal(sealedRecord{Patient: rec.Patient, Merged: merged})
		if err != nil {
			return err
		}
		ct, err := sl.aead.Encrypt(pt, recordAAD(b))
		if err != nil {
			return fmt.Errorf("registry: seal a patient record: %w", err)
		}
		row := store.PatientRow{Blind: b, Key: sl.sealed, Record: ct, Source: rec.Source, UpdatedAt: rec.Time}
		if row.UpdatedAt.IsZero() {
			row.UpdatedAt = r.now()
		}
		p := &rec.Patient
		row.State, row.Language, row.Deceased, row.VIP = residenceState(p), p.Language, p.Deceased, p.VIP
		if age, ok := p.AgeOn(row.UpdatedAt); ok && age < 18 {
			row.Minor = true
		}
		row.Lookups = lookups(blind, p)
		rows[i] = row
		return nil
	})
	if err != nil {
		return err
	}
	return r.st.UpsertPatients(ctx, rows)
}

// residenceState is the state of the home address, else the first address
// with one.
func residenceState(p *labtrust.Patient) string {
	for _, a := range p.Addresses {
		if a.Use == "home" && a.State != "" {
			return a.State
		}
	}
	for _, a := range p.Addresses {
		if a.State != "" {
			return a.State
		}
	}
	return ""
}

// Lookup kinds.
const (
	LookupID      = "id"
	LookupSSN     = "ssn"
	LookupEmail   = "email"
	LookupPhone   = "phone"
	LookupNameDOB = "name-dob"
	LookupFamily  = "family"
	LookupAddress = "address"
)

func lookups(blind func(string) []byte, p *labtrust.Patient) []store.Lookup {
	var out []store.Lookup
	add := func(kind, v string) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, store.Lookup{Kind: kind, Blind: blind(kind + "\x00" + v)})
		}
	}
	for _, id := range p.OtherIDs {
		add(LookupID, id.ID)
	}
	add(LookupSSN, normalizeDigits(p.SSN))
	for _, e := range p.Emails {
		add(LookupEmail, strings.ToLower(e))
	}
	for _, ph := range p.Phones {
		add(LookupPhone, normalizeDigits(ph))
	}
	if p.Name.Family != "" && p.BirthDate != "" {
		add(LookupNameDOB, NameKey(p.Name.Family, firstGiven(p.Name))+"\x00"+p.BirthDate)
	}
	// Family name and home address alone, so detection can tell when an
	// account opens the record of someone who shares them.
	add(LookupFamily, FamilyKey(p.Name.Family))
	if a := homeAddress(p); a != nil {
		add(LookupAddress, AddressKey(*a))
	}
	return out
}

// FamilyKey is a family name with case, accents and punctuation folded.
func FamilyKey(family string) string {
	k := NameKey(family, "")
	return strings.TrimSuffix(k, ",")
}

// AddressKey is the first line and the 5-digit postal code of an address,
// folded: what two records of one household share however they spell it.
func AddressKey(a labtrust.Address) string {
	if len(a.Lines) == 0 || a.PostalCode == "" {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToLower(a.Lines[0]) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	zip := normalizeDigits(a.PostalCode)
	if len(zip) > 5 {
		zip = zip[:5]
	}
	if b.Len() == 0 || zip == "" {
		return ""
	}
	return b.String() + "\x00" + zip
}

func homeAddress(p *labtrust.Patient) *labtrust.Address {
	for i := range p.Addresses {
		if p.Addresses[i].Use == "home" || p.Addresses[i].Use == "" {
			return &p.Addresses[i]
		}
	}
	return nil
}

// Related returns the MRN blind indexes of registered patients who share
// the family name (surname) or the home address (address) given: detection
// checks accesses to them by the staff member they relate to. Either may be
// empty.
func (r *Registry) Related(ctx context.Context, family string, address *labtrust.Address) (surname, household [][]byte, err error) {
	blind := r.keys.Blinder()
	find := func(kind, v string) ([][]byte, error) {
		if v == "" {
			return nil, nil
		}
		ids, err := r.st.LookupPatients(ctx, kind, blind(kind+"\x00"+v))
		if err != nil {
			return nil, err
		}
		out := make([][]byte, 0, len(ids))
		for _, id := range ids {
			row, err := r.st.PatientByID(ctx, id)
			if err != nil {
				return nil, err
			}
			out = append(out, row.Blind)
		}
		return out, nil
	}
	if surname, err = find(LookupFamily, FamilyKey(family)); err != nil {
		return nil, nil, err
	}
	if address != nil {
		if household, err = find(LookupAddress, AddressKey(*address)); err != nil {
			return nil, nil, err
		}
	}
	return surname, household, nil
}

func firstGiven(n labtrust.HumanName) string {
	if len(n.Given) == 0 {
		return ""
	}
	return n.Given[0]
}

// NameKey normalizes a name for exact lookups: lower case, letters only,
// accents dropped (so "Peña, Lucía" and "pena,lucia" match, as staff type
// names without them).
func NameKey(family, given string) string {
	fold := func(s string) string {
		var b strings.Builder
		for _, r := range norm.NFD.String(strings.ToLower(s)) {
			if unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return fold(family) + "," + fold(given)
}

func normalizeDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (r *Registry) merge(ctx context.Context, rec labtrust.PatientRecord) error {
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("registry: merge: %w", err)
	}
	blind := r.keys.Blinder()
	// A survivor the registry has not seen is stored from the merge
	// message; a known one keeps its record (merge messages often carry a
	// minimal PID, which must not erase addresses and contacts).
	if _, err := r.st.PatientByBlind(ctx, blind(rec.Patient.ID.ID)); errors.Is(err, labtrust.ErrNotFound) {
		if err := r.upsert(ctx, []labtrust.PatientRecord{{Source: rec.Source, Trigger: rec.Trigger, Time: rec.Time, Patient: rec.Patient}}); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	into, from := blind(rec.Patient.ID.ID), blind(rec.MergedFrom.ID)
	at := rec.Time
	if at.IsZero() {
		at = r.now()
	}
	if err := r.st.MergePatient(ctx, from, into, rec.Source, at); err != nil {
		return err
	}
	// Record the merged identifier in the survivor's sealed record.
	row, err := r.st.PatientByBlind(ctx, into)
	if err != nil {
		return err
	}
	a, err := r.keys.OpenRecordKey(row.Key, into)
	if err != nil {
		return err
	}
	pt, err := a.Decrypt(row.Record, recordAAD(into))
	if err != nil {
		return err
	}
	sr, err := decodeRecord(pt)
	if err != nil {
		return fmt.Errorf("registry: a sealed record does not decode: %w", err)
	}
	sr.Merged = append(sr.Merged, *rec.MergedFrom)
	if pt, err = json.Marshal(sr); err != nil {
		return err
	}
	if row.Record, err = a.Encrypt(pt, recordAAD(into)); err != nil {
		return err
	}
	row.Lookups = lookups(blind, &sr.Patient)
	return r.st.UpsertPatients(ctx, []store.PatientRow{row})
}

// Get returns the patient with the MRN id, following merges to the
// surviving record. It returns labtrust.ErrNotFound for an unknown MRN and
// ErrForgotten for a forgotten one.
func (r *Registry) Get(ctx context.Context, id string) (*Entry, error) {
	row, err := r.st.PatientByBlind(ctx, r.keys.Blinder()(id))
	if err != nil {
		return nil, err
	}
	if row, err = r.survivor(ctx, row); err != nil {
		return nil, err
	}
	return r.open(ctx, row)
}

// GetMany is Get for many MRNs at once (a breach's patients): the entries
// found, by MRN; an MRN the registry does not hold, or has forgotten, is
// absent. Rows are read hundreds per query, and merges followed.
func (r *Registry) GetMany(ctx context.Context, mrns []string) (map[string]*Entry, error) {
	blind := r.keys.Blinder()
	blinds := make([][]byte, len(mrns))
	for i, m := range mrns {
		blinds[i] = blind(m)
	}
	rows, err := r.st.PatientsByBlind(ctx, blinds)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Entry, len(rows))
	for i, m := range mrns {
		row, ok := rows[string(blinds[i])]
		if !ok {
			continue
		}
		e, err := r.current(ctx, row)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out[m] = e
		}
	}
	return out, nil
}

// current opens the record row stands for now: its survivor's when it
// was merged away; nil when that is forgotten or holds no record.
func (r *Registry) current(ctx context.Context, row store.PatientRow) (*Entry, error) {
	row, err := r.survivor(ctx, row)
	if err != nil {
		return nil, err
	}
	e, err := r.open(ctx, row)
	if errors.Is(err, ErrForgotten) || errors.Is(err, labtrust.ErrNotFound) {
		return nil, nil
	}
	return e, err
}

// GetIDs is GetMany by registry row (a scope's Affected.Registry): the
// entries found, by the ID asked for, merges followed; a row forgotten
// since is absent.
func (r *Registry) GetIDs(ctx context.Context, ids []int64) (map[int64]*Entry, error) {
	rows, err := r.st.PatientsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*Entry, len(rows))
	for _, id := range ids {
		row, ok := rows[id]
		if !ok {
			continue
		}
		e, err := r.current(ctx, row)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out[id] = e
		}
	}
	return out, nil
}

// Each calls fn with every patient the registry holds now (merged-away
// and forgotten records left out), a page at a time, opened on every core.
// The next page is read from the database while one is opened and
// handed on: reading and opening each take a good part of a
// whole-registry pass (a breach scope of everyone), and done in turn one
// of them always waited.
func (r *Registry) Each(ctx context.Context, fn func([]*Entry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []store.PatientRow, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(pages)
		readErr <- r.st.LivePatients(ctx, func(rows []store.PatientRow) error {
			select {
			case pages <- rows:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var err error
	for rows := range pages {
		if err != nil {
			continue // draining, so the reader ends and its transaction with it
		}
		var out []*Entry
		if out, err = r.openAll(ctx, rows); err == nil {
			err = fn(out)
		}
		if err != nil {
			cancel()
		}
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	return err
}

// openAll opens rows on every core.
func (r *Registry) openAll(ctx context.Context, rows []store.PatientRow) ([]*Entry, error) {
	out := make([]*Entry, len(rows))
	err := par.Do(len(rows), 64, func(i int) error {
		var err error
		out[i], err = r.open(ctx, rows[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// survivor follows merges from row to the record that absorbed it, with a
// bound so damaged rows cannot loop.
func (r *Registry) survivor(ctx context.Context, row store.PatientRow) (store.PatientRow, error) {
	for hops := 0; row.MergedInto != 0; hops++ {
		if hops > 64 {
			return row, errors.New("registry: merge chain too long")
		}
		var err error
		if row, err = r.st.PatientByID(ctx, row.MergedInto); err != nil {
			return row, err
		}
	}
	return row, nil
}

// ByID returns a registry entry by its row ID (after a lookup).
func (r *Registry) ByID(ctx context.Context, id int64) (*Entry, error) {
	row, err := r.st.PatientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.open(ctx, row)
}

func (r *Registry) open(ctx context.Context, row store.PatientRow) (*Entry, error) {
	if row.Forgotten {
		return nil, ErrForgotten
	}
	if row.Key == nil {
		return nil, fmt.Errorf("registry: patient %d holds no record (merged from an MRN the registry never saw): %w", row.ID, labtrust.ErrNotFound)
	}
	a, err := r.keys.OpenRecordKey(row.Key, row.Blind)
	if err != nil {
		return nil, fmt.Errorf("registry: patient %d: key: %w", row.ID, err)
	}
	pt, err := a.Decrypt(row.Record, recordAAD(row.Blind))
	if err != nil {
		return nil, fmt.Errorf("registry: patient %d: record does not authenticate: %w", row.ID, err)
	}
	sr, err := decodeRecord(pt)
	if err != nil {
		return nil, fmt.Errorf("registry: patient %d: record does not decode: %w", row.ID, err)
	}
	return &Entry{ID: row.ID, Blind: row.Blind, Patient: sr.Patient, Source: row.Source, UpdatedAt: row.UpdatedAt, Merged: sr.Merged}, nil
}

// Find returns the patients matching one exact lookup: kind is one of the
// Lookup constants and value as a person would type it.
func (r *Registry) Find(ctx context.Context, kind, value string) ([]*Entry, error) {
	switch kind {
	case LookupSSN, LookupPhone:
		value = normalizeDigits(value)
	case LookupEmail:
		value = strings.ToLower(value)
	}
	ids, err := r.st.LookupPatients(ctx, kind, r.keys.Blinder()(kind+"\x00"+strings.TrimSpace(value)))
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for _, id := range ids {
		e, err := r.ByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// FindByNameDOB looks a patient up by family name, first given name and
// birth date (YYYY-MM-DD), ignoring case and punctuation.
func (r *Registry) FindByNameDOB(ctx context.Context, family, given, birthDate string) ([]*Entry, error) {
	return r.Find(ctx, LookupNameDOB, NameKey(family, given)+"\x00"+birthDate)
}

// Blinds returns the blind indexes whose events belong to the patient with
// the MRN id: the surviving record's and every merged one's. Access reports
// and breach scoping use it so merged history is not lost.
func (r *Registry) Blinds(ctx context.Context, id string) ([][]byte, error) {
	blind := r.keys.Blinder()
	row, err := r.st.PatientByBlind(ctx, blind(id))
	if errors.Is(err, labtrust.ErrNotFound) {
		return [][]byte{blind(id)}, nil // not registered: its own events only
	}
	if err != nil {
		return nil, err
	}
	if row, err = r.survivor(ctx, row); err != nil {
		return nil, err
	}
	out := [][]byte{row.Blind}
	merged, err := r.st.MergedPatients(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range merged {
		out = append(out, m.Blind)
	}
	return out, nil
}

// Forget crypto-shreds the patient with the MRN id (the surviving record
// if it was merged) and every record merged into them: their records and
// keys are deleted. It returns their blind indexes, so the caller can
// erase the stored events that name them (ingest.Erase); for a patient
// forgotten before, it returns them with ErrForgotten, because events may
// have arrived since.
func (r *Registry) Forget(ctx context.Context, id string) ([][]byte, error) {
	row, err := r.st.PatientByBlind(ctx, r.keys.Blinder()(id))
	if err != nil {
		return nil, err
	}
	if row, err = r.survivor(ctx, row); err != nil {
		return nil, err
	}
	blinds := [][]byte{row.Blind}
	merged, err := r.st.MergedPatients(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(merged))
	for i, m := range merged {
		blinds = append(blinds, m.Blind)
		ids[i] = m.ID
	}
	if row.Forgotten {
		return blinds, ErrForgotten
	}
	return blinds, r.st.ForgetPatient(ctx, row.ID, r.now(), ids...)
}
