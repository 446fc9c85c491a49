package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// target is the server under test, ready for load: where to connect, the
// rooms, the credentials of each client process, and what to undo.
type target struct {
	wsURL   string // ws://host:port
	httpURL string // http://host:port (Porthouse)
	apiKey  string
	rooms   []room
	tokens  []string // the token of each client process (one for all with -token); nil for none (raw target)
	pid     int      // a local server process to measure, or 0
	server  *spawned
	api     *apiClient
	// What bench made on a running server and deletes at the end.
	madeTokens []string
	madeRooms  []string
}

// setupTarget prepares the server cfg names: starts it (-spawn), creates
// rooms and tokens (-api-key or -spawn), or takes the token or URL given.
func setupTarget(ctx context.Context, cfg *Config) (t *target, err error) {
	t = &target{pid: cfg.PID}
	defer func() {
		if err != nil {
			t.cleanup()
			t = nil
		}
	}()
	switch {
	case cfg.Spawn == SpawnRaw:
		err = t.spawnRef(ctx, cfg)
	case cfg.Target == TargetRaw:
		err = t.rawURL(cfg)
	case cfg.Spawn != "":
		err = t.spawnPorthouse(ctx, cfg)
	case cfg.APIKey != "":
		t.wsURL, t.httpURL, err = splitURL(cfg.URL)
		if err == nil {
			err = t.makeRooms(ctx, cfg, newAPIClient(t.httpURL, cfg.APIKey))
		}
	default:
		err = t.useToken(cfg)
	}
	return t, err
}

// splitURL turns a Porthouse URL into its ws:// and http:// bases.
func splitURL(raw string) (wsURL, httpURL string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", usagef("-url: %v", err)
	}
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	return u.Scheme + "://" + u.Host, scheme + "://" + u.Host, nil
}

// roomNames are the room names of a Porthouse run.
func roomNames(cfg *Config) []string {
	if cfg.Rooms == 1 && cfg.Token != "" {
		if cfg.Room != "" {
			return []string{cfg.Room}
		}
		return []string{"lobby"}
	}
	names := make([]string, cfg.Rooms)
	for i := range names {
		names[i] = "room-" + strconv.Itoa(i)
	}
	return names
}

// porthousePath is where a socket of room dials.
func porthousePath(mode, name string) string {
	if mode == ModeEnvelope {
		return "/ws"
	}
	return "/ws/rooms/" + url.PathEscape(name)
}

func (t *target) useToken(cfg *Config) error {
	var err error
	t.wsURL, t.httpURL, err = splitURL(cfg.URL)
	if err != nil {
		return err
	}
	for _, name := range roomNames(cfg) {
		t.rooms = append(t.rooms, room{Name: name, Path: porthousePath(cfg.Mode, name), Echo: cfg.Echo})
	}
	t.tokens = []string{cfg.Token}
	return nil
}

// rawURL: every socket dials the URL given, "{room}" replaced by the room
// name when there are several rooms.
func (t *target) rawURL(cfg *Config) error {
	u, err := url.Parse(strings.ReplaceAll(cfg.URL, "{room}", "ROOM"))
	if err != nil {
		return usagef("-url: %v", err)
	}
	t.wsURL = u.Scheme + "://" + u.Host
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	for i := range cfg.Rooms {
		name := "room-" + strconv.Itoa(i)
		t.rooms = append(t.rooms, room{Name: name, Path: strings.ReplaceAll(path, "ROOM", name)})
	}
	return nil
}

// spawnRef starts the reference broadcast server: one room per path.
func (t *target) spawnRef(ctx context.Context, cfg *Config) error {
	args := append([]string{"bench", "-serve-raw", "127.0.0.1:0"}, cfg.ServerArgs...)
	s, err := spawnServer(ctx, cfg.Executable, args, serverEnv(), refReadyPrefix, "", cfg.ServerLog)
	if err != nil {
		return err
	}
	t.server, t.pid = s, s.pid()
	u := strings.TrimSuffix(s.addr, "/")
	if !strings.HasPrefix(u, "ws://") {
		u = "ws://" + u
	}
	cfg.URL = u + "/{room}"
	return t.rawURL(cfg)
}

// spawnPorthouse starts `porthouse run` or `supervise` on a free loopback
// port with a fresh data directory, logs in as the bootstrap admin and
// makes an API key.
func (t *target) spawnPorthouse(ctx context.Context, cfg *Config) error {
	dir, err := os.MkdirTemp("", "porthouse-bench-")
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	password := randomHex(16)
	args := []string{cfg.Spawn, "-listen", "127.0.0.1:0", "-data", dir, "-log-level", "warn", "-backpipe-rate", "0"}
	if cfg.Spawn == SpawnSupervise {
		args = append(args, "-workers", strconv.Itoa(cfg.Workers))
	}
	args = append(args, cfg.ServerArgs...)
	s, err := spawnServer(ctx, cfg.Executable, args, serverEnv("PORTHOUSE_ADMIN_PASSWORD="+password), porthouseReadyPrefix, dir, cfg.ServerLog)
	if err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	t.server, t.pid = s, s.pid()
	t.wsURL, t.httpURL = "ws://"+s.addr, "http://"+s.addr
	cfg.URL = t.wsURL
	if err := t.waitReady(ctx); err != nil {
		return err
	}
	api := newAPIClient(t.httpURL, "")
	if _, err := api.loginForKey(ctx, "admin", password); err != nil {
		return fmt.Errorf("spawned server: %w", err)
	}
	return t.makeRooms(ctx, cfg, api)
}

// waitReady polls /readyz until the spawned server is ready.
func (t *target) waitReady(ctx context.Context) error {
	api := newAPIClient(t.httpURL, "")
	deadline := time.Now().Add(spawnStartTimeout)
	for {
		err := api.do(ctx, "GET", "/readyz", nil, nil, 200)
		if err == nil {
			return nil
		}
		if !t.server.alive() {
			return fmt.Errorf("spawned server exited: %s", t.server.logs.lastLine())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("spawned server not ready within %v: %v", spawnStartTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// makeRooms creates the rooms, echo on, so that publishers see their own
// messages come back.
func (t *target) makeRooms(ctx context.Context, cfg *Config, api *apiClient) error {
	t.api, t.apiKey = api, api.key
	names := roomNames(cfg)
	t.rooms = make([]room, len(names))
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(8, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, created, err := api.ensureRoom(ctx, names[i])
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("create room %s: %w", names[i], err)
				}
				if created {
					t.madeRooms = append(t.madeRooms, names[i])
				}
				mu.Unlock()
				t.rooms[i] = room{Name: names[i], Path: porthousePath(cfg.Mode, names[i]), Echo: err == nil && r.Echo}
			}
		}()
	}
	for i := range names {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return nil
}

// makeTokens gives each share its token: one made for it, with enough
// max_connections for its sockets, when bench has an API key; else the
// one token given.
func (t *target) makeTokens(ctx context.Context, shares []share) error {
	if t.api == nil {
		for k := range shares {
			if len(t.tokens) > 0 {
				shares[k].Token = t.tokens[0]
			}
		}
		return nil
	}
	names := make([]string, len(t.rooms))
	for i, rm := range t.rooms {
		names[i] = rm.Name
	}
	for k := range shares {
		tok, err := t.api.createToken(ctx, fmt.Sprintf("porthouse bench %d", k), names, min(shares[k].sockets()+16, 100_000))
		if err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		t.madeTokens = append(t.madeTokens, tok.ID)
		t.tokens = append(t.tokens, tok.Secret)
		shares[k].Token = tok.Secret
	}
	return nil
}

// cleanup deletes what bench made and stops what it started; it returns
// the first problem.
func (t *target) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var first error
	note := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if t.server != nil {
		note(t.server.stop())
		return first
	}
	if t.api != nil {
		for _, id := range t.madeTokens {
			note(t.api.deleteToken(ctx, id))
		}
		for _, name := range t.madeRooms {
			note(t.api.deleteRoom(ctx, name))
		}
	}
	return first
}
