package identity_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/identity"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
	"github.com/labtrust/labtrust/vault"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

type events struct {
	mu sync.Mutex
	es []labtrust.Event
}

func (e *events) Record(_ context.Context, ev labtrust.Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	e.es = append(e.es, ev)
	e.mu.Unlock()
	return nil
}

func (e *events) has(what string, outcome labtrust.Outcome) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.es {
		if ev.Type.Code == what && ev.Outcome == outcome && ev.Kind == labtrust.KindStaff {
			return true
		}
	}
	return false
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func code(t *testing.T, secret string, at time.Time) string {
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setup(t *testing.T, dsn string) (*identity.Service, *events, *clock) {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kek, _ := vault.LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "kek.key"))
	keys, err := vault.Open(ctx, kek, db)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	c := &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
	return identity.New(db, keys, ev, identity.Config{}, c.now), ev, c
}

func TestPasswordHash(t *testing.T) {
	h, err := identity.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("not OWASP argon2id parameters: %s", h)
	}
	if !identity.CheckPassword(h, "correct horse battery") || identity.CheckPassword(h, "correct horse batterz") {
		t.Fatal("password check")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$AAAA$AAAA", strings.Replace(h, "m=19456", "m=99999999", 1)} {
		if identity.CheckPassword(bad, "correct horse battery") {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func TestSignInWithTOTPAndRecovery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, ev, c := setup(t, dsn)
		if _, err := s.Create(ctx, "admin", identity.NewStaff{Username: "ana", Password: "short", Role: identity.RolePrivacyOfficer}); !errors.Is(err, identity.ErrWeakPassword) {
			t.Fatalf("weak password: %v", err)
		}
		if _, err := s.Create(ctx, "admin", identity.NewStaff{Username: "ana", DisplayName: "Ana Ruiz", Password: "a long enough passphrase", Role: identity.RolePrivacyOfficer}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, "admin", identity.NewStaff{Username: "ana", Password: "a long enough passphrase", Role: identity.RoleStaff}); !errors.Is(err, labtrust.ErrConflict) {
			t.Fatalf("duplicate username: %v", err)
		}
		// A PHI role without a second factor may only enrol.
		tok, st, err := s.Login(ctx, "ana", "a long enough passphrase", "127.0.0.1")
		if !errors.Is(err, identity.ErrMFARequired) || st == nil || tok == "" {
			t.Fatalf("login before enrolment: %v", err)
		}
		if _, full, _ := s.Session(ctx, tok); full {
			t.Fatal("a PHI role is fully signed in without MFA")
		}
		_, secret, err := s.EnrolTOTP(ctx, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ConfirmTOTP(ctx, "ana", "000000"); !errors.Is(err, identity.ErrBadCredentials) {
			t.Fatalf("wrong confirmation code: %v", err)
		}
		codes, err := s.ConfirmTOTP(ctx, "ana", code(t, secret, c.t))
		if err != nil || len(codes) != 10 {
			t.Fatalf("confirm: %d codes, %v", len(codes), err)
		}
		// Sign in: password, then TOTP. A code works once.
		c.advance(time.Minute)
		tok, _, err = s.Login(ctx, "ana", "a long enough passphrase", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		totpCode := code(t, secret, c.t)
		if _, err := s.CompleteMFA(ctx, tok, totpCode, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		who, full, err := s.Session(ctx, tok)
		if err != nil || !full || who.Username != "ana" || !who.MFA {
			t.Fatalf("session: %+v %v %v", who, full, err)
		}
		tok2, _, _ := s.Login(ctx, "ana", "a long enough passphrase", "127.0.0.1")
		if _, err := s.CompleteMFA(ctx, tok2, totpCode, "127.0.0.1"); !errors.Is(err, identity.ErrBadCredentials) {
			t.Fatalf("a replayed TOTP code: %v", err)
		}
		// A recovery code works once.
		if _, err := s.CompleteMFA(ctx, tok2, strings.ToUpper(codes[3]), "127.0.0.1"); err != nil {
			t.Fatalf("recovery code: %v", err)
		}
		tok3, _, _ := s.Login(ctx, "ana", "a long enough passphrase", "127.0.0.1")
		if _, err := s.CompleteMFA(ctx, tok3, codes[3], "127.0.0.1"); !errors.Is(err, identity.ErrBadCredentials) {
			t.Fatalf("a reused recovery code: %v", err)
		}
		// Idle and absolute timeouts end sessions.
		c.advance(16 * time.Minute)
		if _, _, err := s.Session(ctx, tok); !errors.Is(err, identity.ErrSessionExpired) {
			t.Fatalf("idle session: %v", err)
		}
		// Every step is in the audit trail.
		for _, w := range []struct {
			what string
			o    labtrust.Outcome
		}{{"staff-create", labtrust.OutcomeSuccess}, {"login", labtrust.OutcomeSuccess}, {"mfa", labtrust.OutcomeSuccess}, {"mfa", labtrust.OutcomeMinorFailure}, {"mfa-enrol-confirm", labtrust.OutcomeSuccess}} {
			if !ev.has(w.what, w.o) {
				t.Errorf("no %s event with outcome %d", w.what, w.o)
			}
		}
	})
}

func TestLockoutRolesAndResponders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, ev, c := setup(t, dsn)
		s.Create(ctx, "admin", identity.NewStaff{Username: "aud", Password: "auditor passphrase", Role: identity.RoleAuditor})
		// An auditor sees no PHI: signed in with a password alone.
		tok, _, err := s.Login(ctx, "aud", "auditor passphrase", "10.0.0.9")
		if err != nil {
			t.Fatal(err)
		}
		if _, full, _ := s.Session(ctx, tok); !full {
			t.Fatal("auditor not signed in")
		}
		// Five failures lock the account, even against the right password.
		for i := 0; i < 5; i++ {
			if _, _, err := s.Login(ctx, "aud", "wrong", "10.0.0.9"); !errors.Is(err, identity.ErrBadCredentials) {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		if _, _, err := s.Login(ctx, "aud", "auditor passphrase", "10.0.0.9"); !errors.Is(err, identity.ErrLocked) {
			t.Fatalf("locked account: %v", err)
		}
		c.advance(16 * time.Minute)
		if _, _, err := s.Login(ctx, "aud", "auditor passphrase", "10.0.0.9"); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
		// Unknown accounts fail the same way.
		if _, _, err := s.Login(ctx, "nobody", "whatever it is", "10.0.0.9"); !errors.Is(err, identity.ErrBadCredentials) {
			t.Fatalf("unknown account: %v", err)
		}
		// A role change ends sessions at once.
		if err := s.SetRole(ctx, "admin", "aud", identity.RoleStaff); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Session(ctx, tok); !errors.Is(err, identity.ErrSessionExpired) {
			t.Fatalf("session after a role change: %v", err)
		}
		if !ev.has("role-change", labtrust.OutcomeSuccess) {
			t.Fatal("role change not recorded")
		}
		// Responders are scoped and expire.
		if _, err := s.Create(ctx, "admin", identity.NewStaff{Username: "ir", Password: "responder passphrase", Role: identity.RoleResponder}); err == nil {
			t.Fatal("a responder without incident or expiry")
		}
		if _, err := s.Create(ctx, "admin", identity.NewStaff{Username: "ir", Password: "responder passphrase", Role: identity.RoleResponder,
			Incident: "INC-7", Expires: c.t.Add(48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "ir", "responder passphrase", "203.0.113.5"); !errors.Is(err, identity.ErrMFARequired) {
			t.Fatalf("responder login: %v", err)
		}
		c.advance(49 * time.Hour)
		if _, _, err := s.Login(ctx, "ir", "responder passphrase", "203.0.113.5"); !errors.Is(err, identity.ErrBadCredentials) {
			t.Fatalf("expired responder: %v", err)
		}
	})
}

func TestRoles(t *testing.T) {
	if identity.RoleAuditor.Can(identity.PermViewPHI) || identity.RoleAuditor.NeedsMFA() {
		t.Fatal("auditors see no PHI")
	}
	for _, r := range identity.Roles {
		if r.Can(identity.PermViewPHI) && !r.NeedsMFA() {
			t.Fatalf("%s sees PHI without MFA", r)
		}
	}
	if !identity.RoleAdmin.Can(identity.PermManageStaff) || identity.RoleStaff.Can(identity.PermManageKeys) {
		t.Fatal("grants")
	}
}
