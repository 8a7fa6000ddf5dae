package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/labtrust/labtrust"
)

func TestWriteLab(t *testing.T) {
	dir := t.TempDir()
	l := NewLab(Config{Patients: 1500, Events: 5000, Days: 7})
	if err := WriteLab(dir, l); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lf labFile
	if err := json.Unmarshal(b, &lf); err != nil {
		t.Fatal(err)
	}
	if lf.Config != l.Config() || len(lf.Sites) != 3 || len(lf.Staff) != len(l.Staff()) {
		t.Fatalf("lab.json: %+v", lf.Config)
	}
	for i, s := range lf.Staff {
		if want := l.Staff()[i]; s.ID != want.ID || s.Role != want.Role || !reflect.DeepEqual(s.Schedule, want.Schedule) {
			t.Fatalf("lab.json staff %d differs", i)
		}
	}

	f, err := os.Open(filepath.Join(dir, "patients.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1501 || !reflect.DeepEqual(rows[0], patientHeader) {
		t.Fatalf("patients.csv: %d rows, header %v", len(rows), rows[0])
	}
	for _, i := range []int{0, 77, 1499} {
		p := l.Patient(i)
		if r := rows[i+1]; r[0] != p.MRN || r[1] != p.Given || r[2] != p.Family || r[4] != p.BirthDate {
			t.Fatalf("patients.csv row %d does not match Patient(%d)", i+1, i)
		}
	}

	b, err = os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if want := l.Manifest(); !reflect.DeepEqual(m, want) || len(m.Anomalies) == 0 {
		t.Fatalf("manifest.json does not round-trip: %d anomalies", len(m.Anomalies))
	}

	if err := WriteLab(filepath.Join(dir, "missing"), l); err == nil {
		t.Fatal("WriteLab into a missing directory succeeded")
	}
}

func TestWriteEvents(t *testing.T) {
	l := NewLab(Config{Patients: 1000, Events: 3000, Days: 5})
	var buf bytes.Buffer
	var last int64
	err := WriteEvents(context.Background(), &buf, l, func(ev labtrust.Event) ([]byte, error) {
		return json.Marshal(ev)
	}, func(done, total int64) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	if last != 3000 {
		t.Fatalf("last progress %d", last)
	}
	want := collect(t, l)
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var ev labtrust.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if ev.SourceRef != want[n].SourceRef || !ev.Time.Equal(want[n].Time) {
			t.Fatalf("line %d is not event %d", n+1, n+1)
		}
		n++
	}
	if n != 3000 {
		t.Fatalf("%d lines", n)
	}

	// Encoders that end records with a newline get no blank lines; encoder
	// errors name the position and stop the stream.
	buf.Reset()
	bad := errors.New("cannot encode")
	err = WriteEvents(context.Background(), &buf, l, func(ev labtrust.Event) ([]byte, error) {
		if ev.Kind == labtrust.KindAccess {
			return nil, bad
		}
		return []byte("x\n"), nil
	}, nil)
	if !errors.Is(err, bad) || !strings.Contains(err.Error(), "encode event ") {
		t.Fatalf("encoder error: %v", err)
	}
	if strings.Contains(buf.String(), "\n\n") {
		t.Fatal("blank line written")
	}
	for _, ev := range want {
		if ev.Kind == labtrust.KindAccess && strings.Contains(err.Error(), ev.Patients[0].ID) {
			t.Fatal("error names a patient")
		}
	}
}
