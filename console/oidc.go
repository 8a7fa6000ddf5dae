package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labtrust/labtrust/identity"
	"golang.org/x/oauth2"
)

// OIDC is single sign-on through an OpenID Connect provider (authorization
// code flow with state and nonce). The provider says who someone is; the
// account, its role and its scope are labtrust's.
type OIDC struct {
	Name     string // shown on the sign-in page, e.g. "Okta"
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
}

// NewOIDC discovers the provider at issuer.
func NewOIDC(ctx context.Context, name, issuer, clientID, clientSecret, redirectURL string) (*OIDC, error) {
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("console: OIDC provider %s: %w", issuer, err)
	}
	return &OIDC{Name: name, verifier: p.Verifier(&oidc.Config{ClientID: clientID}),
		oauth: oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: p.Endpoint(), RedirectURL: redirectURL,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}}, nil
}

const oidcCookie = "labtrust_oidc"

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *Console) oidcLogin(w http.ResponseWriter, r *http.Request) {
	state, nonce := randomString(), randomString()
	// Lax, not Strict: the provider's redirect back is a cross-site
	// navigation, and this cookie must come with it.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state + "." + nonce, Path: "/console/oidc/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, c.SSO.oauth.AuthCodeURL(state, oidc.Nonce(nonce)), http.StatusFound)
}

// mfaAMR are "amr" values (RFC 8176) that say the provider used a second
// factor.
var mfaAMR = []string{"mfa", "otp", "hwk", "swk", "sms", "fpt", "face"}

func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	fail := func(why string, err error) {
		c.Log.Warn("console: single sign-on refused", "why", why, "err", err)
		c.render(w, "login", http.StatusUnauthorized, page{Title: "Sign in", SSO: c.SSO, Error: "Single sign-on did not work: " + why + ". Try again, or sign in with a password."})
	}
	ck, err := r.Cookie(oidcCookie)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: "/console/oidc/", MaxAge: -1})
	if err != nil {
		fail("the sign-in took too long or began elsewhere", err)
		return
	}
	state, nonce, _ := strings.Cut(ck.Value, ".")
	if r.URL.Query().Get("state") != state || state == "" {
		fail("the answer does not match this sign-in", nil)
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		fail("the provider refused", errors.New(e))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	tok, err := c.SSO.oauth.Exchange(ctx, r.URL.Query().Get("code"))
	if err != nil {
		fail("the provider's answer could not be checked", err)
		return
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		fail("the provider sent no ID token", nil)
		return
	}
	idt, err := c.SSO.verifier.Verify(ctx, raw)
	if err != nil {
		fail("the ID token does not verify", err)
		return
	}
	if idt.Nonce != nonce {
		fail("the ID token belongs to another sign-in", nil)
		return
	}
	var claims struct {
		PreferredUsername string   `json:"preferred_username"`
		Email             string   `json:"email"`
		EmailVerified     bool     `json:"email_verified"`
		AMR               []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil {
		fail("the ID token's claims do not decode", err)
		return
	}
	username := claims.PreferredUsername
	if username == "" && claims.EmailVerified {
		username = claims.Email
	}
	if username == "" {
		fail("the provider named no username or verified email", nil)
		return
	}
	mfa := slices.ContainsFunc(claims.AMR, func(a string) bool { return slices.Contains(mfaAMR, a) })
	token, st, err := c.ID.LoginExternal(r.Context(), username, c.SSO.Name, mfa, remote(r))
	switch {
	case errors.Is(err, identity.ErrMFARequired):
		c.setCookie(w, r, token, 0)
		http.Redirect(w, r, "/console/mfa/enrol", http.StatusSeeOther)
	case errors.Is(err, identity.ErrBadCredentials):
		c.render(w, "login", http.StatusUnauthorized, page{Title: "Sign in", SSO: c.SSO, Error: "There is no labtrust account for you, or it is disabled. Ask an administrator."})
	case err != nil:
		c.fail(w, err)
	default:
		c.setCookie(w, r, token, 0)
		if _, full, _ := c.ID.Session(r.Context(), token); !full && st.Role.NeedsMFA() {
			http.Redirect(w, r, "/console/mfa", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	}
}
