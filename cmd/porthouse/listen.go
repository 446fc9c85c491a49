package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/porthouse/porthouse/client"
)

func init() {
	commands["listen"] = command{summary: "print the messages that arrive, as JSON lines or bare payloads", run: runListen}
}

const listenUsage = `usage: porthouse listen [flags] [@argfile ...]

Connects and prints every message that arrives on standard output, one JSON
line each: {"id","room","from","data"} for text, {"id","room","from",
"binary"} with the payload in base64 for binary ("room" is absent for a
direct message). Events (joined, member.joined, reconnected, ...) go to
standard error as JSON lines {"event","room","socket","error"}, failures as
"porthouse listen: ..." lines.

-room restricts the output to one room, joining it if the token is not
already in it. -raw prints bare payloads instead of JSON (text followed by
a newline, binary as is); with -room it connects in raw mode
(/ws/rooms/{room}). -out FILE reassembles envelopes of chunks (see pump
-chunk) and writes each complete payload to FILE ("-" for standard output),
printing {"envelope","room","from","bytes","out"} instead of the chunks;
-once and -count then count envelopes. A broken envelope (corrupt,
conflicting or missing chunks) is reported on standard error, and ends the
command when -once is given.

It reconnects after a dropped connection (not after the token was revoked)
unless -no-reconnect. It stops at the -count, at the -timeout, on SIGINT,
or when the server ends the connection.

Connection settings come from the flags, then PORTHOUSE_URL and
PORTHOUSE_TOKEN, then argument files given as @path (one flag per line).

Exit status: 0 done or interrupted, 1 refused, closed by the server, or
-timeout reached before -count, 2 usage error.

flags:
`

type listenFlags struct {
	connFlags
	raw         bool
	once        bool
	count       int
	out         string
	noReconnect bool
}

func runListen(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f listenFlags
	fs, usage := newFlagSet("listen", listenUsage, stdout)
	f.register(fs, 0, "stop after this long (0: never)")
	fs.BoolVar(&f.raw, "raw", false, "print bare payloads; with -room, use raw mode")
	fs.BoolVar(&f.once, "once", false, "exit after one message (or one envelope with -out)")
	fs.IntVar(&f.count, "count", 0, "exit after `N` messages (or envelopes with -out)")
	fs.StringVar(&f.out, "out", "", "reassemble envelopes and write each payload to `FILE`")
	fs.BoolVar(&f.noReconnect, "no-reconnect", false, "end when the connection drops")
	rest, err := parseCommandLine(fs, args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return 0
	}
	if err != nil {
		return report(stderr, "listen", err)
	}
	switch {
	case len(rest) > 0:
		err = usageErrorf("unexpected argument %q", rest[0])
	case f.count < 0:
		err = usageErrorf("-count must not be negative")
	case f.timeout < 0:
		err = usageErrorf("-timeout must not be negative")
	case f.room != "" && !validRoom(f.room):
		err = usageErrorf("bad room name %q", f.room)
	case f.raw && f.room != "" && f.auth == "message":
		err = usageErrorf("-raw -room: raw mode has no first-message auth")
	}
	if err != nil {
		return report(stderr, "listen", err)
	}
	if f.once {
		f.count = 1
	}
	l := &listener{f: &f, stdout: bufio.NewWriter(stdout), stderr: stderr}
	return l.run(ctx)
}

// errListenTimeout is the cause of the -timeout context; errStopped ends
// the receive loop when the context ends.
var (
	errListenTimeout = errors.New("timeout")
	errStopped       = errors.New("stopped")
)

// listener is one run of listen.
type listener struct {
	f      *listenFlags
	stdout *bufio.Writer
	stderr io.Writer
	asm    *client.Assembler
	rooms  map[client.EnvelopeID]string // room of each envelope in progress
	got    int                          // messages (or envelopes) counted
}

func (l *listener) run(ctx context.Context) int {
	parent := ctx
	if l.f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, l.f.timeout, errListenTimeout)
		defer cancel()
	}
	opts, err := l.f.options()
	if err != nil {
		return report(l.stderr, "listen", err)
	}
	if !l.f.noReconnect {
		opts = append(opts, client.WithReconnect(client.DefaultReconnect()))
	}
	if l.f.out != "" {
		l.asm = client.NewAssembler(client.AssemblerConfig{})
		l.rooms = map[client.EnvelopeID]string{}
	}
	if l.f.raw && l.f.room != "" {
		err = l.listenRaw(ctx, opts)
	} else {
		err = l.listenEnvelope(ctx, opts)
	}
	_ = l.stdout.Flush()
	switch {
	case err == nil:
		return 0
	case parent.Err() != nil:
		return 0 // interrupted: a clean stop
	case err == errStopped || errors.Is(err, context.DeadlineExceeded):
		if err == errStopped && l.f.count == 0 {
			return 0 // listened for the whole -timeout
		}
		err = fmt.Errorf("timed out after %v: received %d of %d", l.f.timeout, l.got, l.f.count)
		if l.f.count == 0 {
			err = fmt.Errorf("timed out after %v while connecting", l.f.timeout)
		}
	}
	return report(l.stderr, "listen", err)
}

// done reports whether the count is reached.
func (l *listener) done() bool { return l.f.count > 0 && l.got >= l.f.count }

func (l *listener) listenEnvelope(ctx context.Context, opts []client.Option) error {
	c, err := client.Dial(ctx, l.f.url, l.f.token, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	if l.f.room != "" && !c.InRoom(l.f.room) {
		if _, err := c.Join(ctx, l.f.room, l.f.password); err != nil {
			return fmt.Errorf("join %s: %w", l.f.room, err)
		}
	}
	msgs, events := c.Messages(), c.Events()
	expiry := newExpiryTimer()
	defer expiry.stop()
	for !l.done() {
		l.armExpiry(expiry)
		select {
		case m, ok := <-msgs:
			if !ok {
				return c.Err()
			}
			if l.f.room != "" && m.Room != l.f.room {
				continue
			}
			if err := l.message(m); err != nil {
				return err
			}
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if err := l.event(ev); err != nil {
				return err
			}
		case <-expiry.c():
			if err := l.expire(); err != nil {
				return err
			}
		case <-ctx.Done():
			return errStopped
		}
	}
	return nil
}

func (l *listener) listenRaw(ctx context.Context, opts []client.Option) error {
	r, err := client.DialRoom(ctx, l.f.url, l.f.token, l.f.room, append(opts, client.WithPassword(l.f.password))...)
	if err != nil {
		return err
	}
	defer r.Close()
	frames, events := r.Frames(), r.Events()
	expiry := newExpiryTimer()
	defer expiry.stop()
	for !l.done() {
		l.armExpiry(expiry)
		select {
		case fr, ok := <-frames:
			if !ok {
				return r.Err()
			}
			m := client.Message{Room: l.f.room, Binary: fr.Op == client.OpBinary}
			if m.Binary {
				m.Payload = fr.Payload
			} else {
				m.Data, _ = json.Marshal(string(fr.Payload))
			}
			if err := l.message(m); err != nil {
				return err
			}
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if err := l.event(ev); err != nil {
				return err
			}
		case <-expiry.c():
			if err := l.expire(); err != nil {
				return err
			}
		case <-ctx.Done():
			return errStopped
		}
	}
	return nil
}

// message prints (or reassembles) one message.
func (l *listener) message(m client.Message) error {
	if l.asm != nil && m.Binary && client.IsChunk(m.Payload) {
		return l.chunk(m)
	}
	if err := l.print(m); err != nil {
		return err
	}
	if l.asm == nil {
		l.got++
	}
	return nil
}

func (l *listener) print(m client.Message) error {
	var err error
	switch {
	case l.f.raw && m.Binary:
		_, err = l.stdout.Write(m.Payload)
	case l.f.raw:
		_, err = l.stdout.WriteString(m.Text() + "\n")
	case m.Binary:
		err = writeJSONLine(l.stdout, struct {
			ID     string `json:"id,omitempty"`
			Room   string `json:"room,omitempty"`
			From   string `json:"from,omitempty"`
			Binary []byte `json:"binary"`
		}{m.ID, m.Room, m.From, nonNil(m.Payload)})
	default:
		err = writeJSONLine(l.stdout, struct {
			ID   string          `json:"id,omitempty"`
			Room string          `json:"room,omitempty"`
			From string          `json:"from,omitempty"`
			Data json.RawMessage `json:"data"`
		}{m.ID, m.Room, m.From, m.Data})
	}
	if err == nil {
		err = l.stdout.Flush()
	}
	return err
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// chunk feeds an envelope chunk to the assembler and writes a completed
// payload to -out.
func (l *listener) chunk(m client.Message) error {
	if h, _, err := client.ParseChunkHeader(m.Payload); err == nil {
		l.rooms[h.ID] = m.Room
	}
	env, err := l.asm.Add(m.From, m.Payload)
	if err != nil {
		return l.envelopeFailed(err)
	}
	if env == nil {
		return nil
	}
	room := l.rooms[env.ID]
	delete(l.rooms, env.ID)
	if err := writeOut(l.f.out, env.Data, l.stdout); err != nil {
		return fmt.Errorf("write %s: %w", l.f.out, err)
	}
	l.got++
	if l.f.out == "-" {
		return l.stdout.Flush()
	}
	err = writeJSONLine(l.stdout, struct {
		Envelope string `json:"envelope"`
		Room     string `json:"room,omitempty"`
		From     string `json:"from,omitempty"`
		Bytes    int    `json:"bytes"`
		Out      string `json:"out"`
	}{env.ID.String(), room, env.From, len(env.Data), l.f.out})
	if err == nil {
		err = l.stdout.Flush()
	}
	return err
}

// envelopeFailed reports a broken envelope; with -once it ends the command.
func (l *listener) envelopeFailed(err error) error {
	var ee *client.EnvelopeError
	if errors.As(err, &ee) {
		delete(l.rooms, ee.ID)
	}
	if l.f.once {
		return err
	}
	report(l.stderr, "listen", err)
	return nil
}

func (l *listener) expire() error {
	for _, err := range l.asm.Expire() {
		if err := l.envelopeFailed(err); err != nil {
			return err
		}
	}
	return nil
}

// writeOut writes a payload to path through a temporary file and a rename,
// so that a reader never sees half a file; "-" writes to w.
func writeOut(path string, data []byte, w io.Writer) error {
	if path == "-" {
		_, err := w.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// event prints an event; after a lost connection it fails the envelopes
// in progress, whose missing chunks went to the old socket.
func (l *listener) event(ev client.Event) error {
	line := struct {
		Event  string `json:"event"`
		Room   string `json:"room,omitempty"`
		Socket string `json:"socket,omitempty"`
		Error  string `json:"error,omitempty"`
	}{Event: ev.Type, Room: ev.Room, Socket: ev.Socket}
	if ev.Err != nil {
		line.Error = ev.Err.Error()
	}
	_ = writeJSONLine(l.stderr, line)
	if ev.Type == client.EventDisconnected && l.asm != nil {
		for _, err := range l.asm.Abandon(ev.Err) {
			if err := l.envelopeFailed(err); err != nil {
				return err
			}
		}
	}
	return nil
}

// expiryTimer fires when the assembler's next partial envelope expires.
type expiryTimer struct {
	t     *time.Timer
	armed bool
}

func newExpiryTimer() *expiryTimer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &expiryTimer{t: t}
}

func (e *expiryTimer) c() <-chan time.Time {
	if !e.armed {
		return nil
	}
	return e.t.C
}

func (e *expiryTimer) stop() { e.t.Stop() }

func (l *listener) armExpiry(e *expiryTimer) {
	if l.asm == nil {
		return
	}
	next, ok := l.asm.NextExpiry()
	e.armed = ok
	if ok {
		e.t.Reset(max(time.Until(next), 0))
	}
}
