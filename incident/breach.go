package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
// its signed manifest, and records it.
func (s *Service) ComputeScope(ctx context.Context, by string, id int64, sc *breach.Scoper, checkpoint []byte, signer note.Signer) (*breach.Scope, []byte, error) {
	in, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if len(in.Indicators) == 0 {
		return nil, nil, invalid("set the scope's indicators first (accounts, addresses, systems, feeds or record sets)")
	}
	if len(checkpoint) == 0 {
		return nil, nil, errors.New("incident: no signed checkpoint yet; wait for the ledger's first checkpoint")
	}
	text, _, ok := cutNote(checkpoint)
	if !ok {
		return nil, nil, errors.New("incident: malformed checkpoint")
	}
	cp, err := ledger.ParseCheckpoint(text)
	if err != nil {
		return nil, nil, fmt.Errorf("incident: checkpoint: %w", err)
	}
	scope, err := sc.Compute(ctx, in.Indicators, cp.Size)
	if err != nil {
		return nil, nil, err
	}
	scope.Incident, scope.Checkpoint = id, string(checkpoint)
	manifest, err := breach.SignManifest(scope, signer)
	if err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(scope)
	if err != nil {
		return nil, nil, fmt.Errorf("incident: encode scope: %w", err)
	}
	sealed, err := s.key.Seal(ctx, nil, s2.Encode(nil, body), scopeAAD(id))
	if err != nil {
		return nil, nil, fmt.Errorf("incident: seal scope: %w", err)
	}
	sid, err := s.st.AddScope(ctx, storeScope(id, scope, sealed, manifest))
	if err != nil {
		return nil, nil, err
	}
	sum := scope.Summarize()
	_, err = s.update(ctx, by, id, "scope", func(in *Incident, now time.Time) (string, string, error) {
		in.Scope = &ScopeRef{ID: sid, Computed: scope.Computed, TreeSize: scope.TreeSize, Summary: sum, Groups: scope.Groups()}
		return fmt.Sprintf("Breach scope %d computed: %d patients from %d ledger entries (checkpoint at size %d)", sid, sum.Patients, sum.Events, scope.TreeSize),
			fmt.Sprintf("scope %d patients %d", sid, sum.Patients), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return scope, manifest, nil
}

func cutNote(msg []byte) (text, sigs []byte, ok bool) {
	for i := 0; i+1 < len(msg); i++ {
		if msg[i] == '\n' && msg[i+1] == '\n' {
			return msg[:i+1], msg[i+2:], true
		}
	}
	return nil, nil, false
}

// Scope returns the incident's latest scope (with PHI: callers check the
// viewer may see it) and its signed manifest.
func (s *Service) Scope(ctx context.Context, id int64) (*breach.Scope, []byte, error) {
	row, err := s.st.LatestScope(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	z, err := s.key.Open(nil, row.Body, scopeAAD(id))
	if err != nil {
		return nil, nil, fmt.Errorf("incident: scope %d does not authenticate: %w", row.ID, err)
	}
	body, err := s2.Decode(nil, z)
	if err != nil {
		return nil, nil, fmt.Errorf("incident: scope %d: %w", row.ID, err)
	}
	var sc breach.Scope
	if err := json.Unmarshal(body, &sc); err != nil {
		return nil, nil, fmt.Errorf("incident: scope %d: %w", row.ID, err)
	}
	return &sc, row.Manifest, nil
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
		sc, _, err := s.Scope(ctx, id)
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

func storeScope(id int64, sc *breach.Scope, sealed, manifest []byte) store.ScopeRow {
	return store.ScopeRow{Incident: id, ComputedAt: sc.Computed, TreeSize: sc.TreeSize, Patients: len(sc.Patients), Body: sealed, Manifest: manifest}
}
