package config

import "time"

// Config is the whole server configuration. TOML keys are the snake_case
// names in the toml tags; each field's flag and environment variable are
// listed in fields.go and docs/configuration.md.
type Config struct {
	// Listen is the host:port the server listens on.
	Listen string `toml:"listen"`
	// DataDir holds the SQLite database and other state.
	DataDir string `toml:"data_dir"`
	// AllowedOrigins lists the cross-site origins ("https://example.com")
	// whose browsers may open WebSockets. A request without Origin is
	// always accepted.
	AllowedOrigins []string `toml:"allowed_origins"`
	// OpenSignup lets anyone create an account through the API.
	OpenSignup bool `toml:"open_signup"`

	// MaxMessageBytes bounds one message's payload (headers not counted).
	MaxMessageBytes int `toml:"max_message_bytes"`
	// MaxQueueBytes bounds each socket's outbound queue; past it the socket
	// is closed with 4009.
	MaxQueueBytes int `toml:"max_queue_bytes"`

	// AuthTimeout is how long /ws waits for a first-message auth.
	AuthTimeout Duration `toml:"auth_timeout"`
	// HandshakeTimeout bounds the HTTP upgrade.
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	// PingInterval is how often the server pings an idle socket.
	PingInterval Duration `toml:"ping_interval"`
	// PongTimeout is how long a ping may go unanswered.
	PongTimeout Duration `toml:"pong_timeout"`
	// WriteTimeout bounds one socket write.
	WriteTimeout Duration `toml:"write_timeout"`
	// ShutdownTimeout bounds a graceful shutdown or worker drain.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`

	// RateLimit is each socket's message rate in messages per second;
	// 0 turns it off.
	RateLimit float64 `toml:"rate_limit"`
	// RateBurst is each socket's burst; 0 means max(1, int(RateLimit)).
	// Use EffectiveRateBurst.
	RateBurst int `toml:"rate_burst"`
	// BackpipeRate is each API key's request rate on the backpipe, per
	// second; 0 turns it off.
	BackpipeRate float64 `toml:"backpipe_rate"`
	// BackpipeBurst is each API key's burst on the backpipe.
	BackpipeBurst int `toml:"backpipe_burst"`
	// LoginRate is the login attempts allowed per minute, per account and
	// per client address; 0 turns it off.
	LoginRate float64 `toml:"login_rate"`
	// SessionTTL is how long a UI login session lasts.
	SessionTTL Duration `toml:"session_ttl"`

	// LogLevel is one of trace, debug, info, warn, error.
	LogLevel string `toml:"log_level"`
	// LogJSON writes logs as JSON lines.
	LogJSON bool `toml:"log_json"`

	// Workers is the number of worker processes for `porthouse supervise`
	// (1..64). 0 means not set; `porthouse run` ignores it.
	Workers int `toml:"workers"`
	// MaxConnectionsPerProcess caps the sockets one process holds. The
	// default, 18,000, leaves room under a 20,000 open-files limit
	// (RLIMIT_NOFILE) for the database, listeners and IPC.
	MaxConnectionsPerProcess int `toml:"max_connections_per_process"`
	// RouteSyncInterval is how often each `supervise` worker brings its
	// table of which workers have members in which rooms in line with the
	// supervisor's, dropping the routes of rooms a worker has left.
	RouteSyncInterval Duration `toml:"route_sync_interval"`

	// AdminPassword is the first-start password of the admin account. It is
	// read only from PORTHOUSE_ADMIN_PASSWORD, never from the file or flags,
	// and never printed.
	AdminPassword Secret `toml:"-"`
	// ConfigFile is the TOML file that was loaded, if any.
	ConfigFile string `toml:"-"`
}

// Log levels accepted by LogLevel.
var logLevels = []string{"trace", "debug", "info", "warn", "error"}

// Default returns the configuration used when nothing overrides it.
func Default() Config {
	return Config{
		Listen:                   "127.0.0.1:8700",
		DataDir:                  "./porthouse-data",
		MaxMessageBytes:          65536,
		MaxQueueBytes:            1 << 20,
		AuthTimeout:              Duration(5 * time.Second),
		HandshakeTimeout:         Duration(10 * time.Second),
		PingInterval:             Duration(25 * time.Second),
		PongTimeout:              Duration(10 * time.Second),
		WriteTimeout:             Duration(10 * time.Second),
		ShutdownTimeout:          Duration(10 * time.Second),
		BackpipeRate:             100,
		BackpipeBurst:            200,
		LoginRate:                10,
		SessionTTL:               Duration(720 * time.Hour),
		LogLevel:                 "info",
		MaxConnectionsPerProcess: 18000,
		RouteSyncInterval:        Duration(time.Minute),
	}
}

// EffectiveRateBurst is the per-socket burst to use: RateBurst, or
// max(1, int(RateLimit)) when RateBurst is 0.
func (c Config) EffectiveRateBurst() int {
	if c.RateBurst > 0 {
		return c.RateBurst
	}
	return max(1, int(c.RateLimit))
}
