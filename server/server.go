package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/porthouse/porthouse/api"
	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/puddle"
	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/store"
)

// Server is one Porthouse process serving everything.
type Server struct {
	cfg    config.Config
	log    hclog.Logger
	store  *store.Store
	seq    *sequence.Local
	router *router.Router
	puddle *puddle.Puddle
	api    *api.Server
	boot   store.Bootstrap

	ln       net.Listener
	ready    atomic.Bool
	serveErr chan error
	once     sync.Once
}

// New opens the store in cfg.DataDir, bootstraps a first start and builds
// the server. It does not listen yet.
func New(cfg config.Config, log hclog.Logger) (*Server, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "porthouse.db"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	boot, err := st.Bootstrap(ctx, cfg.AdminPassword.Reveal())
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	s := &Server{cfg: cfg, log: log, store: st, seq: sequence.NewLocal(), router: router.New(0), boot: boot, serveErr: make(chan error, 1)}
	s.puddle = puddle.New(PuddleOptions(cfg, 0), puddle.Deps{
		Log:    log.Named("puddle"),
		Dir:    st,
		Seq:    s.seq,
		Router: s.router,
		HTTP: &lazyHandler{make: func() http.Handler {
			return HTTPHandler(HTTPDeps{API: s.api, Store: st, Live: s.puddle, Log: log, Ready: s.readiness, Metrics: s.puddle.Metrics().Registry})
		}},
	})
	apiCfg := APIConfig(cfg, st, s.puddle, log)
	apiCfg.Metrics = s.puddle.Metrics()
	s.api = api.New(apiCfg)
	ApplyStoredSettings(ctx, st, s.api)
	return s, nil
}

// APIConfig maps the config to the API's settings.
func APIConfig(cfg config.Config, st *store.Store, live api.Live, log hclog.Logger) api.Config {
	loginRate := cfg.LoginRate
	if loginRate == 0 {
		loginRate = -1 // the config's 0 means off; the API's means default
	}
	return api.Config{
		Store:         st,
		Live:          live,
		Logger:        log.Named("api"),
		OpenSignup:    cfg.OpenSignup,
		SessionTTL:    cfg.SessionTTL.Duration(),
		BackpipeRate:  cfg.BackpipeRate,
		BackpipeBurst: cfg.BackpipeBurst,
		LoginRate:     loginRate,
		MaxBodyBytes:  int64(cfg.MaxMessageBytes),
	}
}

// ApplyStoredSettings applies what the admin changed at run time and the
// store kept: the open sign-up switch wins over the config's open_signup.
func ApplyStoredSettings(ctx context.Context, st *store.Store, a *api.Server) {
	if v, ok, err := st.Setting(ctx, api.SettingOpenSignup); err == nil && ok {
		a.SetOpenSignup(v == "true")
	}
}

// PuddleOptions maps the config to the socket-path options.
func PuddleOptions(cfg config.Config, worker int) puddle.Options {
	return puddle.Options{
		Worker:           worker,
		MaxMessageBytes:  cfg.MaxMessageBytes,
		MaxQueueBytes:    cfg.MaxQueueBytes,
		AuthTimeout:      cfg.AuthTimeout.Duration(),
		HandshakeTimeout: cfg.HandshakeTimeout.Duration(),
		PingInterval:     cfg.PingInterval.Duration(),
		PongTimeout:      cfg.PongTimeout.Duration(),
		WriteTimeout:     cfg.WriteTimeout.Duration(),
		RateLimit:        cfg.RateLimit,
		RateBurst:        cfg.EffectiveRateBurst(),
		AllowedOrigins:   cfg.AllowedOrigins,
		MaxSockets:       cfg.MaxConnectionsPerProcess,
	}
}

// Bootstrap returns what a first start created (Created false otherwise).
func (s *Server) Bootstrap() store.Bootstrap { return s.boot }

// Store returns the server's store.
func (s *Server) Store() *store.Store { return s.store }

// Puddle returns the server's puddle.
func (s *Server) Puddle() *puddle.Puddle { return s.puddle }

// Listen opens the configured address.
func (s *Server) Listen() error {
	// No TCP keep-alive: sockets prove they are alive with WebSocket pings
	// (ping_interval, pong_timeout), and the four setsockopt calls it
	// takes are a tenth of a handshake's cost.
	lc := net.ListenConfig{KeepAlive: -1}
	lc.SetMultipathTCP(false) // see supervisor/listeners.go
	ln, err := lc.Listen(context.Background(), "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the listening address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Start serves in the background on the listener opened by Listen.
func (s *Server) Start() {
	s.ready.Store(true)
	go func() {
		err := s.puddle.Serve(s.ln)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.serveErr <- err
		}
		close(s.serveErr)
	}()
}

// Err is closed when serving stops; it yields the error that stopped it.
func (s *Server) Err() <-chan error { return s.serveErr }

// Shutdown stops the server within ctx: no new connections, sockets closed
// with 1001, store closed.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.ready.Store(false)
		err = s.puddle.Shutdown(ctx)
		s.api.Close()
		if cerr := s.store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	})
	return err
}

// readiness is ready while serving.
func (s *Server) readiness() (bool, map[string]any) {
	return s.ready.Load(), map[string]any{"sockets": s.puddle.Count()}
}
