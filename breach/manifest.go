package breach

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust/ledger"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ManifestFormat names the scope manifest's shape.
const ManifestFormat = "labtrust-scope/1"

// Manifest is the verifiable form of a scope: every affected patient by
// blind index (no PHI), their residence and data elements, the ledger
// entries behind them, and the signed checkpoint those entries are in.
type Manifest struct {
	Format     string              `json:"format"`
	Incident   int64               `json:"incident"`
	Computed   time.Time           `json:"computed"`
	Indicators []ManifestIndicator `json:"indicators"`
	TreeSize   uint64              `json:"treeSize"`
	Checkpoint string              `json:"checkpoint"` // the signed note
	Summary    Summary             `json:"summary"`
	Patients   []ManifestPatient   `json:"patients"`
}

// ManifestIndicator is an indicator without PHI: a record set says how
// many records it listed, not which.
type ManifestIndicator struct {
	Kind     IndicatorKind `json:"kind"`
	Value    string        `json:"value,omitempty"`
	From     time.Time     `json:"from,omitzero"`
	To       time.Time     `json:"to,omitzero"`
	Records  int           `json:"records,omitempty"`
	Elements []Element     `json:"elements,omitempty"`
}

// ManifestPatient is one affected patient, by blind index.
type ManifestPatient struct {
	Blind    string    `json:"blind"`
	State    string    `json:"state,omitempty"`
	Elements []Element `json:"elements"`
	Accesses int       `json:"accesses"`
	Entries  []uint64  `json:"entries,omitempty"`
}

// signedManifest is the file: the manifest's exact bytes and a signed
// note over their SHA-256.
type signedManifest struct {
	Manifest  json.RawMessage `json:"manifest"`
	Signature string          `json:"signature"`
}

const manifestNoteHeader = "labtrust scope manifest v1"

// SignManifest writes the scope's manifest signed with the ledger key.
//
// The file is {"manifest": <compact JSON>, "signature": <signed note>}. It
// is assembled in one buffer, a person at a time, rather than as a slice
// of patients marshalled and then re-indented: at a million people those
// copies were most of a scope's memory. The bytes of the manifest are what
// json.Marshal gives for it.
func SignManifest(s *Scope, signer note.Signer) ([]byte, error) {
	m := Manifest{Format: ManifestFormat, Incident: s.Incident, Computed: s.Computed, TreeSize: s.TreeSize,
		Checkpoint: s.Checkpoint, Summary: s.Summarize(), Patients: []ManifestPatient{}}
	for _, in := range s.Indicators {
		m.Indicators = append(m.Indicators, ManifestIndicator{Kind: in.Kind, Value: in.Value, From: in.From, To: in.To,
			Records: len(in.MRNs), Elements: in.Elements})
	}
	head, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("breach: manifest: %w", err)
	}
	// head ends with "patients":[]} : the people go between the brackets.
	head = head[:len(head)-2]
	const prefix = "{\n \"manifest\": "
	buf := make([]byte, 0, len(prefix)+len(head)+len(s.Patients)*(140+20*len(firstEntries(s)))+512)
	buf = append(buf, prefix...)
	start := len(buf)
	buf = append(buf, head...)
	for i, p := range s.Patients {
		if i > 0 {
			buf = append(buf, ',')
		}
		b, err := json.Marshal(ManifestPatient{Blind: hex.EncodeToString(p.Blind), State: p.State,
			Elements: p.Elements, Accesses: p.Accesses, Entries: p.Entries})
		if err != nil {
			return nil, fmt.Errorf("breach: manifest: %w", err)
		}
		buf = append(buf, b...)
	}
	buf = append(buf, "]}"...)
	sum := sha256.Sum256(buf[start:])
	text := fmt.Sprintf("%s\nincident %d\nsha256 %s\ntree %d\n", manifestNoteHeader, s.Incident, hex.EncodeToString(sum[:]), s.TreeSize)
	sig, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, fmt.Errorf("breach: sign manifest: %w", err)
	}
	quoted, err := json.Marshal(string(sig))
	if err != nil {
		return nil, err
	}
	buf = append(buf, ",\n \"signature\": "...)
	buf = append(buf, quoted...)
	return append(buf, "\n}\n"...), nil
}

// firstEntries is a sample of how many ledger entries a person carries,
// to size the manifest's buffer.
func firstEntries(s *Scope) []uint64 {
	if len(s.Patients) == 0 {
		return nil
	}
	return s.Patients[0].Entries
}

// VerifyManifest checks a signed manifest: the signature (the ledger's
// key), that it covers exactly these bytes, that the checkpoint it cites
// is signed by the same log and covers every entry it lists. prove, when
// not nil, is called for each entry so the caller can check its inclusion
// in the checkpoint's tree against the ledger.
func VerifyManifest(b []byte, v note.Verifier, prove func(cp ledger.Checkpoint, index uint64) error) (*Manifest, error) {
	var sm signedManifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sm); err != nil {
		return nil, fmt.Errorf("breach: manifest: not a signed scope manifest: %w", err)
	}
	n, err := note.Open([]byte(sm.Signature), note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("breach: manifest signature: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) != 4 || lines[0] != manifestNoteHeader {
		return nil, errors.New("breach: manifest signature: not a scope manifest note")
	}
	// The file may be re-indented (it is JSON); the digest is over the
	// compact form, which is what was signed.
	var compact bytes.Buffer
	if err := json.Compact(&compact, sm.Manifest); err != nil {
		return nil, fmt.Errorf("breach: manifest: %w", err)
	}
	sum := sha256.Sum256(compact.Bytes())
	if lines[2] != "sha256 "+hex.EncodeToString(sum[:]) {
		return nil, errors.New("breach: manifest: the signed digest does not match the manifest (altered after signing)")
	}
	var m Manifest
	if err := json.Unmarshal(sm.Manifest, &m); err != nil {
		return nil, fmt.Errorf("breach: manifest: %w", err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("breach: manifest format %q, want %q", m.Format, ManifestFormat)
	}
	if lines[1] != "incident "+strconv.FormatInt(m.Incident, 10) || lines[3] != "tree "+strconv.FormatUint(m.TreeSize, 10) {
		return nil, errors.New("breach: manifest: signed incident or tree size differs from the manifest")
	}
	cp, err := ledger.OpenCheckpoint([]byte(m.Checkpoint), v.Name(), v)
	if err != nil {
		return nil, fmt.Errorf("breach: manifest checkpoint: %w", err)
	}
	if cp.Size < m.TreeSize {
		return nil, fmt.Errorf("breach: manifest: checkpoint size %d does not cover tree size %d", cp.Size, m.TreeSize)
	}
	proved := map[uint64]bool{} // an entry naming several patients is proved once
	for _, p := range m.Patients {
		for _, i := range p.Entries {
			if i >= cp.Size {
				return nil, fmt.Errorf("breach: manifest: entry %d is beyond the checkpoint (size %d)", i, cp.Size)
			}
			if prove != nil && !proved[i] {
				proved[i] = true
				if err := prove(cp, i); err != nil {
					return nil, fmt.Errorf("breach: manifest: entry %d: %w", i, err)
				}
			}
		}
	}
	return &m, nil
}

// EntryReader is the ledger's read side a manifest's entries are proved
// against.
type EntryReader interface {
	Entries(ctx context.Context, from, to uint64, fn func(i uint64, e []byte) error) error
	InclusionProof(ctx context.Context, index, size uint64) ([][32]byte, error)
}

// LedgerProver checks an entry's inclusion in a checkpoint's tree with
// the ledger's RFC 6962 proofs (golang.org/x/mod/sumdb/tlog).
func LedgerProver(ctx context.Context, rd EntryReader) func(cp ledger.Checkpoint, index uint64) error {
	return func(cp ledger.Checkpoint, index uint64) error {
		var leaf tlog.Hash
		found := false
		if err := rd.Entries(ctx, index, index+1, func(_ uint64, e []byte) error {
			leaf, found = tlog.Hash(ledger.LeafHash(e)), true
			return nil
		}); err != nil {
			return err
		}
		if !found {
			return errors.New("not in the ledger")
		}
		hs, err := rd.InclusionProof(ctx, index, cp.Size)
		if err != nil {
			return err
		}
		p := make(tlog.RecordProof, len(hs))
		for i, h := range hs {
			p[i] = h
		}
		if err := tlog.CheckRecord(p, int64(cp.Size), tlog.Hash(cp.Root), int64(index), leaf); err != nil {
			return fmt.Errorf("inclusion proof fails against the checkpoint: %w", err)
		}
		return nil
	}
}
