package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthouse/porthouse/client"
	"github.com/porthouse/porthouse/client/fakeserver"
	"github.com/porthouse/porthouse/wire"
)

// startListen runs listen in the background until it returns or the test
// ends; it waits for listen's socket to be up. Its standard error can be
// watched while it runs.
func startListen(t *testing.T, srv *fakeserver.Server, args ...string) (<-chan cmdResult, context.CancelFunc) {
	res, cancel, _ := startListenWatch(t, srv, args...)
	return res, cancel
}

func startListenWatch(t *testing.T, srv *fakeserver.Server, args ...string) (<-chan cmdResult, context.CancelFunc, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	before := len(srv.Sockets())
	res := make(chan cmdResult, 1)
	var out, errOut syncBuffer
	args = append([]string{"-url", srv.URL, "-token", secretB}, args...)
	go func() {
		code := runListen(ctx, args, strings.NewReader(""), &out, &errOut)
		res <- cmdResult{code, out.String(), errOut.String()}
	}()
	waitSockets(t, srv, before+1)
	return res, cancel, &errOut
}

func wait(t *testing.T, res <-chan cmdResult) cmdResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not end")
	}
	return cmdResult{}
}

func dialA(t *testing.T, srv *fakeserver.Server) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), srv.URL, secretA)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestListenJSONLines(t *testing.T) {
	srv := setupServer(t)
	res, _ := startListen(t, srv, "-count", "3", "-room", "lobby")
	a := dialA(t, srv)
	ctx := context.Background()
	rc1, _ := a.Send(ctx, "other", "filtered out")
	rc2, err := a.Send(ctx, "lobby", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	rc3, _ := a.SendBinary(ctx, "lobby", []byte{0, 1, 2})
	rc4, _ := a.Send(ctx, "lobby", "third")
	r := wait(t, res)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := []string{
		`{"id":"` + rc2.ID + `","room":"lobby","from":"tk_a/1","data":{"n":1}}`,
		`{"id":"` + rc3.ID + `","room":"lobby","from":"tk_a/1","binary":"` + base64.StdEncoding.EncodeToString([]byte{0, 1, 2}) + `"}`,
		`{"id":"` + rc4.ID + `","room":"lobby","from":"tk_a/1","data":"third"}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") || strings.Contains(r.stdout, rc1.ID) {
		t.Fatalf("stdout:\n%s\nwant:\n%s", r.stdout, strings.Join(want, "\n"))
	}
}

func TestListenBarePayloads(t *testing.T) {
	srv := setupServer(t)
	res, _ := startListen(t, srv, "-count", "2", "-raw")
	a := dialA(t, srv)
	ctx := context.Background()
	if _, err := a.Send(ctx, "lobby", "plain text"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SendBinary(ctx, "other", []byte("bytes")); err != nil {
		t.Fatal(err)
	}
	r := wait(t, res)
	if r.code != 0 || r.stdout != "plain text\nbytes" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestListenRawMode(t *testing.T) {
	srv := setupServer(t)
	res, _ := startListen(t, srv, "-once", "-raw", "-room", "lobby")
	a := dialA(t, srv)
	if _, err := a.Send(context.Background(), "lobby", map[string]bool{"raw": true}); err != nil {
		t.Fatal(err)
	}
	r := wait(t, res)
	if r.code != 0 || r.stdout != "{\"raw\":true}\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestListenJoinsRoom(t *testing.T) {
	srv := setupServer(t)
	srv.AddRoom(fakeserver.Room{Name: "square", Public: true})
	res, _ := startListen(t, srv, "-once", "-room", "square")
	waitFor(t, func() bool { return len(srv.Members("square")) == 1 })
	srv.Publish("square", json.RawMessage(`"from the backpipe"`))
	r := wait(t, res)
	if r.code != 0 || !strings.Contains(r.stdout, `"data":"from the backpipe"`) {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, `{"event":"joined","room":"square"}`) {
		t.Fatalf("stderr %q", r.stderr)
	}
}

func TestListenStops(t *testing.T) {
	srv := setupServer(t)
	t.Run("interrupt", func(t *testing.T) {
		res, cancel := startListen(t, srv)
		cancel()
		if r := wait(t, res); r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	base := []string{"-url", srv.URL, "-token", secretB}
	t.Run("timeout without count", func(t *testing.T) {
		r := runCmd(t, context.Background(), runListen, "", append(base, "-timeout", "100ms")...)
		if r.code != 0 {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("timeout before count", func(t *testing.T) {
		r := runCmd(t, context.Background(), runListen, "", append(base, "-timeout", "100ms", "-count", "2")...)
		oneLine(t, r, 1, "received 0 of 2")
	})
	t.Run("revoked", func(t *testing.T) {
		srv.AddToken("tk_r", "ph_r", "lobby")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res := make(chan cmdResult, 1)
		go func() {
			res <- runCmd(t, ctx, runListen, "", "-url", srv.URL, "-token", "ph_r")
		}()
		waitFor(t, func() bool { return strings.Contains(strings.Join(srv.Sockets(), ","), "tk_r/") })
		srv.Revoke("ph_r")
		oneLine(t, wait(t, res), 1, "closed by server: 4001")
	})
	t.Run("usage", func(t *testing.T) {
		oneLine(t, runCmd(t, context.Background(), runListen, "", "extra"), 2, "unexpected argument")
		oneLine(t, runCmd(t, context.Background(), runListen, "", "-count", "-1", "-token", "x"), 2, "-count")
	})
}

func TestListenReconnects(t *testing.T) {
	srv := setupServer(t)
	res, _, stderr := startListenWatch(t, srv, "-once", "-room", "lobby")
	id := srv.Sockets()[0]
	if err := srv.CloseSocket(id, wire.CloseGoingAway, "draining"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stderr.String(), `"event":"reconnected"`) })
	a := dialA(t, srv)
	if _, err := a.Send(context.Background(), "lobby", "after reconnect"); err != nil {
		t.Fatal(err)
	}
	r := wait(t, res)
	if r.code != 0 || !strings.Contains(r.stdout, "after reconnect") {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, `"event":"disconnected"`) || !strings.Contains(r.stderr, `"event":"reconnected"`) {
		t.Fatalf("stderr %q", r.stderr)
	}
}

func TestListenNoReconnect(t *testing.T) {
	srv := setupServer(t)
	res, _ := startListen(t, srv, "-no-reconnect")
	if err := srv.CloseSocket(srv.Sockets()[0], wire.CloseGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	oneLine(t, wait(t, res), 1, "1001")
}

func TestListenEnvelopes(t *testing.T) {
	srv := setupServer(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "env.bin")
	res, _ := startListen(t, srv, "-count", "2", "-out", out)
	a := dialA(t, srv)
	ctx := context.Background()
	first, second := bytes.Repeat([]byte("1"), 5000), bytes.Repeat([]byte("2"), 7000)
	if _, err := a.SendEnvelope(ctx, "lobby", bytes.NewReader(first), 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(ctx, "lobby", "not a chunk"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SendEnvelope(ctx, "other", bytes.NewReader(second), 3000); err != nil {
		t.Fatal(err)
	}
	r := wait(t, res)
	if r.code != 0 {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"bytes":5000`) || !strings.Contains(lines[1], "not a chunk") ||
		!strings.Contains(lines[2], `"room":"other"`) {
		t.Fatalf("stdout %q", r.stdout)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, second) {
		t.Fatal("-out does not hold the last envelope")
	}
}

func TestListenCorruptEnvelopeOnce(t *testing.T) {
	srv := setupServer(t)
	out := filepath.Join(t.TempDir(), "env.bin")
	res, _ := startListen(t, srv, "-once", "-out", out)
	a := dialA(t, srv)
	env := client.NewEnvelope(bytes.Repeat([]byte("x"), 300))
	var chunks [][]byte
	for c, err := range env.Chunks(100) {
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, bytes.Clone(c))
	}
	chunks[1][client.ChunkHeaderSize] ^= 1
	for _, c := range chunks {
		if _, err := a.SendBinary(context.Background(), "lobby", c); err != nil {
			t.Fatal(err)
		}
	}
	oneLine(t, wait(t, res), 1, "corrupt chunk")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("-out written for a corrupt envelope: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestListenEnvelopeLostOnDisconnect(t *testing.T) {
	srv := setupServer(t)
	out := filepath.Join(t.TempDir(), "env.bin")
	res, _ := startListen(t, srv, "-once", "-out", out)
	a := dialA(t, srv)
	env := client.NewEnvelope(bytes.Repeat([]byte("x"), 300))
	for c, err := range env.Chunks(100) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.SendBinary(context.Background(), "lobby", c); err != nil {
			t.Fatal(err)
		}
		break // only the first chunk arrives before the drop
	}
	waitFor(t, func() bool { return len(srv.Sockets()) == 2 })
	listener := srv.Sockets()[1] // tk_b/1 sorts after tk_a/1
	if err := srv.CloseSocket(listener, wire.CloseSlowConsumer, "slow consumer"); err != nil {
		t.Fatal(err)
	}
	oneLineContains(t, wait(t, res), 1, "chunks lost")
}

// oneLineContains is oneLine for a command whose stderr also carries
// event lines: the last line is the failure.
func oneLineContains(t *testing.T, r cmdResult, code int, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if r.code != code || !strings.HasPrefix(last, "porthouse listen: ") || !strings.Contains(last, want) {
		t.Fatalf("exit %d (want %d), stderr %q", r.code, code, r.stderr)
	}
}
