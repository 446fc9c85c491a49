package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// consolePrefix starts the name of every token the console makes.
const consolePrefix = "console:"

// consoleTTL is how long a console token lives.
const consoleTTL = time.Hour

// consoleTokenAnswer is POST /ui/console/{room}: the only place the console
// secret appears, in a no-store JSON answer to the page's own script.
type consoleTokenAnswer struct {
	ID        string    `json:"id"`
	Secret    string    `json:"secret"`
	Room      string    `json:"room"`
	ExpiresAt time.Time `json:"expires_at"`
}

// consoleToken: POST /ui/console/{room} → 201 {id, secret, room,
// expires_at}. It makes a token named "console:<room>" that expires in an
// hour, may hold one socket, and sends and receives in the room in both
// formats; on the way it deletes the account's expired console tokens. The
// handler sits behind the cross-origin check, like every state change.
func (h *Handler) consoleToken(w http.ResponseWriter, r *http.Request, acct store.Account) {
	ctx := r.Context()
	name := r.PathValue("room")
	if !wire.ValidName(name) {
		h.writeJSONError(w, http.StatusNotFound, "not_found", "room not found")
		return
	}
	if _, err := h.store.Room(ctx, acct.Username, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.writeJSONError(w, http.StatusNotFound, "not_found", "room not found")
			return
		}
		h.jsonServerError(w, r, err)
		return
	}
	if err := h.purgeConsoleTokens(r, acct); err != nil {
		h.jsonServerError(w, r, err)
		return
	}
	label := consolePrefix + name
	maxConn := 1
	expires := time.Now().Add(consoleTTL).UTC().Truncate(time.Second)
	expPtr := &expires
	autoJoin := true
	subs := []store.Subscription{{Room: name, Send: true, Receive: true, Formats: []string{wire.FormatText, wire.FormatBinary}}}
	t, secret, err := h.store.CreateToken(ctx, acct.ID, store.TokenPatch{
		Name:           &label,
		MaxConnections: &maxConn,
		AutoJoin:       &autoJoin,
		ExpiresAt:      &expPtr,
		Subscriptions:  &subs,
	})
	if err != nil {
		h.jsonServerError(w, r, err)
		return
	}
	h.log.Info("console token created", "username", acct.Username, "room", name, "token", t.ID)
	writeJSON(w, http.StatusCreated, consoleTokenAnswer{ID: t.ID, Secret: secret, Room: name, ExpiresAt: expires})
}

// purgeConsoleTokens deletes the account's console tokens that have expired.
func (h *Handler) purgeConsoleTokens(r *http.Request, acct store.Account) error {
	tokens, err := h.store.ListTokens(r.Context(), acct.ID)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, t := range tokens {
		if !strings.HasPrefix(t.Name, consolePrefix) || t.ExpiresAt == nil || t.ExpiresAt.After(now) {
			continue
		}
		if err := h.store.DeleteToken(r.Context(), acct.ID, t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if h.live != nil {
			h.live.TokenRevoked(t.ID)
		}
	}
	return nil
}

// statsAnswer is GET /ui/stats: the account's live counts and, for an
// admin only (they cross owners), the server-wide figures.
type statsAnswer struct {
	liveCounts
	Server *serverFigures `json:"server,omitempty"`
}

// stats: GET /ui/stats → 200 live counts, polled by the pages.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request, acct store.Account) {
	c, err := h.counts(r.Context(), acct)
	if err != nil {
		h.jsonServerError(w, r, err)
		return
	}
	a := statsAnswer{liveCounts: c}
	if acct.IsAdmin {
		a.Server = h.serverFigures()
	}
	writeJSON(w, http.StatusOK, a)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONError answers with an error body shaped like the API's.
func (h *Handler) writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wire.ErrorBody{Error: wire.Error{Code: wire.Code(code), Message: msg}})
}

// jsonServerError logs err and answers a generic internal error.
func (h *Handler) jsonServerError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("ui request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	h.writeJSONError(w, http.StatusInternalServerError, "internal", "internal error")
}
