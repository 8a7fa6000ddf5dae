package ledger

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// Tessera's test log (transparency-dev/trillian-tessera testdata/, see
// testdata/README.md): built by its posix-oneshot example, one entry per
// run, signed with this published test key.
const (
	tesseraOrigin = "example.com/log/testdata"
	tesseraVKey   = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
)

// tesseraEntries are the entries testdata/build_log.sh appended, in order.
var tesseraEntries = strings.Fields("one two three four five six seven eit nain ten ileven twelf threeten fourten fivten")

// TestTesseraInterop appends Tessera's test entries with our engine and
// checks that every checkpoint Tessera signed has the root our tree has at
// that size; then it assembles a ledger directory of our tiles and bundles
// with Tessera's signed checkpoints, and checks that Verify, the Reader and
// VerifyProof accept it under Tessera's key and origin.
func TestTesseraInterop(t *testing.T) {
	v, err := note.NewVerifier(tesseraVKey)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "tessera", "checkpoint.*"))
	type signed struct {
		cp  Checkpoint
		msg []byte
	}
	var cps []signed
	for _, f := range files {
		msg, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := OpenCheckpoint(msg, tesseraOrigin, v)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if want, _ := strconv.ParseUint(strings.TrimPrefix(filepath.Ext(f), "."), 10, 64); cp.Size != want {
			t.Fatalf("%s has size %d", f, cp.Size)
		}
		cps = append(cps, signed{cp, msg})
	}
	if len(cps) < 5 {
		t.Fatalf("only %d Tessera checkpoints", len(cps))
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].cp.Size < cps[j].cp.Size })

	k := newTestKey(t, tesseraOrigin)
	dir := t.TempDir()
	ctx := context.Background()
	l, err := Open(ctx, dir, tesseraOrigin, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	roots := map[uint64][32]byte{0: emptyRoot}
	for _, e := range tesseraEntries {
		if _, err := l.Append([][]byte{[]byte(e)}); err != nil {
			t.Fatal(err)
		}
		roots[l.Size()], _ = l.Root()
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	for _, c := range cps {
		if ours := roots[c.cp.Size]; ours != c.cp.Root {
			t.Errorf("Tessera root at size %d = %s, ours %s", c.cp.Size,
				base64.StdEncoding.EncodeToString(c.cp.Root[:]), base64.StdEncoding.EncodeToString(ours[:]))
		}
	}

	// Replace our checkpoint and history with Tessera's signed ones.
	last := cps[len(cps)-1]
	if last.cp.Size != uint64(len(tesseraEntries)) {
		t.Fatalf("latest Tessera checkpoint has size %d", last.cp.Size)
	}
	mustWrite(t, dir, "checkpoint", last.msg)
	var hist []byte
	for _, c := range cps {
		hist = appendHistoryRecord(hist, c.msg)
	}
	mustWrite(t, dir, "checkpoints.log", hist)

	rep, err := Verify(ctx, dir, tesseraOrigin, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checkpoints != len(cps) || rep.Entries != last.cp.Size {
		t.Fatalf("Verify with Tessera's key: %+v", rep)
	}
	r, err := OpenReader(dir, tesseraOrigin, v)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range tesseraEntries {
		p, err := r.Proof(ctx, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyProof(p, []byte(e), v, tesseraOrigin); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !bytes.HasSuffix(p, last.msg) {
			t.Fatal("proof does not carry Tessera's checkpoint verbatim")
		}
	}
	// And the key check is real: our own key does not verify Tessera's notes.
	if rep, _ := Verify(ctx, dir, tesseraOrigin, k.verifier, nil); rep.OK() {
		t.Fatal("Tessera's checkpoints verified under another key")
	}
	_ = fmt.Sprint
}
