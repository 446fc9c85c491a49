package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// env returns a getenv over a fixed map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes content to name in a fresh temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	cfg, err := Load(nil, env(nil))
	if err != nil {
		t.Fatalf("Load(nil) = %v", err)
	}
	want := Default()
	if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", want) {
		t.Fatalf("Load(nil) = %+v, want defaults %+v", cfg, want)
	}
	if cfg.Listen != "127.0.0.1:8700" || cfg.MaxQueueBytes != 1<<20 || cfg.SessionTTL.Duration() != 720*time.Hour {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "porthouse.toml", `
listen = "127.0.0.1:1001"
data_dir = "/file/data"
max_message_bytes = 1000
auth_timeout = "1s"
log_level = "debug"
allowed_origins = ["https://file.example"]
`)
	fullEnv := map[string]string{
		"PORTHOUSE_CONFIG":            file,
		"PORTHOUSE_LISTEN":            "127.0.0.1:2002",
		"PORTHOUSE_DATA":              "/env/data",
		"PORTHOUSE_MAX_MESSAGE_BYTES": "2000",
		"PORTHOUSE_OPEN_SIGNUP":       "true",
	}
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{
			name: "file beats default",
			args: []string{"-config", file},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:1001" || c.DataDir != "/file/data" || c.MaxMessageBytes != 1000 ||
					c.AuthTimeout.Duration() != time.Second || c.LogLevel != "debug" ||
					!slices.Equal(c.AllowedOrigins, []string{"https://file.example"}) {
					t.Errorf("file not applied: %+v", c)
				}
				if c.PingInterval != Default().PingInterval || c.ConfigFile != file {
					t.Errorf("default or config_file lost: %+v", c)
				}
			},
		},
		{
			name: "env beats file",
			env:  fullEnv,
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:2002" || c.DataDir != "/env/data" || c.MaxMessageBytes != 2000 || !c.OpenSignup {
					t.Errorf("env not applied: %+v", c)
				}
				if c.LogLevel != "debug" || c.AuthTimeout.Duration() != time.Second {
					t.Errorf("file keys without env lost: %+v", c)
				}
			},
		},
		{
			name: "flag beats env",
			args: []string{"-listen", "127.0.0.1:3003", "-max-message-bytes=3000", "-open-signup=false",
				"-allowed-origins", "https://a.example, http://b.example:8080", "-ping-interval", "1m"},
			env: fullEnv,
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:3003" || c.MaxMessageBytes != 3000 || c.OpenSignup {
					t.Errorf("flags not applied: %+v", c)
				}
				if !slices.Equal(c.AllowedOrigins, []string{"https://a.example", "http://b.example:8080"}) {
					t.Errorf("allowed_origins = %q", c.AllowedOrigins)
				}
				if c.PingInterval.Duration() != time.Minute {
					t.Errorf("ping_interval = %s", c.PingInterval)
				}
				if c.DataDir != "/env/data" || c.LogLevel != "debug" {
					t.Errorf("env or file lost under flags: %+v", c)
				}
			},
		},
		{
			name: "config flag beats config env",
			args: []string{"-config", writeFile(t, "other.toml", `listen = "127.0.0.1:4004"`)},
			env:  map[string]string{"PORTHOUSE_CONFIG": file},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:4004" || c.DataDir != Default().DataDir {
					t.Errorf("wrong file loaded: %+v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestExpandArgFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	flags := write("flags", `
# server flags
-listen 127.0.0.1:9000

  -data=/srv/porthouse  
-open-signup
	# indented comment
-room   my room
-open-signup false
--log-level	debug
`)
	nested := write("nested", "-workers 2\n@"+flags+"\n")
	self := write("self", "@"+filepath.Join(dir, "self")+"\n")

	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "no files", args: []string{"-a", "b"}, want: []string{"-a", "b"}},
		{
			name: "comments and forms",
			args: []string{"-x", "@" + flags, "tail"},
			want: []string{"-x", "-listen=127.0.0.1:9000", "-data=/srv/porthouse", "-open-signup",
				"-room=my room", "-open-signup=false", "--log-level=debug", "tail"},
		},
		{
			name: "nested",
			args: []string{"@" + nested},
			want: []string{"-workers=2", "-listen=127.0.0.1:9000", "-data=/srv/porthouse", "-open-signup",
				"-room=my room", "-open-signup=false", "--log-level=debug"},
		},
		{name: "after --", args: []string{"--", "@" + flags}, want: []string{"--", "@" + flags}},
		{name: "lone @", args: []string{"@"}, want: []string{"@"}},
		{name: "self include", args: []string{"@" + self}, wantErr: "includes itself"},
		{name: "missing", args: []string{"@" + filepath.Join(dir, "nope")}, wantErr: "argument file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandArgFiles(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadArgFile(t *testing.T) {
	path := writeFile(t, "run.args", "# run flags\n-listen 127.0.0.1:9000\n-open-signup\n-max-queue-bytes=2000000\n")
	c, err := Load([]string{"@" + path, "-log-level", "warn"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || !c.OpenSignup || c.MaxQueueBytes != 2000000 || c.LogLevel != "warn" {
		t.Fatalf("argument file not applied: %+v", c)
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := Default()
	c.Listen = "abc"
	c.DataDir = " "
	c.AllowedOrigins = []string{"*", "https://ok.example", "ftp://x.example", "https://x.example/path", "example.com"}
	c.MaxMessageBytes = 100
	c.MaxQueueBytes = 10
	c.AuthTimeout = 0
	c.HandshakeTimeout = -1
	c.PingInterval = 0
	c.PongTimeout = 0
	c.WriteTimeout = 0
	c.ShutdownTimeout = 0
	c.SessionTTL = 0
	c.RateLimit = -1
	c.RateBurst = -1
	c.BackpipeRate = -2
	c.BackpipeBurst = -3
	c.LoginRate = -4
	c.LogLevel = "loud"
	c.Workers = 65
	c.MaxConnectionsPerProcess = 0

	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	msg := err.Error()
	for _, want := range []string{
		`listen: "abc" is not host:port`, "data_dir:", `allowed_origins: "*"`, `allowed_origins: "ftp://x.example"`,
		`allowed_origins: "https://x.example/path"`, `allowed_origins: "example.com"`,
		"max_queue_bytes: 10 is less than max_message_bytes 100",
		"auth_timeout:", "handshake_timeout:", "ping_interval:", "pong_timeout:", "write_timeout:",
		"shutdown_timeout:", "session_ttl:", "rate_limit:", "rate_burst:", "backpipe_rate:", "backpipe_burst:",
		"login_rate:", "log_level:", "workers:", "max_connections_per_process:",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "ok.example") {
		t.Errorf("valid origin reported:\n%s", msg)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("errors.As(*FieldError) failed for %T", err)
	}
}

func TestValidateFields(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		field  string // "" for valid
	}{
		{"listen any host", func(c *Config) { c.Listen = ":8700" }, ""},
		{"listen port 0", func(c *Config) { c.Listen = "127.0.0.1:0" }, ""},
		{"listen ipv6", func(c *Config) { c.Listen = "[::1]:8700" }, ""},
		{"listen bad port", func(c *Config) { c.Listen = "127.0.0.1:http" }, "listen"},
		{"listen port too big", func(c *Config) { c.Listen = "127.0.0.1:70000" }, "listen"},
		{"origin with port", func(c *Config) { c.AllowedOrigins = []string{"http://localhost:3000"} }, ""},
		{"origin trailing slash", func(c *Config) { c.AllowedOrigins = []string{"https://a.example/"} }, "allowed_origins"},
		{"origin query", func(c *Config) { c.AllowedOrigins = []string{"https://a.example?x=1"} }, "allowed_origins"},
		{"origin user", func(c *Config) { c.AllowedOrigins = []string{"https://u@a.example"} }, "allowed_origins"},
		{"origin empty port", func(c *Config) { c.AllowedOrigins = []string{"https://a.example:"} }, "allowed_origins"},
		{"queue equals message", func(c *Config) { c.MaxQueueBytes = c.MaxMessageBytes }, ""},
		{"message zero", func(c *Config) { c.MaxMessageBytes = 0 }, "max_message_bytes"},
		{"pong above ping allowed", func(c *Config) { c.PongTimeout = c.PingInterval * 2 }, ""},
		{"log level upper", func(c *Config) { c.LogLevel = "DEBUG" }, ""},
		{"workers 64", func(c *Config) { c.Workers = 64 }, ""},
		{"workers negative", func(c *Config) { c.Workers = -1 }, "workers"},
		{"rate zero off", func(c *Config) { c.RateLimit, c.BackpipeRate, c.LoginRate = 0, 0, 0 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.field+": ") {
				t.Fatalf("Validate() = %v, want a %s error", err, tt.field)
			}
		})
	}
}

func TestValidateSupervise(t *testing.T) {
	c := Default()
	if err := c.ValidateSupervise(); err == nil || !strings.Contains(err.Error(), "workers:") {
		t.Fatalf("ValidateSupervise(workers=0) = %v", err)
	}
	c.Workers = 4
	if err := c.ValidateSupervise(); err != nil {
		t.Fatalf("ValidateSupervise(workers=4) = %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		file  string // written and passed with -config when set
		wants []string
	}{
		{name: "unknown key", file: "listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n[extra]\nkey = 1\n",
			wants: []string{`unknown key "listen_addr"`, `unknown key "extra.key"`}},
		{name: "admin password in file", file: `admin_password = "hunter2"`,
			wants: []string{"admin_password may only be set in the environment"}},
		{name: "bad toml type", file: `max_message_bytes = "big"`, wants: []string{"config file"}},
		{name: "bad toml duration", file: `auth_timeout = "soon"`, wants: []string{`"soon" is not a duration`}},
		{name: "missing file", args: []string{"-config", "/nonexistent/porthouse.toml"}, wants: []string{"config file"}},
		{name: "unknown flag", args: []string{"-nope"}, wants: []string{"flag provided but not defined: -nope"}},
		{name: "bad flag value", args: []string{"-max-message-bytes", "lots"}, wants: []string{"-max-message-bytes"}},
		{name: "positional", args: []string{"extra"}, wants: []string{`unexpected argument "extra"`}},
		{name: "admin password flag", args: []string{"-admin-password", "x"}, wants: []string{"not defined"}},
		{name: "bad env", env: map[string]string{"PORTHOUSE_MAX_QUEUE_BYTES": "x", "PORTHOUSE_PING_INTERVAL": "y"},
			wants: []string{"max_queue_bytes: PORTHOUSE_MAX_QUEUE_BYTES", "ping_interval: PORTHOUSE_PING_INTERVAL"}},
		{name: "invalid after load", args: []string{"-listen", "abc", "-workers", "99"},
			wants: []string{"listen:", "workers:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"-config", writeFile(t, "c.toml", tt.file)}, args...)
			}
			_, err := Load(args, env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		_, err := Load([]string{arg}, env(nil))
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("Load(%s) = %v, want flag.ErrHelp", arg, err)
		}
		for _, want := range []string{"-listen", "-data", "-config", "PORTHOUSE_LISTEN", "PORTHOUSE_ADMIN_PASSWORD"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("usage lacks %q:\n%s", want, err)
			}
		}
	}
}

func TestLoadFlagSetExtraFlags(t *testing.T) {
	fs := flag.NewFlagSet("supervise", flag.ContinueOnError)
	extra := fs.Bool("foreground", false, "stay in the foreground")
	c, err := LoadFlagSet(fs, []string{"-workers", "3", "-foreground"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 3 || !*extra {
		t.Fatalf("workers=%d foreground=%v", c.Workers, *extra)
	}
}

func TestAdminPassword(t *testing.T) {
	const pw = "correct-horse-battery"
	c, err := Load(nil, env(map[string]string{"PORTHOUSE_ADMIN_PASSWORD": pw}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminPassword.Reveal() != pw {
		t.Fatalf("AdminPassword = %q", c.AdminPassword.Reveal())
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		if out := fmt.Sprintf(format, c); strings.Contains(out, pw) || !strings.Contains(out, redacted) {
			t.Errorf("Sprintf(%s, cfg) shows the password or no redaction: %s", format, out)
		}
		if out := fmt.Sprintf(format, c.AdminPassword); strings.Contains(out, pw) {
			t.Errorf("Sprintf(%s, secret) = %s", format, out)
		}
	}
	if text, _ := c.AdminPassword.MarshalText(); string(text) != redacted {
		t.Errorf("MarshalText = %s", text)
	}
	if fmt.Sprint(Default().AdminPassword) != "" {
		t.Errorf("empty secret prints %q", fmt.Sprint(Default().AdminPassword))
	}
}

func TestReloadable(t *testing.T) {
	old := Default()
	tests := []struct {
		name        string
		modify      func(*Config)
		changed     []string
		needRestart []string
	}{
		{"same", func(*Config) {}, nil, nil},
		{"live", func(c *Config) {
			c.AllowedOrigins = []string{"https://a.example"}
			c.OpenSignup = true
			c.MaxMessageBytes = 1
			c.RateLimit = 5
			c.PongTimeout = Duration(time.Second)
			c.LogLevel = "debug"
		}, []string{"allowed_origins", "open_signup", "max_message_bytes", "pong_timeout", "rate_limit", "log_level"}, nil},
		{"restart", func(c *Config) {
			c.Listen = "127.0.0.1:1"
			c.DataDir = "/x"
			c.Workers = 2
		}, nil, []string{"listen", "data_dir", "workers"}},
		{"ignored", func(c *Config) { c.AdminPassword = "x"; c.ConfigFile = "f.toml" }, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nu := Default()
			tt.modify(&nu)
			changed, restart := Reloadable(old, nu)
			if !slices.Equal(changed, tt.changed) || !slices.Equal(restart, tt.needRestart) {
				t.Fatalf("Reloadable = %q, %q; want %q, %q", changed, restart, tt.changed, tt.needRestart)
			}
		})
	}
}

func TestEffectiveRateBurst(t *testing.T) {
	tests := []struct {
		rate  float64
		burst int
		want  int
	}{{0, 0, 1}, {0.5, 0, 1}, {10, 0, 10}, {10, 3, 3}}
	for _, tt := range tests {
		c := Config{RateLimit: tt.rate, RateBurst: tt.burst}
		if got := c.EffectiveRateBurst(); got != tt.want {
			t.Errorf("EffectiveRateBurst(%v, %d) = %d, want %d", tt.rate, tt.burst, got, tt.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	c := Config{AllowedOrigins: []string{"https://App.example"}}
	if !c.OriginAllowed("https://app.example") || c.OriginAllowed("https://evil.example") {
		t.Fatal("OriginAllowed mismatch")
	}
}
