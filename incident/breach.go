package incident

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/ledger"
	"github.com/labtrust/labtrust/store"
	"golang.org/x/mod/sumdb/note"
)

func scopeAAD(incident int64) []byte {
	return []byte("labtrust scope v1\x00" + strconv.FormatInt(incident, 10))
}

// ComputeScope computes the incident's breach scope from its indicators
// among the entries the signed checkpoint covers, stores it sealed with
// the signature of its manifest, and records it. The people are handed
// from the computation to the store a part at a time (sealed on one
// goroutine while the next part is read), and the manifest is hashed as
// they pass, so memory does not grow with the scope; WriteManifest writes
// the manifest again from the stored parts.
func (s *Service) ComputeScope(ctx context.Context, by string, id int64, sc *breach.Scoper, checkpoint []byte, signer note.Signer) (*ScopeRef, error) {
	in, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(in.Indicators) == 0 {
		return nil, invalid("set the scope's indicators first (accounts, addresses, systems, feeds or record sets)")
	}
	if len(checkpoint) == 0 {
		return nil, errors.New("incident: no signed checkpoint yet; wait for the ledger's first checkpoint")
	}
	text, _, ok := cutNote(checkpoint)
	if !ok {
		return nil, errors.New("incident: malformed checkpoint")
	}
	cp, err := ledger.ParseCheckpoint(text)
	if err != nil {
		return nil, fmt.Errorf("incident: checkpoint: %w", err)
	}
	// The row first, for the parts to name; it is filled in at the end,
	// and the incident names it only then.
	sid, err := s.st.AddScope(ctx, store.ScopeRow{Incident: id, ComputedAt: time.Now().UTC(), TreeSize: cp.Size, Body: []byte{}, Manifest: []byte{}})
	if err != nil {
		return nil, err
	}
	// A scope that fails part-way (a cancelled run, a full disk) is
	// removed with its parts, which can be gigabytes.
	named := false
	defer func() {
		if !named {
			s.st.DeleteScope(context.WithoutCancel(ctx), sid)
		}
	}()
	head := &breach.Scope{Incident: id, Indicators: in.Indicators, TreeSize: cp.Size, Checkpoint: string(checkpoint)}
	mw := breach.NewManifestWriter(io.Discard, head)
	var tally breach.Tally
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := make(chan []breach.Affected, 2)
	stored := make(chan error, 1)
	chunks := 0
	go func() {
		// Sealed here, stored eight parts to a transaction: each commit
		// waits for the disk and empties the registry reader's page cache.
		var err error
		var batch []store.ScopeChunk
		for part := range parts {
			if err != nil {
				continue
			}
			var c store.ScopeChunk
			if c, err = s.sealScopePart(ctx, id, sid, chunks, part); err == nil {
				batch = append(batch, c)
				chunks++
				if len(batch) == 8 {
					err = s.st.AddScopeChunks(ctx, sid, batch)
					batch = batch[:0]
				}
			}
			if err != nil {
				cancel()
			}
		}
		if err == nil && len(batch) > 0 {
			err = s.st.AddScopeChunks(ctx, sid, batch)
		}
		stored <- err
	}()
	err = sc.Stream(ctx, head, func(part []breach.Affected) error {
		tally.Add(part)
		if err := mw.Add(part); err != nil {
			return err
		}
		select {
		case parts <- slices.Clone(part):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(parts)
	if serr := <-stored; serr != nil {
		return nil, serr
	}
	if err != nil {
		return nil, err
	}
	sum := tally.Summary(head.Events)
	if err := mw.Close(sum); err != nil {
		return nil, err
	}
	sig, err := mw.Sign(signer)
	if err != nil {
		return nil, err
	}
	// The header (indicators, checkpoint, counts) in the scope row; the
	// people in sealed parts beside it, with their blind indexes.
	head.Chunks = chunks
	body, err := json.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("incident: encode scope: %w", err)
	}
	sealed, err := s.key.Seal(ctx, nil, s2.Encode(nil, body), scopeAAD(id))
	if err != nil {
		return nil, fmt.Errorf("incident: seal scope: %w", err)
	}
	if err := s.st.FinishScope(ctx, store.ScopeRow{ID: sid, Incident: id, ComputedAt: head.Computed, TreeSize: head.TreeSize,
		Patients: sum.Patients, Body: sealed, Manifest: sig}); err != nil {
		return nil, err
	}
	ref := &ScopeRef{ID: sid, Computed: head.Computed, TreeSize: head.TreeSize, Summary: sum, Groups: tally.Groups()}
	_, err = s.update(ctx, by, id, "scope", func(in *Incident, now time.Time) (string, string, error) {
		in.Scope = ref
		return fmt.Sprintf("Breach scope %d computed: %d patients from %d ledger entries (checkpoint at size %d)", sid, sum.Patients, sum.Events, head.TreeSize),
			fmt.Sprintf("scope %d patients %d", sid, sum.Patients), nil
	})
	if err != nil {
		return nil, err
	}
	named = true
	return ref, nil
}

// sealScopePart seals one part of a scope's people.
func (s *Service) sealScopePart(ctx context.Context, id, sid int64, seq int, part []breach.Affected) (store.ScopeChunk, error) {
	b, err := json.Marshal(part)
	if err != nil {
		return store.ScopeChunk{}, fmt.Errorf("incident: encode scope: %w", err)
	}
	sealed, err := s.key.Seal(ctx, nil, s2.Encode(nil, b), scopeChunkAAD(id, sid, seq))
	if err != nil {
		return store.ScopeChunk{}, fmt.Errorf("incident: seal scope: %w", err)
	}
	members := make([][]byte, len(part))
	for i := range part {
		members[i] = part[i].Blind
	}
	return store.ScopeChunk{Seq: seq, Body: sealed, Members: members}, nil
}

// WriteManifest writes the incident's current scope manifest, signed,
// to w. A scope stored in parts has its manifest written again from them
// (the same bytes, checked against the signed digest: an error after
// writing means they differ and the file will not verify); an older
// scope's stored file is copied.
func (s *Service) WriteManifest(ctx context.Context, id int64, w io.Writer) error {
	sc, row, err := s.scopeHeader(ctx, id)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(row.Manifest, []byte("{")) { // the whole signed file
		_, err := w.Write(row.Manifest)
		return err
	}
	want, err := breach.ManifestDigest(row.Manifest)
	if err != nil {
		return fmt.Errorf("incident: scope %d: %w", row.ID, err)
	}
	var tally breach.Tally
	var mw *breach.ManifestWriter
	err = breach.WriteSignedManifest(w, row.Manifest, func(w io.Writer) error {
		mw = breach.NewManifestWriter(w, sc)
		if err := s.eachChunk(ctx, id, row.ID, func(part []breach.Affected) error {
			tally.Add(part)
			return mw.Add(part)
		}); err != nil {
			return err
		}
		return mw.Close(tally.Summary(sc.Events))
	})
	if err != nil {
		return err
	}
	if mw.Digest() != want {
		return fmt.Errorf("incident: scope %d: the manifest written again does not match its signed digest", row.ID)
	}
	return nil
}

func cutNote(msg []byte) (text, sigs []byte, ok bool) {
	for i := 0; i+1 < len(msg); i++ {
		if msg[i] == '\n' && msg[i+1] == '\n' {
			return msg[:i+1], msg[i+2:], true
		}
	}
	return nil, nil, false
}

// ScopeChunk is how many people a sealed part of a stored scope holds.
const ScopeChunk = 4096

func scopeChunkAAD(incident, scope int64, seq int) []byte {
	return []byte(fmt.Sprintf("labtrust scope part v1\x00%d\x00%d\x00%d", incident, scope, seq))
}

// scopeRow is the incident's current scope: the one its document names
// (a scope whose parts were not all stored is never named).
func (s *Service) scopeRow(ctx context.Context, id int64) (store.ScopeRow, error) {
	in, err := s.Get(ctx, id)
	if err != nil {
		return store.ScopeRow{}, err
	}
	if in.Scope == nil {
		return store.ScopeRow{}, fmt.Errorf("incident %d has no scope: %w", id, labtrust.ErrNotFound)
	}
	return s.st.Scope(ctx, in.Scope.ID)
}

// Scope returns the incident's scope with every person in it (with PHI:
// callers check the viewer may see it). For a large scope, ScopePatients
// reads the people a part at a time.
func (s *Service) Scope(ctx context.Context, id int64) (*breach.Scope, error) {
	sc, row, err := s.scopeHeader(ctx, id)
	if err != nil {
		return nil, err
	}
	if sc.Chunks > 0 {
		err := s.eachChunk(ctx, id, row.ID, func(part []breach.Affected) error {
			sc.Patients = append(sc.Patients, part...)
			return nil
		})
		if err != nil {
			return nil, err
		}
		sc.Chunks = 0
	}
	return sc, nil
}

// ScopePatients calls fn with the people of the incident's scope, a part
// (up to ScopeChunk people) at a time, in the scope's order.
func (s *Service) ScopePatients(ctx context.Context, id int64, fn func([]breach.Affected) error) error {
	sc, row, err := s.scopeHeader(ctx, id)
	if err != nil {
		return err
	}
	if sc.Chunks == 0 { // stored whole, before parts
		return fn(sc.Patients)
	}
	return s.eachChunk(ctx, id, row.ID, fn)
}

// InScope says whether the person with the blind index is in the
// incident's scope.
func (s *Service) InScope(ctx context.Context, id int64, blind []byte) (bool, error) {
	sc, row, err := s.scopeHeader(ctx, id)
	if err != nil {
		return false, err
	}
	if sc.Chunks > 0 {
		return s.st.InScope(ctx, row.ID, blind)
	}
	for _, p := range sc.Patients {
		if bytes.Equal(p.Blind, blind) {
			return true, nil
		}
	}
	return false, nil
}

func (s *Service) eachChunk(ctx context.Context, id, sid int64, fn func([]breach.Affected) error) error {
	return s.st.ScopeChunks(ctx, sid, func(seq int, sealed []byte) error {
		z, err := s.key.Open(nil, sealed, scopeChunkAAD(id, sid, seq))
		if err != nil {
			return fmt.Errorf("incident: scope %d part %d does not authenticate: %w", sid, seq, err)
		}
		b, err := s2.Decode(nil, z)
		if err != nil {
			return fmt.Errorf("incident: scope %d part %d: %w", sid, seq, err)
		}
		part, err := breach.DecodeAffected(b)
		if err != nil {
			return fmt.Errorf("incident: scope %d part %d: %w", sid, seq, err)
		}
		return fn(part)
	})
}

// scopeHeader reads the scope row and its sealed header (for scopes stored
// whole, the header holds the people too).
func (s *Service) scopeHeader(ctx context.Context, id int64) (*breach.Scope, store.ScopeRow, error) {
	row, err := s.scopeRow(ctx, id)
	if err != nil {
		return nil, row, err
	}
	z, err := s.key.Open(nil, row.Body, scopeAAD(id))
	if err != nil {
		return nil, row, fmt.Errorf("incident: scope %d does not authenticate: %w", row.ID, err)
	}
	body, err := s2.Decode(nil, z)
	if err != nil {
		return nil, row, fmt.Errorf("incident: scope %d: %w", row.ID, err)
	}
	var sc breach.Scope
	if err := json.Unmarshal(body, &sc); err != nil {
		return nil, row, fmt.Errorf("incident: scope %d: %w", row.ID, err)
	}
	return &sc, row, nil
}

// Obligations computes every notice the incident owes, from its latest
// scope and assessment, its discovery date and any law-enforcement delay.
func (s *Service) Obligations(ctx context.Context, id int64, laws breach.Laws) (*Incident, []breach.Obligation, error) {
	in, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	var people []breach.Affected
	if in.Scope != nil && in.Scope.Groups != nil {
		people = in.Scope.Groups
	} else {
		// A scope computed before groups were kept: read it.
		sc, err := s.Scope(ctx, id)
		if errors.Is(err, labtrust.ErrNotFound) {
			return in, nil, invalid("compute the breach scope first")
		}
		if err != nil {
			return nil, nil, err
		}
		people = sc.Patients
	}
	sit := breach.Situation{Discovered: in.Discovered, Entity: in.Entity, CoveredEntityName: in.CoveredEntity,
		Patients: people, Delay: in.Delay}
	if a := in.Assessment(); a != nil {
		sit.Assessed, sit.NoticeOwed = true, a.Outcome.Breach
	}
	if s.Unreachable != nil {
		if sit.Unreachable, err = s.Unreachable(ctx, id); err != nil {
			return nil, nil, err
		}
	}
	return in, breach.Obligations(sit, laws), nil
}
