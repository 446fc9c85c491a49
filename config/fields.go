package config

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// field describes one Config field: its TOML key (also the name used in
// errors and by Reloadable), its flag and environment variable, and how to
// reach it as a flag.Value.
type field struct {
	key   string // TOML key
	flag  string // flag name without "-"; "" for none
	env   string // environment variable; "" for none
	usage string
	live  bool // can change on reload without a restart
	value func(c *Config) flag.Value
}

// fields lists every loadable field, in the order of Config. It is the one
// table behind flags, environment, and Reloadable.
var fields = []field{
	{key: "listen", flag: "listen", usage: "`host:port` to listen on",
		value: func(c *Config) flag.Value { return (*stringValue)(&c.Listen) }},
	{key: "data_dir", flag: "data", env: "PORTHOUSE_DATA", usage: "data `directory` (SQLite database)",
		value: func(c *Config) flag.Value { return (*stringValue)(&c.DataDir) }},
	{key: "allowed_origins", flag: "allowed-origins", live: true,
		usage: "comma-separated cross-site `origins` allowed to open WebSockets (https://example.com)",
		value: func(c *Config) flag.Value { return (*listValue)(&c.AllowedOrigins) }},
	{key: "open_signup", flag: "open-signup", live: true, usage: "let anyone create an account",
		value: func(c *Config) flag.Value { return (*boolValue)(&c.OpenSignup) }},
	{key: "max_message_bytes", flag: "max-message-bytes", live: true, usage: "largest message payload in `bytes`",
		value: func(c *Config) flag.Value { return (*intValue)(&c.MaxMessageBytes) }},
	{key: "max_queue_bytes", flag: "max-queue-bytes", live: true,
		usage: "outbound queue bound per socket in `bytes`; past it the socket closes with 4009",
		value: func(c *Config) flag.Value { return (*intValue)(&c.MaxQueueBytes) }},
	{key: "auth_timeout", flag: "auth-timeout", live: true, usage: "`duration` allowed for first-message auth",
		value: func(c *Config) flag.Value { return &c.AuthTimeout }},
	{key: "handshake_timeout", flag: "handshake-timeout", live: true, usage: "`duration` allowed for the WebSocket handshake",
		value: func(c *Config) flag.Value { return &c.HandshakeTimeout }},
	{key: "ping_interval", flag: "ping-interval", live: true, usage: "`duration` between server pings",
		value: func(c *Config) flag.Value { return &c.PingInterval }},
	{key: "pong_timeout", flag: "pong-timeout", live: true, usage: "`duration` a ping may go unanswered",
		value: func(c *Config) flag.Value { return &c.PongTimeout }},
	{key: "write_timeout", flag: "write-timeout", live: true, usage: "`duration` allowed for one socket write",
		value: func(c *Config) flag.Value { return &c.WriteTimeout }},
	{key: "shutdown_timeout", flag: "shutdown-timeout", live: true, usage: "`duration` allowed for a graceful shutdown",
		value: func(c *Config) flag.Value { return &c.ShutdownTimeout }},
	{key: "rate_limit", flag: "rate-limit", live: true, usage: "per-socket `messages/s` (0 = off)",
		value: func(c *Config) flag.Value { return (*floatValue)(&c.RateLimit) }},
	{key: "rate_burst", flag: "rate-burst", live: true, usage: "per-socket burst in `messages` (0 = max(1, rate-limit))",
		value: func(c *Config) flag.Value { return (*intValue)(&c.RateBurst) }},
	{key: "backpipe_rate", flag: "backpipe-rate", live: true, usage: "backpipe `requests/s` per API key (0 = off)",
		value: func(c *Config) flag.Value { return (*floatValue)(&c.BackpipeRate) }},
	{key: "backpipe_burst", flag: "backpipe-burst", live: true, usage: "backpipe burst per API key in `requests`",
		value: func(c *Config) flag.Value { return (*intValue)(&c.BackpipeBurst) }},
	{key: "login_rate", flag: "login-rate", live: true,
		usage: "login `attempts/minute` per account and per address (0 = off)",
		value: func(c *Config) flag.Value { return (*floatValue)(&c.LoginRate) }},
	{key: "session_ttl", flag: "session-ttl", live: true, usage: "UI login session lifetime (`duration`)",
		value: func(c *Config) flag.Value { return &c.SessionTTL }},
	{key: "log_level", flag: "log-level", live: true, usage: "log `level`: trace, debug, info, warn or error",
		value: func(c *Config) flag.Value { return (*stringValue)(&c.LogLevel) }},
	{key: "log_json", flag: "log-json", usage: "write logs as JSON",
		value: func(c *Config) flag.Value { return (*boolValue)(&c.LogJSON) }},
	{key: "workers", flag: "workers", usage: "`number` of worker processes for supervise (1..64)",
		value: func(c *Config) flag.Value { return (*intValue)(&c.Workers) }},
	{key: "max_connections_per_process", flag: "max-connections-per-process",
		usage: "`sockets` one process may hold (keep under the open-files limit)",
		value: func(c *Config) flag.Value { return (*intValue)(&c.MaxConnectionsPerProcess) }},
	{key: "route_sync_interval", flag: "route-sync-interval",
		usage: "how often each supervise worker drops the routes of rooms other workers have left (`duration`)",
		value: func(c *Config) flag.Value { return &c.RouteSyncInterval }},
}

// Names of the fields that live outside the table.
const (
	envConfig        = "PORTHOUSE_CONFIG"
	envAdminPassword = "PORTHOUSE_ADMIN_PASSWORD"
	flagConfig       = "config"
)

func init() {
	for i := range fields {
		if fields[i].env == "" {
			fields[i].env = "PORTHOUSE_" + strings.ToUpper(fields[i].key)
		}
	}
}

// Register defines every configuration flag on fs, bound to c, with c's
// current values as defaults. Commands that accept the server flags
// (run, supervise, puddle) share this one set.
func Register(fs *flag.FlagSet, c *Config) {
	for _, f := range fields {
		fs.Var(f.value(c), f.flag, f.usage+" (env "+f.env+")")
	}
	fs.Var((*stringValue)(&c.ConfigFile), flagConfig, "TOML config `file` (env "+envConfig+")")
}

// stringValue is a flag.Value for a string field.
type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }

// intValue is a flag.Value for an int field.
type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }

// floatValue is a flag.Value for a float64 field.
type floatValue float64

func (v *floatValue) Set(s string) error {
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v = floatValue(n)
	return nil
}
func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }

// boolValue is a flag.Value for a bool field; "-name" alone sets it true.
type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a boolean (true or false)", s)
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

// listValue is a flag.Value for a comma-separated list. Set replaces the
// whole list; blanks around items and empty items are dropped.
type listValue []string

func (v *listValue) Set(s string) error {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	*v = out
	return nil
}
func (v *listValue) String() string { return strings.Join(*v, ",") }
