// Package accessreport builds and verifies a patient's access report: every
// ledger entry naming the patient, with the nonce and canonical bytes that
// open its commitment and a C2SP tlog-proof of its inclusion under a signed
// checkpoint. Verification needs only the report and the log's public key,
// so a patient (or anyone they trust) can check it offline, and the
// per-patient chain links let them see a gap, not only an inclusion.
package accessreport

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/ledger"
	"golang.org/x/mod/sumdb/note"
)

// Format names this report format.
const Format = "labtrust-access-report/v1"

// Report is a patient's access history with proofs. It holds PHI (the
// patient's own events) and goes only to that patient.
type Report struct {
	Format  string              `json:"format"`
	Origin  string              `json:"origin"`
	Patient labtrust.PatientRef `json:"patient"`
	// Merged are records an ADT merge folded into Patient: their entries
	// are the patient's too, each identifier with its own chain.
	Merged     []labtrust.PatientRef `json:"merged,omitempty"`
	Checkpoint string                `json:"checkpoint"` // the signed note every proof ends with
	Entries    []Entry               `json:"entries"`
	// Pending counts the patient's entries newer than the checkpoint: they
	// will be provable once the next checkpoint covers them.
	Pending int `json:"pending,omitempty"`
}

// Entry is one ledger entry with what opens and proves it.
//
// An erased entry (it also named a patient who was since forgotten) has no
// nonce: Erased holds the time of erasure, Commitment its ledger entry,
// which the proof includes and the patient's next entry links to, and
// Canonical the residue the lab kept (who did what, when): the lab's
// statement, which no longer opens the commitment.
type Entry struct {
	Index      uint64 `json:"index"`
	Nonce      string `json:"nonce,omitempty"`      // base64
	Canonical  string `json:"canonical"`            // the exact canonical bytes (JSON text)
	Proof      string `json:"proof"`                // C2SP tlog-proof
	Erased     string `json:"erased,omitempty"`     // time of erasure (labtrust.TimeLayout)
	Commitment string `json:"commitment,omitempty"` // base64, erased entries only
}

// Write encodes the report as indented JSON.
func (r *Report) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// Read decodes a report.
func Read(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("access report: %w", err)
	}
	// A second document after the report would be ignored by Verify but
	// could be shown by another reader: refuse the ambiguity.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("access report: data after the report")
	}
	if r.Format != Format {
		return nil, fmt.Errorf("access report: format %q, want %q", r.Format, Format)
	}
	return &r, nil
}

// Verified is what verification established.
type Verified struct {
	Entries []*labtrust.Entry
	// Erased are the residues of erased entries: their inclusion is
	// proved and the patient's chain passes through them, but what they
	// say is the lab's word.
	Erased         []*labtrust.Entry
	CheckpointSize uint64
}

// Problem is a verification failure with its evidence.
type Problem struct {
	// Entry says the problem is about one entry, the one at ledger index
	// Index; otherwise it is about the report as a whole (its checkpoint).
	Entry  bool
	Index  uint64
	Reason string
}

func (p Problem) String() string {
	if !p.Entry {
		return "report: " + p.Reason
	}
	return fmt.Sprintf("entry %d: %s", p.Index, p.Reason)
}

// Error is returned when a report does not verify; it lists every problem.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "access report does not verify (%d problem(s))", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Verify checks a report against the log's public key: the checkpoint's
// signature and origin, each entry's commitment and inclusion proof under
// that checkpoint, that each entry names the patient, and that the entries
// form the patient's complete chain from their first entry (no gap).
func Verify(r *Report, verifier note.Verifier) (*Verified, error) {
	var probs []Problem
	add := func(i uint64, f string, a ...any) {
		probs = append(probs, Problem{Entry: true, Index: i, Reason: fmt.Sprintf(f, a...)})
	}
	cpMsg := []byte(r.Checkpoint)
	cp, err := ledger.OpenCheckpoint(cpMsg, r.Origin, verifier)
	if err != nil {
		// ledger's checkpoint errors already say "checkpoint: ".
		return nil, &Error{Problems: []Problem{{Reason: err.Error()}}}
	}
	out := &Verified{CheckpointSize: cp.Size}
	type opened struct {
		en *labtrust.Entry
		c  [32]byte
	}
	var ents []opened
	erased := map[uint64][32]byte{}
	for _, e := range r.Entries {
		var c [32]byte
		var at time.Time
		if e.Erased != "" {
			var err error
			if at, err = time.Parse(labtrust.TimeLayout, e.Erased); err != nil {
				add(e.Index, "erasure time: %v", err)
				continue
			}
			cb, err := base64.StdEncoding.DecodeString(e.Commitment)
			if err != nil || len(cb) != len(c) || e.Nonce != "" {
				add(e.Index, "an erased entry needs a %d-byte base64 commitment and no nonce", len(c))
				continue
			}
			c = [32]byte(cb)
		} else {
			nonce, err := base64.StdEncoding.DecodeString(e.Nonce)
			if err != nil || len(nonce) != labtrust.NonceSize || e.Commitment != "" {
				add(e.Index, "nonce is not %d bytes of base64", labtrust.NonceSize)
				continue
			}
			c = labtrust.Commit(nonce, []byte(e.Canonical))
		}
		pr, err := ledger.ParseProof([]byte(e.Proof))
		if err != nil {
			add(e.Index, "proof: %v", err)
			continue
		}
		if !bytes.Equal(pr.Checkpoint, cpMsg) {
			add(e.Index, "proof is against a different checkpoint than the report's")
			continue
		}
		if pr.Index != e.Index {
			add(e.Index, "proof is for index %d", pr.Index)
			continue
		}
		if err := ledger.VerifyProof([]byte(e.Proof), c[:], verifier, r.Origin); err != nil {
			add(e.Index, "inclusion: %v", err)
			continue
		}
		en, err := labtrust.UnmarshalCanonical([]byte(e.Canonical))
		if err != nil {
			add(e.Index, "entry: %v", err)
			continue
		}
		if en.Index != e.Index {
			add(e.Index, "entry says it is index %d", en.Index)
			continue
		}
		if e.Erased != "" {
			if len(en.Event.Patients)+len(en.Event.Objects)+len(en.Links) > 0 || en.Event.SourceRef != "" {
				add(e.Index, "an erased entry's residue names patients or objects")
				continue
			}
			if _, dup := erased[e.Index]; dup {
				add(e.Index, "entry appears more than once in the report")
				continue
			}
			en.Erased = at
			erased[e.Index] = c
			out.Erased = append(out.Erased, en)
			continue
		}
		ents = append(ents, opened{en, c})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].en.Index < ents[j].en.Index })
	ids := append([]labtrust.PatientRef{r.Patient}, r.Merged...)
	// Every entry must name one of the patient's identifiers, and each
	// identifier's entries must form its complete chain.
	prevs := make([]*opened, len(ids))
	for i := range ents {
		o := &ents[i]
		if _, dup := erased[o.en.Index]; dup || i > 0 && o.en.Index == ents[i-1].en.Index {
			add(o.en.Index, "entry appears more than once in the report")
			continue
		}
		named := false
		for k, id := range ids {
			link, ok := patientLink(o.en, id)
			if !ok {
				continue
			}
			named = true
			prev := prevs[k]
			// A link to an erased entry of the report continues the
			// chain; what came before that entry cannot be checked
			// through it any more.
			ec, viaErased := erased[link.PrevIndex]
			viaErased = viaErased && link.HasPrev && ec == link.PrevHash && (prev == nil || link.PrevIndex > prev.en.Index)
			switch {
			case viaErased:
			case prev == nil && link.HasPrev:
				add(o.en.Index, "gap: the patient's earlier entry %d is missing from the report", link.PrevIndex)
			case prev != nil && !link.HasPrev:
				add(o.en.Index, "entry claims to be the patient's first, but entry %d came before", prev.en.Index)
			case prev != nil && link.PrevIndex != prev.en.Index:
				add(o.en.Index, "gap: entry links to %d, but the report's previous entry is %d", link.PrevIndex, prev.en.Index)
			case prev != nil && link.PrevHash != prev.c:
				add(o.en.Index, "chain: previous-entry hash does not match entry %d", prev.en.Index)
			}
			prevs[k] = o
		}
		if !named {
			add(o.en.Index, "entry does not name this patient")
			continue
		}
		out.Entries = append(out.Entries, o.en)
	}
	if len(probs) > 0 {
		return nil, &Error{Problems: probs}
	}
	return out, nil
}

// patientLink finds the chain link for patient p in en.
func patientLink(en *labtrust.Entry, p labtrust.PatientRef) (labtrust.Link, bool) {
	want := strings.TrimSpace(p.ID)
	for _, l := range en.Links {
		if l.Patient >= 0 && l.Patient < len(en.Event.Patients) && strings.TrimSpace(en.Event.Patients[l.Patient].ID) == want {
			return l, true
		}
	}
	return labtrust.Link{}, false
}
