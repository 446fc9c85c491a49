package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/store"
)

// Config configures a Handler.
type Config struct {
	Store *store.Store
	// Live is the running server (live counts, room members); nil means none.
	Live api.Live
	// API is the JSON API server; the UI asks it whether open sign-up is on.
	// nil means sign-up is closed.
	API *api.Server
	// Logger; nil discards.
	Logger hclog.Logger
	// Secure tells the UI it is served over TLS (the console then dials wss).
	Secure bool
	// Metrics gathers the server's metrics (every worker's, under
	// supervise); an admin's dashboard shows figures summed from them. nil
	// means none.
	Metrics prometheus.Gatherer
}

// Handler serves the HTML UI. Mount it at "/".
type Handler struct {
	cfg    Config
	store  *store.Store
	live   api.Live
	log    hclog.Logger
	cop    *http.CrossOriginProtection
	mux    *http.ServeMux
	pages  *pages
	assets *assets
}

// New builds a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	h := &Handler{
		cfg:    cfg,
		store:  cfg.Store,
		live:   cfg.Live,
		log:    cfg.Logger,
		cop:    http.NewCrossOriginProtection(),
		mux:    http.NewServeMux(),
		assets: loadAssets(),
	}
	h.pages = loadPages(h.assets)
	h.routes()
	return h
}

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /ui/assets/{file}", h.serveAsset)
	m.HandleFunc("GET /login", h.loginPage)
	m.HandleFunc("GET /signup", h.signupPage)

	m.HandleFunc("GET /{$}", h.authed(h.dashboardPage))
	m.HandleFunc("GET /rooms", h.authed(h.roomsPage))
	m.HandleFunc("GET /rooms/{room}", h.authed(h.roomPage))
	m.HandleFunc("GET /rooms/{room}/console", h.authed(h.consolePage))
	m.HandleFunc("GET /tokens", h.authed(h.tokensPage))
	m.HandleFunc("GET /tokens/{id}", h.authed(h.tokenPage))
	m.HandleFunc("GET /keys", h.authed(h.keysPage))
	m.HandleFunc("GET /account", h.authed(h.accountPage))
	m.HandleFunc("GET /admin", h.authed(h.adminPage))

	m.HandleFunc("GET /ui/stats", h.authedJSON(h.stats))
	m.HandleFunc("POST /ui/console/{room}", h.authedJSON(h.consoleToken))

	m.HandleFunc("/", h.notFound)
}

// ServeHTTP serves the UI: security headers on every answer, then the
// cross-origin check (which lets GET and HEAD through and refuses cross-site
// state changes), then the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", csp(r.Host))
	if err := h.cop.Check(r); err != nil {
		h.writeJSONError(w, http.StatusForbidden, "forbidden", "cross-origin request refused")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// csp is the Content-Security-Policy of every answer: our own scripts,
// styles and images only, no inline code, and connections to this host
// (WebSocket included).
func csp(host string) string {
	connect := "'self'"
	if validHost(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + connect + "; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// validHost reports whether a Host header is plain enough to repeat in a
// header value.
func validHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']':
		default:
			return false
		}
	}
	return true
}

// sessionAccount returns the account of the request's session cookie.
func (h *Handler) sessionAccount(r *http.Request) (store.Account, bool, error) {
	c, err := r.Cookie(api.SessionCookie)
	if err != nil || c.Value == "" {
		return store.Account{}, false, nil
	}
	acct, err := h.store.SessionAccount(r.Context(), c.Value)
	switch {
	case err == nil:
		return acct, true, nil
	case errors.Is(err, store.ErrUnauthorized), errors.Is(err, store.ErrNotFound):
		return store.Account{}, false, nil
	default:
		return store.Account{}, false, err
	}
}

// authed wraps a page that needs a logged-in account: without one the
// browser goes to the login page, which brings it back afterwards.
func (h *Handler) authed(page func(http.ResponseWriter, *http.Request, store.Account)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		acct, ok, err := h.sessionAccount(r)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		if !ok {
			http.Redirect(w, r, "/login?next="+queryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		page(w, r, acct)
	}
}

// authedJSON wraps a JSON endpoint that needs a logged-in account: 401
// without one.
func (h *Handler) authedJSON(fn func(http.ResponseWriter, *http.Request, store.Account)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		acct, ok, err := h.sessionAccount(r)
		if err != nil {
			h.log.Error("ui request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			h.writeJSONError(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		if !ok {
			h.writeJSONError(w, http.StatusUnauthorized, "unauthorized", "log in first")
			return
		}
		fn(w, r, acct)
	}
}

// openSignup reports whether anyone may create an account.
func (h *Handler) openSignup() bool {
	return h.cfg.API != nil && h.cfg.API.OpenSignup()
}

// safeNext returns next when it is a path on this site, else "/".
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	if next == "/login" || strings.HasPrefix(next, "/login?") || strings.HasPrefix(next, "/signup") {
		return "/"
	}
	return next
}

// roomSockets lists the live members of the owner's room.
func (h *Handler) roomSockets(owner, room string) []api.SocketInfo {
	if h.live == nil {
		return nil
	}
	return h.live.RoomSockets(owner, room)
}

// liveCounts is what the dashboard polls: sockets in the owner's rooms
// (counted once however many rooms they share), per room and per token.
type liveCounts struct {
	Sockets     int            `json:"sockets"`
	Rooms       int            `json:"rooms"`
	Tokens      int            `json:"tokens"`
	Members     map[string]int `json:"members"`
	TokenOnline map[string]int `json:"token_sockets"`
}

// counts computes liveCounts for acct.
func (h *Handler) counts(ctx context.Context, acct store.Account) (liveCounts, error) {
	rooms, err := h.store.ListRooms(ctx, acct.ID)
	if err != nil {
		return liveCounts{}, err
	}
	tokens, err := h.store.CountTokens(ctx, acct.ID)
	if err != nil {
		return liveCounts{}, err
	}
	c := liveCounts{Rooms: len(rooms), Tokens: tokens, Members: map[string]int{}, TokenOnline: map[string]int{}}
	seen := map[string]bool{}
	for _, room := range rooms {
		socks := h.roomSockets(acct.Username, room.Name)
		c.Members[room.Name] = len(socks)
		for _, s := range socks {
			if seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			c.Sockets++
			c.TokenOnline[s.Token]++
		}
	}
	return c, nil
}
