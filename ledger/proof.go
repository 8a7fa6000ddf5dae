package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ProofHeader is the first line of a C2SP tlog-proof (c2sp.org/tlog-proof).
const ProofHeader = "c2sp.org/tlog-proof@v1"

// maxProofHashes bounds the inclusion proof of a tree of up to 2^64 entries.
const maxProofHashes = 64

// Proof is a C2SP tlog-proof: an entry's index, its RFC 6962 inclusion
// proof (from the leaf's sibling up to the root's child) in the tree of the
// checkpoint, and the signed checkpoint note verbatim. Extra is optional,
// unauthenticated application data (nil when absent).
type Proof struct {
	Index      uint64
	Hashes     [][32]byte
	Checkpoint []byte
	Extra      []byte
}

// FormatProof encodes p in the C2SP tlog-proof text format.
func FormatProof(p *Proof) []byte {
	var b bytes.Buffer
	b.WriteString(ProofHeader)
	b.WriteByte('\n')
	if p.Extra != nil {
		b.WriteString("extra ")
		b.WriteString(base64.StdEncoding.EncodeToString(p.Extra))
		b.WriteByte('\n')
	}
	b.WriteString("index ")
	b.WriteString(strconv.FormatUint(p.Index, 10))
	b.WriteByte('\n')
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ProofError says which line of a tlog-proof is malformed.
type ProofError struct {
	Line   int // 1-based
	Reason string
}

func (e *ProofError) Error() string {
	return fmt.Sprintf("tlog-proof: line %d: %s", e.Line, e.Reason)
}

// ParseProof decodes a C2SP tlog-proof. It is strict, so that a proof that
// parses re-encodes to the same bytes: base64 must be canonical, the index a
// decimal without leading zeros, and the checkpoint non-empty. It does not
// check signatures or hashes; see VerifyProof.
func ParseProof(b []byte) (*Proof, error) {
	p := &Proof{}
	line := 0
	next := func() ([]byte, bool) {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, false
		}
		l := b[:i]
		b = b[i+1:]
		line++
		return l, true
	}
	l, ok := next()
	if !ok || string(l) != ProofHeader {
		return nil, &ProofError{Line: 1, Reason: "missing " + ProofHeader + " header"}
	}
	if l, ok = next(); !ok {
		return nil, &ProofError{Line: line + 1, Reason: "missing index line"}
	}
	if rest, found := bytes.CutPrefix(l, []byte("extra ")); found {
		e, err := decodeCanonical(rest)
		if err != nil {
			return nil, &ProofError{Line: line, Reason: "extra data is not canonical base64"}
		}
		p.Extra = e
		if l, ok = next(); !ok {
			return nil, &ProofError{Line: line + 1, Reason: "missing index line"}
		}
	}
	rest, found := bytes.CutPrefix(l, []byte("index "))
	if !found {
		return nil, &ProofError{Line: line, Reason: "missing index line"}
	}
	idx, err := parseDecimal(string(rest))
	if err != nil {
		return nil, &ProofError{Line: line, Reason: "index: " + err.Error()}
	}
	p.Index = idx
	for {
		l, ok = next()
		if !ok {
			return nil, &ProofError{Line: line + 1, Reason: "missing blank line before the checkpoint"}
		}
		if len(l) == 0 {
			break
		}
		if len(p.Hashes) == maxProofHashes {
			return nil, &ProofError{Line: line, Reason: fmt.Sprintf("more than %d proof hashes", maxProofHashes)}
		}
		h, err := decodeHash(string(l))
		if err != nil {
			return nil, &ProofError{Line: line, Reason: "proof hash: " + err.Error()}
		}
		p.Hashes = append(p.Hashes, h)
	}
	if len(b) == 0 {
		return nil, &ProofError{Line: line + 1, Reason: "missing checkpoint"}
	}
	p.Checkpoint = append([]byte(nil), b...)
	return p, nil
}

func decodeCanonical(s []byte) ([]byte, error) {
	out, err := base64.StdEncoding.Strict().DecodeString(string(s))
	if err != nil || base64.StdEncoding.EncodeToString(out) != string(s) {
		return nil, errors.New("not canonical base64")
	}
	return out, nil
}

// VerifyProof checks a C2SP tlog-proof for entry (the log entry itself, e.g.
// a 32-byte commitment, not its leaf hash): that the checkpoint is signed by
// verifier and carries origin, and that the inclusion proof leads from the
// entry's RFC 6962 leaf hash at the proof's index to the checkpoint's root.
// It returns nil only if all of that holds.
func VerifyProof(p, entry []byte, verifier note.Verifier, origin string) error {
	pr, err := ParseProof(p)
	if err != nil {
		return err
	}
	cp, err := OpenCheckpoint(pr.Checkpoint, origin, verifier)
	if err != nil {
		return fmt.Errorf("tlog-proof: %w", err)
	}
	if pr.Index >= cp.Size {
		return fmt.Errorf("tlog-proof: index %d is not in the checkpointed tree of size %d", pr.Index, cp.Size)
	}
	rp := make(tlog.RecordProof, len(pr.Hashes))
	for i, h := range pr.Hashes {
		rp[i] = h
	}
	if err := tlog.CheckRecord(rp, int64(cp.Size), tlog.Hash(cp.Root), int64(pr.Index), tlog.Hash(LeafHash(entry))); err != nil {
		return fmt.Errorf("tlog-proof: entry %d is not proven in the tree of size %d: %w", pr.Index, cp.Size, err)
	}
	return nil
}
