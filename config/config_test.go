package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust/config"
	"github.com/spf13/pflag"
)

// flags is a flag set shaped like labtrust's commands: strings, a secret,
// numbers, a bool, a duration and a list.
type flags struct {
	fs       *pflag.FlagSet
	db       *string
	token    *string
	logLevel *string
	limit    *int
	seed     *uint64
	json     *bool
	interval *time.Duration
	sites    *[]string
}

func newFlags(t *testing.T, args ...string) *flags {
	t.Helper()
	f := &flags{fs: pflag.NewFlagSet("test", pflag.ContinueOnError)}
	f.db = f.fs.String("db", "", "database")
	f.token = f.fs.String("api-token", "", "token")
	f.logLevel = f.fs.String("log-level", "info", "level")
	f.limit = f.fs.Int("limit", 100, "limit")
	f.seed = f.fs.Uint64("seed", 1, "seed")
	f.json = f.fs.Bool("json", false, "json")
	f.interval = f.fs.Duration("checkpoint-interval", 500*time.Millisecond, "interval")
	f.sites = f.fs.StringSlice("sites", nil, "sites")
	if err := f.fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"db": "LABTRUST_DB", "api-token": "LABTRUST_API_TOKEN", "checkpoint-interval": "LABTRUST_CHECKPOINT_INTERVAL",
	} {
		if got := config.EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPrecedence sets log-level in every layer that is switched on and
// checks the highest one wins: flag > env > env_FILE > file > default.
func TestPrecedence(t *testing.T) {
	type layers struct{ flag, env, envFile, file bool }
	for mask := range 16 {
		l := layers{mask&8 != 0, mask&4 != 0, mask&2 != 0, mask&1 != 0}
		want := "info"
		switch {
		case l.flag:
			want = "flag"
		case l.env:
			want = "env"
		case l.envFile:
			want = "envfile"
		case l.file:
			want = "file"
		}
		var args []string
		if l.flag {
			args = []string{"--log-level=flag"}
		}
		f := newFlags(t, args...)
		e := map[string]string{}
		if l.env {
			e["LABTRUST_LOG_LEVEL"] = "env"
		}
		if l.envFile {
			e["LABTRUST_LOG_LEVEL_FILE"] = writeFile(t, "level", "envfile\n")
		}
		path := ""
		if l.file {
			path = writeFile(t, "labtrust.yaml", "log-level: file\n")
		}
		if _, err := config.Apply(f.fs, path, env(e)); err != nil {
			t.Fatalf("%+v: %v", l, err)
		}
		if *f.logLevel != want {
			t.Errorf("%+v: log-level = %q, want %q", l, *f.logLevel, want)
		}
	}
}

// Each flag is resolved on its own: one flag may come from the command
// line, another from the environment, a third from the file.
func TestApplyMixesSources(t *testing.T) {
	f := newFlags(t, "--limit=7")
	path := writeFile(t, "labtrust.yaml", `
limit: 9
seed: 18446744073709551615
json: true
checkpoint-interval: 2s
sites: [north, south]
db: postgres://file
`)
	tokenFile := writeFile(t, "token", "s3cret\r\n\n")
	_, err := config.Apply(f.fs, path, env(map[string]string{
		"LABTRUST_DB":             "postgres://env",
		"LABTRUST_API_TOKEN_FILE": tokenFile,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if *f.limit != 7 || *f.db != "postgres://env" || *f.token != "s3cret" || *f.seed != 1<<64-1 ||
		!*f.json || *f.interval != 2*time.Second || !reflect.DeepEqual(*f.sites, []string{"north", "south"}) ||
		*f.logLevel != "info" {
		t.Fatalf("limit=%d db=%q token=%q seed=%d json=%v interval=%v sites=%q level=%q",
			*f.limit, *f.db, *f.token, *f.seed, *f.json, *f.interval, *f.sites, *f.logLevel)
	}
}

func TestFileTrimsOnlyTrailingNewlines(t *testing.T) {
	for content, want := range map[string]string{
		"tok\n":          "tok",
		"tok\r\n":        "tok",
		"tok":            "tok",
		"  tok with sp ": "  tok with sp ",
		"line1\nline2\n": "line1\nline2",
	} {
		f := newFlags(t)
		p := writeFile(t, "secret", content)
		if _, err := config.Apply(f.fs, "", env(map[string]string{"LABTRUST_API_TOKEN_FILE": p})); err != nil {
			t.Fatal(err)
		}
		if *f.token != want {
			t.Errorf("file %q: token %q, want %q", content, *f.token, want)
		}
	}
}

// Scalars reach string flags as written, not as YAML decoded them.
func TestFileValuesAsWritten(t *testing.T) {
	f := newFlags(t)
	path := writeFile(t, "labtrust.yaml", `
api-token: 0123
db: 12345678901234567890123
log-level: "007"
`)
	if _, err := config.Apply(f.fs, path, env(nil)); err != nil {
		t.Fatal(err)
	}
	if *f.token != "0123" || *f.db != "12345678901234567890123" || *f.logLevel != "007" {
		t.Fatalf("token=%q db=%q level=%q", *f.token, *f.db, *f.logLevel)
	}
}

// An empty value in the file leaves the flag at its default.
func TestFileNullKeepsDefault(t *testing.T) {
	f := newFlags(t)
	path := writeFile(t, "labtrust.yaml", "db:\nlog-level: null\nlimit: ~\n")
	if _, err := config.Apply(f.fs, path, env(nil)); err != nil {
		t.Fatal(err)
	}
	if *f.db != "" || *f.logLevel != "info" || *f.limit != 100 {
		t.Fatalf("db=%q level=%q limit=%d", *f.db, *f.logLevel, *f.limit)
	}
	if f.fs.Lookup("db").Changed {
		t.Fatal("an empty value counts as set")
	}
}

func TestEmptyEnvIsUnset(t *testing.T) {
	f := newFlags(t)
	path := writeFile(t, "labtrust.yaml", "log-level: file\n")
	if _, err := config.Apply(f.fs, path, env(map[string]string{"LABTRUST_LOG_LEVEL": ""})); err != nil {
		t.Fatal(err)
	}
	if *f.logLevel != "file" {
		t.Fatalf("level %q", *f.logLevel)
	}
}

func TestUnknownKeysIgnored(t *testing.T) {
	f := newFlags(t)
	// One file serves every command: keys of other commands' flags are fine.
	path := writeFile(t, "labtrust.yaml", "addr: 127.0.0.1:9\ndemo-events: 5\nnested: {a: 1}\nlimit: 3\n")
	if _, err := config.Apply(f.fs, path, env(nil)); err != nil {
		t.Fatal(err)
	}
	if *f.limit != 3 {
		t.Fatalf("limit %d", *f.limit)
	}
}

func TestInvalidValues(t *testing.T) {
	secretFile := writeFile(t, "limit", "hunter2-not-a-number\n")
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		file  string
		want  []string // all must appear in the error
		never string   // must not appear
	}{
		{name: "env", env: map[string]string{"LABTRUST_LIMIT": "many"}, want: []string{"LABTRUST_LIMIT"}},
		{name: "env file content", env: map[string]string{"LABTRUST_LIMIT_FILE": secretFile},
			want: []string{"LABTRUST_LIMIT_FILE", "--limit", "int"}, never: "hunter2"},
		{name: "env file missing", env: map[string]string{"LABTRUST_API_TOKEN_FILE": filepath.Join(t.TempDir(), "nope")},
			want: []string{"LABTRUST_API_TOKEN_FILE", "no such file"}},
		{name: "file int", file: "limit: lots\n", want: []string{`key "limit"`, "labtrust.yaml", "line 1"}},
		{name: "file bool", file: "\njson: maybe\n", want: []string{`key "json"`, "line 2"}},
		{name: "file duration", file: "checkpoint-interval: 5\n", want: []string{`key "checkpoint-interval"`}},
		{name: "file negative uint", file: "seed: -1\n", want: []string{`key "seed"`}},
		{name: "file mapping", file: "db: {host: x}\n", want: []string{`key "db"`, "not a plain value"}},
		{name: "file nested list", file: "sites: [[a]]\n", want: []string{`key "sites"`}},
		{name: "every error is reported", env: map[string]string{"LABTRUST_SEED": "x"}, file: "limit: lots\n",
			want: []string{"LABTRUST_SEED", `key "limit"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlags(t, tc.args...)
			path := ""
			if tc.file != "" {
				path = writeFile(t, "labtrust.yaml", tc.file)
			}
			src, err := config.Apply(f.fs, path, env(tc.env))
			if err == nil {
				t.Fatal("no error")
			}
			if src != nil {
				t.Error("sources returned with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tc.never != "" && strings.Contains(err.Error(), tc.never) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
	// A flag given on the command line is not read from anywhere else, so
	// a bad value elsewhere does not matter.
	f := newFlags(t, "--limit=5")
	if _, err := config.Apply(f.fs, "", env(map[string]string{"LABTRUST_LIMIT": "many"})); err != nil || *f.limit != 5 {
		t.Fatalf("limit %d, %v", *f.limit, err)
	}
}

func TestFiles(t *testing.T) {
	t.Run("missing file is fine", func(t *testing.T) {
		f := newFlags(t)
		src, err := config.Apply(f.fs, filepath.Join(t.TempDir(), "absent.yaml"), env(nil))
		if err != nil || len(src) != 0 || *f.limit != 100 {
			t.Fatalf("%v %v %d", src, err, *f.limit)
		}
	})
	t.Run("no path", func(t *testing.T) {
		f := newFlags(t)
		if _, err := config.Apply(f.fs, "", env(map[string]string{"LABTRUST_LIMIT": "4"})); err != nil || *f.limit != 4 {
			t.Fatalf("%v %d", err, *f.limit)
		}
	})
	for name, content := range map[string]string{"empty": "", "comments only": "# nothing\n"} {
		t.Run(name, func(t *testing.T) {
			f := newFlags(t)
			if _, err := config.Apply(f.fs, writeFile(t, "labtrust.yaml", content), env(nil)); err != nil {
				t.Fatal(err)
			}
		})
	}
	for name, content := range map[string]string{
		"bad indentation":    "limit: 1\n  db: x\n",
		"unclosed":           "db: [a\n",
		"tab":                "limit:\t\t- x\n\t- y",
		"top-level list":     "- a\n- b\n",
		"sources not a map":  "sources: [fhir]\n",
		"source not a map":   "sources:\n  ehr: fhir\n",
		"duplicate key":      "limit: 1\nlimit: 2\n",
		"not yaml at all {}": "{{{",
	} {
		t.Run("malformed: "+name, func(t *testing.T) {
			f := newFlags(t)
			path := writeFile(t, "labtrust.yaml", content)
			_, err := config.Apply(f.fs, path, env(nil))
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v does not name the file", err)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		f := newFlags(t)
		dir := t.TempDir() // a directory cannot be read as a file
		if _, err := config.Apply(f.fs, dir, env(nil)); err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("got %v", err)
		}
	})
	if got := config.DefaultPath("/var/lib/labtrust"); got != filepath.Join("/var/lib/labtrust", "labtrust.yaml") {
		t.Errorf("DefaultPath = %q", got)
	}
}

const lisMapping = `
      timeLayout: "2006-01-02 15:04:05"
      timeZone: America/Chicago
      columns:
        time: accessed_at
        actorId: user_id
        action: action
        patientId: mrn
      actionMap:
        VIEW: R
        PRINT: {action: R, role: print}
`

func TestSources(t *testing.T) {
	f := newFlags(t)
	path := writeFile(t, "labtrust.yaml", `
limit: 1
sources:
  ehr:
    format: fhir
  pacs:
    format: atna
  fw:
    format: syslog
  lis:
    format: csv
    csv:`+lisMapping)
	src, err := config.Apply(f.fs, path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := config.SourceNames(src); !reflect.DeepEqual(got, []string{"ehr", "fw", "lis", "pacs"}) {
		t.Fatalf("SourceNames = %q", got)
	}
	lis := src["lis"]
	if lis.Format != "csv" || lis.CSV == nil || lis.CSV.Columns.PatientID != "mrn" || lis.CSV.TimeZone != "America/Chicago" ||
		lis.CSV.ActionMap["PRINT"].Role != "print" || lis.CSV.ActionMap["VIEW"].Action != "R" {
		t.Fatalf("lis = %+v", lis)
	}
	if src["ehr"].Format != "fhir" || src["ehr"].CSV != nil {
		t.Fatalf("ehr = %+v", src["ehr"])
	}
	if got := config.SourceNames(nil); len(got) != 0 {
		t.Fatalf("SourceNames(nil) = %q", got)
	}

	bad := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown format", "  x:\n    format: hl7v3\n", []string{"sources.x", `"hl7v3"`, "fhir, atna, syslog, csv"}},
		{"missing format", "  x: {}\n", []string{"sources.x", "format"}},
		{"format case", "  x:\n    format: FHIR\n", []string{"sources.x", "format"}},
		{"csv without mapping", "  lis:\n    format: csv\n", []string{"sources.lis", "csv", "mapping"}},
		{"csv mapping without time", "  lis:\n    format: csv\n    csv:\n      columns: {actorId: u}\n", []string{"sources.lis", "columns.time"}},
		{"csv action without map", "  lis:\n    format: csv\n    csv:\n      columns: {time: t, actorId: u, action: a}\n", []string{"sources.lis", "actionMap"}},
		{"csv bad zone", "  lis:\n    format: csv\n    csv:\n      timeZone: Mars/Olympus\n      columns: {time: t, actorId: u}\n", []string{"sources.lis", "timeZone"}},
		{"csv bad action", "  lis:\n    format: csv\n    csv:\n      columns: {time: t, actorId: u, action: a}\n      actionMap: {VIEW: Z}\n", []string{"sources.lis", "actionMap"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlags(t)
			path := writeFile(t, "labtrust.yaml", "sources:\n"+tc.yaml)
			src, err := config.Apply(f.fs, path, env(nil))
			if err == nil {
				t.Fatalf("accepted: %+v", src)
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSourceValidate(t *testing.T) {
	for _, f := range config.Formats {
		s := config.Source{Format: f}
		err := s.Validate()
		if (err == nil) != (f != "csv") {
			t.Errorf("format %s without mapping: %v", f, err)
		}
	}
	if err := (config.Source{}).Validate(); err == nil {
		t.Error("empty source accepted")
	}
}
