// Package store keeps labtrust's event bodies (sealed by the vault), their
// index rows, the data keys (wrapped) and the quarantine, in SQLite (the
// embedded default) or PostgreSQL. Both run the same SQL through
// database/sql; where the two differ (placeholders, bulk loading, error
// codes) the difference stays inside this package.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/vault"
	_ "modernc.org/sqlite"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the store. It is safe for concurrent use; AppendEvents calls MUST
// come from one writer at a time (the ingest sequencer), which is what makes
// indices dense and ordered.
type DB struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
	stopWAL func() // stops the SQLite WAL checkpointer
}

var _ vault.KeyStore = (*DB)(nil)

// Open connects to dsn: a postgres:// or postgresql:// URL selects
// PostgreSQL; anything else is a SQLite file path. It applies pending
// migrations, one transaction each.
func Open(ctx context.Context, dsn string) (*DB, error) {
	d := &DB{now: time.Now}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		d.dialect = Postgres
		d.db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		d.db.SetMaxOpenConns(8)
	} else {
		d.dialect = SQLite
		// WAL with synchronous=FULL: a commit is on disk when it returns,
		// which is what lets ingest acknowledge. _txlock=immediate takes the
		// write lock at BEGIN so concurrent writers queue instead of failing
		// on upgrade. A 64 MiB page cache per connection bounds memory while
		// keeping the newest index pages hot. Automatic WAL checkpoints are
		// off: they would run inside a commit and stall acknowledgements for
		// seconds; checkpointWAL does them in the background instead.
		q := "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
		d.db, err = sql.Open("sqlite", "file:"+dsn+q)
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		d.db.SetMaxOpenConns(4)
	}
	if err := d.db.PingContext(ctx); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("store: connect to %s database: %w", d.dialect, err)
	}
	if err := d.migrate(ctx); err != nil {
		d.db.Close()
		return nil, err
	}
	if d.dialect == SQLite {
		wctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.checkpointWAL(wctx)
		}()
		d.stopWAL = func() { cancel(); <-done }
	}
	return d, nil
}

// checkpointWAL copies the WAL into the database file every half second
// without blocking the writer (PASSIVE), so commits never wait for it and
// the WAL, reset by SQLite once fully copied, stays small.
func (d *DB) checkpointWAL(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			var busy, logFrames, done int
			// Errors here are transient (busy); the next tick retries.
			d.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done)
		}
	}
}

// Dialect reports which database this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// Close stops the WAL checkpointer and closes the connection pool.
func (d *DB) Close() error {
	if d.stopWAL != nil {
		d.stopWAL()
	}
	return d.db.Close()
}

// SQL exposes the pool for tests and tooling that need raw access.
func (d *DB) SQL() *sql.DB { return d.db }

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	dir := path.Join("migrations", string(d.dialect))
	files, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, f.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := d.db.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), name).Scan(&n); err != nil {
			return fmt.Errorf("store: read schema_migrations: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(path.Join(dir, name))
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", name, err)
		}
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", name, err)
		}
		for _, stmt := range splitSQL(string(body)) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("store: migration %s: %w", name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), name, d.now().Unix()); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %s: commit: %w", name, mapErr(err))
		}
	}
	return nil
}

// splitSQL splits a migration into statements at semicolons that end a line,
// dropping comment-only lines.
func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// q rewrites ? placeholders to $n for PostgreSQL.
func (d *DB) q(s string) string {
	if d.dialect != Postgres {
		return s
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mapErr turns driver errors into the domain sentinels callers may test for.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return labtrust.ErrNotFound
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505", "40001", "40P01":
			return fmt.Errorf("%w: %s", labtrust.ErrConflict, pg.Message)
		}
		return err
	}
	msg := err.Error()
	if strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") {
		return fmt.Errorf("%w: %v", labtrust.ErrConflict, err)
	}
	if strings.Contains(msg, "UNIQUE constraint failed") {
		return fmt.Errorf("%w: %v", labtrust.ErrConflict, err)
	}
	return err
}

// LoadKeys returns every wrapped data key.
func (d *DB) LoadKeys(ctx context.Context) ([]vault.WrappedKey, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, purpose, kek_id, wrapped, created_at FROM keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: load keys: %w", mapErr(err))
	}
	defer rows.Close()
	var out []vault.WrappedKey
	for rows.Next() {
		var k vault.WrappedKey
		var id, created int64
		var purpose string
		if err := rows.Scan(&id, &purpose, &k.KEKID, &k.Wrapped, &created); err != nil {
			return nil, fmt.Errorf("store: scan key: %w", err)
		}
		k.ID, k.Purpose, k.Created = uint32(id), vault.Purpose(purpose), time.Unix(created, 0).UTC()
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: load keys: %w", mapErr(err))
	}
	return out, nil
}

// SaveKey stores a new wrapped key; it is durable when SaveKey returns.
func (d *DB) SaveKey(ctx context.Context, k vault.WrappedKey) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO keys (id, purpose, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?)`),
		int64(k.ID), string(k.Purpose), k.KEKID, k.Wrapped, k.Created.Unix())
	if err != nil {
		return fmt.Errorf("store: save key %d: %w", k.ID, mapErr(err))
	}
	return nil
}

// EventRow is one stored event: clear index columns that hold no PHI, the
// patients' blind indexes, and the sealed body (nonce || canonical bytes).
type EventRow struct {
	Index      uint64
	Time       time.Time
	Source     string
	Kind       string
	Actor      string
	Action     string
	Outcome    int
	Commitment [32]byte
	Body       []byte
	Patients   [][]byte // blind indexes
}

// BucketShift sets the patient index's bucket size (2^16 entries): the
// bucket leads the index key so inserts stay local.
const BucketShift = 16

// BlockShift sets the block size (2^8 entries) of the time, actor, source
// and kind indexes.
const BlockShift = 8

// rowsPerInsert bounds multi-row INSERT statements (SQLite allows 32766
// parameters); batching rows per statement is what makes SQLite inserts fast.
const rowsPerInsert = 400

// AppendEvents stores rows in one transaction. Indices MUST continue the
// stored sequence without gaps; ErrConflict means an index already exists.
// When AppendEvents returns nil the rows are durable.
func (d *DB) AppendEvents(ctx context.Context, rows []EventRow) error {
	if len(rows) == 0 {
		return nil
	}
	if d.dialect == Postgres {
		return d.copyEvents(ctx, rows)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin append: %w", mapErr(err))
	}
	defer tx.Rollback()
	if err := d.insertEvents(ctx, tx, rows); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit append: %w", mapErr(err))
	}
	return nil
}

func (d *DB) insertEvents(ctx context.Context, tx *sql.Tx, rows []EventRow) error {
	evStmts := map[int]*sql.Stmt{}
	patStmts := map[int]*sql.Stmt{}
	defer func() {
		for _, s := range evStmts {
			s.Close()
		}
		for _, s := range patStmts {
			s.Close()
		}
	}()
	prep := func(cache map[int]*sql.Stmt, head, tuple string, n int) (*sql.Stmt, error) {
		if s := cache[n]; s != nil {
			return s, nil
		}
		var b strings.Builder
		b.WriteString(head)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(tuple)
		}
		s, err := tx.PrepareContext(ctx, d.q(b.String()))
		if err != nil {
			return nil, fmt.Errorf("store: prepare insert: %w", mapErr(err))
		}
		cache[n] = s
		return s, nil
	}
	if err := d.insertBlocks(ctx, tx, rows); err != nil {
		return err
	}
	args := make([]any, 0, rowsPerInsert*9)
	var pats []any
	for start := 0; start < len(rows); start += rowsPerInsert {
		chunk := rows[start:min(start+rowsPerInsert, len(rows))]
		args = args[:0]
		pats = pats[:0]
		for i := range chunk {
			r := &chunk[i]
			args = append(args, int64(r.Index), r.Time.UnixMicro(), r.Source, r.Kind, r.Actor, r.Action, r.Outcome, r.Commitment[:], r.Body)
			for _, p := range r.Patients {
				pats = append(pats, int64(r.Index>>BucketShift), p, int64(r.Index), r.Commitment[:])
			}
		}
		s, err := prep(evStmts, `INSERT INTO events (idx, ts, source, kind, actor, action, outcome, commitment, body) VALUES `, `(?,?,?,?,?,?,?,?,?)`, len(chunk))
		if err != nil {
			return err
		}
		if _, err := s.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("store: insert events at index %d: %w", chunk[0].Index, mapErr(err))
		}
		// Patient rows may outnumber event rows; chunk them by the same bound.
		for ps := 0; ps < len(pats); ps += 4 * rowsPerInsert {
			part := pats[ps:min(ps+4*rowsPerInsert, len(pats))]
			s, err := prep(patStmts, `INSERT OR IGNORE INTO event_patients (bucket, patient, idx, commitment) VALUES `, `(?,?,?,?)`, len(part)/4)
			if err != nil {
				return err
			}
			if _, err := s.ExecContext(ctx, part...); err != nil {
				return fmt.Errorf("store: insert patient index at %d: %w", chunk[0].Index, mapErr(err))
			}
		}
	}
	return nil
}

// copyEvents bulk-loads with COPY, PostgreSQL's fastest path, in one
// transaction.
func (d *DB) copyEvents(ctx context.Context, rows []EventRow) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: connection: %w", mapErr(err))
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("store: begin append: %w", mapErr(err))
		}
		defer tx.Rollback(ctx)
		i := 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"},
			[]string{"idx", "ts", "source", "kind", "actor", "action", "outcome", "commitment", "body"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(rows) {
					return nil, nil
				}
				r := &rows[i]
				i++
				return []any{int64(r.Index), r.Time.UnixMicro(), r.Source, r.Kind, r.Actor, r.Action, int32(r.Outcome), r.Commitment[:], r.Body}, nil
			})); err != nil {
			return fmt.Errorf("store: copy events at index %d: %w", rows[0].Index, mapErr(err))
		}
		ri, pi := 0, 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"event_patients"}, []string{"bucket", "patient", "idx", "commitment"},
			pgx.CopyFromFunc(func() ([]any, error) {
				for ri < len(rows) && pi >= len(rows[ri].Patients) {
					ri, pi = ri+1, 0
				}
				if ri == len(rows) {
					return nil, nil
				}
				r := &rows[ri]
				p := r.Patients[pi]
				pi++
				return []any{int64(r.Index >> BucketShift), p, int64(r.Index), r.Commitment[:]}, nil
			})); err != nil {
			return fmt.Errorf("store: copy patient index at %d: %w", rows[0].Index, mapErr(err))
		}
		if err := d.pgBlocks(ctx, tx, rows); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("store: commit append: %w", mapErr(err))
		}
		return nil
	})
}

// NextIndex returns the index the next appended event gets: one past the
// highest stored, or 0 for an empty store.
func (d *DB) NextIndex(ctx context.Context) (uint64, error) {
	var n sql.NullInt64
	if err := d.db.QueryRowContext(ctx, `SELECT MAX(idx) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: max index: %w", mapErr(err))
	}
	if !n.Valid {
		return 0, nil
	}
	return uint64(n.Int64) + 1, nil
}

// PatientHead returns the newest stored entry of the patient with blind
// index b: its index and commitment. It returns labtrust.ErrNotFound if the
// patient has none. It probes buckets from the newest down.
func (d *DB) PatientHead(ctx context.Context, b []byte) (uint64, [32]byte, error) {
	var out [32]byte
	next, err := d.NextIndex(ctx)
	if err != nil || next == 0 {
		return 0, out, labtrust.ErrNotFound
	}
	q := d.q(`SELECT idx, commitment FROM event_patients WHERE bucket = ? AND patient = ? ORDER BY idx DESC LIMIT 1`)
	for bucket := int64((next - 1) >> BucketShift); bucket >= 0; bucket-- {
		var idx int64
		var c []byte
		err := d.db.QueryRowContext(ctx, q, bucket, b).Scan(&idx, &c)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, out, fmt.Errorf("store: patient head: %w", mapErr(err))
		}
		copy(out[:], c)
		return uint64(idx), out, nil
	}
	return 0, out, labtrust.ErrNotFound
}

// PatientHeads calls fn with every patient-index row (blind index, entry
// index, commitment), in no particular order, from one sequential scan; a
// patient's head is the row with its highest index. The ingest pipeline
// loads the heads once at start so that a patient it has not seen is known
// to be new without a query per event.
func (d *DB) PatientHeads(ctx context.Context, fn func(blind []byte, idx uint64, c [32]byte) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT patient, idx, commitment FROM event_patients`)
	if err != nil {
		return fmt.Errorf("store: read patient heads: %w", mapErr(err))
	}
	defer rows.Close()
	var b, c []byte
	var idx int64
	for rows.Next() {
		if err := rows.Scan(&b, &idx, &c); err != nil {
			return fmt.Errorf("store: scan patient head: %w", err)
		}
		var h [32]byte
		copy(h[:], c)
		if err := fn(b, uint64(idx), h); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read patient heads: %w", mapErr(err))
	}
	return nil
}

// CountPatients returns how many distinct patients have entries.
func (d *DB) CountPatients(ctx context.Context) (int64, error) {
	var n int64
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT patient) FROM event_patients`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count patients: %w", mapErr(err))
	}
	return n, nil
}

// Commitments calls fn for each stored commitment with from <= index < to,
// in index order.
func (d *DB) Commitments(ctx context.Context, from, to uint64, fn func(idx uint64, c [32]byte) error) error {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT idx, commitment FROM events WHERE idx >= ? AND idx < ? ORDER BY idx`), int64(from), int64(to))
	if err != nil {
		return fmt.Errorf("store: read commitments: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var c []byte
		if err := rows.Scan(&idx, &c); err != nil {
			return fmt.Errorf("store: scan commitment: %w", err)
		}
		var h [32]byte
		copy(h[:], c)
		if err := fn(uint64(idx), h); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Bodies calls fn with the index, commitment and sealed body of each stored
// event with from <= index < to, in index order: what verification needs,
// without the index columns. The slices are only valid during the call.
func (d *DB) Bodies(ctx context.Context, from, to uint64, fn func(idx uint64, c [32]byte, body []byte) error) error {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT idx, commitment, body FROM events WHERE idx >= ? AND idx < ? ORDER BY idx`), int64(from), int64(to))
	if err != nil {
		return fmt.Errorf("store: read bodies: %w", mapErr(err))
	}
	defer rows.Close()
	var idx int64
	var c, body []byte
	for rows.Next() {
		if err := rows.Scan(&idx, &c, &body); err != nil {
			return fmt.Errorf("store: scan body: %w", err)
		}
		var h [32]byte
		copy(h[:], c)
		if err := fn(uint64(idx), h, body); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read bodies: %w", mapErr(err))
	}
	return nil
}

// Events calls fn for each stored event with from <= index < to, in index
// order, body included.
func (d *DB) Events(ctx context.Context, from, to uint64, fn func(*EventRow) error) error {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT idx, ts, source, kind, actor, action, outcome, commitment, body FROM events WHERE idx >= ? AND idx < ? ORDER BY idx`), int64(from), int64(to))
	if err != nil {
		return fmt.Errorf("store: read events: %w", mapErr(err))
	}
	defer rows.Close()
	return scanEvents(rows, fn)
}

func scanEvents(rows *sql.Rows, fn func(*EventRow) error) error {
	var r EventRow
	var idx, ts int64
	var c []byte
	for rows.Next() {
		if err := rows.Scan(&idx, &ts, &r.Source, &r.Kind, &r.Actor, &r.Action, &r.Outcome, &c, &r.Body); err != nil {
			return fmt.Errorf("store: scan event: %w", err)
		}
		r.Index, r.Time = uint64(idx), time.UnixMicro(ts).UTC()
		copy(r.Commitment[:], c)
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read events: %w", mapErr(err))
	}
	return nil
}

// PatientEvents calls fn for every event of the patient with blind index b,
// in index order, body included.
func (d *DB) PatientEvents(ctx context.Context, b []byte, fn func(*EventRow) error) error {
	next, err := d.NextIndex(ctx)
	if err != nil || next == 0 {
		return err
	}
	var in strings.Builder
	for bucket := uint64(0); bucket <= (next-1)>>BucketShift; bucket++ {
		if bucket > 0 {
			in.WriteByte(',')
		}
		in.WriteString(strconv.FormatUint(bucket, 10))
	}
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT e.idx, e.ts, e.source, e.kind, e.actor, e.action, e.outcome, e.commitment, e.body
		FROM event_patients p JOIN events e ON e.idx = p.idx WHERE p.bucket IN (`+in.String()+`) AND p.patient = ? ORDER BY p.idx`), b)
	if err != nil {
		return fmt.Errorf("store: read patient events: %w", mapErr(err))
	}
	defer rows.Close()
	return scanEvents(rows, fn)
}

// Stats are counts for status pages and metrics.
type Stats struct {
	Events            int64
	QuarantinePending int64
}

// Stats returns row counts.
func (d *DB) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	n, err := d.NextIndex(ctx)
	if err != nil {
		return s, err
	}
	s.Events = int64(n)
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM quarantine WHERE status = 'pending'`).Scan(&s.QuarantinePending); err != nil {
		return s, fmt.Errorf("store: count quarantine: %w", mapErr(err))
	}
	return s, nil
}

// LockWriter makes this process the store's only writer until release is
// called, or returns labtrust.ErrLocked. With PostgreSQL, several labtrust
// instances may share a database, and two writers would give out the same
// indices; a session advisory lock (per schema) prevents that, and the
// server drops it if the process dies. SQLite lives inside one data
// directory, whose ledger lock already serializes writers, so it needs none.
func (d *DB) LockWriter(ctx context.Context) (release func(), err error) {
	if d.dialect != Postgres {
		return func() {}, nil
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: writer lock: %w", mapErr(err))
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext('labtrust-writer:' || current_schema()))`).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: writer lock: %w", mapErr(err))
	}
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: another labtrust process is writing to this PostgreSQL schema: %w", labtrust.ErrLocked)
	}
	return func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(hashtext('labtrust-writer:' || current_schema()))`)
		conn.Close()
	}, nil
}
