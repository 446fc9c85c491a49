package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/porthouse/porthouse/bench"
)

func init() {
	commands["bench"] = command{summary: "load-test a Porthouse (or any broadcast server): connections, fan-out, latency, memory", run: runBench}
}

const benchUsage = `usage: porthouse bench [flags] [@argfile ...]

Opens -conns receivers spread over -rooms rooms, has -publishers publishers
send -size-byte messages for -duration (as fast as -inflight messages in
flight per publisher allow, or -rate messages/s in total), and reports
connections, handshakes/s, deliveries and losses, deliveries/s, latency
percentiles (from the send time inside each payload), and the server's CPU
and memory from /proc. -idle only opens and holds the connections.

Targets (loopback only unless -allow-remote):
  -spawn run | supervise     start this binary's server on a free port with a
                             temporary data directory, and stop it after
  -spawn raw                 start the reference broadcast server
  -url ws://host:port -token ph_...      a running Porthouse: the token's rooms
                             (lobby, or room-0..room-N-1 with -rooms N)
  -url ws://host:port -api-key pk_...    a running Porthouse: bench makes its
                             own rooms and tokens and deletes them after
  -target raw -url ws://host:port/path   any server that sends every frame on
                             a URL to every other connection on it ({room} in
                             the path for several rooms)

Receivers use raw mode (/ws/rooms/{room}) unless -mode envelope. More than
18,000 sockets need -procs: every process may hold 20,000 open files.

Examples:
  porthouse bench -spawn run -conns 1000 -publishers 1 -duration 10s
  porthouse bench -spawn run -idle -conns 15000 -duration 30s
  porthouse bench -spawn supervise -workers 8 -idle -conns 100000 -procs 6
  porthouse bench -spawn raw -conns 1000 -json

Output: a table on standard output, or one JSON line with -json; -report
writes an HTML page with plots; -cpuprofile FILE writes a pprof CPU profile
of the generator (the parent process only when -procs is above 1; read it
with go tool pprof -top). Exit status: 0 figures reported, 1 the run
failed, 2 usage error; every failure is one line on standard error.

flags:
`

// hiddenBenchFlags are for bench's own child processes and tests.
var hiddenBenchFlags = map[string]bool{"child": true, "serve-raw": true}

type benchFlags struct {
	cfg        bench.Config
	serverArgs stringList
	jsonOut    bool
	report     string
	quiet      bool
	child      bool
	serveRaw   string
	cpuProfile string
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (f *benchFlags) register(fs *flag.FlagSet) {
	c := &f.cfg
	*c = bench.Default()
	fs.StringVar(&c.URL, "url", c.URL, "server `URL`: ws://host:port (Porthouse; env PORTHOUSE_URL) or ws://host:port/path (-target raw)")
	fs.StringVar(&c.Token, "token", "", "token `secret` whose rooms are used (env PORTHOUSE_TOKEN)")
	fs.StringVar(&c.APIKey, "api-key", "", "API `key` (pk_...): create rooms room-0.. and tokens, delete them after")
	fs.StringVar(&c.Room, "room", "", "with -token and one room: its `name` (default lobby)")
	fs.BoolVar(&c.Echo, "echo", false, "with -token: the rooms echo (publishers see their own messages)")
	fs.StringVar(&c.Target, "target", c.Target, "porthouse or raw (a plain broadcast server)")
	fs.StringVar(&c.Spawn, "spawn", "", "start the server: run, supervise or raw (the reference broadcast server)")
	fs.IntVar(&c.Workers, "workers", 0, "worker `processes` for -spawn supervise (default 2)")
	fs.Var(&f.serverArgs, "server-arg", "extra `flag` for the spawned server (repeat: -server-arg=-max-queue-bytes=4000000)")
	fs.StringVar(&c.ServerLog, "server-log", "", "write the spawned server's output (its log) to `FILE`")
	fs.IntVar(&c.PID, "pid", 0, "process id of a local server to measure (CPU, RSS; its child processes too)")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not on this machine's loopback")
	fs.StringVar(&c.Mode, "mode", c.Mode, "raw (/ws/rooms/{room}, bare payloads) or envelope (/ws)")
	fs.StringVar(&c.Via, "via", c.Via, "publishers send on their sockets (ws) or through the HTTP backpipe (http)")
	fs.IntVar(&c.Conns, "conns", c.Conns, "receiver `connections`")
	fs.IntVar(&c.Rooms, "rooms", c.Rooms, "`rooms` the receivers are spread over")
	fs.IntVar(&c.Publishers, "publishers", c.Publishers, "`publishers`: publisher i sends to room i%rooms; with more rooms, each to its share of them in turn (raw mode: a socket per room)")
	fs.Float64Var(&c.Rate, "rate", 0, "`messages/s` in total; 0: as fast as -inflight allows")
	fs.IntVar(&c.Inflight, "inflight", c.Inflight, "`messages` a publisher may have on their way")
	fs.IntVar(&c.Size, "size", c.Size, "payload `bytes` (at least 16)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long to publish (or hold, with -idle)")
	fs.BoolVar(&c.Idle, "idle", false, "only open and hold -conns connections (memory per connection)")
	fs.IntVar(&c.Procs, "procs", c.Procs, "client `processes` (at most 18,000 sockets each)")
	fs.IntVar(&c.SourceIPs, "source-ips", c.SourceIPs, "spread client sockets over `N` source addresses 127.0.0.1..N (0: one)")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", c.DialConcurrency, "handshakes in flight per client process")
	fs.DurationVar(&c.DialTimeout, "dial-timeout", c.DialTimeout, "bound on one connect and handshake")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", c.ConnectTimeout, "bound on opening every connection")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "how long to wait for the last deliveries after the publishers stop")
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON line instead of the table")
	fs.StringVar(&f.report, "report", "", "write an HTML report with plots to `FILE`")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line on a terminal")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the generator to `FILE` (with -procs above 1, of the parent process only)")
	fs.BoolVar(&f.child, "child", false, "run as a child load generator (internal)")
	fs.StringVar(&f.serveRaw, "serve-raw", "", "serve the reference broadcast server on `ADDR` (internal)")
}

func runBench(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f benchFlags
	fs, _ := newFlagSet("bench", benchUsage, stdout)
	f.register(fs)
	rest, err := parseCommandLine(fs, args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		printBenchUsage(fs, stdout)
		return 0
	}
	if err == nil && len(rest) > 0 {
		err = usageErrorf("unexpected argument %q", rest[0])
	}
	if err != nil {
		return report(stderr, "bench", err)
	}
	switch {
	case f.child:
		return bench.RunChild(stdin, stdout)
	case f.serveRaw != "":
		return serveRaw(ctx, f.serveRaw, f.cfg.AllowRemote, stdout, stderr)
	}
	if err := f.finish(fs, args); err != nil {
		return report(stderr, "bench", err)
	}
	if !f.quiet && isTerminal(stderr) {
		f.cfg.Progress = stderr
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return report(stderr, "bench", err)
	}
	res, err := bench.Run(ctx, f.cfg)
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		if bench.IsUsage(err) {
			err = usageError{err}
		}
		return report(stderr, "bench", err)
	}
	if f.jsonOut {
		err = res.WriteJSON(stdout)
	} else {
		err = res.WriteTable(stdout)
	}
	if err == nil && f.report != "" {
		err = bench.WriteReport(f.report, res)
	}
	if err != nil {
		return report(stderr, "bench", err)
	}
	return 0
}

// finish settles what the flags leave open: the environment's token and
// URL do not apply to a run that makes its own credentials.
func (f *benchFlags) finish(fs *flag.FlagSet, args []string) error {
	c := &f.cfg
	c.ServerArgs = f.serverArgs
	c.Command = "porthouse bench " + strings.Join(args, " ")
	ownsCredentials := c.Spawn != "" || c.APIKey != "" || c.Target == bench.TargetRaw
	if ownsCredentials && !onCommandLine(args, "token") {
		c.Token = ""
	}
	if c.Spawn != "" {
		if onCommandLine(args, "url") {
			return usageErrorf("-spawn starts its own server: drop -url")
		}
		c.URL = ""
	}
	if c.Duration <= 0 {
		return usageErrorf("-duration must be above 0")
	}
	return nil
}

// startCPUProfile starts a pprof CPU profile written to path ("" for none)
// and returns the function that stops it and closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		return nil
	}, nil
}

// onCommandLine reports whether flag name was given in args.
func onCommandLine(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func printBenchUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, benchUsage)
	visible := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.VisitAll(func(fl *flag.Flag) {
		if !hiddenBenchFlags[fl.Name] {
			visible.Var(fl.Value, fl.Name, fl.Usage)
		}
	})
	visible.SetOutput(w)
	visible.PrintDefaults()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// serveRaw is `porthouse bench -serve-raw ADDR`: the reference broadcast
// server until interrupted. Its first output line gives the address.
func serveRaw(ctx context.Context, addr string, allowRemote bool, stdout, stderr io.Writer) int {
	host := addr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host = addr[:i]
	}
	if !allowRemote && !bench.IsLoopback(host) {
		return report(stderr, "bench", usageErrorf("-serve-raw %s is not a loopback address; add -allow-remote", addr))
	}
	srv, err := bench.ListenRef(addr)
	if err != nil {
		return report(stderr, "bench", err)
	}
	fmt.Fprintf(stdout, "reference broadcast server listening on ws://%s/\n", srv.Addr())
	<-ctx.Done()
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		err = errors.New("connections did not close within 10s")
	}
	if err != nil {
		return report(stderr, "bench", err)
	}
	return 0
}
