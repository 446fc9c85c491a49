package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/porthouse/porthouse/metrics"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// Defaults for zero Config fields.
const (
	DefaultSessionTTL   = 7 * 24 * time.Hour
	DefaultLoginRate    = 10 // attempts per minute per username
	DefaultMaxBodyBytes = 65536
	// maxAPIBody bounds every JSON request body except the backpipe's.
	maxAPIBody = 1 << 20
	// loginIPFactor: a client IP may try this many times the per-username rate
	// (several people can share one address).
	loginIPFactor = 5
)

// Config configures a Server. Zero fields take the defaults noted.
type Config struct {
	Store *store.Store
	// Live is the running server; nil means none (changes reach only the
	// store, the backpipe answers not_found).
	Live Live
	// Logger; nil discards.
	Logger hclog.Logger
	// OpenSignup lets anyone create an account with POST /api/v1/accounts.
	OpenSignup bool
	// SessionTTL is the life of a login session (default 7 days).
	SessionTTL time.Duration
	// BackpipeRate is backpipe messages per second per API key (or per
	// session account); 0 or less means unlimited. BackpipeBurst defaults to
	// the rate rounded up (at least 1).
	BackpipeRate  float64
	BackpipeBurst int
	// LoginRate is login attempts per minute per username (default 10; less
	// than 0 means unlimited). Each client IP gets five times that.
	LoginRate float64
	// MaxBodyBytes bounds a backpipe body (default 65536; the server passes
	// its max_message_bytes).
	MaxBodyBytes int64
	// Secure marks the session cookie Secure (the server listens with TLS).
	Secure bool
	// Metrics counts backpipe requests; nil counts nothing.
	Metrics *metrics.Metrics
}

// Server is the JSON API. Create it with New; serve Handler; Close it.
type Server struct {
	cfg        Config
	store      *store.Store
	live       Live
	log        hclog.Logger
	openSignup atomic.Bool
	cop        *http.CrossOriginProtection
	mux        *http.ServeMux

	loginUser *limiters
	loginIP   *limiters
	backpipe  *limiters

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	// edits orders an account's changes that reach live sockets: the store
	// write and the Live call it makes are one step under the account's
	// stripe, so two concurrent edits of one token reach its sockets in the
	// order the store took them (see lockEdits).
	edits [editStripes]sync.Mutex
}

// editStripes is how many locks the accounts' edits are spread over.
const editStripes = 64

// lockEdits holds the account's edit lock until the returned func is
// called. A handler takes it before its store write and releases it after
// the Live calls that follow, so the live state never moves back: without
// it, edit A could commit first and be applied to sockets last, leaving them
// with a room the store no longer grants. Live calls do not block on slow
// sockets, so an edit holds the lock for a store write and one round of
// calls to the workers.
func (s *Server) lockEdits(acct int64) func() {
	mu := &s.edits[uint64(acct)%editStripes]
	mu.Lock()
	return mu.Unlock
}

// New builds a Server and starts its limiter janitor.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Live == nil {
		cfg.Live = nopLive{}
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.LoginRate == 0 {
		cfg.LoginRate = DefaultLoginRate
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Server{
		cfg:   cfg,
		store: cfg.Store,
		live:  cfg.Live,
		log:   cfg.Logger,
		cop:   http.NewCrossOriginProtection(),
		mux:   http.NewServeMux(),
	}
	s.openSignup.Store(cfg.OpenSignup)
	if cfg.LoginRate > 0 {
		perSec := rate.Limit(cfg.LoginRate / 60)
		burst := burstFor(cfg.LoginRate, 0)
		s.loginUser = newLimiters(perSec, burst)
		s.loginIP = newLimiters(perSec*loginIPFactor, burst*loginIPFactor)
	} else {
		s.loginUser = newLimiters(rate.Inf, 0)
		s.loginIP = newLimiters(rate.Inf, 0)
	}
	if cfg.BackpipeRate > 0 {
		s.backpipe = newLimiters(rate.Limit(cfg.BackpipeRate), burstFor(cfg.BackpipeRate, cfg.BackpipeBurst))
	} else {
		s.backpipe = newLimiters(rate.Inf, 0)
	}
	s.routes()

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.janitor(ctx)
	return s
}

// Handler returns the handler for /api/v1/... . Mount it at "/api/v1/".
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Close stops the limiter janitor and waits for it. Safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
}

// SetOpenSignup turns open sign-up on or off (config reload, admin toggle).
func (s *Server) SetOpenSignup(open bool) { s.openSignup.Store(open) }

// OpenSignup reports whether open sign-up is on.
func (s *Server) OpenSignup() bool { return s.openSignup.Load() }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("POST /api/v1/accounts", s.signUp)
	m.HandleFunc("GET /api/v1/accounts", s.authed(s.listAccounts))
	m.HandleFunc("POST /api/v1/login", s.login)
	m.HandleFunc("POST /api/v1/logout", s.logout)
	m.HandleFunc("GET /api/v1/me", s.authed(s.me))
	m.HandleFunc("DELETE /api/v1/me", s.authed(s.deleteMe))
	m.HandleFunc("PUT /api/v1/me/password", s.authed(s.changePassword))
	m.HandleFunc("GET /api/v1/settings/open-signup", s.authed(s.getOpenSignup))
	m.HandleFunc("PUT /api/v1/settings/open-signup", s.authed(s.putOpenSignup))

	m.HandleFunc("GET /api/v1/api-keys", s.authed(s.listKeys))
	m.HandleFunc("POST /api/v1/api-keys", s.authed(s.createKey))
	m.HandleFunc("DELETE /api/v1/api-keys/{id}", s.authed(s.deleteKey))

	m.HandleFunc("GET /api/v1/rooms", s.authed(s.listRooms))
	m.HandleFunc("POST /api/v1/rooms", s.authed(s.createRoom))
	m.HandleFunc("GET /api/v1/rooms/{room}", s.authed(s.getRoom))
	m.HandleFunc("PATCH /api/v1/rooms/{room}", s.authed(s.patchRoom))
	m.HandleFunc("DELETE /api/v1/rooms/{room}", s.authed(s.deleteRoom))
	m.HandleFunc("POST /api/v1/rooms/{room}/messages", s.countBackpipe(s.authed(s.publish)))
	m.HandleFunc("GET /api/v1/rooms/{room}/sockets", s.authed(s.roomSockets))
	m.HandleFunc("DELETE /api/v1/sockets/{token}/{slot}", s.authed(s.kick))

	m.HandleFunc("GET /api/v1/tokens", s.authed(s.listTokens))
	m.HandleFunc("POST /api/v1/tokens", s.authed(s.createToken))
	m.HandleFunc("GET /api/v1/tokens/{id}", s.authed(s.getToken))
	m.HandleFunc("PATCH /api/v1/tokens/{id}", s.authed(s.patchToken))
	m.HandleFunc("DELETE /api/v1/tokens/{id}", s.authed(s.deleteToken))
	m.HandleFunc("POST /api/v1/tokens/{id}/regenerate", s.authed(s.regenerateToken))
	m.HandleFunc("PUT /api/v1/tokens/{id}/subscriptions/{room}", s.authed(s.putSubscription))
	m.HandleFunc("DELETE /api/v1/tokens/{id}/subscriptions/{room}", s.authed(s.deleteSubscription))
}

// serveHTTP is the API's front door: headers every answer carries, the
// cross-origin check, then the routes (or a JSON 404/405).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if !hasBearer(r) {
		// Cookie-bound (or anonymous: login, sign-up) state changes must come
		// from our own origin. API-key requests carry no ambient credential.
		if err := s.cop.Check(r); err != nil {
			writeError(w, wire.Errorf(wire.CodeForbidden, "cross-origin request refused"))
			return
		}
	}
	if handler, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched(w, r, handler)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// janitor drops idle rate limiters once a minute until ctx ends.
func (s *Server) janitor(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.loginUser.prune(now)
			s.loginIP.prune(now)
			s.backpipe.prune(now)
		}
	}
}

// decodeOptions tunes decode.
type decodeOptions struct {
	allowEmpty bool // an empty body leaves dst as it is
}

// decode reads one JSON object from a body of at most 1 MiB into dst,
// refusing unknown fields and trailing data. On failure it has answered the
// request and returns false.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, dst any, opts ...decodeOptions) bool {
	var o decodeOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if r.ContentLength > maxAPIBody {
		writeError(w, wire.Errorf(wire.CodeTooLarge, "body larger than %d bytes", maxAPIBody))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if err = dec.Decode(new(json.RawMessage)); err == io.EOF {
			return true
		} else if err == nil {
			err = errors.New("trailing data after the JSON object")
		}
	} else if err == io.EOF && o.allowEmpty {
		return true
	}
	writeError(w, decodeError(err))
	return false
}

// decodeError turns a json/MaxBytesReader error into a client error.
func decodeError(err error) *wire.Error {
	var maxErr *http.MaxBytesError
	var synErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return wire.Errorf(wire.CodeTooLarge, "body larger than %d bytes", maxErr.Limit)
	case err == io.EOF:
		return wire.Errorf(wire.CodeBadRequest, "a JSON body is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return wire.Errorf(wire.CodeBadRequest, "invalid JSON: unexpected end of body")
	case errors.As(err, &synErr):
		return wire.Errorf(wire.CodeBadRequest, "invalid JSON at byte %d: %s", synErr.Offset, synErr.Error())
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return wire.Errorf(wire.CodeBadRequest, "the body must be a JSON object")
		}
		return wire.Errorf(wire.CodeBadRequest, "%s: must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return wire.Errorf(wire.CodeBadRequest, "%s", strings.TrimPrefix(err.Error(), "json: "))
	default:
		return wire.Errorf(wire.CodeBadRequest, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(kind string) string {
	switch {
	case kind == "bool":
		return "a boolean"
	case kind == "string":
		return "a string"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "slice" || kind == "array":
		return "an array"
	case kind == "struct" || kind == "map":
		return "an object"
	default:
		return fmt.Sprintf("a %s", kind)
	}
}

// nonNil turns a nil slice into an empty one so it encodes as [].
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
