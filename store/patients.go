package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
)

// PatientRow is a registry row: the sealed record and its key, and the few
// clear columns that identify no one.
type PatientRow struct {
	ID         int64
	Blind      []byte // blind index of the MRN
	MergedInto int64  // 0 unless an ADT merge folded this record into another
	Key        []byte // the record's own data key, sealed by the vault; nil once forgotten
	Record     []byte // sealed with Key; nil once forgotten
	State      string
	Language   string
	Minor      bool
	Deceased   bool
	VIP        bool
	Source     string
	UpdatedAt  time.Time
	Forgotten  bool
	Lookups    []Lookup // blind indexes for exact lookups; written, not read back
}

// Lookup is one exact-match blind index of a patient (kind: "id", "ssn",
// "email", "phone", "name-dob").
type Lookup struct {
	Kind  string
	Blind []byte
}

const patientCols = `id, blind, merged_into, key, record, state, language, minor, deceased, source, updated_at, forgotten_at`

func scanPatient(s scanner) (PatientRow, error) {
	var r PatientRow
	var merged, forgotten sql.NullInt64
	var updated int64
	var minor, deceased int
	err := s.Scan(&r.ID, &r.Blind, &merged, &r.Key, &r.Record, &r.State, &r.Language, &minor, &deceased, &r.Source, &updated, &forgotten)
	if err != nil {
		return r, err
	}
	r.MergedInto, r.Forgotten = merged.Int64, forgotten.Valid
	r.Minor, r.Deceased = minor != 0, deceased != 0
	r.UpdatedAt = time.Unix(0, updated).UTC()
	return r, nil
}

// PatientByBlind returns the registry row whose MRN has blind index b, or
// labtrust.ErrNotFound.
func (d *DB) PatientByBlind(ctx context.Context, b []byte) (PatientRow, error) {
	r, err := scanPatient(d.queryRow(ctx, d.q(`SELECT `+patientCols+` FROM patients WHERE blind = ?`), b))
	if err != nil {
		return r, fmt.Errorf("store: read patient: %w", mapErr(err))
	}
	return r, nil
}

// PatientByID returns a registry row by its ID, or labtrust.ErrNotFound.
func (d *DB) PatientByID(ctx context.Context, id int64) (PatientRow, error) {
	r, err := scanPatient(d.queryRow(ctx, d.q(`SELECT `+patientCols+` FROM patients WHERE id = ?`), id))
	if err != nil {
		return r, fmt.Errorf("store: read patient %d: %w", id, mapErr(err))
	}
	return r, nil
}

// MergedPatients returns the rows merged into id, directly or through
// earlier merges.
func (d *DB) MergedPatients(ctx context.Context, id int64) ([]PatientRow, error) {
	var out []PatientRow
	queue := []int64{id}
	seen := map[int64]bool{id: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+patientCols+` FROM patients WHERE merged_into = ?`), cur)
		if err != nil {
			return nil, fmt.Errorf("store: read merged patients: %w", mapErr(err))
		}
		for rows.Next() {
			r, err := scanPatient(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: scan patient: %w", err)
			}
			if !seen[r.ID] {
				seen[r.ID] = true
				out = append(out, r)
				queue = append(queue, r.ID)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: read merged patients: %w", mapErr(err))
		}
	}
	return out, nil
}

// LookupPatients returns the IDs of the patients with the blind index b of
// the given kind.
func (d *DB) LookupPatients(ctx context.Context, kind string, b []byte) ([]int64, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT patient FROM patient_lookup WHERE kind = ? AND blind = ?`), kind, b)
	if err != nil {
		return nil, fmt.Errorf("store: patient lookup: %w", mapErr(err))
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: patient lookup: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// PatientKeys returns the sealed record keys of the patients whose MRN blind
// indexes are in blinds (absent and forgotten ones are left out): what an
// import batch needs to update records it already holds.
func (d *DB) PatientKeys(ctx context.Context, blinds [][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	const per = 500
	for start := 0; start < len(blinds); start += per {
		part := blinds[start:min(start+per, len(blinds))]
		q := `SELECT blind, key FROM patients WHERE key IS NOT NULL AND blind IN (?` + repeatArg(len(part)-1) + `)`
		args := make([]any, len(part))
		for i, b := range part {
			args[i] = b
		}
		st, err := d.stmt(ctx, d.q(q))
		if err != nil {
			return nil, fmt.Errorf("store: read patient keys: %w", err)
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("store: read patient keys: %w", mapErr(err))
		}
		for rows.Next() {
			var b, k []byte
			if err := rows.Scan(&b, &k); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: read patient keys: %w", err)
			}
			out[string(b)] = k
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: read patient keys: %w", mapErr(err))
		}
	}
	return out, nil
}

func repeatArg(n int) string {
	b := make([]byte, 0, 2*n)
	for i := 0; i < n; i++ {
		b = append(b, ",?"...)
	}
	return string(b)
}

// blindRowID is the row id that places a patient in the table in
// blind-index order: the blind index's first 53 bits (a whole number
// JavaScript holds exactly), plus one so it is never 0. A whole-registry
// read in blind-index order (LivePatients) then reads the table from
// start to end instead of one random page per person, which at ten
// million people is most of its time. The blind index is in the same row
// in the clear, so the id tells no one more than it does.
func blindRowID(blind []byte) int64 {
	var b [8]byte
	copy(b[:], blind)
	return int64(binary.BigEndian.Uint64(b[:])>>11) + 1
}

// insertRegistryRows inserts rows[i] for each i of which, recording each new
// id in ids by blind index. With placed, each row asks for its
// blindRowID and one whose id is taken is skipped (not in ids after).
func (d *DB) insertRegistryRows(ctx context.Context, tx *sql.Tx, rows []PatientRow, which []int, placed bool, ids map[string]int64) error {
	const per = 400
	for start := 0; start < len(which); start += per {
		part := which[start:min(start+per, len(which))]
		args := make([]any, 0, 11*len(part))
		var q strings.Builder
		q.WriteString(`INSERT INTO patients (`)
		if placed {
			q.WriteString(`id, `)
		}
		q.WriteString(`blind, key, record, state, language, minor, deceased, vip, source, updated_at) VALUES `)
		for k, i := range part {
			if k > 0 {
				q.WriteByte(',')
			}
			r := &rows[i]
			if placed {
				q.WriteString(`(?,`)
				args = append(args, blindRowID(r.Blind))
			} else {
				q.WriteByte('(')
			}
			q.WriteString(`?,?,?,?,?,?,?,?,?,?)`)
			args = append(args, r.Blind, r.Key, r.Record, r.State, r.Language, b2i(r.Minor), b2i(r.Deceased), b2i(r.VIP), r.Source, r.UpdatedAt.UnixNano())
		}
		if placed {
			q.WriteString(` ON CONFLICT (id) DO NOTHING`)
		}
		q.WriteString(` RETURNING id, blind`)
		st, err := d.txStmt(ctx, tx, q.String())
		if err != nil {
			return fmt.Errorf("store: insert patients: %w", err)
		}
		res, err := st.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("store: insert patients: %w", mapErr(err))
		}
		for res.Next() {
			var id int64
			var b []byte
			if err := res.Scan(&id, &b); err != nil {
				res.Close()
				return fmt.Errorf("store: insert patients: %w", err)
			}
			ids[string(b)] = id
		}
		res.Close()
		if err := res.Err(); err != nil {
			return fmt.Errorf("store: insert patients: %w", mapErr(err))
		}
	}
	return nil
}

// UpsertPatients inserts or replaces registry rows by MRN blind index, with
// their lookups, in one transaction. A forgotten patient stays forgotten:
// a later update for the same MRN is refused with labtrust.ErrConflict.
// Rows are written with multi-row statements: a bulk import costs a few
// statements per few hundred patients, not several per patient.
func (d *DB) UpsertPatients(ctx context.Context, rows []PatientRow) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin patients: %w", mapErr(err))
	}
	defer tx.Rollback()
	// Which MRNs the registry holds already.
	ids := map[string]int64{}
	const per = 400
	for start := 0; start < len(rows); start += per {
		part := rows[start:min(start+per, len(rows))]
		args := make([]any, len(part))
		for i := range part {
			args[i] = part[i].Blind
		}
		st, err := d.txStmt(ctx, tx, `SELECT id, blind, forgotten_at FROM patients WHERE blind IN (?`+repeatArg(len(part)-1)+`)`)
		if err != nil {
			return fmt.Errorf("store: read patients: %w", err)
		}
		res, err := st.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("store: read patients: %w", mapErr(err))
		}
		for res.Next() {
			var id int64
			var b []byte
			var forgotten sql.NullInt64
			if err := res.Scan(&id, &b, &forgotten); err != nil {
				res.Close()
				return fmt.Errorf("store: read patients: %w", err)
			}
			if forgotten.Valid {
				res.Close()
				return fmt.Errorf("store: patient %d was forgotten; its MRN cannot come back: %w", id, labtrust.ErrConflict)
			}
			ids[string(b)] = id
		}
		res.Close()
		if err := res.Err(); err != nil {
			return fmt.Errorf("store: read patients: %w", mapErr(err))
		}
	}
	// New MRNs: multi-row inserts that return their IDs. A batch may name
	// one MRN twice; its last row wins.
	last := map[string]int{}
	for i := range rows {
		last[string(rows[i].Blind)] = i
	}
	var fresh []int
	for i := range rows {
		if _, ok := ids[string(rows[i].Blind)]; !ok && last[string(rows[i].Blind)] == i {
			fresh = append(fresh, i)
		}
	}
	// In blind-index order, inserts walk the MRN index once.
	slices.SortFunc(fresh, func(a, b int) int { return bytes.Compare(rows[a].Blind, rows[b].Blind) })
	// On SQLite a new row's id follows its blind index (blindRowID), so
	// the table is laid out in the order whole-registry reads walk it. An
	// id already taken (two blind indexes sharing their first 53 bits: a
	// handful of people in ten million) is left to SQLite to choose.
	placed := d.dialect == SQLite
	if err := d.insertRegistryRows(ctx, tx, rows, fresh, placed, ids); err != nil {
		return err
	}
	if placed {
		var rest []int
		for _, i := range fresh {
			if _, ok := ids[string(rows[i].Blind)]; !ok {
				rest = append(rest, i)
			}
		}
		if err := d.insertRegistryRows(ctx, tx, rows, rest, false, ids); err != nil {
			return err
		}
	}
	// Known MRNs: updated one by one (an import of updates is the rarer
	// case), their lookups replaced.
	isFresh := map[int]bool{}
	for _, i := range fresh {
		isFresh[i] = true
	}
	type lookupRow struct {
		kind  string
		blind []byte
		id    int64
	}
	var lookupRows []lookupRow
	for i := range rows {
		r := &rows[i]
		id := ids[string(r.Blind)]
		r.ID = id
		if last[string(r.Blind)] != i {
			continue
		}
		if !isFresh[i] {
			upd, err := d.txStmt(ctx, tx, `UPDATE patients SET key = ?, record = ?, state = ?, language = ?, minor = ?, deceased = ?, vip = ?, source = ?, updated_at = ? WHERE id = ?`)
			if err != nil {
				return fmt.Errorf("store: update patient %d: %w", id, err)
			}
			del, err := d.txStmt(ctx, tx, `DELETE FROM patient_lookup WHERE patient = ?`)
			if err != nil {
				return fmt.Errorf("store: update patient %d: %w", id, err)
			}
			if _, err := upd.ExecContext(ctx, r.Key, r.Record, r.State, r.Language, b2i(r.Minor), b2i(r.Deceased), b2i(r.VIP), r.Source, r.UpdatedAt.UnixNano(), id); err != nil {
				return fmt.Errorf("store: update patient %d: %w", id, mapErr(err))
			}
			if _, err := del.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("store: update patient %d: %w", id, mapErr(err))
			}
		}
		for _, l := range r.Lookups {
			lookupRows = append(lookupRows, lookupRow{l.Kind, l.Blind, id})
		}
	}
	// In key order, the batch walks the lookup index once, left to right.
	slices.SortFunc(lookupRows, func(a, b lookupRow) int {
		if c := strings.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return bytes.Compare(a.blind, b.blind)
	})
	lookupArgs := make([]any, 0, 3*len(lookupRows))
	for _, l := range lookupRows {
		lookupArgs = append(lookupArgs, l.kind, l.blind, l.id)
	}
	if err := d.execValues(ctx, tx, `INSERT INTO patient_lookup (kind, blind, patient) VALUES `, 3, lookupArgs, ` ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("store: patient lookups: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit patients: %w", mapErr(err))
	}
	return nil
}

// MergePatient records that the record with blind index from is merged into
// the one with blind index into. A from the registry has not seen gets a
// placeholder row, so its events still follow the survivor.
func (d *DB) MergePatient(ctx context.Context, from, into []byte, source string, at time.Time) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin merge: %w", mapErr(err))
	}
	defer tx.Rollback()
	var intoID int64
	if err := tx.QueryRowContext(ctx, d.q(`SELECT id FROM patients WHERE blind = ?`), into).Scan(&intoID); err != nil {
		return fmt.Errorf("store: merge: surviving patient: %w", mapErr(err))
	}
	res, err := tx.ExecContext(ctx, d.q(`UPDATE patients SET merged_into = ?, updated_at = ? WHERE blind = ?`), intoID, at.UnixNano(), from)
	if err != nil {
		return fmt.Errorf("store: merge: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO patients (blind, merged_into, source, updated_at) VALUES (?, ?, ?, ?)`),
			from, intoID, source, at.UnixNano()); err != nil {
			return fmt.Errorf("store: merge: %w", mapErr(err))
		}
	}
	// Records merged into the merged one follow to the survivor.
	var fromID int64
	if err := tx.QueryRowContext(ctx, d.q(`SELECT id FROM patients WHERE blind = ?`), from).Scan(&fromID); err != nil {
		return fmt.Errorf("store: merge: %w", mapErr(err))
	}
	if fromID == intoID {
		return fmt.Errorf("store: merge: a record cannot merge into itself: %w", labtrust.ErrConflict)
	}
	// The survivor is merged into nothing (a merge the other way round
	// earlier is undone by this one), and records merged into the merged
	// one follow to the survivor: no chain can loop.
	if _, err := tx.ExecContext(ctx, d.q(`UPDATE patients SET merged_into = NULL WHERE id = ?`), intoID); err != nil {
		return fmt.Errorf("store: merge: %w", mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, d.q(`UPDATE patients SET merged_into = ? WHERE merged_into = ? AND id <> ?`), intoID, fromID, intoID); err != nil {
		return fmt.Errorf("store: merge: %w", mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit merge: %w", mapErr(err))
	}
	return nil
}

// ForgetPatient crypto-shreds a patient and the records merged into them
// (merged): the sealed records and their keys are deleted and the lookups
// dropped; the rows stay (blind index and the time) so the MRNs cannot be
// silently re-registered and the forgetting is on record.
func (d *DB) ForgetPatient(ctx context.Context, id int64, at time.Time, merged ...int64) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin forget: %w", mapErr(err))
	}
	defer tx.Rollback()
	for k, pid := range append([]int64{id}, merged...) {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE patients SET key = NULL, record = NULL, state = '', language = '', minor = 0, deceased = 0, vip = 0, forgotten_at = COALESCE(forgotten_at, ?) WHERE id = ?`), at.UnixNano(), pid)
		if err != nil {
			return fmt.Errorf("store: forget patient %d: %w", pid, mapErr(err))
		}
		if n, _ := res.RowsAffected(); n != 1 && k == 0 {
			return fmt.Errorf("store: forget patient %d: %w", pid, labtrust.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM patient_lookup WHERE patient = ?`), pid); err != nil {
			return fmt.Errorf("store: forget patient %d: %w", pid, mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit forget: %w", mapErr(err))
	}
	return nil
}

// CountPatientsByState returns registry counts per state of residence
// (merged and forgotten records left out).
func (d *DB) CountPatientsByState(ctx context.Context) (map[string]int64, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM patients WHERE merged_into IS NULL AND forgotten_at IS NULL GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: count patients: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("store: count patients: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Flags are what detection knows about a patient without opening the
// record.
type Flags struct {
	VIP, Deceased bool
}

// FlaggedPatients calls fn with the blind index of every registered
// patient who is a VIP or deceased, from one scan.
func (d *DB) FlaggedPatients(ctx context.Context, fn func(blind []byte, f Flags) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT blind, vip, deceased FROM patients WHERE (vip = 1 OR deceased = 1) AND forgotten_at IS NULL`)
	if err != nil {
		return fmt.Errorf("store: flagged patients: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		var vip, dec int
		if err := rows.Scan(&b, &vip, &dec); err != nil {
			return fmt.Errorf("store: flagged patients: %w", err)
		}
		if err := fn(b, Flags{VIP: vip == 1, Deceased: dec == 1}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// patientBatch is how many blind indexes one PatientsByBlind query asks
// for; short batches repeat the last one, so one prepared statement
// serves every call.
const patientBatch = 256

// PatientsByBlind returns the registry rows for the blind indexes it
// finds, keyed by blind index (as a string); the others are absent. A
// query asks for hundreds at once: one query per person was most of the
// cost of reading a breach's patients.
func (d *DB) PatientsByBlind(ctx context.Context, blinds [][]byte) (map[string]PatientRow, error) {
	keys := make([]any, len(blinds))
	for i, b := range blinds {
		keys[i] = b
	}
	out := make(map[string]PatientRow, len(blinds))
	err := d.patientsIn(ctx, "blind", keys, func(r PatientRow) { out[string(r.Blind)] = r })
	return out, err
}

// PatientsByID reads many registry rows by ID, hundreds per query; an ID
// not stored is absent from the map.
func (d *DB) PatientsByID(ctx context.Context, ids []int64) (map[int64]PatientRow, error) {
	keys := make([]any, len(ids))
	for i, id := range ids {
		keys[i] = id
	}
	out := make(map[int64]PatientRow, len(ids))
	err := d.patientsIn(ctx, "id", keys, func(r PatientRow) { out[r.ID] = r })
	return out, err
}

// patientsIn calls fn with each registry row whose column col holds one
// of keys, patientBatch keys per query through one kept statement (a
// short last batch repeats its last key).
func (d *DB) patientsIn(ctx context.Context, col string, keys []any, fn func(PatientRow)) error {
	st, err := d.stmt(ctx, d.q(`SELECT `+patientCols+` FROM patients WHERE `+col+` IN (?`+strings.Repeat(",?", patientBatch-1)+`)`))
	if err != nil {
		return err
	}
	args := make([]any, patientBatch)
	for start := 0; start < len(keys); start += patientBatch {
		part := keys[start:min(start+patientBatch, len(keys))]
		for i := range args {
			args[i] = part[min(i, len(part)-1)]
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("store: read patients: %w", mapErr(err))
		}
		for rows.Next() {
			r, err := scanPatient(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("store: scan patient: %w", err)
			}
			fn(r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// LivePatients calls fn with the registry's current rows (not merged into
// another, not forgotten) in blind-index order, a page at a time. That
// order, through the blind index, is the one whatever is built from a
// whole registry (a breach scope's members, its notices) can append in:
// rows keyed by blind index inserted in row order would land all over
// their indexes, and at millions of rows each commit would rewrite a page
// per row.
//
// The whole read is one read-only transaction: everyone as of one moment
// (an import running meanwhile is either all in or not at all), and on
// SQLite a reader whose transaction stays open keeps its page cache, where
// one that starts a transaction after another connection's commit begins
// with an empty one; fn writes what it builds as it goes, so that was a
// cold cache every few pages. Other connections commit meanwhile as
// usual; SQLite's log cannot be checkpointed past this reader until it
// ends.
func (d *DB) LivePatients(ctx context.Context, fn func([]PatientRow) error) error {
	after := []byte{}
	tx, err := d.beginLivePatients(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	d.longReads.Add(1)
	defer d.longReads.Add(-1)
	prepared, err := d.stmt(ctx, d.q(livePatientsQuery))
	if err != nil {
		return err
	}
	st := tx.StmtContext(ctx, prepared)
	defer st.Close()
	for {
		rows, err := st.QueryContext(ctx, after, livePage)
		if err != nil {
			return fmt.Errorf("store: patients: %w", mapErr(err))
		}
		out := make([]PatientRow, 0, livePage)
		for rows.Next() {
			r, err := scanPatient(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("store: scan patient: %w", err)
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return mapErr(err)
		}
		if len(out) > 0 {
			if err := fn(out); err != nil {
				return err
			}
			after = out[len(out)-1].Blind
		}
		if len(out) < livePage {
			return nil
		}
	}
}

const (
	livePage          = 5000
	livePatientsQuery = `SELECT ` + patientCols + ` FROM patients WHERE blind > ? AND merged_into IS NULL AND forgotten_at IS NULL AND key IS NOT NULL ORDER BY blind LIMIT ?`
)

// beginLivePatients starts a whole-registry read: one read-only
// snapshot, walking the blind index (indexOrder).
func (d *DB) beginLivePatients(ctx context.Context) (*sql.Tx, error) {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("store: patients: %w", mapErr(err))
	}
	if err := d.indexOrder(ctx, tx); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("store: patients: %w", err)
	}
	return tx, nil
}

// indexOrder makes PostgreSQL read tx's paged queries (ORDER BY an
// indexed key, LIMIT a page) by walking the index, as they are written
// to be. Without statistics on a table (never analysed: a database just
// restored or bulk-loaded, autovacuum off or not yet run, a table that
// grew by millions within one notice run) the planner guesses a handful
// of matching rows and instead fetches and sorts all of them for every
// page, which makes reading ten million rows quadratic. Sorting is
// turned off for the transaction only; no query it runs needs one.
func (d *DB) indexOrder(ctx context.Context, tx *sql.Tx) error {
	if d.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SET LOCAL enable_sort = off`)
	return mapErr(err)
}
