package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// errInternal is the only thing a client learns about an unexpected error.
var errInternal = wire.Errorf(wire.CodeInternal, "internal error")

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with a coded error at the status its code pairs with.
func writeError(w http.ResponseWriter, e *wire.Error) {
	writeErrorStatus(w, e.Code.HTTPStatus(), e)
}

// writeErrorStatus answers with a coded error at an explicit status (405, 415).
func writeErrorStatus(w http.ResponseWriter, status int, e *wire.Error) {
	writeJSON(w, status, wire.ErrorBody{Error: *e})
}

// fail answers with err mapped to a PROTOCOL.md code: a *wire.Error as is,
// store sentinels to their codes with the store's (client-safe) text, and
// anything else as `internal` with a generic message. Unexpected errors are
// logged; the log carries the method and path, never a body or a header.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var we *wire.Error
	var code wire.Code
	switch {
	case errors.As(err, &we):
		if we.Code == wire.CodeInternal {
			s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
		writeError(w, we)
		return
	case errors.Is(err, store.ErrNotFound):
		code = wire.CodeNotFound
	case errors.Is(err, store.ErrConflict):
		code = wire.CodeConflict
	case errors.Is(err, store.ErrInvalid):
		code = wire.CodeBadRequest
	case errors.Is(err, store.ErrUnauthorized):
		code = wire.CodeUnauthorized
	case errors.Is(err, store.ErrForbidden):
		code = wire.CodeForbidden
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, errInternal)
		return
	}
	writeError(w, &wire.Error{Code: code, Message: err.Error()})
}

// captureWriter records what ServeMux's own 404/405/redirect handlers write,
// so that the errors can be rewritten as JSON.
type captureWriter struct {
	header http.Header
	status int
	body   []byte
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body = append(c.body, p...)
	return len(p), nil
}

// unmatched answers a request no route took: ServeMux decides between 404
// and 405 (and path-cleaning redirects); the answer becomes JSON.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &captureWriter{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		writeError(w, wire.Errorf(wire.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	case http.StatusMethodNotAllowed:
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeErrorStatus(w, http.StatusMethodNotAllowed,
			wire.Errorf(wire.CodeBadRequest, "method %s not allowed on %s", r.Method, r.URL.Path))
	default:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body)
	}
}
