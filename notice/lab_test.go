package notice_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/labtrust/labtrust/registry"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/vault"
)

// openLab opens a store at dsn (closed when the test ends), its keyring
// with a key file in dir, and the registry over them.
func openLab(t testing.TB, dsn, dir string) (*store.DB, *vault.Keyring, *registry.Registry) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kek, _ := vault.LoadOrCreateFileKEK(filepath.Join(dir, "kek.key"))
	keys, err := vault.Open(ctx, kek, db)
	if err != nil {
		t.Fatal(err)
	}
	return db, keys, registry.New(db, keys)
}
