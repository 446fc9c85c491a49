package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthouse/porthouse/bench"
	"github.com/porthouse/porthouse/internal/testserver"
)

// benchRun runs `porthouse bench args...` in process and times it.
func benchRun(t *testing.T, args ...string) (code int, stdout, stderr string, took time.Duration) {
	t.Helper()
	t.Setenv("PORTHOUSE_URL", "")
	t.Setenv("PORTHOUSE_TOKEN", "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	start := time.Now()
	code = runBench(ctx, args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String(), time.Since(start)
}

// benchJSON runs bench with -json and decodes its one line.
func benchJSON(t *testing.T, args ...string) bench.Result {
	t.Helper()
	code, stdout, stderr, took := benchRun(t, append(args, "-json", "-quiet")...)
	if code != 0 {
		t.Fatalf("exit %d after %v: %s", code, took, stderr)
	}
	if strings.Count(stdout, "\n") != 1 {
		t.Fatalf("want one JSON line, got %q", stdout)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("JSON: %v\n%s", err, stdout)
	}
	return res
}

func checkNoLoss(t *testing.T, res bench.Result, sockets int64) {
	t.Helper()
	if res.Opened != sockets || res.Failed != 0 || res.Sent == 0 || res.Received != res.Expected || res.Lost != 0 {
		t.Fatalf("opened %d failed %d sent %d expected %d received %d lost %d",
			res.Opened, res.Failed, res.Sent, res.Expected, res.Received, res.Lost)
	}
	if l := res.Latency; l.Count != res.Received || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P999 {
		t.Fatalf("latency %+v", l)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestBenchBadInput: every refusal is one line on standard error, the right
// exit status, and quick.
func TestBenchBadInput(t *testing.T) {
	srv := testserver.Start(t)
	dead := "ws://" + closedPort(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"conns 0", []string{"-spawn", "run", "-conns", "0"}, 2, "-conns must be"},
		{"size 4", []string{"-spawn", "run", "-size", "4"}, 2, "-size must be"},
		{"procs too small", []string{"-spawn", "run", "-conns", "40000"}, 2, "-procs too small"},
		{"remote", []string{"-url", "ws://192.0.2.1:8700", "-token", "ph_x"}, 2, "not a loopback address"},
		{"no credentials", []string{"-url", srv.WSURL}, 2, "needs -token or -api-key"},
		{"spawn and url", []string{"-spawn", "run", "-url", srv.WSURL}, 2, "drop -url"},
		{"unknown flag", []string{"-nope"}, 2, "not defined"},
		{"argument", []string{"-spawn", "run", "extra"}, 2, "unexpected argument"},
		{"bad mode", []string{"-spawn", "run", "-mode", "x"}, 2, "-mode must be"},
		{"missing pid", []string{"-url", srv.WSURL, "-token", "ph_x", "-pid", "999999999"}, 2, "-pid 999999999"},
		{"unreachable", []string{"-url", dead, "-token", "ph_x"}, 1, "connection refused"},
		{"unreachable raw", []string{"-target", "raw", "-url", dead + "/x"}, 1, "connection refused"},
		{"bad token", []string{"-url", srv.WSURL, "-token", "ph_nope"}, 1, "HTTP 401"},
		{"bad api key", []string{"-url", srv.WSURL, "-api-key", "pk_nope"}, 1, "HTTP 401"},
		{"unknown room", []string{"-url", srv.WSURL, "-token", srv.LobbySecret, "-room", "nowhere"}, 1, "HTTP 404"},
		{"token over its max_connections", []string{"-url", srv.WSURL, "-token", srv.LobbySecret, "-conns", "30", "-duration", "200ms"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr, took := benchRun(t, tc.args...)
			if tc.code == 0 {
				// Some sockets fail (the token allows 10): the run reports them.
				if code != 0 || !strings.Contains(stdout, "failed") || !strings.Contains(stdout, "HTTP 429") {
					t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
				}
				return
			}
			if code != tc.code || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "porthouse bench: ") || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want one line with %q)", code, tc.code, stderr, tc.want)
			}
			if stdout != "" {
				t.Fatalf("stdout %q", stdout)
			}
			if took > 10*time.Second {
				t.Fatalf("took %v", took)
			}
		})
	}
}

// TestBenchToken loads a running server's lobby with its token; the lobby
// does not echo, so receivers acknowledge the publisher. -report writes the
// HTML page.
func TestBenchToken(t *testing.T) {
	srv := testserver.Start(t)
	report := filepath.Join(t.TempDir(), "report.html")
	res := benchJSON(t, "-url", srv.WSURL, "-token", srv.LobbySecret, "-conns", "6", "-publishers", "2",
		"-duration", "700ms", "-pid", fmt.Sprint(os.Getpid()), "-report", report)
	checkNoLoss(t, res, 8)
	if res.Server == nil || res.Server.PID != os.Getpid() {
		t.Fatalf("server figures %+v", res.Server)
	}
	page, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(page), "<svg") {
		t.Fatalf("report: %v", err)
	}
}

// TestBenchAPIKey: bench makes its own rooms and tokens with an API key,
// runs envelope mode over three rooms, and deletes what it made.
func TestBenchAPIKey(t *testing.T) {
	srv := testserver.Start(t)
	before := apiNames(t, srv, "/api/v1/rooms", "name")
	res := benchJSON(t, "-url", srv.WSURL, "-api-key", srv.APIKey, "-mode", "envelope", "-rooms", "3",
		"-conns", "9", "-publishers", "3", "-duration", "700ms")
	checkNoLoss(t, res, 12)
	if res.Receipts != res.Sent {
		t.Fatalf("receipts %d for %d sent", res.Receipts, res.Sent)
	}
	if after := apiNames(t, srv, "/api/v1/rooms", "name"); after != before {
		t.Fatalf("rooms before %s, after %s", before, after)
	}
	if tokens := apiNames(t, srv, "/api/v1/tokens", "name"); strings.Contains(tokens, "bench") {
		t.Fatalf("tokens left: %s", tokens)
	}
}

func apiNames(t *testing.T, srv *testserver.Server, path, field string) string {
	t.Helper()
	status, body := srv.API("GET", path, nil)
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range list {
		names = append(names, fmt.Sprint(x[field]))
	}
	return strings.Join(names, ",")
}

// TestBenchRawTarget loads the reference broadcast server as a plain
// broadcast target.
func TestBenchRawTarget(t *testing.T) {
	ref, err := bench.ListenRef("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	res := benchJSON(t, "-target", "raw", "-url", "ws://"+ref.Addr().String()+"/{room}", "-rooms", "2",
		"-conns", "10", "-publishers", "2", "-duration", "500ms")
	checkNoLoss(t, res, 12)
}

// TestBenchServeRaw: -serve-raw prints its address first and stops when
// interrupted.
func TestBenchServeRaw(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	codes := make(chan int, 1)
	go func() {
		codes <- runBench(ctx, []string{"-serve-raw", "127.0.0.1:0"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "reference broadcast server listening on ws://127.0.0.1:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	go io.Copy(io.Discard, pr)
	cancel()
	select {
	case code := <-codes:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	code, _, stderr, _ := benchRun(t, "-serve-raw", "192.0.2.1:0")
	if code != 2 || !strings.Contains(stderr, "not a loopback") {
		t.Fatalf("remote listen: exit %d %q", code, stderr)
	}
}

// TestBenchHelp: -h shows the flags people use, not the internal ones.
func TestBenchHelp(t *testing.T) {
	code, stdout, _, _ := benchRun(t, "-h")
	if code != 0 || !strings.Contains(stdout, "-conns") || !strings.Contains(stdout, "-spawn") ||
		strings.Contains(stdout, "-child") || strings.Contains(stdout, "-serve-raw") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
}
