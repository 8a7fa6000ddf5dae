package breach

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
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
	Patients   []ManifestPatient   `json:"patients"`
	// Summary comes last: it is counted as the people are written.
	Summary Summary `json:"summary"`
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
// The file is {"manifest": <compact JSON>, "signature": <signed note>}:
// the manifest's bytes are what json.Marshal gives for it, and the note
// signs their SHA-256 (see ManifestWriter).
func SignManifest(s *Scope, signer note.Signer) ([]byte, error) {
	var body bytes.Buffer
	mw := NewManifestWriter(&body, s)
	if err := mw.Add(s.Patients); err != nil {
		return nil, err
	}
	if err := mw.Close(s.Summarize()); err != nil {
		return nil, err
	}
	sig, err := mw.Sign(signer)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := WriteSignedManifest(&out, sig, func(w io.Writer) error {
		_, err := w.Write(body.Bytes())
		return err
	}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// ManifestWriter writes a scope's manifest (its compact JSON, the
// "manifest" of the signed file) a part of the people at a time, hashing
// it as it goes, so a scope of millions is never held whole: the bytes
// are those json.Marshal gives for the whole Manifest.
type ManifestWriter struct {
	w       io.Writer
	h       hash.Hash
	s       *Scope
	started bool
	n       int
	buf     []byte
	sum     [sha256.Size]byte
	closed  bool
}

// NewManifestWriter writes s's manifest to w (io.Discard to only sign
// it). s needs its incident, checkpoint, computed time, tree size and
// indicators; its people come through Add.
func NewManifestWriter(w io.Writer, s *Scope) *ManifestWriter {
	h := sha256.New()
	return &ManifestWriter{w: io.MultiWriter(w, h), h: h, s: s}
}

func (m *ManifestWriter) head() error {
	type head struct {
		Format     string              `json:"format"`
		Incident   int64               `json:"incident"`
		Computed   time.Time           `json:"computed"`
		Indicators []ManifestIndicator `json:"indicators"`
		TreeSize   uint64              `json:"treeSize"`
		Checkpoint string              `json:"checkpoint"`
	}
	hd := head{Format: ManifestFormat, Incident: m.s.Incident, Computed: m.s.Computed, TreeSize: m.s.TreeSize, Checkpoint: m.s.Checkpoint}
	for _, in := range m.s.Indicators {
		hd.Indicators = append(hd.Indicators, ManifestIndicator{Kind: in.Kind, Value: in.Value, From: in.From, To: in.To,
			Records: len(in.MRNs), Elements: in.Elements})
	}
	b, err := json.Marshal(hd)
	if err != nil {
		return fmt.Errorf("breach: manifest: %w", err)
	}
	m.started = true
	_, err = m.w.Write(append(b[:len(b)-1], `,"patients":[`...))
	return err
}

// Add writes people, in the scope's order.
func (m *ManifestWriter) Add(people []Affected) error {
	if !m.started {
		if err := m.head(); err != nil {
			return err
		}
	}
	buf := m.buf[:0]
	for i := range people {
		p := &people[i]
		if m.n > 0 {
			buf = append(buf, ',')
		}
		m.n++
		b, err := json.Marshal(ManifestPatient{Blind: hex.EncodeToString(p.Blind), State: p.State,
			Elements: p.Elements, Accesses: p.Accesses, Entries: p.Entries})
		if err != nil {
			return fmt.Errorf("breach: manifest: %w", err)
		}
		buf = append(buf, b...)
	}
	m.buf = buf
	_, err := m.w.Write(buf)
	return err
}

// Close ends the manifest with the scope's summary.
func (m *ManifestWriter) Close(sum Summary) error {
	if !m.started {
		if err := m.head(); err != nil {
			return err
		}
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("breach: manifest: %w", err)
	}
	if _, err := m.w.Write(append(append([]byte(`],"summary":`), b...), '}')); err != nil {
		return err
	}
	copy(m.sum[:], m.h.Sum(nil))
	m.closed = true
	return nil
}

// Digest is the SHA-256 of the manifest written (after Close).
func (m *ManifestWriter) Digest() [sha256.Size]byte { return m.sum }

// Sign returns the signed note over the closed manifest's digest.
func (m *ManifestWriter) Sign(signer note.Signer) ([]byte, error) {
	if !m.closed {
		return nil, errors.New("breach: manifest: sign before close")
	}
	sig, err := note.Sign(&note.Note{Text: manifestNote(m.s.Incident, m.sum, m.s.TreeSize)}, signer)
	if err != nil {
		return nil, fmt.Errorf("breach: sign manifest: %w", err)
	}
	return sig, nil
}

func manifestNote(incident int64, sum [sha256.Size]byte, size uint64) string {
	return fmt.Sprintf("%s\nincident %d\nsha256 %s\ntree %d\n", manifestNoteHeader, incident, hex.EncodeToString(sum[:]), size)
}

// ManifestDigest reads the SHA-256 a manifest signature signs (without
// checking the signature: VerifyManifest does).
func ManifestDigest(sig []byte) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	text, _, _ := bytes.Cut(sig, []byte("\n\n"))
	lines := strings.Split(string(text), "\n")
	if len(lines) != 4 || lines[0] != manifestNoteHeader || !strings.HasPrefix(lines[2], "sha256 ") {
		return sum, errors.New("breach: not a scope manifest signature")
	}
	b, err := hex.DecodeString(strings.TrimPrefix(lines[2], "sha256 "))
	if err != nil || len(b) != len(sum) {
		return sum, errors.New("breach: scope manifest signature: bad digest")
	}
	copy(sum[:], b)
	return sum, nil
}

// WriteSignedManifest writes the signed manifest file: body writes the
// manifest (a ManifestWriter's output), sig is its signature.
func WriteSignedManifest(w io.Writer, sig []byte, body func(io.Writer) error) error {
	if _, err := io.WriteString(w, "{\n \"manifest\": "); err != nil {
		return err
	}
	if err := body(w); err != nil {
		return err
	}
	quoted, err := json.Marshal(string(sig))
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, ",\n \"signature\": "); err != nil {
		return err
	}
	if _, err := w.Write(quoted); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n}\n")
	return err
}

// VerifyManifest checks a signed manifest: the signature (the ledger's
// key), that it covers exactly these bytes, that the checkpoint it cites
// is signed by the same log and covers every entry it lists. prove, when
// not nil, is called for each entry so the caller can check its inclusion
// in the checkpoint's tree against the ledger. The manifest returned holds
// every patient; VerifyManifestStream checks a file of any size.
func VerifyManifest(b []byte, v note.Verifier, prove func(cp ledger.Checkpoint, index uint64) error) (*Manifest, error) {
	var people []ManifestPatient
	m, err := VerifyManifestStream(bytes.NewReader(b), v, prove, func(p ManifestPatient) error {
		people = append(people, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.Patients = people
	if m.Patients == nil {
		m.Patients = []ManifestPatient{}
	}
	return m, nil
}

// VerifyManifestStream is VerifyManifest reading the file as it goes, a
// patient at a time (a registry-wide scope's manifest is over a
// gigabyte): each patient is handed to each (nil: none kept) and the
// manifest returned has no patients. The digest is over the manifest's
// compact form, what was signed, so a re-indented file verifies; the
// checkpoint must come before the patients, as labtrust writes it.
func VerifyManifestStream(r io.Reader, v note.Verifier, prove func(cp ledger.Checkpoint, index uint64) error, each func(ManifestPatient) error) (*Manifest, error) {
	mr := &manifestReader{dec: json.NewDecoder(bufio.NewReaderSize(r, 1<<20)), h: sha256.New(), v: v, prove: prove, each: each,
		proved: map[uint64]bool{}}
	if err := expectDelim(mr.dec, '{'); err != nil {
		return nil, badManifest(err)
	}
	var (
		m       *Manifest
		digest  [sha256.Size]byte
		sig     string
		haveSig bool
	)
	for mr.dec.More() {
		key, err := mr.dec.Token()
		if err != nil {
			return nil, badManifest(err)
		}
		switch key {
		case "manifest":
			if m != nil {
				return nil, badManifest(errors.New("two manifests"))
			}
			if m, err = mr.manifest(); err != nil {
				return nil, err
			}
			copy(digest[:], mr.h.Sum(nil))
		case "signature":
			if err := mr.dec.Decode(&sig); err != nil {
				return nil, badManifest(err)
			}
			haveSig = true
		default:
			return nil, badManifest(fmt.Errorf("unknown field %v", key))
		}
	}
	if err := expectDelim(mr.dec, '}'); err != nil {
		return nil, badManifest(err)
	}
	if m == nil || !haveSig {
		return nil, badManifest(errors.New("a manifest and its signature are both needed"))
	}
	n, err := note.Open([]byte(sig), note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("breach: manifest signature: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) != 4 || lines[0] != manifestNoteHeader {
		return nil, errors.New("breach: manifest signature: not a scope manifest note")
	}
	if lines[2] != "sha256 "+hex.EncodeToString(digest[:]) {
		return nil, errors.New("breach: manifest: the signed digest does not match the manifest (altered after signing)")
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("breach: manifest format %q, want %q", m.Format, ManifestFormat)
	}
	if lines[1] != "incident "+strconv.FormatInt(m.Incident, 10) || lines[3] != "tree "+strconv.FormatUint(m.TreeSize, 10) {
		return nil, errors.New("breach: manifest: signed incident or tree size differs from the manifest")
	}
	if mr.cp == nil {
		return nil, errors.New("breach: manifest: no checkpoint")
	}
	if mr.cp.Size < m.TreeSize {
		return nil, fmt.Errorf("breach: manifest: checkpoint size %d does not cover tree size %d", mr.cp.Size, m.TreeSize)
	}
	return m, nil
}

func badManifest(err error) error {
	return fmt.Errorf("breach: manifest: not a signed scope manifest: %w", err)
}

// manifestReader reads the "manifest" object of a signed manifest file,
// hashing its compact form as it goes.
type manifestReader struct {
	dec     *json.Decoder
	h       hash.Hash
	compact bytes.Buffer
	v       note.Verifier
	prove   func(cp ledger.Checkpoint, index uint64) error
	each    func(ManifestPatient) error
	cp      *ledger.Checkpoint // once read
	proved  map[uint64]bool    // an entry naming several patients is proved once
}

// value decodes the next JSON value and hashes its compact form.
func (mr *manifestReader) value() (json.RawMessage, error) {
	var raw json.RawMessage
	if err := mr.dec.Decode(&raw); err != nil {
		return nil, badManifest(err)
	}
	mr.compact.Reset()
	if err := json.Compact(&mr.compact, raw); err != nil {
		return nil, badManifest(err)
	}
	mr.h.Write(mr.compact.Bytes())
	return raw, nil
}

// manifest reads the manifest object; its people go through patients.
func (mr *manifestReader) manifest() (*Manifest, error) {
	m := &Manifest{}
	if err := expectDelim(mr.dec, '{'); err != nil {
		return nil, badManifest(err)
	}
	mr.h.Write([]byte{'{'})
	for first := true; mr.dec.More(); first = false {
		k, err := mr.dec.Token()
		if err != nil {
			return nil, badManifest(err)
		}
		name, _ := k.(string)
		kb, _ := json.Marshal(name)
		if !first {
			mr.h.Write([]byte{','})
		}
		mr.h.Write(kb)
		mr.h.Write([]byte{':'})
		if name == "patients" {
			if err := mr.patients(); err != nil {
				return nil, err
			}
			continue
		}
		raw, err := mr.value()
		if err != nil {
			return nil, err
		}
		switch name {
		case "format":
			err = json.Unmarshal(raw, &m.Format)
		case "incident":
			err = json.Unmarshal(raw, &m.Incident)
		case "computed":
			err = json.Unmarshal(raw, &m.Computed)
		case "indicators":
			err = json.Unmarshal(raw, &m.Indicators)
		case "treeSize":
			err = json.Unmarshal(raw, &m.TreeSize)
		case "summary":
			err = json.Unmarshal(raw, &m.Summary)
		case "checkpoint":
			if err = json.Unmarshal(raw, &m.Checkpoint); err == nil {
				cp, err := ledger.OpenCheckpoint([]byte(m.Checkpoint), mr.v.Name(), mr.v)
				if err != nil {
					return nil, fmt.Errorf("breach: manifest checkpoint: %w", err)
				}
				mr.cp = &cp
			}
		default:
			err = fmt.Errorf("unknown field %q", name)
		}
		if err != nil {
			return nil, badManifest(err)
		}
	}
	if err := expectDelim(mr.dec, '}'); err != nil {
		return nil, badManifest(err)
	}
	mr.h.Write([]byte{'}'})
	return m, nil
}

// patients reads the patients array a patient at a time: each entry it
// lists is checked against the checkpoint (and proved), and the patient
// handed to each.
func (mr *manifestReader) patients() error {
	if mr.cp == nil {
		return errors.New("breach: manifest: the checkpoint must come before the patients")
	}
	if err := expectDelim(mr.dec, '['); err != nil {
		return badManifest(err)
	}
	mr.h.Write([]byte{'['})
	for first := true; mr.dec.More(); first = false {
		if !first {
			mr.h.Write([]byte{','})
		}
		raw, err := mr.value()
		if err != nil {
			return err
		}
		var p ManifestPatient
		if err := json.Unmarshal(raw, &p); err != nil {
			return badManifest(err)
		}
		for _, i := range p.Entries {
			if i >= mr.cp.Size {
				return fmt.Errorf("breach: manifest: entry %d is beyond the checkpoint (size %d)", i, mr.cp.Size)
			}
			if mr.prove != nil && !mr.proved[i] {
				mr.proved[i] = true
				if err := mr.prove(*mr.cp, i); err != nil {
					return fmt.Errorf("breach: manifest: entry %d: %w", i, err)
				}
			}
		}
		if mr.each != nil {
			if err := mr.each(p); err != nil {
				return err
			}
		}
	}
	if err := expectDelim(mr.dec, ']'); err != nil {
		return badManifest(err)
	}
	mr.h.Write([]byte{']'})
	return nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("want %v, found %v", d, t)
	}
	return nil
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
