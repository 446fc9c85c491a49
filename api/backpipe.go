package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// publicationKind maps a backpipe Content-Type to how the body is delivered.
func publicationKind(contentType string) (PublicationKind, bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, false
	}
	switch mt {
	case "application/json":
		return PublishJSON, true
	case "text/plain":
		cs := strings.ToLower(params["charset"])
		return PublishText, cs == "" || cs == "utf-8" || cs == "utf8" || cs == "us-ascii"
	case "application/octet-stream":
		return PublishBinary, true
	}
	return 0, false
}

// publish: POST /api/v1/rooms/{room}/messages, the service backpipe → 202
// {"id"}. The body is the payload; its Content-Type picks the kind.
func (s *Server) publish(w http.ResponseWriter, r *http.Request, c caller) {
	name, ok := pathRoom(w, r, c)
	if !ok {
		return
	}
	if !s.backpipe.allow(c.limitKey()) {
		writeError(w, wire.Errorf(wire.CodeRateLimited, "backpipe rate limit reached"))
		return
	}
	kind, ok := publicationKind(r.Header.Get("Content-Type"))
	if !ok {
		writeErrorStatus(w, http.StatusUnsupportedMediaType, wire.Errorf(wire.CodeBadRequest,
			"Content-Type must be application/json, text/plain (UTF-8) or application/octet-stream"))
		return
	}
	limit := s.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		writeError(w, wire.Errorf(wire.CodeTooLarge, "body larger than %d bytes", limit))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			writeError(w, wire.Errorf(wire.CodeTooLarge, "body larger than %d bytes", limit))
			return
		}
		writeError(w, wire.Errorf(wire.CodeBadRequest, "reading the body failed"))
		return
	}
	switch {
	case kind == PublishJSON && !json.Valid(body):
		writeError(w, wire.Errorf(wire.CodeBadRequest, "the body is not valid JSON"))
		return
	case kind == PublishText && !utf8.Valid(body):
		writeError(w, wire.Errorf(wire.CodeBadRequest, "the body is not valid UTF-8"))
		return
	}
	id, err := s.live.Publish(r.Context(), c.acct.Username, name, Publication{Kind: kind, Body: body, From: c.from()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
}

// roomSockets: GET /api/v1/rooms/{room}/sockets → 200 [socket]. A room that
// is neither persistent nor live is 404.
func (s *Server) roomSockets(w http.ResponseWriter, r *http.Request, c caller) {
	name, ok := pathRoom(w, r, c)
	if !ok {
		return
	}
	socks := s.live.RoomSockets(c.acct.Username, name)
	if len(socks) == 0 {
		if _, err := s.store.Room(r.Context(), c.acct.Username, name); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				writeError(w, wire.Errorf(wire.CodeNotFound, "room not found"))
				return
			}
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, nonNil(socks))
}

// kick: DELETE /api/v1/sockets/{token}/{slot} → 204; the socket closes with
// 4010.
func (s *Server) kick(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("token") + "/" + r.PathValue("slot")
	if err := s.live.Kick(c.acct.Username, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("socket kicked", "username", c.acct.Username, "socket", id)
	w.WriteHeader(http.StatusNoContent)
}

// countBackpipe counts every backpipe request by the status it got,
// refusals of its credentials (401) included.
func (s *Server) countBackpipe(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.Metrics == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.cfg.Metrics.Backpipe(sw.status) }()
		h(sw, r)
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
