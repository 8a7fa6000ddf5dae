package accessreport_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestReportVerifiesWithStandardLibraries checks a report without any
// labtrust code, as a third party would: the checkpoint with
// golang.org/x/mod/sumdb/note, each inclusion proof with both
// golang.org/x/mod/sumdb/tlog and github.com/transparency-dev/merkle, the
// commitment with crypto/sha256, and the chain links from the canonical JSON.
func TestReportVerifiesWithStandardLibraries(t *testing.T) {
	s := standard(t)
	// The report as a patient receives it: JSON text.
	var rep struct {
		Origin     string
		Checkpoint string
		Patient    struct{ ID string }
		Entries    []struct {
			Index                   uint64
			Nonce, Canonical, Proof string
		}
	}
	if err := json.Unmarshal(s.raw, &rep); err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(s.f.VKey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(rep.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	// c2sp.org/tlog-checkpoint: origin, decimal size, base64 root hash.
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != rep.Origin {
		t.Fatalf("checkpoint text %q", n.Text)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != sha256.Size {
		t.Fatalf("root %q: %v", lines[2], err)
	}

	var prevIndex uint64
	var prevCommit []byte
	for i, e := range rep.Entries {
		nonce, err := base64.StdEncoding.DecodeString(e.Nonce)
		if err != nil || len(nonce) != 32 {
			t.Fatalf("entry %d nonce: %v", e.Index, err)
		}
		h := sha256.New()
		h.Write(nonce)
		h.Write([]byte(e.Canonical))
		commitment := h.Sum(nil)

		// c2sp.org/tlog-proof: header, "index N", hashes, blank line, checkpoint.
		head, cp, ok := strings.Cut(e.Proof, "\n\n")
		if !ok || cp != rep.Checkpoint {
			t.Fatalf("entry %d: proof does not end with the report's checkpoint", e.Index)
		}
		pl := strings.Split(head, "\n")
		if pl[0] != "c2sp.org/tlog-proof@v1" || pl[1] != "index "+strconv.FormatUint(e.Index, 10) {
			t.Fatalf("entry %d: proof header %q", e.Index, pl[:2])
		}
		var hashes [][]byte
		var rp tlog.RecordProof
		for _, l := range pl[2:] {
			b, err := base64.StdEncoding.DecodeString(l)
			if err != nil || len(b) != 32 {
				t.Fatalf("entry %d: proof hash %q", e.Index, l)
			}
			hashes = append(hashes, b)
			rp = append(rp, tlog.Hash(b))
		}

		leaf := rfc6962.DefaultHasher.HashLeaf(commitment)
		if rh := tlog.RecordHash(commitment); !bytes.Equal(rh[:], leaf) {
			t.Fatal("tlog and rfc6962 disagree on the leaf hash")
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, e.Index, size, leaf, hashes, root); err != nil {
			t.Fatalf("entry %d: transparency-dev/merkle: %v", e.Index, err)
		}
		if err := tlog.CheckRecord(rp, int64(size), tlog.Hash(root), int64(e.Index), tlog.RecordHash(commitment)); err != nil {
			t.Fatalf("entry %d: sumdb/tlog: %v", e.Index, err)
		}
		// A wrong leaf or index fails both.
		bad := bytes.Clone(commitment)
		bad[0] ^= 1
		if proof.VerifyInclusion(rfc6962.DefaultHasher, e.Index, size, rfc6962.DefaultHasher.HashLeaf(bad), hashes, root) == nil ||
			tlog.CheckRecord(rp, int64(size), tlog.Hash(root), int64(e.Index)^1, tlog.RecordHash(commitment)) == nil {
			t.Fatalf("entry %d: a wrong leaf or index verifies", e.Index)
		}

		// The chain link of the patient points at the previous entry's commitment.
		var c struct {
			Index    uint64
			Patients []struct{ ID string }
			Links    []struct {
				Patient   int
				HasPrev   bool
				PrevIndex uint64
				PrevHash  string
			}
		}
		if err := json.Unmarshal([]byte(e.Canonical), &c); err != nil || c.Index != e.Index {
			t.Fatalf("entry %d canonical: %v", e.Index, err)
		}
		found := false
		for _, l := range c.Links {
			if c.Patients[l.Patient].ID != rep.Patient.ID {
				continue
			}
			found = true
			if i == 0 {
				if l.HasPrev {
					t.Fatalf("entry %d: first entry has a previous one", e.Index)
				}
				continue
			}
			if !l.HasPrev || l.PrevIndex != prevIndex || l.PrevHash != hex.EncodeToString(prevCommit) {
				t.Fatalf("entry %d: link %+v does not point at entry %d", e.Index, l, prevIndex)
			}
		}
		if !found {
			t.Fatalf("entry %d has no link for the patient", e.Index)
		}
		prevIndex, prevCommit = e.Index, commitment
	}
	if len(rep.Entries) != len(s.idx) {
		t.Fatalf("%d entries", len(rep.Entries))
	}
}
