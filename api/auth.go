package api

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// SessionCookie is the name of the login session cookie.
const SessionCookie = "porthouse_session"

// caller is who made a request: the account, and the API key used (empty for
// a session).
type caller struct {
	acct  store.Account
	keyID string
}

// from is how backpipe messages of this caller are signed.
func (c caller) from() string {
	if c.keyID != "" {
		return "api:" + c.keyID
	}
	return "session"
}

// limitKey names the caller's backpipe bucket.
func (c caller) limitKey() string {
	if c.keyID != "" {
		return "key:" + c.keyID
	}
	return "account:" + c.acct.Username
}

var (
	errNoCredentials  = wire.Errorf(wire.CodeUnauthorized, "authentication required: an API key or a session cookie")
	errBadCredentials = wire.Errorf(wire.CodeUnauthorized, "bad or expired credentials")
)

// bearer returns the Bearer credential of the Authorization header.
func bearer(r *http.Request) (string, bool) {
	scheme, value, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(value), true
}

// hasBearer reports whether the request names an API key (and so carries no
// ambient, cookie-bound credential).
func hasBearer(r *http.Request) bool {
	_, ok := bearer(r)
	return ok
}

// authenticate finds the caller: an API key wins over the session cookie.
// It returns errNoCredentials when the request carries neither.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	ctx := r.Context()
	if secret, ok := bearer(r); ok {
		if !strings.HasPrefix(secret, "pk_") {
			return caller{}, errBadCredentials
		}
		acct, key, err := s.store.APIKeyAccount(ctx, secret)
		if err != nil {
			return caller{}, credentialError(err)
		}
		return caller{acct: acct, keyID: key.ID}, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return caller{}, errNoCredentials
	}
	acct, err := s.store.SessionAccount(ctx, c.Value)
	if err != nil {
		return caller{}, credentialError(err)
	}
	return caller{acct: acct}, nil
}

// credentialError maps a failed credential lookup: unknown or expired is 401,
// anything else stays an internal error.
func credentialError(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnauthorized) {
		return errBadCredentials
	}
	return err
}

// authed wraps a handler that needs a caller.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, c)
	}
}

// clientIP is the request's peer address without the port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// credentials is the body of login and sign-up.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// allowLogin applies the per-IP and per-username attempt limits.
func (s *Server) allowLogin(r *http.Request, username string) bool {
	if !s.loginIP.allow(clientIP(r)) {
		return false
	}
	// Only well-formed names get a bucket: garbage names cannot grow the map
	// and fail below without touching the store.
	return !wire.ValidName(username) || s.loginUser.allow(username)
}

var errRateLimited = wire.Errorf(wire.CodeRateLimited, "too many attempts; try again later")

// login: POST /api/v1/login {username, password} → 200 account + cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var body credentials
	if !s.decode(w, r, &body) {
		return
	}
	if !s.allowLogin(r, body.Username) {
		s.log.Warn("login rate limited", "ip", clientIP(r))
		writeError(w, errRateLimited)
		return
	}
	errBad := wire.Errorf(wire.CodeUnauthorized, "bad username or password")
	if !wire.ValidName(body.Username) || body.Password == "" {
		writeError(w, errBad)
		return
	}
	acct, err := s.store.Authenticate(r.Context(), body.Username, body.Password)
	if err != nil {
		if errors.Is(err, store.ErrUnauthorized) || errors.Is(err, store.ErrNotFound) {
			// No username: a user may have typed the password into that field.
			s.log.Info("login failed", "ip", clientIP(r))
			writeError(w, errBad)
			return
		}
		s.fail(w, r, err)
		return
	}
	secret, err := s.store.CreateSession(r.Context(), acct.ID, s.cfg.SessionTTL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, s.sessionCookie(secret, s.cfg.SessionTTL))
	s.log.Info("login", "username", acct.Username, "ip", clientIP(r))
	writeJSON(w, http.StatusOK, acct)
}

// logout: POST /api/v1/logout → 204; deletes the session, clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		if err := s.store.DeleteSession(r.Context(), c.Value); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, s.sessionCookie("", 0))
	w.WriteHeader(http.StatusNoContent)
}

// sessionCookie builds the session cookie; ttl 0 clears it.
func (s *Server) sessionCookie(secret string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     SessionCookie,
		Value:    secret,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.cfg.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	if ttl > 0 {
		c.MaxAge = int(ttl / time.Second)
		c.Expires = time.Now().Add(ttl).UTC()
	} else {
		c.MaxAge = -1
	}
	return c
}
