// Package identity holds labtrust's staff: accounts with argon2id
// passwords, TOTP second factors with single-use recovery codes, roles with
// least privilege, server-side sessions with idle and absolute timeouts,
// and lockout after repeated failures. MFA is mandatory for every role that
// can see PHI. Every sign-in, failure and account change is itself an Event
// for the ledger.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/store"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"
)

// Role is a staff role.
type Role string

const (
	RoleAdmin           Role = "admin"
	RoleSecurityOfficer Role = "security-officer"
	RolePrivacyOfficer  Role = "privacy-officer"
	RoleDirector        Role = "director"
	RoleAuditor         Role = "auditor"
	RoleStaff           Role = "staff"
	// RoleResponder is an outside responder: scoped to one incident, with an
	// expiry.
	RoleResponder Role = "responder"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleSecurityOfficer, RolePrivacyOfficer, RoleDirector, RoleAuditor, RoleStaff, RoleResponder}

// Permission is something a role may do.
type Permission string

const (
	PermViewPHI       Permission = "view-phi"       // patient records and access histories
	PermManageStaff   Permission = "manage-staff"   // accounts and roles
	PermManageKeys    Permission = "manage-keys"    // rotation, KEKs
	PermManageSources Permission = "manage-sources" // log sources, quarantine
	PermViewLedger    Permission = "view-ledger"    // ledger status and verification
	PermIncidents     Permission = "incidents"      // incident response
	PermViewAlerts    Permission = "view-alerts"    // detection's alerts
	PermTriageAlerts  Permission = "triage-alerts"  // move alerts through triage
)

var grants = map[Role][]Permission{
	RoleAdmin:           {PermManageStaff, PermManageKeys, PermManageSources, PermViewLedger},
	RoleSecurityOfficer: {PermManageKeys, PermManageSources, PermViewLedger, PermIncidents, PermViewAlerts, PermTriageAlerts},
	RolePrivacyOfficer:  {PermViewPHI, PermViewLedger, PermIncidents, PermViewAlerts, PermTriageAlerts},
	RoleDirector:        {PermViewPHI, PermViewLedger, PermIncidents, PermViewAlerts},
	RoleAuditor:         {PermViewLedger, PermViewAlerts},
	RoleStaff:           {PermViewPHI},
	RoleResponder:       {PermIncidents, PermViewPHI},
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := grants[r]; return ok }

// Can reports whether r has permission p.
func (r Role) Can(p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}

// NeedsMFA reports whether the role must use a second factor: every role
// that can see PHI, and those that hold the keys or the accounts.
func (r Role) NeedsMFA() bool {
	return r.Can(PermViewPHI) || r.Can(PermManageKeys) || r.Can(PermManageStaff)
}

// Store is what identity needs from the database.
type Store interface {
	AddStaff(ctx context.Context, r *store.StaffRow) error
	StaffByName(ctx context.Context, username string) (store.StaffRow, error)
	StaffByID(ctx context.Context, id int64) (store.StaffRow, error)
	UpdateStaff(ctx context.Context, r store.StaffRow) error
	AcceptTOTPStep(ctx context.Context, id, step int64) (bool, error)
	SetRecoveryCodes(ctx context.Context, id int64, digests [][]byte) error
	UseRecoveryCode(ctx context.Context, id int64, digest []byte, at time.Time) (bool, error)
	AddSession(ctx context.Context, digest []byte, s store.SessionRow) error
	Session(ctx context.Context, digest []byte) (store.SessionRow, error)
	TouchSession(ctx context.Context, digest []byte, at time.Time, mfa bool) error
	DeleteSession(ctx context.Context, digest []byte) error
	DeleteStaffSessions(ctx context.Context, staff int64) error
	ListStaff(ctx context.Context) ([]store.StaffRow, error)
}

// Sealer keeps TOTP secrets encrypted (the vault's keyring).
type Sealer interface {
	Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error)
	Open(dst, sealed, aad []byte) ([]byte, error)
}

// Recorder appends an event to the ledger (the ingest pipeline's Submit).
type Recorder interface {
	Record(ctx context.Context, e labtrust.Event) error
}

// Config sets the security policy; zero values take the defaults.
type Config struct {
	Idle        time.Duration // default 15 minutes
	Absolute    time.Duration // default 12 hours
	MaxFailures int           // before lockout; default 5
	Lockout     time.Duration // default 15 minutes
	Issuer      string        // TOTP issuer shown in authenticator apps; default "labtrust"
}

// Service manages staff identity.
type Service struct {
	st  Store
	key Sealer
	rec Recorder
	cfg Config
	now func() time.Time
	pk  *Passkeys // nil: passkeys off
}

// New returns the service. now may be nil (time.Now).
func New(st Store, key Sealer, rec Recorder, cfg Config, now func() time.Time) *Service {
	if cfg.Idle <= 0 {
		cfg.Idle = 15 * time.Minute
	}
	if cfg.Absolute <= 0 {
		cfg.Absolute = 12 * time.Hour
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = 15 * time.Minute
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "labtrust"
	}
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, key: key, rec: rec, cfg: cfg, now: now}
}

// Errors a caller may show as they are: none says which check failed for
// whom, so they do not help an attacker enumerate accounts.
var (
	ErrBadCredentials = errors.New("identity: wrong username, password or code")
	ErrLocked         = errors.New("identity: the account is locked for a while after repeated failures")
	ErrMFARequired    = errors.New("identity: this role must enrol a second factor before anything else")
	ErrSessionExpired = errors.New("identity: the session ended; sign in again")
	ErrWeakPassword   = errors.New("identity: passwords need at least 12 characters")
)

// argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes,
// 1 lane).
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an argon2id PHC string.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(h)), nil
}

// CheckPassword reports whether pw matches the PHC string, in constant time.
func CheckPassword(phc, pw string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 || t > 64 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Staff is an account as callers see it (no secrets).
type Staff struct {
	ID          int64
	Username    string
	DisplayName string
	Role        Role
	MFA         bool // a second factor is enrolled
	Disabled    bool
	Incident    string
	ExpiresAt   time.Time
}

func view(r store.StaffRow) *Staff {
	return &Staff{ID: r.ID, Username: r.Username, DisplayName: r.DisplayName, Role: Role(r.Role), MFA: r.TOTP != nil && r.TOTPStep >= 0,
		Disabled: r.Disabled, Incident: r.Incident, ExpiresAt: r.ExpiresAt}
}

// NewStaff is what creating an account takes.
type NewStaff struct {
	Username, DisplayName, Password string
	Role                            Role
	Incident                        string    // responders only
	Expires                         time.Time // responders: required
}

// Create adds an account. by names who did it, for the ledger.
func (s *Service) Create(ctx context.Context, by string, n NewStaff) (*Staff, error) {
	n.Username = strings.TrimSpace(n.Username)
	switch {
	case n.Username == "" || strings.ContainsAny(n.Username, " \t\r\n"):
		return nil, &labtrust.ValidationError{Field: "username", Reason: "empty or holds spaces"}
	case !n.Role.Valid():
		return nil, &labtrust.ValidationError{Field: "role", Reason: "not one of the roles"}
	case n.Role == RoleResponder && (n.Incident == "" || n.Expires.IsZero()):
		return nil, &labtrust.ValidationError{Field: "role", Reason: "a responder needs an incident and an expiry"}
	case n.Role != RoleResponder && (n.Incident != "" || !n.Expires.IsZero()):
		return nil, &labtrust.ValidationError{Field: "role", Reason: "only responders are scoped to an incident"}
	case len([]rune(n.Password)) < 12:
		return nil, ErrWeakPassword
	}
	phc, err := HashPassword(n.Password)
	if err != nil {
		return nil, err
	}
	r := store.StaffRow{Username: n.Username, DisplayName: n.DisplayName, Role: string(n.Role), Password: phc,
		Incident: n.Incident, ExpiresAt: n.Expires, CreatedAt: s.now()}
	if err := s.st.AddStaff(ctx, &r); err != nil {
		return nil, err
	}
	s.record(ctx, by, "staff-create", labtrust.ActionCreate, labtrust.OutcomeSuccess, "account "+n.Username+" role "+string(n.Role))
	return view(r), nil
}

// EnrolTOTP starts TOTP enrolment: it returns the otpauth:// URL (shown as
// a QR code) and the secret. The factor is active once ConfirmTOTP accepts
// a first code.
func (s *Service) EnrolTOTP(ctx context.Context, username string) (url, secret string, err error) {
	r, err := s.st.StaffByName(ctx, username)
	if err != nil {
		return "", "", err
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: username, Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", fmt.Errorf("identity: totp: %w", err)
	}
	if r.TOTP, err = s.key.Seal(ctx, nil, []byte(k.Secret()), totpAAD(r.ID)); err != nil {
		return "", "", err
	}
	r.TOTPStep = -1
	if err := s.st.UpdateStaff(ctx, r); err != nil {
		return "", "", err
	}
	s.record(ctx, username, "mfa-enrol-start", labtrust.ActionUpdate, labtrust.OutcomeSuccess, "")
	return k.URL(), k.Secret(), nil
}

func totpAAD(id int64) []byte { return []byte("totp\x00" + strconv.FormatInt(id, 10)) }

// ConfirmTOTP activates a pending TOTP factor with a first code and
// returns ten single-use recovery codes (shown once).
func (s *Service) ConfirmTOTP(ctx context.Context, username, code string) ([]string, error) {
	r, err := s.st.StaffByName(ctx, username)
	if err != nil {
		return nil, err
	}
	if r.TOTP == nil || r.TOTPStep != -1 {
		return nil, errors.New("identity: no enrolment is waiting for confirmation")
	}
	if !s.checkTOTP(ctx, r, code) {
		s.record(ctx, username, "mfa-enrol-confirm", labtrust.ActionUpdate, labtrust.OutcomeMinorFailure, "")
		return nil, ErrBadCredentials
	}
	codes := make([]string, 10)
	digests := make([][]byte, 10)
	for i := range codes {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		c := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
		codes[i] = c[:8] + "-" + c[8:]
		digests[i] = recoveryDigest(codes[i])
	}
	if err := s.st.SetRecoveryCodes(ctx, r.ID, digests); err != nil {
		return nil, err
	}
	s.record(ctx, username, "mfa-enrol-confirm", labtrust.ActionUpdate, labtrust.OutcomeSuccess, "")
	return codes, nil
}

// CompleteEnrolment confirms a pending TOTP factor from within a session
// (the console's set-up page): the confirming code also completes the
// session's sign-in. It returns the recovery codes.
func (s *Service) CompleteEnrolment(ctx context.Context, token, code, remote string) ([]string, error) {
	_, r, err := s.session(ctx, token)
	if err != nil {
		return nil, err
	}
	codes, err := s.ConfirmTOTP(ctx, r.Username, code)
	if err != nil {
		return nil, err
	}
	if err := s.st.TouchSession(ctx, tokenDigest(token), s.now(), true); err != nil {
		return nil, err
	}
	s.recordNet(ctx, r.Username, remote, "mfa", labtrust.OutcomeSuccess, "signed in with a new totp factor")
	return codes, nil
}

func recoveryDigest(code string) []byte {
	h := sha256.Sum256([]byte("recovery\x00" + strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), " ", ""))))
	return h[:]
}

// checkTOTP validates a code (one step of clock skew either way) and
// accepts its time step only once.
func (s *Service) checkTOTP(ctx context.Context, r store.StaffRow, code string) bool {
	secret, err := s.key.Open(nil, r.TOTP, totpAAD(r.ID))
	if err != nil {
		return false
	}
	now := s.now()
	for _, skew := range []int64{0, -1, 1} {
		t := now.Add(time.Duration(skew) * 30 * time.Second)
		want, err := totp.GenerateCodeCustom(string(secret), t, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(code))) != 1 {
			continue
		}
		ok, err := s.st.AcceptTOTPStep(ctx, r.ID, t.Unix()/30)
		return err == nil && ok
	}
	return false
}

// Login checks a password and starts a session: fully signed in for roles
// without MFA, else waiting for the second factor (CompleteMFA). A role
// that needs MFA but has none enrolled gets a session that can only enrol
// (ErrMFARequired is returned with it). remote is the client address, for
// the ledger.
func (s *Service) Login(ctx context.Context, username, password, remote string) (token string, st *Staff, err error) {
	r, err := s.st.StaffByName(ctx, username)
	if errors.Is(err, labtrust.ErrNotFound) {
		// Spend the same time as a real check, so timing does not tell
		// which usernames exist.
		CheckPassword(dummyHash, password)
		s.recordNet(ctx, username, remote, "login", labtrust.OutcomeMinorFailure, "unknown account")
		return "", nil, ErrBadCredentials
	}
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	switch {
	case r.Disabled || (!r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)):
		CheckPassword(dummyHash, password)
		s.recordNet(ctx, username, remote, "login", labtrust.OutcomeMinorFailure, "disabled or expired")
		return "", nil, ErrBadCredentials
	case now.Before(r.LockedUntil):
		s.recordNet(ctx, username, remote, "login", labtrust.OutcomeMinorFailure, "locked")
		return "", nil, ErrLocked
	}
	if !CheckPassword(r.Password, password) {
		r.Failed++
		detail := "wrong password"
		if r.Failed >= s.cfg.MaxFailures {
			r.LockedUntil, r.Failed, detail = now.Add(s.cfg.Lockout), 0, "wrong password; account locked"
		}
		if err := s.st.UpdateStaff(ctx, r); err != nil {
			return "", nil, err
		}
		s.recordNet(ctx, username, remote, "login", labtrust.OutcomeMinorFailure, detail)
		return "", nil, ErrBadCredentials
	}
	if r.Failed != 0 {
		r.Failed = 0
		if err := s.st.UpdateStaff(ctx, r); err != nil {
			return "", nil, err
		}
	}
	v := view(r)
	mfaDone := !v.Role.NeedsMFA()
	token, err = s.newSession(ctx, r.ID, mfaDone)
	if err != nil {
		return "", nil, err
	}
	detail := "signed in"
	if !mfaDone {
		detail = "password accepted; second factor next"
	}
	s.recordNet(ctx, username, remote, "login", labtrust.OutcomeSuccess, detail)
	if v.Role.NeedsMFA() && !v.MFA {
		return token, v, ErrMFARequired
	}
	return token, v, nil
}

// LoginExternal starts a session for an account an identity provider
// (OIDC single sign-on) has authenticated. The account must exist here,
// provisioned by an administrator, so the provider cannot grant roles.
// mfaDone says the provider asserted a second factor; without it, a role
// that needs MFA continues with labtrust's own (CompleteMFA), or must enrol
// (ErrMFARequired).
func (s *Service) LoginExternal(ctx context.Context, username, provider string, mfaDone bool, remote string) (string, *Staff, error) {
	r, err := s.st.StaffByName(ctx, username)
	if errors.Is(err, labtrust.ErrNotFound) {
		s.recordNet(ctx, username, remote, "login-sso", labtrust.OutcomeMinorFailure, "no such account here")
		return "", nil, ErrBadCredentials
	}
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	if r.Disabled || (!r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)) {
		s.recordNet(ctx, username, remote, "login-sso", labtrust.OutcomeMinorFailure, "disabled or expired")
		return "", nil, ErrBadCredentials
	}
	v := view(r)
	full := mfaDone || !v.Role.NeedsMFA()
	token, err := s.newSession(ctx, r.ID, full)
	if err != nil {
		return "", nil, err
	}
	detail := "via " + provider + "; signed in"
	if !full {
		detail = "via " + provider + "; second factor next"
	}
	s.recordNet(ctx, username, remote, "login-sso", labtrust.OutcomeSuccess, detail)
	if !full && !v.MFA {
		return token, v, ErrMFARequired
	}
	return token, v, nil
}

// dummyHash is checked against for unknown accounts.
var dummyHash, _ = HashPassword("labtrust timing equalizer")

func (s *Service) newSession(ctx context.Context, staff int64, mfa bool) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	if err := s.st.AddSession(ctx, tokenDigest(token), store.SessionRow{Staff: staff, Created: now, Seen: now, MFA: mfa}); err != nil {
		return "", err
	}
	return token, nil
}

func tokenDigest(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CompleteMFA finishes signing in with a TOTP code or a recovery code.
func (s *Service) CompleteMFA(ctx context.Context, token, code, remote string) (*Staff, error) {
	sess, r, err := s.session(ctx, token)
	if err != nil {
		return nil, err
	}
	if sess.MFA {
		return view(r), nil
	}
	ok := r.TOTP != nil && r.TOTPStep >= 0 && s.checkTOTP(ctx, r, code)
	how := "totp"
	if !ok {
		if used, err := s.st.UseRecoveryCode(ctx, r.ID, recoveryDigest(code), s.now()); err == nil && used {
			ok, how = true, "recovery code"
		}
	}
	if !ok {
		s.recordNet(ctx, r.Username, remote, "mfa", labtrust.OutcomeMinorFailure, "wrong code")
		return nil, ErrBadCredentials
	}
	if err := s.st.TouchSession(ctx, tokenDigest(token), s.now(), true); err != nil {
		return nil, err
	}
	s.recordNet(ctx, r.Username, remote, "mfa", labtrust.OutcomeSuccess, "signed in with "+how)
	return view(r), nil
}

// Session returns the signed-in account of a session token, and whether
// its second factor is done. It ends sessions past the idle or absolute
// timeout, and those of disabled or expired accounts.
func (s *Service) Session(ctx context.Context, token string) (*Staff, bool, error) {
	sess, r, err := s.session(ctx, token)
	if err != nil {
		return nil, false, err
	}
	if err := s.st.TouchSession(ctx, tokenDigest(token), s.now(), sess.MFA); err != nil {
		return nil, false, err
	}
	return view(r), sess.MFA || !Role(r.Role).NeedsMFA(), nil
}

func (s *Service) session(ctx context.Context, token string) (store.SessionRow, store.StaffRow, error) {
	d := tokenDigest(token)
	sess, err := s.st.Session(ctx, d)
	if errors.Is(err, labtrust.ErrNotFound) {
		return sess, store.StaffRow{}, ErrSessionExpired
	}
	if err != nil {
		return sess, store.StaffRow{}, err
	}
	now := s.now()
	r, err := s.st.StaffByID(ctx, sess.Staff)
	if err != nil || now.Sub(sess.Seen) > s.cfg.Idle || now.Sub(sess.Created) > s.cfg.Absolute ||
		r.Disabled || (!r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)) {
		s.st.DeleteSession(ctx, d)
		return sess, r, ErrSessionExpired
	}
	return sess, r, nil
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, token string) error {
	sess, err := s.st.Session(ctx, tokenDigest(token))
	if err != nil {
		return nil
	}
	if r, err := s.st.StaffByID(ctx, sess.Staff); err == nil {
		s.record(ctx, r.Username, "logout", labtrust.ActionExecute, labtrust.OutcomeSuccess, "")
	}
	return s.st.DeleteSession(ctx, tokenDigest(token))
}

// SetRole changes an account's role and ends its sessions, so the change
// applies at once.
func (s *Service) SetRole(ctx context.Context, by, username string, role Role) error {
	if !role.Valid() || role == RoleResponder {
		return &labtrust.ValidationError{Field: "role", Reason: "not a role an existing account can take"}
	}
	r, err := s.st.StaffByName(ctx, username)
	if err != nil {
		return err
	}
	old := r.Role
	r.Role = string(role)
	if err := s.st.UpdateStaff(ctx, r); err != nil {
		return err
	}
	if err := s.st.DeleteStaffSessions(ctx, r.ID); err != nil {
		return err
	}
	s.record(ctx, by, "role-change", labtrust.ActionUpdate, labtrust.OutcomeSuccess, "account "+username+": "+old+" -> "+string(role))
	return nil
}

// List returns every account (no secrets).
func (s *Service) List(ctx context.Context) ([]*Staff, error) {
	rows, err := s.st.ListStaff(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Staff, len(rows))
	for i, r := range rows {
		out[i] = view(r)
	}
	return out, nil
}

// Disable blocks an account and ends its sessions.
func (s *Service) Disable(ctx context.Context, by, username string) error {
	r, err := s.st.StaffByName(ctx, username)
	if err != nil {
		return err
	}
	r.Disabled = true
	if err := s.st.UpdateStaff(ctx, r); err != nil {
		return err
	}
	if err := s.st.DeleteStaffSessions(ctx, r.ID); err != nil {
		return err
	}
	s.record(ctx, by, "staff-disable", labtrust.ActionUpdate, labtrust.OutcomeSuccess, "account "+username)
	return nil
}

// RecordAccess appends a staff member's access to a patient's data, as an
// access event naming the patient: it shows in that patient's own access
// report like any other access.
func (s *Service) RecordAccess(ctx context.Context, username, remote, what string, patient labtrust.PatientRef, outcome labtrust.Outcome) {
	if s.rec == nil {
		return
	}
	s.rec.Record(ctx, labtrust.Event{Time: s.now(), Source: "labtrust", Kind: labtrust.KindAccess, Action: labtrust.ActionRead, Outcome: outcome,
		Type:     labtrust.Code{System: "https://labtrust.example/staff-action", Code: what},
		Actor:    labtrust.Actor{ID: username, UserType: "person"},
		Patients: []labtrust.PatientRef{patient}, Network: remote})
}

// Record appends a staff action (a view, an export, a key operation) to the
// ledger; the console calls it for every action it serves.
func (s *Service) Record(ctx context.Context, username, what string, action labtrust.Action, outcome labtrust.Outcome, detail string) {
	s.record(ctx, username, what, action, outcome, detail)
}

func (s *Service) record(ctx context.Context, username, what string, action labtrust.Action, outcome labtrust.Outcome, detail string) {
	s.emit(ctx, username, "", what, action, outcome, detail)
}

// recordNet records a sign-in step from the client address remote.
func (s *Service) recordNet(ctx context.Context, username, remote, what string, outcome labtrust.Outcome, detail string) {
	s.emit(ctx, username, remote, what, labtrust.ActionExecute, outcome, detail)
}

// emit appends a staff event. The ledger is the audit trail, so a failure
// to record is not silent: the Recorder logs it; identity itself goes on,
// because refusing a sign-in when the ledger is slow would lock staff out
// during an incident.
func (s *Service) emit(ctx context.Context, username, remote, what string, action labtrust.Action, outcome labtrust.Outcome, detail string) {
	if s.rec == nil {
		return
	}
	e := labtrust.Event{Time: s.now(), Source: "labtrust", Kind: labtrust.KindStaff, Action: action, Outcome: outcome,
		Type:    labtrust.Code{System: "https://labtrust.example/staff-action", Code: what},
		Actor:   labtrust.Actor{ID: username, UserType: "person"},
		Network: remote}
	if detail != "" {
		e.Subtype = []labtrust.Code{{System: "https://labtrust.example/staff-action-detail", Code: detail}}
	}
	s.rec.Record(ctx, e)
}
