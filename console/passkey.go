package console

import (
	"encoding/json"
	"net/http"

	"github.com/labtrust/labtrust/identity"
)

// signedInToken is signedIn for handlers that need the session token.
func (c *Console) signedInToken(h func(w http.ResponseWriter, r *http.Request, token string, st *identity.Staff)) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
		ck, _ := r.Cookie(cookieName)
		h(w, r, ck.Value, st)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (c *Console) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, token string, st *identity.Staff) {
	opts, err := c.ID.BeginPasskeyRegistration(r.Context(), token)
	if err != nil {
		c.Log.Warn("console: passkey registration", "err", err)
		http.Error(w, "a passkey cannot be added now", http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

func (c *Console) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, token string, st *identity.Staff) {
	if err := c.ID.FinishPasskeyRegistration(r.Context(), token, r); err != nil {
		c.Log.Warn("console: passkey registration", "err", err)
		http.Error(w, "the passkey was refused", http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"ok": "added"})
}

func (c *Console) passkeyLoginBegin(w http.ResponseWriter, r *http.Request, token string, st *identity.Staff) {
	opts, err := c.ID.BeginPasskeyLogin(r.Context(), token)
	if err != nil {
		http.Error(w, "no passkey for this account", http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

func (c *Console) passkeyLoginFinish(w http.ResponseWriter, r *http.Request, token string, st *identity.Staff) {
	if err := c.ID.FinishPasskeyLogin(r.Context(), token, r, remote(r)); err != nil {
		http.Error(w, "the passkey did not sign you in", http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"next": "/console/"})
}
