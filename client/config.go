package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Config is a connection described in a file (see ParseConfig).
type Config struct {
	URL      string // base or full URL, as for Dial
	Token    string
	Room     string // joined after connecting, unless already joined
	Password string // the room's password
	Auth     string // "header" (default), "query" or "message"
}

// Setting is one `key value` line of a configuration or argument file.
type Setting struct {
	Key   string
	Value string
	Line  int
}

// ParseSettings reads lines of one setting each, in any of these forms:
//
//	key = value      key=value      -key value      -key=value      -flag
//
// (two dashes work too). Blank lines and lines starting with # are
// skipped; a value may be double-quoted (Go syntax) to keep spaces or a
// leading #. A -flag alone has the value "".
func ParseSettings(r io.Reader) ([]Setting, error) {
	var out []Setting
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSetting(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		s.Line = n
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSetting(line string) (Setting, error) {
	var key, value string
	if rest, ok := strings.CutPrefix(line, "-"); ok {
		rest = strings.TrimPrefix(rest, "-")
		i := strings.IndexAny(rest, "= \t")
		if i < 0 {
			key = rest
		} else {
			key, value = rest[:i], strings.TrimSpace(rest[i+1:])
		}
	} else {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Setting{}, fmt.Errorf("want `key = value` or `-flag value`, got %q", line)
		}
		key, value = strings.TrimSpace(k), strings.TrimSpace(v)
	}
	if key == "" || strings.ContainsAny(key, " \t=") {
		return Setting{}, fmt.Errorf("bad key in %q", line)
	}
	if strings.HasPrefix(value, `"`) {
		u, err := strconv.Unquote(value)
		if err != nil {
			return Setting{}, fmt.Errorf("bad quoted value for %s", key)
		}
		value = u
	}
	return Setting{Key: key, Value: value}, nil
}

// ParseConfig reads a Config from settings lines (ParseSettings) with the
// keys url, token, room, password and auth. Unknown keys are an error.
func ParseConfig(r io.Reader) (Config, error) {
	settings, err := ParseSettings(r)
	if err != nil {
		return Config{}, err
	}
	var c Config
	for _, s := range settings {
		switch s.Key {
		case "url":
			c.URL = s.Value
		case "token":
			c.Token = s.Value
		case "room":
			c.Room = s.Value
		case "password":
			c.Password = s.Value
		case "auth":
			c.Auth = s.Value
		default:
			return Config{}, fmt.Errorf("line %d: unknown key %q (want url, token, room, password or auth)", s.Line, s.Key)
		}
	}
	return c, nil
}

// LoadConfig reads a Config file; a leading @ in path is dropped.
func LoadConfig(path string) (Config, error) {
	path = strings.TrimPrefix(path, "@")
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	c, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// DialConfig connects as described by the file "@path" (or "path"): Dial
// with its url, token and auth mode, then Join its room when it names one
// the welcome does not list. opts come after the file's auth mode, so they
// may override it.
func DialConfig(ctx context.Context, path string, opts ...Option) (*Conn, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return cfg.Dial(ctx, opts...)
}

// Dial connects as the Config says (see DialConfig).
func (cfg Config) Dial(ctx context.Context, opts ...Option) (*Conn, error) {
	mode, err := ParseAuthMode(cfg.Auth)
	if err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		return nil, fmt.Errorf("config has no url")
	}
	c, err := Dial(ctx, cfg.URL, cfg.Token, append([]Option{WithAuth(mode)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if cfg.Room != "" && !c.InRoom(cfg.Room) {
		if _, err := c.Join(ctx, cfg.Room, cfg.Password); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("join %s: %w", cfg.Room, err)
		}
	}
	return c, nil
}

// InRoom reports whether room was joined with Join or Create, or is listed
// in the welcome of the current connection.
func (c *Conn) InRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.rooms[room]; ok {
		return true
	}
	for _, g := range c.welcome.Rooms {
		if g.Room == room {
			return true
		}
	}
	return false
}
