package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/accessreport/reporttest"
	"github.com/labtrust/labtrust/ledger"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeReport(t *testing.T, dir, name string, r *accessreport.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, b.Bytes())
}

func TestRun(t *testing.T) {
	f, idx := reporttest.Standard(t)
	dir := t.TempDir()
	vkeyFile := writeFile(t, dir, "ledger.vkey", []byte(f.VKey+"\n"))
	good := writeReport(t, dir, "good.json", f.Report(t, "MRN-A"))

	tampered := f.Report(t, "MRN-A")
	tampered.Entries = append(tampered.Entries[:2], tampered.Entries[3:]...)
	gap := writeReport(t, dir, "gap.json", tampered)

	flipped := f.Report(t, "MRN-A")
	flipped.Entries[0].Canonical = strings.Replace(flipped.Entries[0].Canonical, `"action":"R"`, `"action":"D"`, 1)
	edited := writeReport(t, dir, "edited.json", flipped)

	_, otherVKey, err := ledger.NewKey(reporttest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	otherKeyFile := writeFile(t, dir, "other.vkey", []byte(otherVKey))
	wrongFormat := writeFile(t, dir, "v2.json", []byte(`{"format":"labtrust-access-report/v2"}`))

	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"good", []string{"--key", vkeyFile, good}, 0,
			[]string{"OK: 7 entries for patient MRN-A", "size 24; chain complete", "#0 ", "#23 ", "actor=u3 role=lab-tech site=north source=ehr"}, nil},
		{"key given inline", []string{"-key=" + f.VKey, good}, 0, []string{"OK: 7 entries"}, nil},
		{"quiet", []string{"-q", "--key", vkeyFile, good}, 0, nil, nil},
		{"gap", []string{"--key", vkeyFile, gap}, 1, nil,
			[]string{"FAILED: access report does not verify", "entry " + strconv.FormatUint(idx[3], 10) + ": gap"}},
		{"edited entry", []string{"--key", vkeyFile, edited}, 1, nil,
			[]string{"FAILED", "entry 0: inclusion"}},
		{"another key", []string{"--key", otherKeyFile, good}, 1, nil, []string{"FAILED", "report: checkpoint: no signature by key"}},
		{"no key", []string{good}, 2, nil, []string{"usage: labtrust-verify"}},
		{"no report", []string{"--key", vkeyFile}, 2, nil, []string{"usage"}},
		{"two reports", []string{"--key", vkeyFile, good, good}, 2, nil, []string{"usage"}},
		{"unknown flag", []string{"--nope", "--key", vkeyFile, good}, 2, nil, []string{"flag provided but not defined"}},
		{"bad key", []string{"--key", "not a key", good}, 2, nil, []string{"error: public key"}},
		{"missing report", []string{"--key", vkeyFile, filepath.Join(dir, "absent.json")}, 2, nil, []string{"error:", "absent.json"}},
		{"wrong format", []string{"--key", vkeyFile, wrongFormat}, 2, nil, []string{"error: access report: format"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, &out, &errb)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, &out)
				}
			}
			if tc.stdout == nil && out.Len() != 0 {
				t.Errorf("unexpected stdout:\n%s", &out)
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, &errb)
				}
			}
			if tc.code == 0 && errb.Len() != 0 {
				t.Errorf("stderr on success:\n%s", &errb)
			}
		})
	}
}
