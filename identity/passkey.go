package identity

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/store"
)

// PasskeyStore keeps WebAuthn credentials.
type PasskeyStore interface {
	AddPasskey(ctx context.Context, staff int64, id, credential []byte, at time.Time) error
	UpdatePasskey(ctx context.Context, id, credential []byte) error
	Passkeys(ctx context.Context, staff int64) ([][]byte, error)
}

// Passkeys are WebAuthn passkeys as a second factor: a staff member adds
// one from a signed-in session, then uses it instead of a TOTP code.
type Passkeys struct {
	wa *webauthn.WebAuthn
	st PasskeyStore

	mu       sync.Mutex
	pending  map[string]pendingCeremony // by session token digest
	lifetime time.Duration
}

type pendingCeremony struct {
	data    webauthn.SessionData
	expires time.Time
}

// NewPasskeys sets up WebAuthn for the relying party rpID (the host name
// staff reach the console at) and its origins (e.g. https://lab.example).
func NewPasskeys(st PasskeyStore, rpID string, origins []string) (*Passkeys, error) {
	wa, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "labtrust", RPOrigins: origins})
	if err != nil {
		return nil, fmt.Errorf("identity: webauthn: %w", err)
	}
	return &Passkeys{wa: wa, st: st, pending: map[string]pendingCeremony{}, lifetime: 5 * time.Minute}, nil
}

// waUser is a staff account as WebAuthn sees it. Its handle is the account
// number, which says nothing about the person.
type waUser struct {
	r     store.StaffRow
	creds []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(u.r.ID))
}
func (u *waUser) WebAuthnName() string                       { return u.r.Username }
func (u *waUser) WebAuthnDisplayName() string                { return u.r.DisplayName }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (s *Service) waUser(ctx context.Context, r store.StaffRow) (*waUser, error) {
	raw, err := s.pk.st.Passkeys(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	u := &waUser{r: r}
	for _, b := range raw {
		var c webauthn.Credential
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("identity: a stored passkey does not decode: %w", err)
		}
		u.creds = append(u.creds, c)
	}
	return u, nil
}

// ErrNoPasskeys means passkeys are not set up on this server.
var ErrNoPasskeys = errors.New("identity: passkeys are not configured")

// SetPasskeys enables passkeys.
func (s *Service) SetPasskeys(p *Passkeys) { s.pk = p }

// HasPasskey reports whether the account has a passkey.
func (s *Service) HasPasskey(ctx context.Context, staffID int64) bool {
	if s.pk == nil {
		return false
	}
	raw, err := s.pk.st.Passkeys(ctx, staffID)
	return err == nil && len(raw) > 0
}

func (p *Passkeys) put(token string, d *webauthn.SessionData, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.pending {
		if now.After(v.expires) {
			delete(p.pending, k)
		}
	}
	p.pending[string(tokenDigest(token))] = pendingCeremony{data: *d, expires: now.Add(p.lifetime)}
}

func (p *Passkeys) take(token string, now time.Time) (webauthn.SessionData, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := string(tokenDigest(token))
	v, ok := p.pending[k]
	delete(p.pending, k)
	return v.data, ok && now.Before(v.expires)
}

// BeginPasskeyRegistration starts adding a passkey; the session must be
// fully signed in (the new factor is vouched for by the current ones).
func (s *Service) BeginPasskeyRegistration(ctx context.Context, token string) (*protocol.CredentialCreation, error) {
	if s.pk == nil {
		return nil, ErrNoPasskeys
	}
	sess, r, err := s.session(ctx, token)
	if err != nil {
		return nil, err
	}
	if !sess.MFA && Role(r.Role).NeedsMFA() {
		return nil, ErrMFARequired
	}
	u, err := s.waUser(ctx, r)
	if err != nil {
		return nil, err
	}
	opts, data, err := s.pk.wa.BeginRegistration(u, webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred))
	if err != nil {
		return nil, fmt.Errorf("identity: passkey registration: %w", err)
	}
	s.pk.put(token, data, s.now())
	return opts, nil
}

// FinishPasskeyRegistration checks the browser's answer and stores the
// passkey.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, token string, req *http.Request) error {
	if s.pk == nil {
		return ErrNoPasskeys
	}
	_, r, err := s.session(ctx, token)
	if err != nil {
		return err
	}
	data, ok := s.pk.take(token, s.now())
	if !ok {
		return errors.New("identity: no passkey registration is waiting (it expires after 5 minutes)")
	}
	u, err := s.waUser(ctx, r)
	if err != nil {
		return err
	}
	cred, err := s.pk.wa.FinishRegistration(u, data, req)
	if err != nil {
		s.record(ctx, r.Username, "passkey-add", labtrust.ActionCreate, labtrust.OutcomeMinorFailure, "")
		return fmt.Errorf("identity: passkey registration: %w", err)
	}
	b, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	if err := s.pk.st.AddPasskey(ctx, r.ID, cred.ID, b, s.now()); err != nil {
		return err
	}
	s.record(ctx, r.Username, "passkey-add", labtrust.ActionCreate, labtrust.OutcomeSuccess, "")
	return nil
}

// BeginPasskeyLogin starts the second factor with a passkey, for a session
// whose password step is done.
func (s *Service) BeginPasskeyLogin(ctx context.Context, token string) (*protocol.CredentialAssertion, error) {
	if s.pk == nil {
		return nil, ErrNoPasskeys
	}
	_, r, err := s.session(ctx, token)
	if err != nil {
		return nil, err
	}
	u, err := s.waUser(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, errors.New("identity: this account has no passkey")
	}
	opts, data, err := s.pk.wa.BeginLogin(u)
	if err != nil {
		return nil, fmt.Errorf("identity: passkey login: %w", err)
	}
	s.pk.put(token, data, s.now())
	return opts, nil
}

// FinishPasskeyLogin checks the passkey's assertion and completes the
// session's sign-in.
func (s *Service) FinishPasskeyLogin(ctx context.Context, token string, req *http.Request, remote string) error {
	if s.pk == nil {
		return ErrNoPasskeys
	}
	_, r, err := s.session(ctx, token)
	if err != nil {
		return err
	}
	data, ok := s.pk.take(token, s.now())
	if !ok {
		return ErrBadCredentials
	}
	u, err := s.waUser(ctx, r)
	if err != nil {
		return err
	}
	cred, err := s.pk.wa.FinishLogin(u, data, req)
	if err != nil {
		s.recordNet(ctx, r.Username, remote, "mfa", labtrust.OutcomeMinorFailure, "passkey refused")
		return ErrBadCredentials
	}
	if b, err := json.Marshal(cred); err == nil {
		s.pk.st.UpdatePasskey(ctx, cred.ID, b)
	}
	if err := s.st.TouchSession(ctx, tokenDigest(token), s.now(), true); err != nil {
		return err
	}
	s.recordNet(ctx, r.Username, remote, "mfa", labtrust.OutcomeSuccess, "signed in with a passkey")
	return nil
}
