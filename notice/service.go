package notice

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/internal/par"
	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
)

// Store keeps notices.
type Store interface {
	AddNotices(ctx context.Context, rows []store.NoticeRow) (int, error)
	Notices(ctx context.Context, incident int64, fn func(store.NoticeRow) error) error
	NoticeByCode(ctx context.Context, h []byte) (store.NoticeRow, error)
	SetNoticeStatus(ctx context.Context, id int64, status string, at time.Time) error
	NoticeCounts(ctx context.Context, incident int64) ([]store.NoticeCount, error)
	AddMonitoringCodes(ctx context.Context, incident int64, sealed [][]byte) error
	AllocateMonitoringCode(ctx context.Context, incident, notice int64, at time.Time) ([]byte, error)
	AllocateMonitoringCodes(ctx context.Context, incident int64, notices []int64, at time.Time) (map[int64][]byte, error)
	ClaimMonitoringCode(ctx context.Context, notice int64, at time.Time) error
}

// Sealer seals notice records (the vault's keyring).
type Sealer interface {
	Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error)
	Open(dst, sealed, aad []byte) ([]byte, error)
}

// Patients reads the registry.
type Patients interface {
	Get(ctx context.Context, mrn string) (*registry.Entry, error)
}

// Channels a notice goes by.
const (
	ChannelMail       = "mail"       // first-class mail (164.404(d)(1))
	ChannelSubstitute = "substitute" // no usable address (164.404(d)(2))
)

// Statuses a notice moves through.
const (
	StatusPrepared  = "prepared"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusBounced   = "bounced"  // email
	StatusReturned  = "returned" // mail returned undeliverable: counts toward substitute notice
)

// Record is a notice's sealed content: who it is for, where it goes and
// what the breach touched of theirs.
type Record struct {
	Code       string           `json:"code"`
	MRN        string           `json:"mrn"`
	Name       string           `json:"name"`
	Address    []string         `json:"address,omitempty"` // lines, then "City, ST 00000"
	State      string           `json:"state,omitempty"`
	Email      string           `json:"email,omitempty"`
	Language   string           `json:"language"`
	BirthDate  string           `json:"birthDate,omitempty"`
	Minor      bool             `json:"minor,omitempty"`
	Deceased   bool             `json:"deceased,omitempty"`
	Elements   []breach.Element `json:"elements"`
	First      time.Time        `json:"first,omitzero"` // the person's first and last affected access
	Last       time.Time        `json:"last,omitzero"`
	Monitoring string           `json:"monitoring,omitempty"` // credit-monitoring enrolment code, once allocated
}

// Service prepares and reads notices.
type Service struct {
	st    Store
	key   Sealer
	blind func(string) []byte
	reg   Patients
	now   func() time.Time
	// newCodes fills codes with random ones (tests make them collide).
	newCodes func([]noticeCode) error
}

// NewService returns the service. blind must be safe for concurrent use
// (the keyring's Blind, not a Blinder). now may be nil.
func NewService(st Store, key Sealer, blind func(string) []byte, reg Patients, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, key: key, blind: blind, reg: reg, now: now, newCodes: newCodes}
}

func recordAAD(incident int64) []byte {
	return []byte("labtrust notice v1\x00" + strconv.FormatInt(incident, 10))
}

// CodeHash is the keyed hash a notice code is looked up by.
func (s *Service) CodeHash(code string) []byte { return s.blind("notice-code\x00" + code) }

// Prepared says what Prepare did.
type Prepared struct {
	Added, Existing  int
	Mail, Substitute int
	English, Spanish int
	Unregistered     int
}

// Prepare makes a notice for every person in the scope who has none yet:
// a code, the language from the registry (Spanish or English), the postal
// address, or substitute notice when there is none. Registry reads and
// sealing run on every core; rows are stored in scope order, a thousand
// per statement.
func (s *Service) Prepare(ctx context.Context, incident int64, sc *breach.Scope, progress func(done, total int)) (Prepared, error) {
	return s.PrepareFrom(ctx, incident, ScopeSource{
		Each:          func(fn func([]breach.Affected) error) error { return fn(sc.Patients) },
		Total:         len(sc.Patients),
		WholeRegistry: breach.CoversRegistry(sc.Indicators),
	}, progress)
}

// ScopeSource is a scope read a part at a time.
type ScopeSource struct {
	// Each calls fn with the scope's people a part at a time, in
	// blind-index order (the incident service's ScopePatients).
	Each func(fn func([]breach.Affected) error) error
	// Total is how many people it holds, for progress and codes.
	Total int
	// WholeRegistry says the scope holds everyone the registry does (a
	// registry indicator, breach.CoversRegistry): the registry is then
	// read once beside it, in the same order, instead of a row at a time
	// for each person. Either way gives the same notices.
	WholeRegistry bool
}

// PrepareFrom is Prepare over a scope read a part at a time (the incident
// service's ScopePatients), so no list of everyone is held in memory.
//
// The codes are made first, total of them, and handed out in the order of
// their keyed hashes: notices are stored in scope order (blind-index
// order), so both of their unique indexes, person and code hash, are
// filled in order. Random hashes inserted a thousand at a time would
// rewrite a page of their index per notice at each commit, which at ten
// million notices is tens of gigabytes of writing.
func (s *Service) PrepareFrom(ctx context.Context, incident int64, src ScopeSource, progress func(done, total int)) (Prepared, error) {
	var p Prepared
	total := src.Total
	now := s.now().UTC()
	codes, err := s.sortedCodes(total)
	if err != nil {
		return p, err
	}
	const batch = 1000
	type chunk struct {
		rows []store.NoticeRow
		p    Prepared
		err  error
		done chan struct{}
	}
	workers := runtime.GOMAXPROCS(0)
	chunks := make(chan *chunk, workers*2) // in scope order, for the writer
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, workers)
	var readErr error
	var whole *registryCursor
	if all, ok := s.reg.(breach.AllPatients); ok && src.WholeRegistry {
		whole = newRegistryCursor(ctx, all)
	}
	go func() {
		defer close(chunks)
		if whole != nil {
			defer whole.stop()
		}
		used := 0
		readErr = src.Each(func(all []breach.Affected) error {
			for start := 0; start < len(all); start += batch {
				part := all[start:min(start+batch, len(all))]
				c := &chunk{done: make(chan struct{})}
				select {
				case chunks <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
				// More people than total (the scope grew between the count
				// and the read): the rest get codes of their own.
				var mine []noticeCode
				if used < len(codes) {
					mine = codes[used:min(used+len(part), len(codes))]
				}
				used += len(part)
				var found []*registry.Entry
				if whole != nil {
					var err error
					if found, err = whole.match(part); err != nil {
						return fmt.Errorf("notice: registry: %w", err)
					}
				}
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; close(c.done) }()
					c.rows, c.p, c.err = s.prepareChunk(ctx, incident, part, mine, now, found)
				}()
			}
			return nil
		})
	}()
	// Tens of chunks per transaction: each commit waits for the disk, and
	// empties the page cache of each connection reading the registry. The
	// writing runs beside the preparing, one transaction behind it: the
	// chunks of the next one are made while the last one is stored.
	type written struct {
		added, rows int
		err         error
	}
	toStore := make(chan []store.NoticeRow)
	stored := make(chan written, 1)
	go func() {
		defer close(stored)
		for rows := range toStore {
			n, err := s.addNotices(ctx, rows)
			stored <- written{n, len(rows), err}
			if err != nil {
				cancel()
				for range toStore {
				}
				return
			}
		}
	}()
	done, inFlight := 0, false
	var storeErr error
	// collect takes the previous transaction's outcome, if one is running.
	collect := func() {
		if !inFlight {
			return
		}
		w := <-stored
		inFlight = false
		if w.err != nil {
			storeErr = w.err
			return
		}
		p.Added += w.added
		p.Existing += w.rows - w.added
		done += w.rows
		if progress != nil {
			progress(done, total)
		}
	}
	var pending []store.NoticeRow
	flush := func() error {
		collect()
		if storeErr != nil || len(pending) == 0 {
			return storeErr
		}
		toStore <- pending
		inFlight = true
		pending = make([]store.NoticeRow, 0, cap(pending))
		return nil
	}
	finish := func() {
		close(toStore)
		collect()
	}
	for c := range chunks {
		<-c.done
		if c.err != nil {
			finish()
			return p, c.err
		}
		pending = append(pending, c.rows...)
		p.Mail += c.p.Mail
		p.Substitute += c.p.Substitute
		p.English += c.p.English
		p.Spanish += c.p.Spanish
		p.Unregistered += c.p.Unregistered
		if len(pending) >= 32*batch {
			if err := flush(); err != nil {
				finish()
				return p, err
			}
		}
	}
	err = flush()
	finish()
	if err == nil {
		err = storeErr
	}
	if err != nil {
		return p, err
	}
	if readErr != nil {
		return p, readErr
	}
	return p, ctx.Err()
}

// addNotices stores rows; a code that is already another notice's (60
// random bits: about one chance in ten thousand over ten million codes
// against as many stored) is found by storing smaller groups and replaced
// with a new one, so a large breach's preparation does not stop on it.
func (s *Service) addNotices(ctx context.Context, rows []store.NoticeRow) (int, error) {
	n, err := s.st.AddNotices(ctx, rows)
	if !errors.Is(err, labtrust.ErrConflict) {
		return n, err
	}
	if len(rows) > 1 {
		added := 0
		step := max(len(rows)/16, 1)
		for start := 0; start < len(rows); start += step {
			n, err := s.addNotices(ctx, rows[start:min(start+step, len(rows))])
			if err != nil {
				return added, err
			}
			added += n
		}
		return added, nil
	}
	r := rows[0]
	for range 3 {
		rec, err := s.Open(r)
		if err != nil {
			return 0, err
		}
		var c [1]noticeCode
		if err := s.newCodes(c[:]); err != nil {
			return 0, err
		}
		rec.Code = formatCode(c[0].code)
		b, err := json.Marshal(rec)
		if err != nil {
			return 0, err
		}
		if r.Body, err = s.key.Seal(ctx, nil, b, recordAAD(r.Incident)); err != nil {
			return 0, fmt.Errorf("notice: seal: %w", err)
		}
		r.CodeHash = s.CodeHash(rec.Code)
		n, err := s.st.AddNotices(ctx, []store.NoticeRow{r})
		if !errors.Is(err, labtrust.ErrConflict) {
			return n, err
		}
	}
	return 0, fmt.Errorf("notice: three new codes for one notice were all taken: %w", labtrust.ErrConflict)
}

// noticeCode is a code made ahead, with the start of its keyed hash to
// order it by. The whole hash is computed again when the notice's row is
// made: keeping it would add 24 bytes a code (240 MB at ten million).
type noticeCode struct {
	order uint64
	code  [codeLen]byte
}

// sortedCodes makes n notice codes ordered by their keyed hashes (a code
// made twice is made again).
func (s *Service) sortedCodes(n int) ([]noticeCode, error) {
	if n <= 0 {
		return nil, nil
	}
	out := make([]noticeCode, n)
	for i := 0; i < n; {
		if err := s.newCodes(out[i:]); err != nil {
			return nil, err
		}
		// Keyed hashes on every core: ten million take seconds.
		par.Do(n-i, 4096, func(k int) error {
			out[i+k].order = binary.BigEndian.Uint64(s.CodeHash(formatCode(out[i+k].code)))
			return nil
		})
		slices.SortFunc(out, func(a, b noticeCode) int { return cmp.Compare(a.order, b.order) })
		// Duplicates (vanishingly rare) are replaced and the tail sorted
		// in again.
		keep := out[:1]
		for j := 1; j < len(out); j++ {
			if out[j].code != keep[len(keep)-1].code {
				keep = append(keep, out[j])
			}
		}
		i = len(keep)
		out = out[:n]
		if i == n {
			break
		}
	}
	return out, nil
}

// prepareChunk makes the sealed rows of part of the scope, with the codes
// made for it (new ones when codes runs short).
// found, when not nil, holds the registry entries already read for part
// (nil where the whole-registry read did not have the person).
func (s *Service) prepareChunk(ctx context.Context, incident int64, part []breach.Affected, codes []noticeCode, now time.Time, found []*registry.Entry) ([]store.NoticeRow, Prepared, error) {
	var p Prepared
	rows := make([]store.NoticeRow, 0, len(part))
	if found == nil {
		found = make([]*registry.Entry, len(part))
	}
	if err := s.registryEntries(ctx, part, found); err != nil {
		return nil, p, err
	}
	for i, a := range part {
		if ctx.Err() != nil {
			return nil, p, ctx.Err()
		}
		rec := Record{MRN: a.MRN, Elements: a.Elements, First: a.First, Last: a.Last, Minor: a.Minor, Deceased: a.Deceased, Language: "en", State: a.State}
		if en := found[i]; en != nil {
			fill(&rec, &en.Patient)
		} else {
			p.Unregistered++
		}
		var err error
		if i < len(codes) {
			rec.Code = formatCode(codes[i].code)
		} else if rec.Code, err = NewCode(); err != nil {
			return nil, p, err
		}
		channel := ChannelMail
		if len(rec.Address) == 0 {
			channel = ChannelSubstitute
			p.Substitute++
		} else {
			p.Mail++
		}
		if rec.Language == "es" {
			p.Spanish++
		} else {
			p.English++
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, p, err
		}
		sealed, err := s.key.Seal(ctx, nil, b, recordAAD(incident))
		if err != nil {
			return nil, p, fmt.Errorf("notice: seal: %w", err)
		}
		rows = append(rows, store.NoticeRow{Incident: incident, CodeHash: s.CodeHash(rec.Code), Patient: a.Blind, Channel: channel,
			Language: rec.Language, State: rec.State, Status: StatusPrepared, CreatedAt: now, Body: sealed})
	}
	return rows, p, nil
}

// IDPatients is a registry that reads many rows by ID (registry.Registry):
// people a registry scope read carry theirs, and reading by it skips the
// blind-index look-up.
type IDPatients interface {
	GetIDs(ctx context.Context, ids []int64) (map[int64]*registry.Entry, error)
}

// registryEntries fills found[i], where it is nil, with the registry's
// current record of part[i] (left nil where the registry holds none):
// many at a time when the registry reads so, else a row at a time.
func (s *Service) registryEntries(ctx context.Context, part []breach.Affected, found []*registry.Entry) error {
	var at []int // the people still missing, by index
	for i := range found {
		if found[i] == nil {
			at = append(at, i)
		}
	}
	many, ok := s.reg.(breach.ManyPatients)
	if !ok {
		for _, i := range at {
			en, err := s.reg.Get(ctx, part[i].MRN)
			switch {
			case err == nil:
				found[i] = en
			case errors.Is(err, labtrust.ErrNotFound), errors.Is(err, registry.ErrForgotten):
			default:
				return fmt.Errorf("notice: registry: %w", err)
			}
		}
		return nil
	}
	var ids []int64
	var mrns []string
	byID, _ := s.reg.(IDPatients)
	for _, i := range at {
		if a := &part[i]; a.Registry != 0 && byID != nil {
			ids = append(ids, a.Registry)
		} else {
			mrns = append(mrns, a.MRN)
		}
	}
	if len(ids) > 0 {
		got, err := byID.GetIDs(ctx, ids)
		if err != nil {
			return fmt.Errorf("notice: registry: %w", err)
		}
		for _, i := range at {
			if part[i].Registry != 0 {
				found[i] = got[part[i].Registry]
			}
		}
	}
	if len(mrns) > 0 {
		got, err := many.GetMany(ctx, mrns)
		if err != nil {
			return fmt.Errorf("notice: registry: %w", err)
		}
		for _, i := range at {
			if part[i].Registry == 0 || byID == nil {
				found[i] = got[part[i].MRN]
			}
		}
	}
	return nil
}

// fill takes what a letter needs from the registry's record.
func fill(rec *Record, pt *labtrust.Patient) {
	rec.Name = pt.Name.String()
	rec.BirthDate = pt.BirthDate
	rec.Deceased = rec.Deceased || pt.Deceased
	if pt.Language == "es" {
		rec.Language = "es"
	}
	if len(pt.Emails) > 0 {
		rec.Email = pt.Emails[0]
	}
	for _, ad := range pt.Addresses {
		if len(ad.Lines) == 0 || ad.City == "" {
			continue
		}
		rec.Address = append(append([]string{}, ad.Lines...), strings.TrimSpace(fmt.Sprintf("%s, %s %s", ad.City, ad.State, ad.PostalCode)))
		if ad.State != "" {
			rec.State = strings.ToUpper(ad.State)
		}
		break
	}
}

// Open reads a notice's sealed record.
func (s *Service) Open(r store.NoticeRow) (*Record, error) {
	b, err := s.key.Open(nil, r.Body, recordAAD(r.Incident))
	if err != nil {
		return nil, fmt.Errorf("notice %d: does not authenticate: %w", r.ID, err)
	}
	rec, err := decodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("notice %d: %w", r.ID, err)
	}
	return &rec, nil
}

// Lookup finds a notice by the code a person typed.
func (s *Service) Lookup(ctx context.Context, code string) (store.NoticeRow, *Record, error) {
	c, err := NormalizeCode(code)
	if err != nil {
		return store.NoticeRow{}, nil, err
	}
	row, err := s.st.NoticeByCode(ctx, s.CodeHash(c))
	if err != nil {
		return row, nil, err
	}
	rec, err := s.Open(row)
	return row, rec, err
}

// Text is what the lab says happened and what it is doing, in one
// language.
type Text struct {
	What  string `json:"what"`
	Doing string `json:"doing"`
}

// Letter builds the person's letter in their language (English when the
// lab has not written the Spanish text yet).
func (rec *Record) Letter(lab Lab, texts map[string]Text, discovered, date time.Time) *Letter {
	language := rec.Language
	t, ok := texts[language]
	if !ok || t.What == "" {
		language, t = "en", texts["en"]
	}
	return &Letter{Language: language, Code: rec.Code, Date: date, Recipient: rec.Name, Address: rec.Address,
		Minor: rec.Minor, Deceased: rec.Deceased, Lab: lab, What: t.What, Doing: t.Doing, From: rec.First, To: rec.Last,
		Discovered: discovered, Elements: rec.Elements}
}

func monitoringAAD(incident int64) []byte {
	return []byte("labtrust monitoring code v1\x00" + strconv.FormatInt(incident, 10))
}

// AddMonitoringCodes seals a vendor's enrolment codes into the incident's
// pool. It returns how many it took (blank lines and duplicates skipped).
func (s *Service) AddMonitoringCodes(ctx context.Context, incident int64, codes []string) (int, error) {
	seen := map[string]bool{}
	var sealed [][]byte
	for _, c := range codes {
		c = strings.TrimSpace(c)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		b, err := s.key.Seal(ctx, nil, []byte(c), monitoringAAD(incident))
		if err != nil {
			return 0, err
		}
		sealed = append(sealed, b)
	}
	return len(sealed), s.st.AddMonitoringCodes(ctx, incident, sealed)
}

// MonitoringCode returns the notice's credit-monitoring enrolment code,
// giving it one from the pool the first time.
func (s *Service) MonitoringCode(ctx context.Context, row store.NoticeRow) (string, error) {
	sealed, err := s.st.AllocateMonitoringCode(ctx, row.Incident, row.ID, s.now().UTC())
	if err != nil {
		return "", err
	}
	b, err := s.key.Open(nil, sealed, monitoringAAD(row.Incident))
	if err != nil {
		return "", fmt.Errorf("notice: monitoring code does not authenticate: %w", err)
	}
	return string(b), nil
}

// ClaimMonitoring records that the person saw their code on the portal.
func (s *Service) ClaimMonitoring(ctx context.Context, row store.NoticeRow) error {
	return s.st.ClaimMonitoringCode(ctx, row.ID, s.now().UTC())
}
