package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// subscriptionBody is one subscription as a client writes it. Missing
// permissions default to true and missing formats to both.
type subscriptionBody struct {
	Room    *string   `json:"room"`
	Send    *bool     `json:"send"`
	Receive *bool     `json:"receive"`
	Formats *[]string `json:"formats"`
}

// tokenBody is POST and PATCH /api/v1/tokens. ExpiresAt is raw so that an
// absent field (unchanged) differs from null (no expiry).
type tokenBody struct {
	Name           *string             `json:"name"`
	Owner          *string             `json:"owner"`
	MaxConnections *int                `json:"max_connections"`
	AutoJoin       *bool               `json:"auto_join"`
	CanCreateRooms *bool               `json:"can_create_rooms"`
	ExpiresAt      json.RawMessage     `json:"expires_at"`
	Subscriptions  *[]subscriptionBody `json:"subscriptions"`
	// Read-only fields are accepted and ignored ("POST takes any of these
	// fields"), so that a token read from the API can be sent back.
	ID        json.RawMessage `json:"id"`
	CreatedAt json.RawMessage `json:"created_at"`
}

// tokenWithSecret is a token as created or regenerated: the only answers
// that carry its secret.
type tokenWithSecret struct {
	store.Token
	Secret string `json:"secret"`
}

// patch turns the body into a store patch, checking what the store cannot
// know (the caller, the JSON shapes).
func (b tokenBody) patch(c caller) (store.TokenPatch, *wire.Error) {
	p := store.TokenPatch{
		Name:           b.Name,
		MaxConnections: b.MaxConnections,
		AutoJoin:       b.AutoJoin,
		CanCreateRooms: b.CanCreateRooms,
	}
	if e := checkOwner(b.Owner, c); e != nil {
		return p, e
	}
	if len(b.ExpiresAt) > 0 {
		exp, e := parseExpiry(b.ExpiresAt)
		if e != nil {
			return p, e
		}
		p.ExpiresAt = &exp
	}
	if b.Subscriptions != nil {
		subs := make([]store.Subscription, 0, len(*b.Subscriptions))
		for i, sb := range *b.Subscriptions {
			if sb.Room == nil {
				return p, wire.Errorf(wire.CodeBadRequest, "subscriptions[%d].room: required", i)
			}
			sub, e := sb.subscription(*sb.Room, c, fmt.Sprintf("subscriptions[%d].", i))
			if e != nil {
				return p, e
			}
			subs = append(subs, sub)
		}
		p.Subscriptions = &subs
	}
	return p, nil
}

// parseExpiry reads expires_at: null or an RFC 3339 time.
func parseExpiry(raw json.RawMessage) (*time.Time, *wire.Error) {
	if bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return &t, nil
		}
	}
	return nil, wire.Errorf(wire.CodeBadRequest, "expires_at: must be an RFC 3339 time or null")
}

// subscription applies the defaults and checks the room and formats. room is
// the bare name or "owner/room" of the caller; field prefixes messages.
func (b subscriptionBody) subscription(room string, c caller, field string) (store.Subscription, *wire.Error) {
	ref, ok := wire.ParseRoomRef(room)
	if !ok {
		return store.Subscription{}, wire.Errorf(wire.CodeBadRequest, "%sroom: must match [a-z0-9][a-z0-9._-]{0,63}", field)
	}
	if ref.Owner != "" && ref.Owner != c.acct.Username {
		return store.Subscription{}, wire.Errorf(wire.CodeForbidden, "%sroom: %s belongs to another account", field, room)
	}
	sub := store.Subscription{Room: ref.Name, Send: true, Receive: true, Formats: []string{wire.FormatText, wire.FormatBinary}}
	if b.Send != nil {
		sub.Send = *b.Send
	}
	if b.Receive != nil {
		sub.Receive = *b.Receive
	}
	if b.Formats != nil {
		var text, binary bool
		for _, f := range *b.Formats {
			switch f {
			case wire.FormatText:
				text = true
			case wire.FormatBinary:
				binary = true
			default:
				return sub, wire.Errorf(wire.CodeBadRequest, "%sformats: %q is neither \"text\" nor \"binary\"", field, f)
			}
		}
		sub.Formats = sub.Formats[:0]
		if text {
			sub.Formats = append(sub.Formats, wire.FormatText)
		}
		if binary {
			sub.Formats = append(sub.Formats, wire.FormatBinary)
		}
		if len(sub.Formats) == 0 {
			return sub, wire.Errorf(wire.CodeBadRequest, "%sformats: must name \"text\", \"binary\" or both", field)
		}
	}
	return sub, nil
}

// normalizeToken makes the token's lists encode as [] rather than null.
func normalizeToken(t store.Token) store.Token {
	t.Subscriptions = nonNil(t.Subscriptions)
	for i := range t.Subscriptions {
		t.Subscriptions[i].Formats = nonNil(t.Subscriptions[i].Formats)
	}
	return t
}

// expired reports whether the token can no longer be used.
func expired(t store.Token) bool {
	return t.ExpiresAt != nil && !t.ExpiresAt.After(time.Now())
}

// listTokens: GET /api/v1/tokens → 200 [token].
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c caller) {
	tokens, err := s.store.ListTokens(r.Context(), c.acct.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tokens = nonNil(tokens)
	for i := range tokens {
		tokens[i] = normalizeToken(tokens[i])
	}
	writeJSON(w, http.StatusOK, tokens)
}

// createToken: POST /api/v1/tokens {fields..., subscriptions} → 201 token
// with "secret".
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c caller) {
	var body tokenBody
	if !s.decode(w, r, &body, decodeOptions{allowEmpty: true}) {
		return
	}
	p, e := body.patch(c)
	if e != nil {
		writeError(w, e)
		return
	}
	t, secret, err := s.store.CreateToken(r.Context(), c.acct.ID, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("token created", "username", c.acct.Username, "token", t.ID)
	writeJSON(w, http.StatusCreated, tokenWithSecret{Token: normalizeToken(t), Secret: secret})
}

// getToken: GET /api/v1/tokens/{id} → 200 token.
func (s *Server) getToken(w http.ResponseWriter, r *http.Request, c caller) {
	t, err := s.store.Token(r.Context(), c.acct.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normalizeToken(t))
}

// patchToken: PATCH /api/v1/tokens/{id} → 200 token. Subscriptions, when
// given, replace the whole set. Live sockets follow at once; a token patched
// into the past is revoked.
func (s *Server) patchToken(w http.ResponseWriter, r *http.Request, c caller) {
	var body tokenBody
	if !s.decode(w, r, &body) {
		return
	}
	p, e := body.patch(c)
	if e != nil {
		writeError(w, e)
		return
	}
	defer s.lockEdits(c.acct.ID)()
	t, err := s.store.UpdateToken(r.Context(), c.acct.ID, r.PathValue("id"), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t = normalizeToken(t)
	s.live.TokenUpdated(t)
	if expired(t) {
		s.live.TokenRevoked(t.ID)
	}
	writeJSON(w, http.StatusOK, t)
}

// deleteToken: DELETE /api/v1/tokens/{id} → 204; its sockets close with 4001.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	defer s.lockEdits(c.acct.ID)()
	if err := s.store.DeleteToken(r.Context(), c.acct.ID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.live.TokenRevoked(id)
	s.log.Info("token deleted", "username", c.acct.Username, "token", id)
	w.WriteHeader(http.StatusNoContent)
}

// regenerateToken: POST /api/v1/tokens/{id}/regenerate → 200 token with the
// new "secret". Sockets on the old secret are closed before the answer.
func (s *Server) regenerateToken(w http.ResponseWriter, r *http.Request, c caller) {
	defer s.lockEdits(c.acct.ID)()
	t, secret, err := s.store.RegenerateToken(r.Context(), c.acct.ID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.live.TokenRevoked(t.ID)
	s.log.Info("token regenerated", "username", c.acct.Username, "token", t.ID)
	writeJSON(w, http.StatusOK, tokenWithSecret{Token: normalizeToken(t), Secret: secret})
}

// putSubscription: PUT /api/v1/tokens/{id}/subscriptions/{room}
// {send, receive, formats} (all optional) → 200 token.
func (s *Server) putSubscription(w http.ResponseWriter, r *http.Request, c caller) {
	name, ok := pathRoom(w, r, c)
	if !ok {
		return
	}
	var body subscriptionBody
	if !s.decode(w, r, &body, decodeOptions{allowEmpty: true}) {
		return
	}
	if body.Room != nil && *body.Room != name && *body.Room != r.PathValue("room") {
		writeError(w, wire.Errorf(wire.CodeBadRequest, "room: differs from the path"))
		return
	}
	sub, e := body.subscription(name, c, "")
	if e != nil {
		writeError(w, e)
		return
	}
	defer s.lockEdits(c.acct.ID)()
	t, err := s.store.PutSubscription(r.Context(), c.acct.ID, r.PathValue("id"), sub)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t = normalizeToken(t)
	s.live.TokenUpdated(t)
	writeJSON(w, http.StatusOK, t)
}

// deleteSubscription: DELETE /api/v1/tokens/{id}/subscriptions/{room} → 204.
func (s *Server) deleteSubscription(w http.ResponseWriter, r *http.Request, c caller) {
	name, ok := pathRoom(w, r, c)
	if !ok {
		return
	}
	defer s.lockEdits(c.acct.ID)()
	t, err := s.store.DeleteSubscription(r.Context(), c.acct.ID, r.PathValue("id"), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.live.TokenUpdated(normalizeToken(t))
	w.WriteHeader(http.StatusNoContent)
}
