package ui

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// loginPage: GET /login. A logged-in browser goes straight on.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok, err := h.sessionAccount(r); err != nil {
		h.serverError(w, r, err)
		return
	} else if ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", view{Title: "Log in", Data: next})
}

// signupPage: GET /signup, only while open sign-up is on.
func (h *Handler) signupPage(w http.ResponseWriter, r *http.Request) {
	if _, ok, err := h.sessionAccount(r); err != nil {
		h.serverError(w, r, err)
		return
	} else if ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !h.openSignup() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "signup", view{Title: "Create an account"})
}

// roomRow is a room with its live member count.
type roomRow struct {
	store.Room
	Members int
}

// dashboardData is the dashboard.
type dashboardData struct {
	Counts liveCounts
	Rooms  []roomRow
	// Server is the server panel: admins only, nil without a gatherer.
	Server *serverFigures
}

// dashboardPage: GET /.
func (h *Handler) dashboardPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	rooms, counts, ok := h.roomsWithCounts(w, r, acct)
	if !ok {
		return
	}
	d := dashboardData{Counts: counts, Rooms: rooms}
	if acct.IsAdmin {
		d.Server = h.serverFigures()
	}
	h.render(w, r, http.StatusOK, "dashboard", view{Title: "Dashboard", Nav: "dashboard", Account: acct, Authed: true, Data: d})
}

// roomsWithCounts loads the account's rooms and live counts; on failure it
// has answered.
func (h *Handler) roomsWithCounts(w http.ResponseWriter, r *http.Request, acct store.Account) ([]roomRow, liveCounts, bool) {
	counts, err := h.counts(r.Context(), acct)
	if err != nil {
		h.serverError(w, r, err)
		return nil, liveCounts{}, false
	}
	rooms, err := h.store.ListRooms(r.Context(), acct.ID)
	if err != nil {
		h.serverError(w, r, err)
		return nil, liveCounts{}, false
	}
	rows := make([]roomRow, len(rooms))
	for i, room := range rooms {
		rows[i] = roomRow{Room: room, Members: counts.Members[room.Name]}
	}
	return rows, counts, true
}

// roomsPage: GET /rooms.
func (h *Handler) roomsPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	rooms, _, ok := h.roomsWithCounts(w, r, acct)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "rooms", view{Title: "Rooms", Nav: "rooms", Account: acct, Authed: true, Data: rooms})
}

// roomData is one room's page.
type roomData struct {
	Room    store.Room
	Sockets []api.SocketInfo
	Tokens  []tokenSub
}

// tokenSub is a token's subscription to the room on show.
type tokenSub struct {
	Token store.Token
	Sub   store.Subscription
}

// ownRoom loads the account's room named by the {room} path segment; a
// missing room answers 404 and false.
func (h *Handler) ownRoom(w http.ResponseWriter, r *http.Request, acct store.Account) (store.Room, bool) {
	name := r.PathValue("room")
	if !wire.ValidName(name) {
		h.notFound(w, r)
		return store.Room{}, false
	}
	room, err := h.store.Room(r.Context(), acct.Username, name)
	if errors.Is(err, store.ErrNotFound) {
		h.notFound(w, r)
		return store.Room{}, false
	}
	if err != nil {
		h.serverError(w, r, err)
		return store.Room{}, false
	}
	return room, true
}

// roomPage: GET /rooms/{room}: rules, live members, subscribed tokens.
func (h *Handler) roomPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	room, ok := h.ownRoom(w, r, acct)
	if !ok {
		return
	}
	tokens, err := h.store.ListTokens(r.Context(), acct.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d := roomData{Room: room, Sockets: h.roomSockets(acct.Username, room.Name)}
	for _, t := range tokens {
		if sub := subFor(t, room.Name); sub.Room != "" {
			d.Tokens = append(d.Tokens, tokenSub{Token: t, Sub: sub})
		}
	}
	sort.Slice(d.Sockets, func(i, j int) bool { return d.Sockets[i].ID < d.Sockets[j].ID })
	h.render(w, r, http.StatusOK, "room", view{Title: room.Name, Nav: "rooms", Account: acct, Authed: true, Data: d})
}

// consolePage: GET /rooms/{room}/console. The page holds no secret: its
// script asks POST /ui/console/{room} for a console token.
func (h *Handler) consolePage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	room, ok := h.ownRoom(w, r, acct)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "console", view{Title: room.Name + " console", Nav: "rooms", Account: acct, Authed: true, Data: room})
}

// tokenRow is a token with its live socket count.
type tokenRow struct {
	store.Token
	Online  int
	Console bool // a console token the UI made
}

// tokensData is the tokens page.
type tokensData struct {
	Tokens []tokenRow
	Rooms  []store.Room
}

// tokensPage: GET /tokens.
func (h *Handler) tokensPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	ctx := r.Context()
	counts, err := h.counts(ctx, acct)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	tokens, err := h.store.ListTokens(ctx, acct.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	rooms, err := h.store.ListRooms(ctx, acct.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	d := tokensData{Rooms: rooms}
	for _, t := range tokens {
		d.Tokens = append(d.Tokens, tokenRow{Token: t, Online: counts.TokenOnline[t.ID], Console: strings.HasPrefix(t.Name, consolePrefix)})
	}
	h.render(w, r, http.StatusOK, "tokens", view{Title: "Tokens", Nav: "tokens", Account: acct, Authed: true, Data: d})
}

// tokenData is one token's page.
type tokenData struct {
	Token store.Token
	Rooms []store.Room
}

// tokenPage: GET /tokens/{id}: settings and per-room permissions.
func (h *Handler) tokenPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	t, err := h.store.Token(r.Context(), acct.ID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	rooms, err := h.store.ListRooms(r.Context(), acct.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	title := t.Name
	if title == "" {
		title = t.ID
	}
	h.render(w, r, http.StatusOK, "token", view{Title: title, Nav: "tokens", Account: acct, Authed: true, Data: tokenData{Token: t, Rooms: rooms}})
}

// keysPage: GET /keys.
func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	keys, err := h.store.ListAPIKeys(r.Context(), acct.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "keys", view{Title: "API keys", Nav: "keys", Account: acct, Authed: true, Data: keys})
}

// accountPage: GET /account.
func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	h.render(w, r, http.StatusOK, "account", view{Title: "Account", Nav: "account", Account: acct, Authed: true})
}

// adminData is the admin page.
type adminData struct {
	Accounts   []store.Account
	OpenSignup bool
}

// adminPage: GET /admin (admins only).
func (h *Handler) adminPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	if !acct.IsAdmin {
		h.render(w, r, http.StatusForbidden, "forbidden", view{Title: "Admins only", Account: acct, Authed: true})
		return
	}
	accts, err := h.store.ListAccounts(r.Context())
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "admin", view{Title: "Admin", Nav: "admin", Account: acct, Authed: true,
		Data: adminData{Accounts: accts, OpenSignup: h.openSignup()}})
}
