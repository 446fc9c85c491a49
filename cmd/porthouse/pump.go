package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/wire"
)

func init() {
	commands["pump"] = command{summary: "send one message (or a file as an envelope of chunks) and print its id", run: runPump}
}

const pumpUsage = `usage: porthouse pump [flags] [@argfile ...] [message ...]

Sends one message to a room (-room) or a socket (-to), waits for its
receipt and prints the message id. The message is the remaining arguments
joined by spaces, else the -file, else standard input.

Text is sent as a JSON string (one trailing newline of a file or standard
input is dropped); with -json the text must be JSON and is sent as that
value. -binary sends the bytes as they are. -chunk N sends them as an
envelope of N-byte chunks (docs/envelope-chunks.md), each a binary message
of N+72 bytes; the id printed is that of the last chunk. Chunks are paced by -rate
(default 4M bytes per second; 0 for no limit): the server closes a receiver
that falls 1 MiB behind (4009), and receipts do not wait for receivers.
-raw uses raw mode (/ws/rooms/{room}): no receipts, nothing is printed, and
the exit status tells whether the server closed the socket over the frame.

Connection settings come from the flags, then PORTHOUSE_URL and
PORTHOUSE_TOKEN, then argument files given as @path (one flag per line,
"-room lobby" or "room = lobby"; # starts a comment). An argument starting
with @ before the message is an argument file; put a message that starts
with @ after --.

Exit status: 0 sent, 1 refused by the server or failed, 2 usage error.
Every failure is one line on standard error.

flags:
`

// connFlags are the connection flags shared by pump and listen.
type connFlags struct {
	url      string
	token    string
	room     string
	password string
	auth     string
	timeout  time.Duration
}

func (cf *connFlags) register(fs *flag.FlagSet, timeout time.Duration, timeoutHelp string) {
	fs.StringVar(&cf.url, "url", defaultURL, "server `URL` (ws://host:port; env PORTHOUSE_URL)")
	fs.StringVar(&cf.token, "token", "", "token `secret` (env PORTHOUSE_TOKEN)")
	fs.StringVar(&cf.room, "room", "", "`room` name, or owner/room for another owner's public room")
	fs.StringVar(&cf.password, "password", "", "room `password`, if it has one")
	fs.StringVar(&cf.auth, "auth", "header", "how the token is sent: header, query or message")
	fs.DurationVar(&cf.timeout, "timeout", timeout, timeoutHelp)
}

const defaultURL = "ws://127.0.0.1:8700"

// usageError is a bad command line: exit status 2.
type usageError struct{ error }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// parseCommandLine parses args into fs with the precedence of PROTOCOL.md:
// flags on the command line, then the environment (PORTHOUSE_URL,
// PORTHOUSE_TOKEN), then @argument files. It returns the positional
// arguments.
func parseCommandLine(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	files, cmdline, err := splitArgFiles(fs, args)
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		settings, err := readArgFile(path)
		if err != nil {
			return nil, usageError{err}
		}
		fileArgs := make([]string, 0, len(settings))
		for _, s := range settings {
			if s.Value == "" && isBoolFlag(fs, s.Key) {
				fileArgs = append(fileArgs, "-"+s.Key)
			} else {
				fileArgs = append(fileArgs, "-"+s.Key+"="+s.Value)
			}
		}
		if err := fs.Parse(fileArgs); err != nil {
			return nil, usageErrorf("%s: %v", path, err)
		}
	}
	for flagName, env := range map[string]string{"url": "PORTHOUSE_URL", "token": "PORTHOUSE_TOKEN"} {
		if v := getenv(env); v != "" && fs.Lookup(flagName) != nil {
			if err := fs.Set(flagName, v); err != nil {
				return nil, usageErrorf("%s: %v", env, err)
			}
		}
	}
	if err := fs.Parse(cmdline); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	return fs.Args(), nil
}

// splitArgFiles takes the @path arguments out of the flags part of args
// (before the first positional argument or --), keeping flag values.
func splitArgFiles(fs *flag.FlagSet, args []string) (files, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-" || !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "@"):
			return files, append(rest, args[i:]...), nil
		case strings.HasPrefix(a, "@"):
			if len(a) == 1 {
				return nil, nil, usageErrorf("@ without a file name")
			}
			files = append(files, a[1:])
		default:
			rest = append(rest, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && fs.Lookup(name) != nil && !isBoolFlag(fs, name) && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
		}
	}
	return files, rest, nil
}

func isBoolFlag(fs *flag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func readArgFile(path string) ([]client.Setting, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("argument file: %w", err)
	}
	defer f.Close()
	settings, err := client.ParseSettings(f)
	if err != nil {
		return nil, fmt.Errorf("argument file %s: %w", path, err)
	}
	return settings, nil
}

// options turns the connection flags into client options.
func (cf *connFlags) options() ([]client.Option, error) {
	mode, err := client.ParseAuthMode(cf.auth)
	if err != nil {
		return nil, usageError{err}
	}
	if cf.token == "" {
		return nil, usageErrorf("no token: give -token, PORTHOUSE_TOKEN or an @argument file")
	}
	return []client.Option{client.WithAuth(mode)}, nil
}

// report prints err as the one line of a failed command and returns its
// exit status: 2 for usage errors, 1 otherwise.
func report(stderr io.Writer, name string, err error) int {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " ")
	msg = strings.ReplaceAll(msg, "porthouse: ", "")
	fmt.Fprintf(stderr, "porthouse %s: %s\n", name, msg)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// newFlagSet returns a quiet flag set (errors are reported by the caller in
// one line) and the function printing its usage.
func newFlagSet(name, usage string, stdout io.Writer) (*flag.FlagSet, func()) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs, func() {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

type pumpFlags struct {
	connFlags
	to     string
	file   string
	binary bool
	json   bool
	chunk  int
	rate   byteSize
	raw    bool
}

func runPump(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f pumpFlags
	fs, usage := newFlagSet("pump", pumpUsage, stdout)
	f.register(fs, 10*time.Second, "bound on the whole command")
	fs.StringVar(&f.to, "to", "", "send directly to this `socket` id instead of a room")
	fs.StringVar(&f.file, "file", "", "send the contents of `path` (- for standard input)")
	fs.BoolVar(&f.binary, "binary", false, "send a binary message")
	fs.BoolVar(&f.json, "json", false, "the text is JSON: send it as that value, not as a string")
	fs.IntVar(&f.chunk, "chunk", 0, "send an envelope of `N`-byte chunks (binary)")
	fs.BoolVar(&f.raw, "raw", false, "use raw mode (/ws/rooms/{room})")
	f.rate = client.DefaultEnvelopeRate
	fs.Var(&f.rate, "rate", "pace -chunk sends to `bytes` per second (k, M, G suffixes; 0: no limit)")
	rest, err := parseCommandLine(fs, args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return 0
	}
	if err != nil {
		return report(stderr, "pump", err)
	}
	if err := f.check(len(rest) > 0); err != nil {
		return report(stderr, "pump", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, f.timeout, fmt.Errorf("timed out after %v", f.timeout))
	defer cancel()
	if err := pump(ctx, &f, rest, stdin, stdout); err != nil {
		if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.DeadlineExceeded) {
			err = cause
		}
		return report(stderr, "pump", err)
	}
	return 0
}

func (f *pumpFlags) check(hasArgs bool) error {
	switch {
	case f.raw && f.room == "":
		return usageErrorf("-raw needs -room")
	case f.raw && f.to != "":
		return usageErrorf("-raw sends to a room: -to is not possible")
	case f.raw && f.auth == "message":
		return usageErrorf("-raw: raw mode has no first-message auth")
	case f.room == "" && f.to == "":
		return usageErrorf("give -room or -to")
	case f.room != "" && f.to != "":
		return usageErrorf("give -room or -to, not both")
	case f.room != "" && !validRoom(f.room):
		return usageErrorf("bad room name %q", f.room)
	case f.chunk < 0:
		return usageErrorf("-chunk must be positive")
	case f.json && (f.binary || f.chunk > 0):
		return usageErrorf("-json sends text: not with -binary or -chunk")
	case hasArgs && f.file != "":
		return usageErrorf("give the message as arguments or -file, not both")
	case f.timeout <= 0:
		return usageErrorf("-timeout must be positive")
	}
	return nil
}

func validRoom(room string) bool {
	_, ok := wire.ParseRoomRef(room)
	return ok
}

// pump does the sending; every error it returns is one line.
func pump(ctx context.Context, f *pumpFlags, rest []string, stdin io.Reader, stdout io.Writer) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	opts = append(opts, client.WithDialTimeout(f.timeout), client.WithCloseTimeout(min(f.timeout, 2*time.Second)),
		client.WithEnvelopeRate(int64(f.rate)))
	src, closeSrc, err := f.source(rest, stdin)
	if err != nil {
		return err
	}
	defer closeSrc()
	var payload []byte
	if f.chunk == 0 || !isRegularFile(src) {
		if payload, err = readAllContext(ctx, src); err != nil {
			return err
		}
		src = bytes.NewReader(payload)
	}
	if f.chunk == 0 && !f.binary {
		if payload, err = f.text(payload, len(rest) > 0); err != nil {
			return err
		}
	}
	if f.raw {
		return f.pumpRaw(ctx, opts, src, payload)
	}
	c, err := client.Dial(ctx, f.url, f.token, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	var id string
	err = f.sendJoiningIfNeeded(ctx, c, func() error {
		var err error
		id, err = f.send(ctx, c, src, payload)
		return err
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}

// source opens the message: arguments, -file, or standard input.
func (f *pumpFlags) source(rest []string, stdin io.Reader) (io.Reader, func(), error) {
	switch {
	case len(rest) > 0:
		return strings.NewReader(strings.Join(rest, " ")), func() {}, nil
	case f.file != "" && f.file != "-":
		fh, err := os.Open(f.file)
		if err != nil {
			return nil, nil, usageError{err}
		}
		return fh, func() { _ = fh.Close() }, nil
	}
	if stdin == nil {
		return nil, nil, usageErrorf("no message: give it as arguments, -file or on standard input")
	}
	return stdin, func() {}, nil
}

func isRegularFile(r io.Reader) bool {
	fh, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := fh.Stat()
	return err == nil && fi.Mode().IsRegular()
}

// readAllContext reads r whole, giving up when ctx ends (a reader that
// blocks, such as a terminal, is left behind).
func readAllContext(ctx context.Context, r io.Reader) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			return nil, fmt.Errorf("read message: %w", res.err)
		}
		return res.b, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("read message: %w", context.Cause(ctx))
	}
}

// text prepares a text message: the JSON value to send in envelope mode,
// or the text itself in raw mode.
func (f *pumpFlags) text(b []byte, fromArgs bool) ([]byte, error) {
	if !fromArgs {
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
	}
	if !utf8.Valid(b) {
		return nil, usageErrorf("the message is not valid UTF-8 text: use -binary")
	}
	if f.json {
		if !json.Valid(b) {
			return nil, usageErrorf("-json: the message is not valid JSON")
		}
		if f.raw {
			return b, nil
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return nil, usageErrorf("-json: %v", err)
		}
		return buf.Bytes(), nil
	}
	if f.raw {
		return b, nil
	}
	return json.Marshal(string(b))
}

// send sends the message and returns its id.
func (f *pumpFlags) send(ctx context.Context, c *client.Conn, src io.Reader, payload []byte) (string, error) {
	var (
		rc  client.Receipt
		err error
	)
	if s, ok := src.(io.Seeker); ok && f.chunk > 0 {
		// A second attempt (after a join) sends the whole payload again.
		if _, err := s.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
	}
	switch {
	case f.chunk > 0 && f.to != "":
		var er client.EnvelopeReceipt
		er, err = c.SendEnvelopeTo(ctx, f.to, src, f.chunk)
		rc = er.Last
	case f.chunk > 0:
		var er client.EnvelopeReceipt
		er, err = c.SendEnvelope(ctx, f.room, src, f.chunk)
		rc = er.Last
	case f.binary && f.to != "":
		rc, err = c.SendBinaryTo(ctx, f.to, payload)
	case f.binary:
		rc, err = c.SendBinary(ctx, f.room, payload)
	case f.to != "":
		rc, err = c.SendTo(ctx, f.to, json.RawMessage(payload))
	default:
		rc, err = c.SendRaw(ctx, f.room, payload)
	}
	return rc.ID, err
}

// sendJoiningIfNeeded sends; if the server refuses because the socket is
// not in the room (a room not in the welcome, such as another owner's
// public room), it joins the room and sends once more. A refused send was
// not routed, so the retry cannot duplicate it.
func (f *pumpFlags) sendJoiningIfNeeded(ctx context.Context, c *client.Conn, send func() error) error {
	err := send()
	var we *wire.Error
	if f.room == "" || c.InRoom(f.room) || !errors.As(err, &we) ||
		(we.Code != wire.CodeForbidden && we.Code != wire.CodeNotFound) {
		return err
	}
	if _, jerr := c.Join(ctx, f.room, f.password); jerr != nil {
		return err // the send's refusal says more than the join's
	}
	return send()
}

// pumpRaw writes the message in raw mode and closes, reporting a frame the
// server refused through the close code.
func (f *pumpFlags) pumpRaw(ctx context.Context, opts []client.Option, src io.Reader, payload []byte) error {
	r, err := client.DialRoom(ctx, f.url, f.token, f.room, append(opts, client.WithPassword(f.password))...)
	if err != nil {
		return err
	}
	switch {
	case f.chunk > 0:
		_, err = r.SendEnvelope(ctx, src, f.chunk)
	case f.binary:
		err = r.WriteBinary(ctx, payload)
	default:
		err = r.WriteText(ctx, payload)
	}
	if cerr := r.Close(); cerr != nil {
		return fmt.Errorf("refused: %w", cerr)
	}
	return err
}

// byteSize is a flag holding a number of bytes: 512, 64k, 4M, 1G (powers
// of 1024).
type byteSize int64

func (b *byteSize) String() string {
	switch v := int64(*b); {
	case v != 0 && v%(1<<30) == 0:
		return strconv.FormatInt(v>>30, 10) + "G"
	case v != 0 && v%(1<<20) == 0:
		return strconv.FormatInt(v>>20, 10) + "M"
	case v != 0 && v%(1<<10) == 0:
		return strconv.FormatInt(v>>10, 10) + "k"
	default:
		return strconv.FormatInt(v, 10)
	}
}

func (b *byteSize) Set(s string) error {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult = 1 << 10
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult = 1 << 20
	case strings.HasSuffix(s, "G"), strings.HasSuffix(s, "g"):
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return errors.New("want a number of bytes such as 65536, 64k or 4M")
	}
	*b = byteSize(n * mult)
	return nil
}
