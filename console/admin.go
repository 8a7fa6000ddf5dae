package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/identity"
	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/vault"
)

// Admin is what the administration pages need; nil parts hide their page.
type Admin struct {
	Keys interface {
		Info() []vault.KeyInfo
		Rotate(ctx context.Context) error
	}
	KEK        string // the key-encryption key's ID (a file fingerprint or a KMS URI)
	Quarantine func(ctx context.Context) ([]store.QuarantineItem, error)
	// Sources lists what feeds the ledger and the registry: configured
	// sources and listeners.
	Sources func(ctx context.Context) ([]Source, error)
	// Verify checks the ledger's files (signatures, consistency, tiles) and
	// says what it found.
	Verify func(ctx context.Context) (string, error)
}

// require wraps a signed-in page with a permission check; a refusal is
// itself recorded.
func (c *Console) require(p identity.Permission, h func(w http.ResponseWriter, r *http.Request, st *identity.Staff)) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
		if !st.Role.Can(p) {
			c.ID.Record(r.Context(), st.Username, "denied", labtrust.ActionRead, labtrust.OutcomeMinorFailure, string(p)+" "+r.URL.Path)
			c.render(w, "home", http.StatusForbidden, page{Title: "Not allowed", Staff: st, Error: "Your role cannot use this page."})
			return
		}
		h(w, r, st)
	})
}

func (c *Console) staffPage(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	c.showStaff(w, r, st, http.StatusOK, "", "")
}

func (c *Console) showStaff(w http.ResponseWriter, r *http.Request, st *identity.Staff, status int, msg, errMsg string) {
	list, err := c.ID.List(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	c.render(w, "staff", status, page{Title: "Staff", Staff: st, Accounts: list, Roles: identity.Roles, Message: msg, Error: errMsg})
}

func (c *Console) staffCreate(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	n := identity.NewStaff{Username: r.PostFormValue("username"), DisplayName: r.PostFormValue("name"),
		Password: r.PostFormValue("password"), Role: identity.Role(r.PostFormValue("role"))}
	if n.Role == identity.RoleResponder {
		n.Incident = r.PostFormValue("incident")
		if d, err := time.ParseDuration(r.PostFormValue("expires")); err == nil && d > 0 {
			n.Expires = time.Now().Add(d)
		}
	}
	if _, err := c.ID.Create(r.Context(), st.Username, n); err != nil {
		var ve *labtrust.ValidationError
		switch {
		case errors.As(err, &ve), errors.Is(err, identity.ErrWeakPassword):
			c.showStaff(w, r, st, http.StatusBadRequest, "", "The account was not created: "+err.Error())
		case errors.Is(err, labtrust.ErrConflict):
			c.showStaff(w, r, st, http.StatusConflict, "", "That username is taken.")
		default:
			c.fail(w, err)
		}
		return
	}
	c.showStaff(w, r, st, http.StatusOK, "Created "+n.Username+". If the role sees patient data, they set up a second factor at first sign-in.", "")
}

func (c *Console) staffRole(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	user := r.PathValue("user")
	if user == st.Username {
		c.showStaff(w, r, st, http.StatusBadRequest, "", "You cannot change your own role.")
		return
	}
	if err := c.ID.SetRole(r.Context(), st.Username, user, identity.Role(r.PostFormValue("role"))); err != nil {
		c.showStaff(w, r, st, http.StatusBadRequest, "", "The role was not changed: "+err.Error())
		return
	}
	c.showStaff(w, r, st, http.StatusOK, user+" is now "+r.PostFormValue("role")+"; their sessions ended.", "")
}

func (c *Console) staffDisable(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	user := r.PathValue("user")
	if user == st.Username {
		c.showStaff(w, r, st, http.StatusBadRequest, "", "You cannot disable your own account.")
		return
	}
	if err := c.ID.Disable(r.Context(), st.Username, user); err != nil {
		c.showStaff(w, r, st, http.StatusBadRequest, "", "The account was not disabled: "+err.Error())
		return
	}
	c.showStaff(w, r, st, http.StatusOK, user+" is disabled; their sessions ended.", "")
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	c.render(w, "keys", http.StatusOK, page{Title: "Keys", Staff: st, Keys: c.Admin.Keys.Info(), KEK: c.Admin.KEK})
}

func (c *Console) keysRotate(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	if err := c.Admin.Keys.Rotate(r.Context()); err != nil {
		c.fail(w, err)
		return
	}
	c.ID.Record(r.Context(), st.Username, "key-rotate", labtrust.ActionUpdate, labtrust.OutcomeSuccess, "new primary data key")
	c.render(w, "keys", http.StatusOK, page{Title: "Keys", Staff: st, Keys: c.Admin.Keys.Info(), KEK: c.Admin.KEK,
		Message: "A new primary key is active. Older keys keep opening what they sealed; re-encrypt with labtrust keys reencrypt, then retire them."})
}

// Source is one input: a configured source name or a listener.
type Source struct {
	Name, Format, Detail string
}

func (c *Console) quarantinePage(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	items, err := c.Admin.Quarantine(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	var sources []Source
	if c.Admin.Sources != nil {
		if sources, err = c.Admin.Sources(r.Context()); err != nil {
			c.fail(w, err)
			return
		}
	}
	c.render(w, "quarantine", http.StatusOK, page{Title: "Sources and quarantine", Staff: st, Quarantined: items, Sources: sources})
}

func (c *Console) verify(w http.ResponseWriter, r *http.Request, st *identity.Staff) {
	ls, err := c.Ledger(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	res, err := c.Admin.Verify(ctx)
	outcome, p := labtrust.OutcomeSuccess, page{Title: "Ledger", Staff: st, Ledger: ls, Message: res}
	if err != nil {
		outcome, p.Message, p.Error = labtrust.OutcomeSeriousFailure, "", "The ledger does not verify: "+err.Error()
	}
	c.ID.Record(r.Context(), st.Username, "ledger-verify", labtrust.ActionExecute, outcome, "")
	c.render(w, "ledger", http.StatusOK, p)
}
