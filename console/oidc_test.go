package console_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/labtrust/labtrust/console"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/vault"
)

// provider is an in-process OpenID Connect provider: discovery and keys
// from oidctest, and a minimal authorization endpoint (it signs in
// whoever the test says, at once) and token endpoint.
type provider struct {
	srv    *httptest.Server
	priv   *rsa.PrivateKey
	mu     sync.Mutex
	user   map[string]any // claims for the next sign-in
	codes  map[string]string
	nonces map[string]string
}

func newProvider(t *testing.T) *provider {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{priv: priv, codes: map[string]string{}, nonces: map[string]string{}}
	ot := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: priv.Public(), KeyID: "k1", Algorithm: oidc.RS256}}}
	mux := http.NewServeMux()
	mux.Handle("/", ot)
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := fmt.Sprint("code-", time.Now().UnixNano())
		p.mu.Lock()
		p.codes[code] = q.Get("client_id")
		p.nonces[code] = q.Get("nonce")
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := back.Query()
		v.Set("code", code)
		v.Set("state", q.Get("state"))
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		user, pass, _ := r.BasicAuth()
		p.mu.Lock()
		client, ok := p.codes[r.PostForm.Get("code")]
		nonce := p.nonces[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		claims := map[string]any{}
		for k, v := range p.user {
			claims[k] = v
		}
		p.mu.Unlock()
		if !ok || user != client || pass != "s3cret" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		claims["iss"], claims["aud"], claims["nonce"] = p.srv.URL, client, nonce
		claims["iat"], claims["exp"] = time.Now().Unix(), time.Now().Add(5*time.Minute).Unix()
		b, _ := json.Marshal(claims)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer",
			"id_token": oidctest.SignIDToken(priv, "k1", oidc.RS256, string(b))})
	})
	p.srv = httptest.NewServer(mux)
	ot.SetIssuer(p.srv.URL)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) signIn(claims map[string]any) {
	p.mu.Lock()
	p.user = claims
	p.mu.Unlock()
}

func TestSingleSignOn(t *testing.T) {
	idp := newProvider(t)
	e := newEnvWith(t, filepath.Join(t.TempDir(), "c.db"), func(c *console.Console, base string, _ *store.DB, _ *vault.Keyring) {
		sso, err := console.NewOIDC(context.Background(), "Test IdP", idp.srv.URL, "labtrust", "s3cret", base+"/console/oidc/callback")
		if err != nil {
			t.Fatal(err)
		}
		c.SSO = sso
	})
	cl := &http.Client{Jar: &cookieJar{}}
	signIn := func(claims map[string]any) (*http.Response, string) {
		idp.signIn(claims)
		res, err := cl.Get(e.srv.URL + "/console/oidc/login")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := res.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		res.Body.Close()
		return res, b.String()
	}
	// An auditor the provider vouches for: straight in (no PHI, no MFA).
	res, body := signIn(map[string]any{"sub": "1", "preferred_username": "aud"})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="overview"`) {
		t.Fatalf("auditor via SSO: %d %s", res.StatusCode, body)
	}
	// A privacy officer whose provider asserted MFA (amr): straight in too.
	cl.Jar = &cookieJar{}
	res, body = signIn(map[string]any{"sub": "2", "email": "ana", "email_verified": true, "amr": []string{"pwd", "otp"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="overview"`) {
		t.Fatalf("privacy officer with provider MFA: %d %s", res.StatusCode, body)
	}
	// Without the provider's MFA, a PHI role must set up labtrust's own.
	cl.Jar = &cookieJar{}
	res, body = signIn(map[string]any{"sub": "2", "preferred_username": "ana"})
	if !strings.Contains(body, `id="secret"`) {
		t.Fatalf("privacy officer without provider MFA: %d %s", res.StatusCode, body)
	}
	// Someone the provider knows but labtrust does not: refused; the
	// provider cannot create accounts or grant roles.
	cl.Jar = &cookieJar{}
	res, body = signIn(map[string]any{"sub": "3", "preferred_username": "mallory"})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "no labtrust account") {
		t.Fatalf("unknown user: %d", res.StatusCode)
	}
	// An unverified email is not a username.
	cl.Jar = &cookieJar{}
	res, _ = signIn(map[string]any{"sub": "4", "email": "aud", "email_verified": false})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unverified email: %d", res.StatusCode)
	}
	// A callback that does not match a sign-in this browser began.
	res, err := cl.Get(e.srv.URL + "/console/oidc/callback?code=x&state=forged")
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged callback: %v %d", err, res.StatusCode)
	}
}
