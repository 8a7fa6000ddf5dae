package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// tamperSizes gives a tree of three full bundles and a partial one, a
// level-1 partial tile of width 3, and several checkpoints in history.
var tamperSizes = []uint64{10, 256, 600, 820}

// A kill -9 between publishing a checkpoint and appending it to
// checkpoints.log leaves the last record missing or torn; that state must
// verify, because the signed checkpoint itself is checked in its place.
func TestVerifyCrashHistoryStates(t *testing.T) {
	k := newTestKey(t, testOrigin)
	good := buildLog(t, k, tamperSizes...)
	for name, cut := range map[string]func(b []byte, last int64) []byte{
		"last record missing": func(b []byte, last int64) []byte { return b[:last] },
		"last record torn":    func(b []byte, last int64) []byte { return b[:len(b)-20] },
		"only the length line": func(b []byte, last int64) []byte {
			return b[:last+int64(bytes.IndexByte(b[last:], '\n'))+1]
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, good)
			b := mustRead(t, dir, "checkpoints.log")
			var last int64
			readHistory(bytes.NewReader(b), func(rec historyRecord) error { last = rec.Offset; return nil })
			mustWrite(t, dir, "checkpoints.log", cut(b, last))
			if rep := mustVerify(t, dir, k); !rep.OK() {
				t.Fatalf("crash state does not verify: %v", rep.Problems)
			}
		})
	}
}

// TestVerifyTamper changes, removes, reorders or inserts bytes in one file
// of a good ledger and checks that Verify names that exact problem.
func TestVerifyTamper(t *testing.T) {
	k := newTestKey(t, testOrigin)
	good := buildLog(t, k, tamperSizes...)
	if rep := mustVerify(t, good, k); !rep.OK() {
		t.Fatalf("good ledger: %v", rep.Problems)
	}
	type want struct {
		kind   ProblemKind
		path   string
		index  int64 // -2: any
		record int   // -2: any
	}
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   []want
	}{
		{"reorder two entries in a bundle", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/entries/001")
			es, _ := ParseBundle(b)
			es[3], es[7] = es[7], es[3]
			mustWrite(t, dir, "tile/entries/001", encodeBundle(es))
		}, []want{
			{ProblemEntryMismatch, "tile/entries/001", 256 + 3, -2},
			{ProblemEntryMismatch, "tile/entries/001", 256 + 7, -2},
			{ProblemRoot, "checkpoint", -2, -2},
		}},
		{"change one byte of an entry", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/entries/000")
			b[2+34*5+10] ^= 0x40
			mustWrite(t, dir, "tile/entries/000", b)
		}, []want{{ProblemEntryMismatch, "tile/entries/000", 5, -2}, {ProblemRoot, "checkpoint", -2, -2}}},
		{"change an entry of the partial bundle", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/entries/003.p/52")
			b[2+34*51+31] ^= 1
			mustWrite(t, dir, "tile/entries/003.p/52", b)
		}, []want{{ProblemEntryMismatch, "tile/entries/003.p/52", 768 + 51, -2}, {ProblemRoot, "checkpoint", -2, -2}}},
		{"remove a bundle", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tile/entries/002"))
		}, []want{{ProblemBundleMissing, "tile/entries/002", 512, -2}}},
		{"append garbage to a bundle", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/entries/001")
			mustWrite(t, dir, "tile/entries/001", append(b, 0, 32, 'x', 'y'))
		}, []want{{ProblemBundleExtra, "tile/entries/001", 512, -2}}},
		{"append a whole entry to a bundle", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/entries/001")
			mustWrite(t, dir, "tile/entries/001", appendBundleEntry(b, entry(9999)))
		}, []want{{ProblemBundleExtra, "tile/entries/001", 512, -2}}},
		{"insert an entry into a bundle", func(t *testing.T, dir string) {
			es, _ := ParseBundle(mustRead(t, dir, "tile/entries/001"))
			es = append(es[:10], append([][]byte{entry(9999)}, es[10:]...)...)
			mustWrite(t, dir, "tile/entries/001", encodeBundle(es))
		}, []want{
			{ProblemEntryMismatch, "tile/entries/001", 256 + 10, -2},
			{ProblemBundleExtra, "tile/entries/001", 512, -2},
		}},
		{"truncate a bundle", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/entries/001")
			mustWrite(t, dir, "tile/entries/001", b[:len(b)-5])
		}, []want{{ProblemBundleMalformed, "tile/entries/001", 256 + 255, -2}}},
		{"truncate a tile", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/0/001")
			mustWrite(t, dir, "tile/0/001", b[:len(b)-1])
		}, []want{{ProblemTileSize, "tile/0/001", 256, -2}}},
		{"flip a bit in a level-0 tile", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/0/002")
			b[32*17+4] ^= 8
			mustWrite(t, dir, "tile/0/002", b)
		}, []want{{ProblemTileMismatch, "tile/0/002", 512 + 17, -2}}},
		{"flip a bit in a partial level-0 tile", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/0/003.p/52")
			b[0] ^= 1
			mustWrite(t, dir, "tile/0/003.p/52", b)
		}, []want{{ProblemTileMismatch, "tile/0/003.p/52", 768, -2}}},
		{"flip a bit in a level-1 tile", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "tile/1/000.p/3")
			b[32+9] ^= 2
			mustWrite(t, dir, "tile/1/000.p/3", b)
		}, []want{{ProblemTileMismatch, "tile/1/000.p/3", 256, -2}}},
		{"remove a tile", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tile/0/000"))
		}, []want{{ProblemTileMissing, "tile/0/000", 0, -2}}},
		{"flip a bit in the checkpoint signature", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "checkpoint")
			i := bytes.LastIndexByte(b[:len(b)-1], ' ') + 10
			b[i] = flipBase64(b[i])
			mustWrite(t, dir, "checkpoint", b)
		}, []want{{ProblemCheckpoint, "checkpoint", -1, -1}}},
		{"change the checkpoint size", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "checkpoint")
			mustWrite(t, dir, "checkpoint", bytes.Replace(b, []byte("\n820\n"), []byte("\n821\n"), 1))
		}, []want{{ProblemCheckpoint, "checkpoint", -1, -1}}},
		{"rewrite a history record's root", func(t *testing.T, dir string) {
			rewriteHistory(t, dir, func(i int, msg []byte) []byte {
				if i != 2 {
					return msg
				}
				lines := bytes.SplitN(msg, []byte("\n"), 4)
				lines[2][0] = flipBase64(lines[2][0])
				return bytes.Join(lines, []byte("\n"))
			})
		}, []want{{ProblemHistory, "checkpoints.log", -1, 2}}},
		{"forge a history record with the log key", func(t *testing.T, dir string) {
			// An insider with the key rewrites history at size 256.
			rewriteHistory(t, dir, func(i int, msg []byte) []byte {
				if i != 2 {
					return msg
				}
				cp := Checkpoint{Origin: testOrigin, Size: 256, Root: [32]byte{1, 2, 3}}
				forged, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, k.signer)
				if err != nil {
					t.Fatal(err)
				}
				return forged
			})
		}, []want{{ProblemCheckpointRoot, "checkpoints.log", -1, 2}, {ProblemConsistency, "checkpoints.log", -1, 3}}},
		{"swap two history records", func(t *testing.T, dir string) {
			var recs [][]byte
			rewriteHistory(t, dir, func(i int, msg []byte) []byte { recs = append(recs, msg); return msg })
			rewriteHistory(t, dir, func(i int, msg []byte) []byte {
				switch i {
				case 2:
					return recs[3]
				case 3:
					return recs[2]
				}
				return msg
			})
		}, []want{{ProblemHistoryOrder, "checkpoints.log", -1, 3}}},
		{"append a torn record that is not the checkpoint", func(t *testing.T, dir string) {
			b := mustRead(t, dir, "checkpoints.log")
			mustWrite(t, dir, "checkpoints.log", append(b, []byte("300\nlabtrust")...))
		}, []want{{ProblemHistory, "checkpoints.log", -1, -2}}},
		{"roll the checkpoint back", func(t *testing.T, dir string) {
			var recs [][]byte
			rewriteHistory(t, dir, func(i int, msg []byte) []byte { recs = append(recs, msg); return msg })
			mustWrite(t, dir, "checkpoint", recs[2])
		}, []want{{ProblemHistoryLatest, "checkpoints.log", -1, 4}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, good)
			c.tamper(t, dir)
			rep := mustVerify(t, dir, k)
			if rep.OK() {
				t.Fatal("tampering not detected")
			}
			for _, w := range c.want {
				found := false
				for _, p := range rep.Problems {
					if p.Kind == w.kind && p.Path == w.path && (w.index == -2 || p.Index == w.index) && (w.record == -2 || p.Record == w.record) {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s problem for %s index %d record %d", w.kind, w.path, w.index, w.record)
				}
			}
			if t.Failed() || testing.Verbose() {
				for _, p := range rep.Problems {
					t.Log(p)
				}
			}
			// Evidence: hash problems carry 64-hex-digit hashes.
			for _, p := range rep.Problems {
				if p.Kind == ProblemEntryMismatch && p.Expected != "" {
					if _, err := hex.DecodeString(p.Expected); err != nil || len(p.Expected) != 64 || len(p.Actual) != 64 {
						t.Errorf("evidence not hex hashes: %+v", p)
					}
				}
			}
		})
	}
}

func encodeBundle(es [][]byte) []byte {
	var b []byte
	for _, e := range es {
		b = appendBundleEntry(b, e)
	}
	return b
}

func flipBase64(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

// rewriteHistory rewrites each record of checkpoints.log through fn.
func rewriteHistory(t *testing.T, dir string, fn func(i int, msg []byte) []byte) {
	t.Helper()
	var out []byte
	i := 0
	_, err := readHistory(bytes.NewReader(mustRead(t, dir, "checkpoints.log")), func(rec historyRecord) error {
		out = appendHistoryRecord(out, fn(i, rec.Note))
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, dir, "checkpoints.log", out)
}

func TestVerifyEntryCheck(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := buildLog(t, k, 700)
	var seen uint64
	rep := mustVerify(t, dir, k, WithEntryCheck(func(i uint64, e []byte) error {
		if i != seen {
			t.Fatalf("EntryCheck got %d, want %d (in order)", i, seen)
		}
		seen++
		// The caller's store disagrees about entry 300.
		want := entry(i)
		if i == 300 {
			want = entry(12345)
		}
		if !bytes.Equal(e, want) {
			return errors.New("differs from the store")
		}
		return nil
	}))
	if seen != 700 {
		t.Fatalf("EntryCheck called for %d entries", seen)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemEntryCheck || rep.Problems[0].Index != 300 {
		t.Fatalf("problems: %v", rep.Problems)
	}
}

func TestVerifyWrongKeyOrOrigin(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := buildLog(t, k, 10)
	other := newTestKey(t, testOrigin)
	rep, err := Verify(context.Background(), dir, testOrigin, other.verifier, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Problems[0].Kind != ProblemCheckpoint {
		t.Fatalf("wrong key: %v", rep.Problems)
	}
	rep, err = Verify(context.Background(), dir, "another.origin", k.verifier, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(rep.Problems[0].Detail, "origin") {
		t.Fatalf("wrong origin: %v", rep.Problems)
	}
}

func TestVerifyProgressAndCancel(t *testing.T) {
	k := newTestKey(t, testOrigin)
	dir := buildLog(t, k, 256*70+1)
	var last, total uint64
	rep, err := Verify(context.Background(), dir, testOrigin, k.verifier, func(done, tot uint64) { last, total = done, tot })
	if err != nil || !rep.OK() {
		t.Fatal(err, rep.Problems)
	}
	if last != total || total != 256*70+1 {
		t.Fatalf("progress ended at %d/%d", last, total)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, dir, testOrigin, k.verifier, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Verify: %v", err)
	}
}

func TestParseBundle(t *testing.T) {
	es := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("z"), 300)}
	got, err := ParseBundle(encodeBundle(es))
	if err != nil || len(got) != 3 || !bytes.Equal(got[2], es[2]) || len(got[0]) != 0 {
		t.Fatalf("ParseBundle = %q, %v", got, err)
	}
	for _, bad := range [][]byte{{0}, {0, 5, 'a'}, append(encodeBundle(es), 1)} {
		var be *BundleError
		if _, err := ParseBundle(bad); !errors.As(err, &be) {
			t.Errorf("ParseBundle(%x) = %v, want *BundleError", bad, err)
		}
	}
	var many []byte
	for range 257 {
		many = binary.BigEndian.AppendUint16(many, 0)
	}
	if _, err := ParseBundle(many); err == nil {
		t.Error("257 entries accepted")
	}
}

func FuzzParseBundle(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeBundle([][]byte{entry(0), entry(1)}))
	f.Add([]byte{0, 3, 'a', 'b'})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseBundle(b)
		if err != nil {
			var be *BundleError
			if !errors.As(err, &be) || be.Offset > len(b) || be.Offset < 0 {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		if again := encodeBundle(es); !bytes.Equal(again, b) {
			t.Fatalf("round trip: %x != %x", again, b)
		}
	})
}

func FuzzReadHistory(f *testing.F) {
	f.Add([]byte("5\nhello3\nabc"))
	f.Add([]byte("0\n"))
	f.Add([]byte("01\nx"))
	f.Add([]byte("99999999999999999999999\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out []byte
		end, err := readHistory(bytes.NewReader(b), func(rec historyRecord) error {
			if int(rec.Offset) != len(out) {
				return fmt.Errorf("offset %d, want %d", rec.Offset, len(out))
			}
			out = appendHistoryRecord(out, rec.Note)
			return nil
		})
		if !bytes.Equal(out, b[:end]) {
			t.Fatalf("records do not re-encode to the parsed prefix")
		}
		if err == nil && int(end) != len(b) {
			t.Fatalf("no error but stopped at %d of %d", end, len(b))
		}
	})
}
