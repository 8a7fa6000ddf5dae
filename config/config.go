// Package config resolves labtrust's settings from, in rising precedence:
// built-in defaults, the YAML file, LABTRUST_* environment variables (or
// LABTRUST_*_FILE naming a file that holds the value, for secrets), and
// command-line flags. File keys and flag names are the same words.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/labtrust/labtrust/csvsrc"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Source describes one configured log source.
type Source struct {
	// Format is fhir, atna, syslog or csv.
	Format string `yaml:"format"`
	// CSV is the column mapping for csv sources.
	CSV *csvsrc.Mapping `yaml:"csv,omitempty"`
}

// File is the YAML configuration file's shape: any flag name as a key, plus
// the sources. Settings are kept as YAML nodes so a value reaches its flag
// as written: decoded into Go values, "0123" would become 83, a long
// numeric token a float in exponent form, and an empty value "<nil>".
type File struct {
	Settings map[string]yaml.Node `yaml:",inline"`
	Sources  map[string]Source    `yaml:"sources"`
}

// Formats are the input formats labtrust parses.
var Formats = []string{"fhir", "atna", "syslog", "csv"}

// EnvName is the environment variable for a flag: LABTRUST_ + the flag name
// upper-cased with dashes as underscores.
func EnvName(flag string) string {
	return "LABTRUST_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Apply fills every flag of fs that was not set on the command line from
// the environment (VAR, or VAR_FILE) and then from the config file at path
// (if path is empty or the file does not exist, it is skipped). It returns
// the file's sources. getenv is os.Getenv outside tests.
//
// A VAR_FILE's trailing line breaks are dropped. A file value is used as
// written (a list is joined with commas); an empty value leaves the flag's
// default. Keys that name no flag of fset are ignored, as one file serves
// every command. Every bad value is reported, each error naming the
// variable or the file and key; a VAR_FILE's content is never repeated.
func Apply(fset *pflag.FlagSet, path string, getenv func(string) string) (map[string]Source, error) {
	var file File
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("config: read %s: %w", path, err)
		default:
			dec := yaml.NewDecoder(bytes.NewReader(b))
			if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) { // EOF: an empty file
				return nil, fmt.Errorf("config: %s: %w", path, err)
			}
		}
	}
	var errs []error
	fset.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		env := EnvName(f.Name)
		if v := getenv(env); v != "" {
			if err := fset.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("config: %s: %w", env, err))
			}
			return
		}
		if p := getenv(env + "_FILE"); p != "" {
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s_FILE: %w", env, err))
				return
			}
			if err := fset.Set(f.Name, strings.TrimRight(string(b), "\r\n")); err != nil {
				// pflag's error repeats the value, and _FILE holds secrets.
				errs = append(errs, fmt.Errorf("config: %s_FILE: the file does not hold a valid %s for --%s (value not shown)",
					env, f.Value.Type(), f.Name))
			}
			return
		}
		if n, ok := file.Settings[f.Name]; ok {
			v, set, err := nodeValue(&n)
			if err == nil && set {
				err = fset.Set(f.Name, v)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s: key %q (line %d): %w", path, f.Name, n.Line, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Keys naming other commands' flags are skipped: one file serves every
	// command.
	for name, s := range file.Sources {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("config: %s: sources.%s: %w", path, name, err)
		}
	}
	return file.Sources, nil
}

// nodeValue returns the flag value a YAML setting spells: a scalar's text as
// written, or a list's items joined with commas (as slice flags parse them).
// A null (an empty value) leaves the flag at its default: set is false.
func nodeValue(n *yaml.Node) (v string, set bool, err error) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return "", false, nil
	case n.Kind == yaml.ScalarNode:
		return n.Value, true, nil
	case n.Kind == yaml.SequenceNode:
		items := make([]string, len(n.Content))
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return "", false, errors.New("a list value must hold plain values")
			}
			items[i] = c.Value
		}
		return strings.Join(items, ","), true, nil
	default:
		return "", false, errors.New("not a plain value or a list")
	}
}

// Validate checks a source definition.
func (s Source) Validate() error {
	ok := false
	for _, f := range Formats {
		ok = ok || s.Format == f
	}
	if !ok {
		return fmt.Errorf("format %q is not one of %s", s.Format, strings.Join(Formats, ", "))
	}
	if s.Format == "csv" {
		if s.CSV == nil {
			return errors.New("csv: a csv source needs a column mapping")
		}
		if err := s.CSV.Validate(); err != nil {
			return fmt.Errorf("csv: %w", err)
		}
	}
	return nil
}

// DefaultPath is where the config file is looked for when none is named.
func DefaultPath(dataDir string) string { return filepath.Join(dataDir, "labtrust.yaml") }

// SourceNames lists configured sources in order.
func SourceNames(m map[string]Source) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
