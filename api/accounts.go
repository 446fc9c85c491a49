package api

import (
	"errors"
	"net/http"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// signUpBody is POST /api/v1/accounts. IsAdmin is an extension only an admin
// may set.
type signUpBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
	IsAdmin  bool   `json:"is_admin"`
}

var errAdminOnly = wire.Errorf(wire.CodeForbidden, "only an admin may do this")

// signUp: POST /api/v1/accounts → 201 account. Open sign-up lets anyone in;
// otherwise only an authenticated admin may create accounts.
func (s *Server) signUp(w http.ResponseWriter, r *http.Request) {
	var admin bool
	c, err := s.authenticate(r)
	switch {
	case err == nil:
		admin = c.acct.IsAdmin
	case err == errNoCredentials:
	default:
		if !s.OpenSignup() {
			s.fail(w, r, err)
			return
		}
	}
	if !admin && !s.OpenSignup() {
		writeError(w, wire.Errorf(wire.CodeForbidden, "sign-up is closed; ask an admin"))
		return
	}
	var body signUpBody
	if !s.decode(w, r, &body) {
		return
	}
	if body.IsAdmin && !admin {
		writeError(w, errAdminOnly)
		return
	}
	if !wire.ValidName(body.Username) {
		writeError(w, wire.Errorf(wire.CodeBadRequest, "username: must match [a-z0-9][a-z0-9._-]{0,63}"))
		return
	}
	if body.Password == "" {
		writeError(w, wire.Errorf(wire.CodeBadRequest, "password: required"))
		return
	}
	acct, err := s.store.CreateAccount(r.Context(), body.Username, body.Password, body.IsAdmin)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("account created", "username", acct.Username, "admin", acct.IsAdmin)
	writeJSON(w, http.StatusCreated, acct)
}

// listAccounts: GET /api/v1/accounts (admins) → 200 [account].
func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, c caller) {
	if !c.acct.IsAdmin {
		writeError(w, errAdminOnly)
		return
	}
	accts, err := s.store.ListAccounts(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(accts))
}

// me: GET /api/v1/me → 200 account.
func (s *Server) me(w http.ResponseWriter, r *http.Request, c caller) {
	writeJSON(w, http.StatusOK, c.acct)
}

// passwordBody is PUT /api/v1/me/password.
type passwordBody struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// changePassword: PUT /api/v1/me/password → 200 account. The old password
// must be right (403 otherwise); attempts count against the login limit.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c caller) {
	var body passwordBody
	if !s.decode(w, r, &body) {
		return
	}
	if body.NewPassword == "" {
		writeError(w, wire.Errorf(wire.CodeBadRequest, "new_password: required"))
		return
	}
	if !s.allowLogin(r, c.acct.Username) {
		writeError(w, errRateLimited)
		return
	}
	if _, err := s.store.Authenticate(r.Context(), c.acct.Username, body.OldPassword); err != nil {
		if errors.Is(err, store.ErrUnauthorized) || errors.Is(err, store.ErrNotFound) {
			writeError(w, wire.Errorf(wire.CodeForbidden, "old_password: wrong password"))
			return
		}
		s.fail(w, r, err)
		return
	}
	if err := s.store.SetPassword(r.Context(), c.acct.ID, body.NewPassword); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("password changed", "username", c.acct.Username)
	writeJSON(w, http.StatusOK, c.acct)
}

// deleteMe: DELETE /api/v1/me → 204. Deletes the account and all it owns,
// then closes the sockets of every token it had and removes its rooms from
// live sockets. The last admin cannot delete itself (409).
func (s *Server) deleteMe(w http.ResponseWriter, r *http.Request, c caller) {
	ctx := r.Context()
	if c.acct.IsAdmin {
		accts, err := s.store.ListAccounts(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		admins := 0
		for _, a := range accts {
			if a.IsAdmin {
				admins++
			}
		}
		if admins <= 1 {
			writeError(w, wire.Errorf(wire.CodeConflict, "the last admin account cannot be deleted"))
			return
		}
	}
	defer s.lockEdits(c.acct.ID)()
	tokens, err := s.store.ListTokens(ctx, c.acct.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rooms, err := s.store.ListRooms(ctx, c.acct.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The store first: once the account is gone its secrets stop working,
	// so no socket can open between closing the live ones and the delete.
	if err := s.store.DeleteAccount(ctx, c.acct.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, t := range tokens {
		s.live.TokenRevoked(t.ID)
	}
	for _, room := range rooms {
		s.live.RoomDeleted(c.acct.Username, room.Name)
	}
	s.log.Info("account deleted", "username", c.acct.Username, "tokens", len(tokens), "rooms", len(rooms))
	if c.keyID == "" {
		http.SetCookie(w, s.sessionCookie("", 0))
	}
	w.WriteHeader(http.StatusNoContent)
}

// openSignupBody is GET/PUT /api/v1/settings/open-signup.
type openSignupBody struct {
	Open *bool `json:"open"`
}

// getOpenSignup: GET /api/v1/settings/open-signup → 200 {"open": bool}.
func (s *Server) getOpenSignup(w http.ResponseWriter, r *http.Request, c caller) {
	writeJSON(w, http.StatusOK, map[string]bool{"open": s.OpenSignup()})
}

// putOpenSignup: PUT /api/v1/settings/open-signup {"open": bool} (admins) →
// 200 {"open": bool}.
func (s *Server) putOpenSignup(w http.ResponseWriter, r *http.Request, c caller) {
	if !c.acct.IsAdmin {
		writeError(w, errAdminOnly)
		return
	}
	var body openSignupBody
	if !s.decode(w, r, &body) {
		return
	}
	if body.Open == nil {
		writeError(w, wire.Errorf(wire.CodeBadRequest, "open: required"))
		return
	}
	if err := s.persistOpenSignup(r, *body.Open); err != nil {
		s.fail(w, r, err)
		return
	}
	s.SetOpenSignup(*body.Open)
	s.log.Info("open sign-up changed", "open", *body.Open, "by", c.acct.Username)
	writeJSON(w, http.StatusOK, map[string]bool{"open": *body.Open})
}
