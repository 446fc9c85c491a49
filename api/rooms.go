package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// roomBody is POST and PATCH /api/v1/rooms: the rules, plus the name on POST.
// Owner is tolerated when it names the caller (a room read back and sent
// again).
type roomBody struct {
	Name  *string `json:"name"`
	Owner *string `json:"owner"`
	store.RoomPatch
	// Read-only fields are accepted and ignored, so that a room read from
	// the API can be sent back as it is.
	HasPassword json.RawMessage `json:"has_password"`
	CreatedAt   json.RawMessage `json:"created_at"`
}

var errBadRoomName = wire.Errorf(wire.CodeBadRequest, "name: must match [a-z0-9][a-z0-9._-]{0,63}")

// checkOwner refuses an "owner" field that names someone else.
func checkOwner(owner *string, c caller) *wire.Error {
	if owner != nil && *owner != c.acct.Username {
		return wire.Errorf(wire.CodeForbidden, "owner: you can only act for your own account")
	}
	return nil
}

// pathRoom is the {room} path segment as a room of the caller: a bare name,
// or "owner/room" naming the caller. Another owner's room is 403; a name that
// cannot exist is 404. On failure it has answered.
func pathRoom(w http.ResponseWriter, r *http.Request, c caller) (string, bool) {
	ref, ok := wire.ParseRoomRef(r.PathValue("room"))
	if !ok {
		writeError(w, wire.Errorf(wire.CodeNotFound, "room not found"))
		return "", false
	}
	if ref.Owner != "" && ref.Owner != c.acct.Username {
		writeError(w, wire.Errorf(wire.CodeForbidden, "room %s belongs to another account", wire.Key(ref.Owner, ref.Name)))
		return "", false
	}
	return ref.Name, true
}

// listRooms: GET /api/v1/rooms → 200 [room].
func (s *Server) listRooms(w http.ResponseWriter, r *http.Request, c caller) {
	rooms, err := s.store.ListRooms(r.Context(), c.acct.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(rooms))
}

// createRoom: POST /api/v1/rooms {name, rules..., password} → 201 room.
func (s *Server) createRoom(w http.ResponseWriter, r *http.Request, c caller) {
	var body roomBody
	if !s.decode(w, r, &body) {
		return
	}
	if e := checkOwner(body.Owner, c); e != nil {
		writeError(w, e)
		return
	}
	if body.Name == nil || *body.Name == "" {
		writeError(w, wire.Errorf(wire.CodeBadRequest, "name: required"))
		return
	}
	if !wire.ValidName(*body.Name) {
		writeError(w, errBadRoomName)
		return
	}
	if s.live.TransientRoom(c.acct.Username, *body.Name) {
		writeError(w, wire.Errorf(wire.CodeConflict, "name: a transient room %q is live", *body.Name))
		return
	}
	room, err := s.store.CreateRoom(r.Context(), c.acct.ID, *body.Name, body.RoomPatch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("room created", "username", c.acct.Username, "room", room.Name)
	writeJSON(w, http.StatusCreated, room)
}

// getRoom: GET /api/v1/rooms/{room} → 200 room.
func (s *Server) getRoom(w http.ResponseWriter, r *http.Request, c caller) {
	name, ok := pathRoom(w, r, c)
	if !ok {
		return
	}
	room, err := s.store.Room(r.Context(), c.acct.Username, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, room)
}

// patchRoom: PATCH /api/v1/rooms/{room} {rules...} → 200 room; live members
// get the new rules.
func (s *Server) patchRoom(w http.ResponseWriter, r *http.Request, c caller) {
	name, ok := pathRoom(w, r, c)
	if !ok {
		return
	}
	var body roomBody
	if !s.decode(w, r, &body) {
		return
	}
	if e := checkOwner(body.Owner, c); e != nil {
		writeError(w, e)
		return
	}
	if body.Name != nil && *body.Name != name {
		writeError(w, wire.Errorf(wire.CodeBadRequest, "name: a room cannot be renamed"))
		return
	}
	defer s.lockEdits(c.acct.ID)()
	room, err := s.store.UpdateRoom(r.Context(), c.acct.ID, name, body.RoomPatch)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.live.RoomUpdated(room)
	writeJSON(w, http.StatusOK, room)
}

// deleteRoom: DELETE /api/v1/rooms/{room} → 204. The store drops the room's
// subscriptions with it; the tokens that had one are pushed to Live with
// their new subscription sets, after the room itself is removed.
func (s *Server) deleteRoom(w http.ResponseWriter, r *http.Request, c caller) {
	name, ok := pathRoom(w, r, c)
	if !ok {
		return
	}
	ctx := r.Context()
	defer s.lockEdits(c.acct.ID)()
	tokens, err := s.store.ListTokens(ctx, c.acct.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.DeleteRoom(ctx, c.acct.ID, name); err != nil {
		s.fail(w, r, err)
		return
	}
	s.live.RoomDeleted(c.acct.Username, name)
	for _, t := range tokens {
		if !slices.ContainsFunc(t.Subscriptions, func(sub store.Subscription) bool { return sub.Room == name }) {
			continue
		}
		fresh, err := s.store.Token(ctx, c.acct.ID, t.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile; its own DELETE told Live
		}
		if err != nil {
			// The room is gone already; answer success but say what failed.
			s.log.Error("reload token after room delete", "token", t.ID, "room", name, "error", err)
			continue
		}
		s.live.TokenUpdated(normalizeToken(fresh))
	}
	s.log.Info("room deleted", "username", c.acct.Username, "room", name)
	w.WriteHeader(http.StatusNoContent)
}
