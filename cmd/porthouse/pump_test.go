package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/client/fakeserver"
	"github.com/porthouse/porthouse/internal/testserver"
)

const (
	secretA = "ph_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	secretB = "ph_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type cmdResult struct {
	code           int
	stdout, stderr string
}

// runCmd runs a subcommand in-process.
func runCmd(t *testing.T, ctx context.Context, run func(context.Context, []string, io.Reader, io.Writer, io.Writer) int, stdin string, args ...string) cmdResult {
	t.Helper()
	var out, errOut syncBuffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return cmdResult{code, out.String(), errOut.String()}
}

func setupServer(t *testing.T) *fakeserver.Server {
	t.Setenv("PORTHOUSE_URL", "")
	t.Setenv("PORTHOUSE_TOKEN", "")
	srv := fakeserver.Start(t)
	srv.AddToken("tk_a", secretA, "lobby", "other")
	srv.AddToken("tk_b", secretB, "lobby", "other")
	return srv
}

func dialB(t *testing.T, srv *fakeserver.Server) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), srv.URL, secretB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func recvMsg(t *testing.T, c *client.Conn) client.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

func oneLine(t *testing.T, r cmdResult, code int, want string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q, want one line with %q", r.stderr, want)
	}
}

func TestPumpText(t *testing.T) {
	srv := setupServer(t)
	b := dialB(t, srv)
	ctx := context.Background()
	r := runCmd(t, ctx, runPump, "", "-url", srv.URL, "-token", secretA, "-room", "lobby", "hello", "world")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	m := recvMsg(t, b)
	if strings.TrimSpace(r.stdout) != m.ID || string(m.Data) != `"hello world"` || m.From != "tk_a/1" {
		t.Fatalf("stdout %q, message %+v", r.stdout, m)
	}
	// Standard input, one trailing newline dropped.
	if r = runCmd(t, ctx, runPump, "line\n", "-url", srv.URL, "-token", secretA, "-room", "lobby"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if m = recvMsg(t, b); string(m.Data) != `"line"` {
		t.Fatalf("data %s", m.Data)
	}
	// -json sends the parsed value.
	if r = runCmd(t, ctx, runPump, `{ "n": [1, 2] }`, "-url", srv.URL, "-token", secretA, "-room", "lobby", "-json"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if m = recvMsg(t, b); string(m.Data) != `{"n":[1,2]}` {
		t.Fatalf("data %s", m.Data)
	}
	// -binary keeps every byte.
	if r = runCmd(t, ctx, runPump, "\x00\xffbin\n", "-url", srv.URL, "-token", secretA, "-room", "lobby", "-binary"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if m = recvMsg(t, b); !m.Binary || string(m.Payload) != "\x00\xffbin\n" {
		t.Fatalf("binary %+v", m)
	}
	// -to, with the token in the environment and query auth.
	t.Setenv("PORTHOUSE_TOKEN", secretA)
	if r = runCmd(t, ctx, runPump, "", "-url", srv.URL, "-auth", "query", "-to", b.SocketID(), "direct"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if m = recvMsg(t, b); m.Room != "" || m.Text() != "direct" {
		t.Fatalf("direct %+v", m)
	}
}

func TestPumpRefusals(t *testing.T) {
	srv := setupServer(t)
	srv.AddRoom(fakeserver.Room{Name: "private"})
	ctx := context.Background()
	base := []string{"-url", srv.URL, "-token", secretA}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{name: "forbidden room", args: append(base, "-room", "private", "x"), code: 1, want: "forbidden"},
		{name: "unknown room", args: append(base, "-room", "nowhere", "x"), code: 1, want: "not_found"},
		{name: "unknown token", args: []string{"-url", srv.URL, "-token", "ph_nope", "-room", "lobby", "x"}, code: 1, want: "unauthorized"},
		{name: "too large", args: append(base, "-room", "lobby", strings.Repeat("x", 70000)), code: 1, want: "too_large"},
		{name: "chunk too large", args: append(base, "-room", "lobby", "-chunk", "65500", "x"), code: 1, want: "too_large"},
		{name: "no room", args: append(base, "x"), code: 2, want: "give -room or -to"},
		{name: "room and to", args: append(base, "-room", "lobby", "-to", "tk_b/1", "x"), code: 2, want: "not both"},
		{name: "bad room name", args: append(base, "-room", "Bad Room", "x"), code: 2, want: "bad room name"},
		{name: "bad json", args: append(base, "-room", "lobby", "-json", "{"), code: 2, want: "not valid JSON"},
		{name: "bad utf-8", args: append(base, "-room", "lobby"), stdin: "\xff", code: 2, want: "-binary"},
		{name: "unknown flag", args: append(base, "-frobnicate"), code: 2, want: "-frobnicate"},
		{name: "no token", args: []string{"-url", srv.URL, "-room", "lobby", "x"}, code: 2, want: "no token"},
		{name: "missing file", args: append(base, "-room", "lobby", "-file", "/nonexistent/file"), code: 2, want: "/nonexistent/file"},
		{name: "missing argfile", args: append(base, "@/nonexistent/args", "x"), code: 2, want: "argument file"},
		{name: "raw without room", args: append(base, "-raw", "x"), code: 2, want: "-raw needs -room"},
		{name: "bad url", args: []string{"-url", "ftp://x", "-token", secretA, "-room", "lobby", "x"}, code: 1, want: "scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, ctx, runPump, tc.stdin, tc.args...)
			oneLine(t, r, tc.code, tc.want)
			if !strings.HasPrefix(r.stderr, "porthouse pump: ") || r.stdout != "" {
				t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, secretA) {
				t.Fatal("secret in the error")
			}
		})
	}
}

func TestPumpTimeoutNeverHangs(t *testing.T) {
	t.Setenv("PORTHOUSE_URL", "")
	t.Setenv("PORTHOUSE_TOKEN", "")
	// A server that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	t0 := time.Now()
	r := runCmd(t, context.Background(), runPump, "", "-url", "ws://"+ln.Addr().String(), "-token", secretA,
		"-room", "lobby", "-timeout", "300ms", "x")
	oneLine(t, r, 1, "timed out after 300ms")
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestPumpPrecedence(t *testing.T) {
	srv := setupServer(t)
	b := dialB(t, srv)
	dir := t.TempDir()
	argfile := filepath.Join(dir, "args")
	err := os.WriteFile(argfile, []byte("# from the file\n-url ws://127.0.0.1:1\ntoken = "+secretA+"\n-room=lobby\n-binary\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The environment beats the file: PORTHOUSE_URL replaces the file's
	// dead URL; the file still gives token, room and -binary.
	t.Setenv("PORTHOUSE_URL", srv.URL)
	r := runCmd(t, ctx, runPump, "", "@"+argfile, "from-file")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if m := recvMsg(t, b); !m.Binary || string(m.Payload) != "from-file" || m.Room != "lobby" {
		t.Fatalf("message %+v", m)
	}
	// Flags beat the environment and the file.
	t.Setenv("PORTHOUSE_URL", "ws://127.0.0.1:1")
	r = runCmd(t, ctx, runPump, "", "-url", srv.URL, "@"+argfile, "-room", "other", "-binary=false", "flag")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if m := recvMsg(t, b); m.Binary || m.Text() != "flag" || m.Room != "other" {
		t.Fatalf("message %+v", m)
	}
	// The environment's token beats the file's.
	t.Setenv("PORTHOUSE_URL", srv.URL)
	t.Setenv("PORTHOUSE_TOKEN", "ph_wrong")
	r = runCmd(t, ctx, runPump, "", "@"+argfile, "x")
	oneLine(t, r, 1, "unauthorized")
	// A message starting with @ goes after --.
	t.Setenv("PORTHOUSE_TOKEN", "")
	if r = runCmd(t, ctx, runPump, "", "@"+argfile, "-binary=false", "--", "@bob"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if m := recvMsg(t, b); m.Text() != "@bob" {
		t.Fatalf("message %+v", m)
	}
}

func TestPumpRaw(t *testing.T) {
	srv := setupServer(t)
	srv.PutToken(&fakeserver.Token{ID: "tk_ro", Secret: "ph_ro", MaxConnections: 2,
		Rooms: map[string]fakeserver.Perm{"lobby": {Receive: true, Text: true, Binary: true}}})
	b := dialB(t, srv)
	ctx := context.Background()
	r := runCmd(t, ctx, runPump, "", "-url", srv.URL, "-token", secretA, "-room", "lobby", "-raw", "raw text")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if m := recvMsg(t, b); string(m.Data) != `"raw text"` {
		t.Fatalf("message %+v", m)
	}
	r = runCmd(t, ctx, runPump, "", "-url", srv.URL, "-token", "ph_ro", "-room", "lobby", "-raw", "not allowed")
	oneLine(t, r, 1, "1008")
}

func randomFile(t *testing.T, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "payload.bin")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestPumpChunkedFileToListen(t *testing.T) {
	srv := setupServer(t)
	path, data := randomFile(t, 2<<20)
	out := filepath.Join(t.TempDir(), "received.bin")
	ctx := context.Background()
	lres := make(chan cmdResult, 1)
	go func() {
		lres <- runCmd(t, ctx, runListen, "", "-url", srv.URL, "-token", secretB, "-room", "lobby", "-once", "-out", out, "-timeout", "20s")
	}()
	waitSockets(t, srv, 1)
	r := runCmd(t, ctx, runPump, "", "-url", srv.URL, "-token", secretA, "-room", "lobby", "-file", path, "-chunk", "64000", "-timeout", "20s")
	if r.code != 0 {
		t.Fatalf("pump exit %d: %s", r.code, r.stderr)
	}
	lr := <-lres
	if lr.code != 0 {
		t.Fatalf("listen exit %d: %s", lr.code, lr.stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("received file differs (%d bytes, %v)", len(got), err)
	}
	var line struct {
		Envelope string
		Room     string
		From     string
		Bytes    int
		Out      string
	}
	if err := json.Unmarshal([]byte(lr.stdout), &line); err != nil || line.Bytes != len(data) || line.Room != "lobby" || line.From != "tk_a/1" {
		t.Fatalf("listen stdout %q: %v", lr.stdout, err)
	}
}

// waitSockets waits until the server has n live sockets.
func waitSockets(t *testing.T, srv *fakeserver.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Sockets()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets, want %d", len(srv.Sockets()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPumpListenRealServer: a 10 MB random file pumped in 64,000-byte
// chunks through the real server arrives byte-identical at listen -once
// -out.
func TestPumpListenRealServer(t *testing.T) {
	t.Setenv("PORTHOUSE_URL", "")
	t.Setenv("PORTHOUSE_TOKEN", "")
	srv := testserver.Start(t)
	recvTok := srv.TokenFor("lobby")
	path, data := randomFile(t, 10<<20)
	out := filepath.Join(t.TempDir(), "received.bin")
	ctx := context.Background()
	var lout, lerr syncBuffer
	lres := make(chan int, 1)
	go func() {
		lres <- runListen(ctx, []string{"-url", srv.WSURL, "-token", recvTok.Secret, "-room", "lobby", "-once", "-out", out, "-timeout", "60s"},
			strings.NewReader(""), &lout, &lerr)
	}()
	waitListening(t, srv, recvTok.ID)
	t.Setenv("PORTHOUSE_TOKEN", srv.LobbySecret)
	r := runCmd(t, ctx, runPump, "", "-url", srv.WSURL, "-room", "lobby", "-file", path, "-chunk", "64000", "-timeout", "60s")
	if r.code != 0 {
		t.Fatalf("pump exit %d: %s", r.code, r.stderr)
	}
	select {
	case code := <-lres:
		if code != 0 {
			t.Fatalf("listen exit %d: %s", code, lerr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("listen did not finish")
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes (%v), want the %d sent", len(got), err, len(data))
	}
	// A refusal by the real server: one line, exit 1.
	srv.CreateRoom("private", nil)
	r = runCmd(t, ctx, runPump, "", "-url", srv.WSURL, "-room", "private", "x")
	oneLine(t, r, 1, "porthouse pump: ")
}

// waitListening waits until a socket of token id is in lobby.
func waitListening(t *testing.T, srv *testserver.Server, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, body := srv.API("GET", "/api/v1/rooms/lobby/sockets", nil)
		if st == 200 && strings.Contains(string(body), id+"/") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen not in lobby: %d %s", st, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestByteSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "65536", want: 65536},
		{in: "64k", want: 64 << 10},
		{in: "4M", want: 4 << 20},
		{in: "1G", want: 1 << 30},
		{in: "-1", bad: true},
		{in: "fast", bad: true},
		{in: "99999999999G", bad: true},
	} {
		var b byteSize
		err := b.Set(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && int64(b) != tc.want) {
			t.Errorf("%q: %d %v", tc.in, b, err)
		}
	}
	b := byteSize(4 << 20)
	if b.String() != "4M" {
		t.Errorf("String %q", b.String())
	}
}
