package accessreport_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/accessreport"
	"github.com/labtrust/labtrust/accessreport/reporttest"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/store"
	"golang.org/x/mod/sumdb/note"
)

// std is the standard lab and MRN-A's report, kept as JSON so each
// tamper case gets its own copy.
type std struct {
	f   *reporttest.Fixture
	idx []uint64 // MRN-A's entries
	raw []byte
}

func standard(t testing.TB) *std {
	t.Helper()
	s := &std{}
	s.f, s.idx = reporttest.Standard(t)
	var b bytes.Buffer
	if err := s.f.Report(t, "MRN-A").Write(&b); err != nil {
		t.Fatal(err)
	}
	s.raw = b.Bytes()
	return s
}

func (s *std) report(t testing.TB) *accessreport.Report {
	t.Helper()
	r, err := accessreport.Read(bytes.NewReader(s.raw))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuildAndVerify(t *testing.T) {
	s := standard(t)
	f, want, r := s.f, s.idx, s.report(t)
	if r.Format != accessreport.Format || r.Origin != reporttest.Origin || r.Patient.ID != "MRN-A" || r.Pending != 0 {
		t.Fatalf("report header %+v", r)
	}
	var got []uint64
	for _, e := range r.Entries {
		got = append(got, e.Index)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("report entries %v, want MRN-A's %v", got, want)
	}
	v, err := accessreport.Verify(r, f.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if v.CheckpointSize != 24 || len(v.Entries) != len(want) {
		t.Fatalf("verified %d entries at size %d", len(v.Entries), v.CheckpointSize)
	}
	var prev *labtrust.Entry
	for i, en := range v.Entries {
		if en.Index != want[i] {
			t.Fatalf("verified entry %d has index %d", i, en.Index)
		}
		if en.Event.SourceRef == "" || en.Event.Source != "ehr" {
			t.Fatalf("entry %d not opened: %+v", en.Index, en.Event)
		}
		// Each entry names MRN-A once and links to the previous one.
		var links int
		for _, l := range en.Links {
			if en.Event.Patients[l.Patient].ID == "MRN-A" {
				links++
				if (prev == nil) == l.HasPrev || prev != nil && l.PrevIndex != prev.Index {
					t.Fatalf("entry %d link %+v", en.Index, l)
				}
			}
		}
		if links != 1 {
			t.Fatalf("entry %d has %d links for MRN-A", en.Index, links)
		}
		prev = en
	}

	// MRN-B's report is built and verifies too, entry 12 in both.
	rb := f.Report(t, "MRN-B")
	if _, err := accessreport.Verify(rb, f.Verifier); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rb.Entries, func(e accessreport.Entry) bool { return e.Index == 12 }) {
		t.Fatal("MRN-B's report lacks the shared entry 12")
	}

	// A patient with no entries gets an empty report that verifies.
	empty := f.Report(t, "MRN-NOBODY")
	if len(empty.Entries) != 0 {
		t.Fatalf("unknown patient has %d entries", len(empty.Entries))
	}
	if v, err := accessreport.Verify(empty, f.Verifier); err != nil || len(v.Entries) != 0 {
		t.Fatalf("empty report: %v", err)
	}
}

// TestPending: entries newer than the prover's checkpoint are counted, not
// included, and the report still verifies.
func TestPending(t *testing.T) {
	f := reporttest.New(t)
	f.Submit(t, reporttest.Event(0, "P"), reporttest.Event(1, "P"))
	old := f.Reader(t) // anchored at size 2
	f.Submit(t, reporttest.Event(2, "P"), reporttest.Event(3), reporttest.Event(4, "P"))
	r, err := accessreport.Build(context.Background(), f.DB, old, f.Keys, reporttest.Origin, labtrust.PatientRef{ID: "P"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Entries) != 2 || r.Pending != 2 {
		t.Fatalf("%d entries, %d pending; want 2 and 2", len(r.Entries), r.Pending)
	}
	v, err := accessreport.Verify(r, f.Verifier)
	if err != nil || v.CheckpointSize != 2 {
		t.Fatalf("verify: %v", err)
	}
	r = f.Report(t, "P")
	if len(r.Entries) != 4 || r.Pending != 0 {
		t.Fatalf("%d entries, %d pending; want 4 and 0", len(r.Entries), r.Pending)
	}
}

// tamperEvents wraps the store and changes the frames it returns.
type tamperEvents struct {
	accessreport.Events
	edit func(*store.Frame)
}

func (e tamperEvents) PatientFrames(ctx context.Context, b []byte, fn func(*store.Frame, []uint64) error) error {
	return e.Events.PatientFrames(ctx, b, func(f *store.Frame, idxs []uint64) error {
		e.edit(f)
		return fn(f, idxs)
	})
}

// TestBuildRefusesBadBodies: a report that cannot verify is not handed out.
func TestBuildRefusesBadBodies(t *testing.T) {
	s := standard(t)
	f, want := s.f, s.idx
	for name, tc := range map[string]struct {
		edit func(*store.Frame)
		msg  string
	}{
		"commitment": {func(f *store.Frame) { f.Rows[want[2]-f.First].Commitment[0] ^= 1 }, "does not match its commitment"},
		"sealed body": {func(f *store.Frame) {
			f.Body = bytes.Clone(f.Body)
			f.Body[len(f.Body)-1] ^= 1
		}, "stored body"},
		"frame moved": {func(f *store.Frame) {
			for i := range f.Rows {
				f.Rows[i].Index++
			}
			f.First++
		}, "stored"},
		"frame cut short": {func(f *store.Frame) { f.Rows = f.Rows[:want[2]-f.First] }, "stored"},
	} {
		t.Run(name, func(t *testing.T) {
			once := false
			ev := tamperEvents{f.DB, func(fr *store.Frame) {
				if want[2] >= fr.First && want[2] < fr.Next() && !once {
					once = true
					tc.edit(fr)
				}
			}}
			_, err := accessreport.Build(context.Background(), ev, f.Reader(t), f.Keys, reporttest.Origin, labtrust.PatientRef{ID: "MRN-A"})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "MRN") {
				t.Fatalf("error %q names the patient", err)
			}
		})
	}
}

func editProof(t *testing.T, e *accessreport.Entry, fn func(*ledger.Proof)) {
	t.Helper()
	p, err := ledger.ParseProof([]byte(e.Proof))
	if err != nil {
		t.Fatal(err)
	}
	fn(p)
	e.Proof = string(ledger.FormatProof(p))
}

func randomNonce() string {
	b := make([]byte, labtrust.NonceSize)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// TestVerifyDetectsTampering changes a valid report in one way each and
// checks that verification fails with a problem naming the entry.
func TestVerifyDetectsTampering(t *testing.T) {
	s := standard(t)
	f, idx := s.f, s.idx
	other := f.Report(t, "MRN-B")
	type want struct {
		entry  uint64 // the entry the problem must name
		reason string // in that problem's reason
	}
	cases := []struct {
		name  string
		edit  func(t *testing.T, r *accessreport.Report)
		wants []want
	}{
		{"flipped byte in canonical", func(t *testing.T, r *accessreport.Report) {
			e := &r.Entries[2]
			i := strings.Index(e.Canonical, `"source":"ehr"`) + len(`"source":"e`)
			e.Canonical = e.Canonical[:i] + "x" + e.Canonical[i+1:]
		}, []want{{idx[2], "inclusion"}, {idx[3], "gap"}}},
		{"canonical of another entry", func(t *testing.T, r *accessreport.Report) {
			r.Entries[1].Canonical = r.Entries[2].Canonical
		}, []want{{idx[1], "inclusion"}}},
		{"wrong nonce", func(t *testing.T, r *accessreport.Report) {
			r.Entries[3].Nonce = randomNonce()
		}, []want{{idx[3], "inclusion"}}},
		{"short nonce", func(t *testing.T, r *accessreport.Report) {
			r.Entries[3].Nonce = base64.StdEncoding.EncodeToString(make([]byte, 31))
		}, []want{{idx[3], "nonce is not 32 bytes"}}},
		{"nonce not base64", func(t *testing.T, r *accessreport.Report) {
			r.Entries[3].Nonce = "!!" + r.Entries[3].Nonce[2:]
		}, []want{{idx[3], "nonce"}}},
		{"proof hash changed", func(t *testing.T, r *accessreport.Report) {
			editProof(t, &r.Entries[4], func(p *ledger.Proof) { p.Hashes[len(p.Hashes)-1][7] ^= 0x80 })
		}, []want{{idx[4], "inclusion"}}},
		{"proof hash dropped", func(t *testing.T, r *accessreport.Report) {
			editProof(t, &r.Entries[4], func(p *ledger.Proof) { p.Hashes = p.Hashes[1:] })
		}, []want{{idx[4], "inclusion"}}},
		{"proof index changed", func(t *testing.T, r *accessreport.Report) {
			editProof(t, &r.Entries[1], func(p *ledger.Proof) { p.Index++ })
		}, []want{{idx[1], "proof is for index"}}},
		{"entry and proof index changed together", func(t *testing.T, r *accessreport.Report) {
			r.Entries[1].Index++
			editProof(t, &r.Entries[1], func(p *ledger.Proof) { p.Index++ })
		}, []want{{idx[1] + 1, "inclusion"}}},
		{"entry index changed", func(t *testing.T, r *accessreport.Report) {
			r.Entries[1].Index = idx[1] + 1
		}, []want{{idx[1] + 1, "proof is for index"}}},
		{"proof not parseable", func(t *testing.T, r *accessreport.Report) {
			r.Entries[0].Proof = strings.Replace(r.Entries[0].Proof, "index ", "idx ", 1)
		}, []want{{idx[0], "proof"}}},
		{"proof against another checkpoint", func(t *testing.T, r *accessreport.Report) {
			editProof(t, &r.Entries[0], func(p *ledger.Proof) { p.Checkpoint = append(bytes.Clone(p.Checkpoint), '\n') })
		}, []want{{idx[0], "different checkpoint"}}},
		{"entry removed (gap)", func(t *testing.T, r *accessreport.Report) {
			r.Entries = slices.Delete(r.Entries, 3, 4)
		}, []want{{idx[4], "gap"}}},
		{"first entry removed (gap at start)", func(t *testing.T, r *accessreport.Report) {
			r.Entries = r.Entries[1:]
		}, []want{{idx[1], "gap"}}},
		{"first two entries removed", func(t *testing.T, r *accessreport.Report) {
			r.Entries = r.Entries[2:]
		}, []want{{idx[2], "gap"}}},
		{"entry of another patient inserted", func(t *testing.T, r *accessreport.Report) {
			for _, e := range other.Entries {
				if !slices.Contains(idx, e.Index) {
					r.Entries = append(r.Entries, e)
					return
				}
			}
			t.Fatal("no MRN-B-only entry")
		}, nil}, // wants filled in below
		{"duplicated entry", func(t *testing.T, r *accessreport.Report) {
			r.Entries = slices.Insert(r.Entries, 3, r.Entries[2])
		}, []want{{idx[2], "more than once"}}},
		{"duplicated first entry", func(t *testing.T, r *accessreport.Report) {
			r.Entries = append(r.Entries, r.Entries[0])
		}, []want{{idx[0], "more than once"}}},
		{"report for another patient", func(t *testing.T, r *accessreport.Report) {
			r.Patient.ID = "MRN-B"
		}, []want{{idx[0], "does not name this patient"}}},
	}
	// The inserted MRN-B entry is the first MRN-B-only entry.
	for i := range cases {
		if cases[i].name == "entry of another patient inserted" {
			for _, e := range other.Entries {
				if !slices.Contains(idx, e.Index) {
					cases[i].wants = []want{{e.Index, "does not name this patient"}}
					break
				}
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.report(t)
			tc.edit(t, r)
			_, err := accessreport.Verify(r, f.Verifier)
			var ve *accessreport.Error
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want an *accessreport.Error", err)
			}
			for _, w := range tc.wants {
				if !slices.ContainsFunc(ve.Problems, func(p accessreport.Problem) bool {
					return p.Entry && p.Index == w.entry && strings.Contains(p.Reason, w.reason)
				}) {
					t.Errorf("no problem for entry %d with %q in:\n%v", w.entry, w.reason, err)
				}
			}
			for _, p := range ve.Problems {
				if strings.Contains(p.Reason, "MRN") {
					t.Errorf("problem %q names a patient", p.Reason)
				}
			}
		})
	}
}

func TestVerifyCheckpoint(t *testing.T) {
	s := standard(t)
	f := s.f
	_, otherVKey, err := ledger.NewKey(reporttest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := note.NewVerifier(otherVKey)
	cases := []struct {
		name   string
		edit   func(r *accessreport.Report)
		v      note.Verifier
		reason string
	}{
		{"signature changed", func(r *accessreport.Report) {
			// The signature line is "— name base64"; change one base64 byte.
			i := strings.LastIndex(r.Checkpoint, " ") + 10
			c := byte('A')
			if r.Checkpoint[i] == 'A' {
				c = 'B'
			}
			r.Checkpoint = r.Checkpoint[:i] + string(c) + r.Checkpoint[i+1:]
		}, f.Verifier, "checkpoint"},
		{"size changed", func(r *accessreport.Report) {
			r.Checkpoint = strings.Replace(r.Checkpoint, "\n24\n", "\n25\n", 1)
		}, f.Verifier, "checkpoint"},
		{"a different key", func(r *accessreport.Report) {}, otherKey, "no signature by key"},
		{"another origin", func(r *accessreport.Report) { r.Origin = "labtrust.example/other" }, f.Verifier, "origin"},
		{"no checkpoint", func(r *accessreport.Report) { r.Checkpoint = "" }, f.Verifier, "checkpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.report(t)
			tc.edit(r)
			_, err := accessreport.Verify(r, tc.v)
			var ve *accessreport.Error
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("got %v", err)
			}
			p := ve.Problems[0]
			if p.Entry || !strings.Contains(p.Reason, tc.reason) || !strings.Contains(err.Error(), "report: checkpoint") {
				t.Fatalf("problem %+v (%v), want a report problem with %q", p, err, tc.reason)
			}
		})
	}
}

// Verify sorts: entries in any order verify.
func TestVerifyOrderIndependent(t *testing.T) {
	s := standard(t)
	f, idx, r := s.f, s.idx, s.report(t)
	slices.Reverse(r.Entries)
	r.Entries[1], r.Entries[3] = r.Entries[3], r.Entries[1]
	v, err := accessreport.Verify(r, f.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	for i, en := range v.Entries {
		if en.Index != idx[i] {
			t.Fatalf("verified entries not in index order: %d at %d", en.Index, i)
		}
	}
	// And the shuffled report survives the JSON round trip.
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	r2, err := accessreport.Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accessreport.Verify(r2, f.Verifier); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRead(t *testing.T) {
	r := standard(t).report(t)
	r.Pending = 3
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// Canonical entries hold '<', '>' or '&' verbatim: written without
	// HTML escaping they stay readable.
	if strings.Contains(out, `\u003c`) || strings.Contains(out, `\u0026`) {
		t.Fatal("report is HTML-escaped")
	}
	if !strings.HasPrefix(out, "{\n  \"format\": \"labtrust-access-report/v1\",\n") {
		t.Fatalf("not indented JSON:\n%.200s", out)
	}
	r2, err := accessreport.Read(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, r, r2) {
		t.Fatal("Write/Read changed the report")
	}

	bad := map[string]string{
		"unknown field":       strings.Replace(out, `"format":`, `"extra": 1, "format":`, 1),
		"unknown entry field": strings.Replace(out, `"nonce":`, `"salt": "x", "nonce":`, 1),
		"wrong format":        strings.Replace(out, "labtrust-access-report/v1", "labtrust-access-report/v2", 1),
		"no format":           strings.Replace(out, `"format": "labtrust-access-report/v1",`, ``, 1),
		"not json":            "report",
		"empty":               "",
		"truncated":           out[:len(out)/2],
		"trailing data":       out + "{}",
		"wrong type":          strings.Replace(out, `"index": `, `"index": "`, 1),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if in == out {
				t.Fatal("case did not change the report")
			}
			if _, err := accessreport.Read(strings.NewReader(in)); err == nil || !strings.HasPrefix(err.Error(), "access report: ") {
				t.Fatalf("got %v", err)
			}
		})
	}
	// Trailing whitespace is not data.
	if _, err := accessreport.Read(strings.NewReader(out + "\n\n")); err != nil {
		t.Fatal(err)
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

func TestErrorMessage(t *testing.T) {
	e := &accessreport.Error{Problems: []accessreport.Problem{
		{Reason: "checkpoint: bad"},
		{Entry: true, Index: 0, Reason: "gap"},
	}}
	want := "access report does not verify (2 problem(s))\n  report: checkpoint: bad\n  entry 0: gap"
	if e.Error() != want {
		t.Fatalf("%q", e.Error())
	}
}

func BenchmarkVerify(b *testing.B) {
	s := standard(b)
	f, r := s.f, s.report(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := accessreport.Verify(r, f.Verifier); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(r.Entries))/b.Elapsed().Seconds(), "events/s")
}
