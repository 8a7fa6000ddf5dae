package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// rfc6962Leaves are the leaf inputs of transparency-dev/merkle's test
// vectors (testonly.LeafInputs), which testdata/merkle was generated from.
var rfc6962Leaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}

// rfc6962Roots are the roots of the trees of sizes 1..8 over those leaves
// (testonly.RootHashes).
var rfc6962Roots = []string{
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

type inclusionVector struct {
	LeafIdx  uint64   `json:"leafIdx"`
	TreeSize uint64   `json:"treeSize"`
	Root     []byte   `json:"root"`
	LeafHash []byte   `json:"leafHash"`
	Proof    [][]byte `json:"proof"`
	Desc     string   `json:"desc"`
	WantErr  bool     `json:"wantErr"`
}

type consistencyVector struct {
	Size1   uint64   `json:"size1"`
	Size2   uint64   `json:"size2"`
	Root1   []byte   `json:"root1"`
	Root2   []byte   `json:"root2"`
	Proof   [][]byte `json:"proof"`
	Desc    string   `json:"desc"`
	WantErr bool     `json:"wantErr"`
}

// vectorLog builds a ledger of the eight vector leaves with a checkpoint at
// every size, and returns a Reader over it.
func vectorLog(t *testing.T) *Reader {
	k := newTestKey(t, testOrigin)
	dir := t.TempDir()
	ctx := context.Background()
	l, err := Open(ctx, dir, testOrigin, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i, h := range rfc6962Leaves {
		leaf, _ := hex.DecodeString(h)
		if _, err := l.Append([][]byte{leaf}); err != nil {
			t.Fatal(err)
		}
		root, _ := l.Root()
		if hex.EncodeToString(root[:]) != rfc6962Roots[i] {
			t.Fatalf("root at size %d = %x, want %s", i+1, root, rfc6962Roots[i])
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r, err := OpenReader(dir, testOrigin, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readVectors[T any](t *testing.T, kind string) map[string]T {
	files, err := filepath.Glob(filepath.Join("testdata", "merkle", kind, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s vectors: %v", kind, err)
	}
	out := map[string]T{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = v
	}
	return out
}

func TestRFC6962InclusionVectors(t *testing.T) {
	r := vectorLog(t)
	ctx := context.Background()
	for name, v := range readVectors[inclusionVector](t, "inclusion") {
		proof := make(tlog.RecordProof, 0, len(v.Proof))
		malformed := false
		for _, h := range v.Proof {
			if len(h) != HashSize {
				malformed = true
				break
			}
			proof = append(proof, tlog.Hash(h))
		}
		var err error
		if malformed || len(v.Root) != HashSize || len(v.LeafHash) != HashSize {
			err = errMalformed
		} else {
			err = tlog.CheckRecord(proof, int64(v.TreeSize), tlog.Hash(v.Root), int64(v.LeafIdx), tlog.Hash(v.LeafHash))
		}
		if (err != nil) != v.WantErr {
			t.Errorf("%s (%s): CheckRecord error %v, wantErr %v", name, v.Desc, err, v.WantErr)
		}
		if v.WantErr {
			continue
		}
		// Our tree must produce exactly the vector's proof, leaf hash and
		// root.
		leaf, _ := hex.DecodeString(rfc6962Leaves[v.LeafIdx])
		if lh := LeafHash(leaf); !bytes.Equal(lh[:], v.LeafHash) {
			t.Errorf("%s: leaf hash %x, want %x", name, lh, v.LeafHash)
		}
		got, err := r.InclusionProof(ctx, v.LeafIdx, v.TreeSize)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(v.Proof) {
			t.Fatalf("%s: proof has %d hashes, want %d", name, len(got), len(v.Proof))
		}
		for i := range got {
			if !bytes.Equal(got[i][:], v.Proof[i]) {
				t.Errorf("%s: proof[%d] = %x, want %x", name, i, got[i], v.Proof[i])
			}
		}
		if th, _ := r.TreeHash(ctx, v.TreeSize); !bytes.Equal(th[:], v.Root) {
			t.Errorf("%s: root %x, want %x", name, th, v.Root)
		}
	}
}

func TestRFC6962ConsistencyVectors(t *testing.T) {
	r := vectorLog(t)
	ctx := context.Background()
	for name, v := range readVectors[consistencyVector](t, "consistency") {
		proof := make(tlog.TreeProof, 0, len(v.Proof))
		malformed := len(v.Root1) != HashSize || len(v.Root2) != HashSize
		for _, h := range v.Proof {
			if len(h) != HashSize {
				malformed = true
				break
			}
			proof = append(proof, tlog.Hash(h))
		}
		var err error
		if malformed {
			err = errMalformed
		} else {
			err = tlog.CheckTree(proof, int64(v.Size2), tlog.Hash(v.Root2), int64(v.Size1), tlog.Hash(v.Root1))
		}
		if (err != nil) != v.WantErr {
			t.Errorf("%s (%s): CheckTree error %v, wantErr %v", name, v.Desc, err, v.WantErr)
		}
		if v.WantErr {
			continue
		}
		got, err := r.ConsistencyProof(ctx, v.Size1, v.Size2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(v.Proof) {
			t.Fatalf("%s: proof has %d hashes, want %d", name, len(got), len(v.Proof))
		}
		for i := range got {
			if !bytes.Equal(got[i][:], v.Proof[i]) {
				t.Errorf("%s: proof[%d] = %x, want %x", name, i, got[i], v.Proof[i])
			}
		}
	}
}

var errMalformed = os.ErrInvalid
