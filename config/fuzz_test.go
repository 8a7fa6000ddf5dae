package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labtrust/labtrust/config"
)

// FuzzApply feeds arbitrary file contents to Apply: it must not panic, an
// error must name the file, and on success every source is valid.
func FuzzApply(f *testing.F) {
	f.Add("limit: 3\nsites: [a, b]\n")
	f.Add("db:\napi-token: 0123\n")
	f.Add("sources:\n  ehr: {format: fhir}\n  lis:\n    format: csv\n    csv:" + lisMapping)
	f.Add("sources:\n  x: {format: csv, csv: {columns: {time: t}}}\n")
	f.Add("limit: [1, {a: b}]\n")
	f.Add("&a x: *a\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "labtrust.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		fl := newFlags(t)
		src, err := config.Apply(fl.fs, path, env(nil))
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for name, s := range src {
			if err := s.Validate(); err != nil {
				t.Fatalf("source %s accepted but invalid: %v", name, err)
			}
		}
	})
}
