// Package storetest runs a test once per supported database: in-process
// SQLite always, and PostgreSQL when LABTRUST_TEST_POSTGRES holds a URL (CI
// sets it). Each run gets a fresh database (a temp file, or a new schema).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// EnvPostgres names the variable holding the PostgreSQL URL for tests.
const EnvPostgres = "LABTRUST_TEST_POSTGRES"

// Each runs fn as a subtest per database, passing a DSN for store.Open.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, filepath.Join(t.TempDir(), "labtrust.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := Postgres(t)
		fn(t, dsn)
	})
}

// Postgres returns a DSN for a fresh schema, dropped when the test ends, or
// skips the test when LABTRUST_TEST_POSTGRES is unset.
func Postgres(t testing.TB) string {
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip("PostgreSQL suite skipped: set " + EnvPostgres + "=postgres://user@127.0.0.1:5432/db to run it")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "lt_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
