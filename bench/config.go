package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Targets, modes and spawn kinds accepted by Config.
const (
	TargetPorthouse = "porthouse" // a Porthouse server: tokens, rooms, /ws and /ws/rooms/{room}
	TargetRaw       = "raw"       // a plain broadcast server: every frame on a URL goes to every other connection on it

	ModeRaw      = "raw"      // /ws/rooms/{room}: bare payloads
	ModeEnvelope = "envelope" // /ws: envelope frames

	ViaWS   = "ws"   // publishers send on their own sockets
	ViaHTTP = "http" // publishers POST to the backpipe

	SpawnRun       = "run"       // porthouse run
	SpawnSupervise = "supervise" // porthouse supervise -workers N
	SpawnRaw       = "raw"       // the reference broadcast server (bench -serve-raw)
)

// Limits on the configuration: every loop of a run is bounded by them.
const (
	MinSize            = 16 // send timestamp (8) + publisher (4) + sequence (4)
	MaxSize            = 16 << 20
	MaxConns           = 1_000_000
	MaxPublishers      = 10_000
	MaxProcs           = 64
	MaxInflight        = 65_536
	MaxDuration        = 24 * time.Hour
	MaxRate            = 10_000_000
	MaxConnsPerProcess = 18_000 // under the 20,000 open-files limit of every process
	MaxSourceIPs       = 250
	MaxWorkers         = 64
)

// Config is one benchmark run. Zero values of the optional fields take the
// defaults of Default.
type Config struct {
	Target      string   // TargetPorthouse or TargetRaw
	URL         string   // ws://host:port (Porthouse) or ws://host:port/path (raw; "{room}" in the path is replaced by the room name)
	Token       string   // token secret whose rooms are used (Porthouse)
	APIKey      string   // pk_... API key: bench creates its own rooms and tokens
	Room        string   // with Token and one room: its name (default lobby)
	Echo        bool     // with Token: the rooms echo, so a publisher sees its own messages
	Spawn       string   // "", SpawnRun, SpawnSupervise or SpawnRaw
	Workers     int      // worker processes for SpawnSupervise
	ServerArgs  []string // extra flags for a spawned server
	ServerLog   string   // a file for a spawned server's output
	PID         int      // a local server process to measure (with URL)
	AllowRemote bool     // allow a target outside 127.0.0.0/8, ::1 and localhost

	Mode       string        // ModeRaw or ModeEnvelope
	Via        string        // ViaWS or ViaHTTP
	Conns      int           // receivers
	Rooms      int           // rooms the receivers and publishers are spread over
	Publishers int           // publishers
	Rate       float64       // messages per second in total; 0 = as fast as the in-flight window allows
	Inflight   int           // messages a publisher may have on their way
	Size       int           // payload bytes
	Duration   time.Duration // load (or hold, with Idle) time
	Idle       bool          // open and hold Conns connections; no publishers

	Procs           int           // client processes
	SourceIPs       int           // loopback source addresses 127.0.0.1..N for IPv4 loopback targets (0 = kernel's choice)
	DialConcurrency int           // handshakes in flight per process
	DialTimeout     time.Duration // one connect + handshake
	ConnectTimeout  time.Duration // opening every connection
	Drain           time.Duration // waiting for the last deliveries after the publishers stop

	Executable string    // this program, for -procs children and spawned servers (default os.Executable)
	ChildArgs  []string  // arguments that make Executable a child load generator (default bench -child)
	ChildEnv   []string  // extra environment for children
	Progress   io.Writer // a terminal for the live progress line, or nil
	Command    string    // the command line, shown in the report
}

// Default returns the defaults: a Porthouse at ws://127.0.0.1:8700, raw
// mode, 1,000 receivers in one room, one publisher, 128-byte messages as fast
// as 64 in flight allow, for 10 seconds.
func Default() Config {
	return Config{
		Target:          TargetPorthouse,
		URL:             "ws://127.0.0.1:8700",
		Mode:            ModeRaw,
		Via:             ViaWS,
		Conns:           1000,
		Rooms:           1,
		Publishers:      1,
		Inflight:        64,
		Size:            128,
		Duration:        10 * time.Second,
		Procs:           1,
		SourceIPs:       16,
		DialConcurrency: 128,
		DialTimeout:     10 * time.Second,
		ConnectTimeout:  2 * time.Minute,
		Drain:           3 * time.Second,
		ChildArgs:       []string{"bench", "-child"},
	}
}

// UsageError is a configuration that cannot run: `porthouse bench` exits
// with status 2.
type UsageError struct{ Msg string }

// Error returns the message, which names the flag at fault.
func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is a UsageError.
func IsUsage(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}

// Validate checks the configuration and fills derived defaults. It returns a
// UsageError naming the first problem.
func (c *Config) Validate() error {
	if err := c.validateTarget(); err != nil {
		return err
	}
	if err := c.validateLoad(); err != nil {
		return err
	}
	return c.validateProcs()
}

func (c *Config) validateTarget() error {
	switch c.Target {
	case TargetPorthouse, TargetRaw:
	default:
		return usagef("-target must be porthouse or raw, not %q", c.Target)
	}
	switch c.Spawn {
	case "", SpawnRun, SpawnSupervise, SpawnRaw:
	default:
		return usagef("-spawn must be run, supervise or raw, not %q", c.Spawn)
	}
	if c.Spawn == SpawnRaw {
		c.Target = TargetRaw
	}
	if c.Spawn == SpawnSupervise {
		if c.Workers == 0 {
			c.Workers = 2
		}
		if c.Workers < 1 || c.Workers > MaxWorkers {
			return usagef("-workers must be between 1 and %d", MaxWorkers)
		}
	} else if c.Workers != 0 {
		return usagef("-workers needs -spawn supervise")
	}
	if c.Spawn != "" {
		if c.Token != "" || c.APIKey != "" {
			return usagef("-spawn makes its own credentials: drop -token and -api-key")
		}
		if c.PID != 0 {
			return usagef("-pid is for a server bench did not start; -spawn measures its own")
		}
		if c.Target == TargetRaw && c.Spawn != SpawnRaw {
			return usagef("-target raw spawns with -spawn raw")
		}
	} else if len(c.ServerArgs) > 0 || c.ServerLog != "" {
		return usagef("-server-arg and -server-log need -spawn")
	}
	if c.PID < 0 {
		return usagef("-pid must be a process id")
	}
	if c.Target == TargetRaw {
		return c.validateRawTarget()
	}
	if c.Spawn == "" {
		if c.Token == "" && c.APIKey == "" {
			return usagef("a running Porthouse needs -token or -api-key (or use -spawn run)")
		}
		if c.Token != "" && c.APIKey != "" {
			return usagef("give -token or -api-key, not both")
		}
		if c.APIKey != "" && !strings.HasPrefix(c.APIKey, "pk_") {
			return usagef("-api-key must start with pk_")
		}
		if err := c.checkURL(); err != nil {
			return err
		}
	}
	if c.Room != "" && (c.Token == "" || c.Rooms != 1) {
		return usagef("-room names the one room of a -token run (-rooms 1)")
	}
	if c.Echo && c.Token == "" {
		return usagef("-echo describes the rooms of a -token; bench makes its own rooms echo")
	}
	switch c.Mode {
	case ModeRaw, ModeEnvelope:
	default:
		return usagef("-mode must be raw or envelope, not %q", c.Mode)
	}
	switch c.Via {
	case ViaWS:
	case ViaHTTP:
		if c.Token != "" {
			return usagef("-via http publishes through the backpipe and needs -api-key or -spawn")
		}
	default:
		return usagef("-via must be ws or http, not %q", c.Via)
	}
	return nil
}

func (c *Config) validateRawTarget() error {
	if c.Token != "" || c.APIKey != "" {
		return usagef("-target raw takes no -token or -api-key")
	}
	if c.Mode != ModeRaw && c.Mode != "" {
		return usagef("-target raw speaks bare frames: -mode envelope is for Porthouse")
	}
	c.Mode = ModeRaw
	if c.Via != ViaWS && c.Via != "" {
		return usagef("-target raw has no backpipe: -via http is for Porthouse")
	}
	c.Via = ViaWS
	if c.Spawn == SpawnRaw {
		return nil
	}
	if err := c.checkURL(); err != nil {
		return err
	}
	if c.Rooms > 1 && !strings.Contains(c.URL, "{room}") {
		return usagef("-target raw with -rooms %d needs {room} in the -url path", c.Rooms)
	}
	return nil
}

// checkURL parses the URL and refuses non-loopback hosts unless AllowRemote.
func (c *Config) checkURL() error {
	u, err := url.Parse(strings.ReplaceAll(c.URL, "{room}", "room"))
	if err != nil {
		return usagef("-url: %v", err)
	}
	if u.Scheme != "ws" {
		return usagef("-url must start with ws:// (the generator does not speak TLS), not %q", c.URL)
	}
	if u.Host == "" {
		return usagef("-url %q has no host", c.URL)
	}
	if !c.AllowRemote && !IsLoopback(u.Hostname()) {
		return usagef("-url %s is not a loopback address (127.0.0.0/8, ::1, localhost); add -allow-remote to load another machine", u.Host)
	}
	return nil
}

// IsLoopback reports whether host is localhost or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validateLoad() error {
	switch {
	case c.Conns < 1 || c.Conns > MaxConns:
		return usagef("-conns must be between 1 and %d", MaxConns)
	case c.Rooms < 1 || c.Rooms > c.Conns:
		return usagef("-rooms must be between 1 and -conns (%d): every room needs a receiver", c.Conns)
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return usagef("-duration must be above 0 and at most %v", MaxDuration)
	case c.Size < MinSize || c.Size > MaxSize:
		return usagef("-size must be between %d (timestamp, publisher and sequence) and %d bytes", MinSize, MaxSize)
	case c.Inflight < 1 || c.Inflight > MaxInflight:
		return usagef("-inflight must be between 1 and %d", MaxInflight)
	case c.Rate < 0 || c.Rate > MaxRate:
		return usagef("-rate must be between 0 (as fast as possible) and %d messages/s", MaxRate)
	case c.DialConcurrency < 1 || c.DialConcurrency > 10_000:
		return usagef("-dial-concurrency must be between 1 and 10000")
	case c.DialTimeout <= 0 || c.DialTimeout > 5*time.Minute:
		return usagef("-dial-timeout must be above 0 and at most 5m")
	case c.ConnectTimeout <= 0 || c.ConnectTimeout > time.Hour:
		return usagef("-connect-timeout must be above 0 and at most 1h")
	case c.Drain < 0 || c.Drain > 5*time.Minute:
		return usagef("-drain must be between 0 and 5m")
	case c.SourceIPs < 0 || c.SourceIPs > MaxSourceIPs:
		return usagef("-source-ips must be between 0 and %d", MaxSourceIPs)
	}
	if c.Idle {
		c.Publishers = 0
		c.Rate = 0
		return nil
	}
	if c.Publishers < 1 || c.Publishers > MaxPublishers {
		return usagef("-publishers must be between 1 and %d (or use -idle)", MaxPublishers)
	}
	if c.Rate > 0 && c.Rate < float64(c.Publishers)/c.Duration.Seconds() {
		return usagef("-rate %g is too low for %d publishers to send even once in %v", c.Rate, c.Publishers, c.Duration)
	}
	return nil
}

func (c *Config) validateProcs() error {
	if c.Procs < 1 || c.Procs > MaxProcs {
		return usagef("-procs must be between 1 and %d", MaxProcs)
	}
	sockets := runSockets(c)
	if per := (sockets + c.Procs - 1) / c.Procs; per > MaxConnsPerProcess {
		need := (sockets + MaxConnsPerProcess - 1) / MaxConnsPerProcess
		return usagef("-procs too small: %d sockets over %d process(es) is %d per process, over the %d a process can hold under its open-files limit; use -procs %d or more",
			sockets, c.Procs, per, MaxConnsPerProcess, need)
	}
	if c.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this program: %w", err)
		}
		c.Executable = exe
	}
	return nil
}
