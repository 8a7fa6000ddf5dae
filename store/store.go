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
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
	// longReads counts read transactions held open for a long scan: a
	// RESTART checkpoint would wait for them with the writer held back.
	longReads atomic.Int32

	idx indexed // block index rows already stored for the newest block
	// sealPending: complete blocks may lack their per-actor frame lists.
	sealPending atomic.Bool

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // prepared multi-row inserts, by text
}

var _ vault.KeyStore = (*DB)(nil)

// Open connects to dsn: a postgres:// or postgresql:// URL selects
// PostgreSQL; anything else is a SQLite file path. It applies pending
// migrations, one transaction each.
func Open(ctx context.Context, dsn string) (*DB, error) {
	d := &DB{now: time.Now}
	d.sealPending.Store(true)
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
		// seconds; checkpointWAL does them in the background instead. A WAL
		// that grew while a long scan held its snapshot (gigabytes over a
		// ten-million-person scope) is cut back to 64 MiB once it starts
		// over, rather than keeping its largest size on disk.
		q := "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)&_pragma=secure_delete(1)&_txlock=immediate"
		d.db, err = sql.Open("sqlite", "file:"+dsn+q)
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		// Eight connections: scoping and access reports read scattered
		// frames on several at once, so cold reads overlap on the disk.
		d.db.SetMaxOpenConns(8)
	}
	// Kept open, all of them: a connection closed as idle takes its page
	// cache with it (freeing 64 MiB a page at a time), and its successor
	// starts cold. With database/sql's default of two idle, a large export
	// spent a tenth of its time closing and reopening connections.
	d.db.SetMaxIdleConns(8)
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

// checkpointWAL copies the WAL into the database file five times a second
// without blocking the writer (PASSIVE), so commits rarely wait for it. But
// under continuous writes a PASSIVE checkpoint never catches up with the
// newest frames, and SQLite only rewinds a WAL that was checkpointed whole:
// the WAL would grow without bound (gigabytes over a 10M-event ingest, with
// every read searching it). So once it passes walRestartFrames, a RESTART
// checkpoint holds the writer back for the few frames the PASSIVE ones
// left, and the next commit starts the WAL over. Not while a long scan
// (LivePatients) holds a snapshot: the log grows until it ends.
func (d *DB) checkpointWAL(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			var busy, logFrames, done int
			// Errors here are transient (busy); the next tick retries.
			if err := d.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
				continue
			}
			// A long scan's snapshot keeps the log until it ends: waiting
			// for it here would hold every writer back for the wait.
			if logFrames > walRestartFrames && d.longReads.Load() == 0 {
				d.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logFrames, &done)
			}
		}
	}
}

// walRestartFrames is the WAL size, in pages, beyond which it is restarted
// (4,096 pages of 4 KiB: 16 MiB). Small, frequent checkpoints keep each
// database fsync short, and with it the stall it causes the ledger's own
// fsyncs on the same disk.
const walRestartFrames = 4096

// Dialect reports which database this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// ImportBatch is the registry import batch each database does best with,
// as measured: larger batches keep SQLite's index inserts local (+20%
// over 1,000), while PostgreSQL is 20% slower with them.
func (d *DB) ImportBatch() int {
	if d.dialect == Postgres {
		return 1000
	}
	return 5000
}

// Close stops the WAL checkpointer and closes the connection pool.
func (d *DB) Close() error {
	if d.stopWAL != nil {
		d.stopWAL()
	}
	d.stmtMu.Lock()
	for _, st := range d.stmts {
		st.Close()
	}
	d.stmts = nil
	d.stmtMu.Unlock()
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
		if name == "0002_frames.sql" {
			var rows int64
			if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&rows); err != nil {
				return fmt.Errorf("store: migration %s: %w", name, err)
			}
			if rows > 0 {
				return errLegacy
			}
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

// ReplaceWrapped stores keys' new wrapping (KEK and wrapped bytes) in
// place of the old, all in one transaction, so a rewrap never leaves keys
// under two KEKs.
func (d *DB) ReplaceWrapped(ctx context.Context, keys []vault.WrappedKey) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin rewrap: %w", mapErr(err))
	}
	defer tx.Rollback()
	for _, k := range keys {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE keys SET kek_id = ?, wrapped = ? WHERE id = ?`), k.KEKID, k.Wrapped, int64(k.ID))
		if err != nil {
			return fmt.Errorf("store: rewrap key %d: %w", k.ID, mapErr(err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("store: rewrap key %d: %w", k.ID, labtrust.ErrNotFound)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit rewrap: %w", mapErr(err))
	}
	return nil
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
