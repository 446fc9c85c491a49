package e2e

// Interoperability tests with a third-party client: Node's `ws` package
// drives a real server through the scripts in test/node. Each script prints
// one JSON object per line for everything it observed; these tests read the
// lines as they come and assert on them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthouse/porthouse/config"
	"github.com/porthouse/porthouse/internal/testserver"
)

// nodeTimeout bounds one node script; the scripts also stop themselves
// after 15 s.
const nodeTimeout = 30 * time.Second

var (
	nodeOnce sync.Once
	nodeDir  string // absolute path of test/node
	nodeErr  string // why node cannot run, "" when it can
)

// nodeScripts returns test/node, failing the test (never skipping) when node
// or its ws package is missing.
func nodeScripts(t *testing.T) string {
	t.Helper()
	nodeOnce.Do(func() {
		const hint = "; run `make test` or scripts/test-deps.sh to install node and the ws package into test/node/node_modules"
		root, err := filepath.Abs("..")
		if err != nil {
			nodeErr = "find the repository root: " + err.Error()
			return
		}
		nodeDir = filepath.Join(root, "test", "node")
		if _, err := os.Stat(filepath.Join(nodeDir, "lib.js")); err != nil {
			nodeErr = "test/node/lib.js not found from " + root + ": " + err.Error()
			return
		}
		node, err := exec.LookPath("node")
		if err != nil {
			nodeErr = "node is not installed (" + err.Error() + ")" + hint
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
		defer cancel()
		check := exec.CommandContext(ctx, node, "-e", "require('ws')")
		check.Dir = nodeDir
		out, err := check.CombinedOutput()
		if err != nil {
			nodeErr = "node cannot load the ws package from test/node (" + err.Error() + ": " +
				strings.TrimSpace(string(out)) + ")" + hint
		}
	})
	if nodeErr != "" {
		t.Fatal(nodeErr)
	}
	return nodeDir
}

// nodeProc is a running node script.
type nodeProc struct {
	t      *testing.T
	name   string
	lines  chan nodeLine
	stderr *nodeStderr
	done   chan error
}

// nodeLine is one JSON line printed by a script.
type nodeLine struct {
	Event  string         `json:"event"`
	Client string         `json:"client"`
	Frame  map[string]any `json:"frame"`
	Code   int            `json:"code"`
	Reason string         `json:"reason"`
	raw    []byte
}

// decode unmarshals the whole line into v.
func (l nodeLine) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(l.raw, v); err != nil {
		t.Fatalf("node line %s: %v", l.raw, err)
	}
}

type nodeStderr struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *nodeStderr) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *nodeStderr) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startNode runs `node test/node/<script> args...`; the process is killed
// when the test ends if it is still running.
func startNode(t *testing.T, script string, args ...string) *nodeProc {
	t.Helper()
	dir := nodeScripts(t)
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(dir, script)}, args...)...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	p := &nodeProc{t: t, name: script, lines: make(chan nodeLine, 64), stderr: &nodeStderr{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatalf("node %s: %v", script, err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node %s: %v", script, err)
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			raw := bytes.Clone(sc.Bytes())
			l := nodeLine{raw: raw}
			if err := json.Unmarshal(raw, &l); err != nil {
				l = nodeLine{Event: "unparsed", Reason: string(raw), raw: raw}
			}
			p.lines <- l
		}
	}()
	go func() {
		<-readerDone
		p.done <- cmd.Wait()
		cancel()
	}()
	t.Cleanup(func() {
		cancel()
		for range p.lines { //nolint:revive // drain so the reader can finish
		}
	})
	return p
}

// next returns the next line, failing the test on timeout or exit.
func (p *nodeProc) next() nodeLine {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("node %s ended early: %v\nstderr:\n%s", p.name, p.exitErr(), p.stderr.String())
		}
		if l.Event == "fatal" || l.Event == "unparsed" {
			p.t.Fatalf("node %s: %s\nstderr:\n%s", p.name, l.raw, p.stderr.String())
		}
		return l
	case <-time.After(nodeTimeout):
		p.t.Fatalf("node %s: no output within %v\nstderr:\n%s", p.name, nodeTimeout, p.stderr.String())
		return nodeLine{}
	}
}

// expect returns the next line, failing unless it is the given event.
func (p *nodeProc) expect(event string) nodeLine {
	p.t.Helper()
	l := p.next()
	if l.Event != event {
		p.t.Fatalf("node %s: want event %q, got %s", p.name, event, l.raw)
	}
	return l
}

// wait waits for the script to exit and fails unless it exited 0 with no
// further output.
func (p *nodeProc) wait() {
	p.t.Helper()
	for l := range p.lines {
		p.t.Errorf("node %s: unexpected line %s", p.name, l.raw)
	}
	if err := p.exitErr(); err != nil {
		p.t.Fatalf("node %s: %v\nstderr:\n%s", p.name, err, p.stderr.String())
	}
}

// exitErr waits for the process after stdout closed.
func (p *nodeProc) exitErr() error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(nodeTimeout):
		return context.DeadlineExceeded
	}
}

func nodeStr(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func TestNodeEnvelopeChat(t *testing.T) {
	srv := testserver.Start(t)
	p := startNode(t, "envelope.js", srv.WSURL, srv.LobbySecret)

	sockets := map[string]string{}
	for _, c := range []string{"a", "b"} {
		l := p.expect("welcome")
		if l.Client != c || nodeStr(l.Frame, "type") != "welcome" {
			t.Fatalf("welcome for %s: %s", c, l.raw)
		}
		id := nodeStr(l.Frame, "socket")
		if !strings.HasPrefix(id, srv.LobbyTokenID+"/") {
			t.Fatalf("welcome socket %q: want %s/<slot>", id, srv.LobbyTokenID)
		}
		var w struct {
			Frame struct {
				Rooms []struct {
					Room    string   `json:"room"`
					Send    bool     `json:"send"`
					Receive bool     `json:"receive"`
					Formats []string `json:"formats"`
				} `json:"rooms"`
				Limits struct {
					MaxMessageBytes int `json:"max_message_bytes"`
				} `json:"limits"`
			} `json:"frame"`
		}
		l.decode(t, &w)
		if len(w.Frame.Rooms) != 1 || w.Frame.Rooms[0].Room != "lobby" || !w.Frame.Rooms[0].Send ||
			!w.Frame.Rooms[0].Receive || len(w.Frame.Rooms[0].Formats) != 2 {
			t.Fatalf("welcome rooms: %s", l.raw)
		}
		if w.Frame.Limits.MaxMessageBytes != srv.Config.MaxMessageBytes {
			t.Fatalf("welcome limits: %s", l.raw)
		}
		sockets[c] = id
	}
	if sockets["a"] == sockets["b"] {
		t.Fatalf("two sockets share id %s", sockets["a"])
	}

	// Text message with a ref.
	r := p.expect("receipt")
	if r.Client != "b" || nodeStr(r.Frame, "ref") != "n1" || nodeStr(r.Frame, "room") != "lobby" || nodeStr(r.Frame, "id") == "" {
		t.Fatalf("text receipt: %s", r.raw)
	}
	m := p.expect("message")
	data, _ := m.Frame["data"].(map[string]any)
	if m.Client != "a" || nodeStr(m.Frame, "id") != nodeStr(r.Frame, "id") || nodeStr(m.Frame, "room") != "lobby" ||
		nodeStr(m.Frame, "from") != sockets["b"] || nodeStr(data, "text") != "hello from node" || data["n"] != 1.0 {
		t.Fatalf("text message: %s", m.raw)
	}

	// Binary envelope frame.
	br := p.expect("receipt")
	if br.Client != "b" || nodeStr(br.Frame, "ref") != "b1" || nodeStr(br.Frame, "id") == "" {
		t.Fatalf("binary receipt: %s", br.raw)
	}
	var bin struct {
		Header  map[string]any `json:"header"`
		Payload string         `json:"payload_b64"`
		Sent    string         `json:"sent_b64"`
	}
	p.expect("binary").decode(t, &bin)
	if nodeStr(bin.Header, "type") != "message" || nodeStr(bin.Header, "id") != nodeStr(br.Frame, "id") ||
		nodeStr(bin.Header, "room") != "lobby" || nodeStr(bin.Header, "from") != sockets["b"] {
		t.Fatalf("binary header: %v", bin.Header)
	}
	if _, ok := bin.Header["data"]; ok {
		t.Fatalf("binary header carries data: %v", bin.Header)
	}
	got, _ := base64.StdEncoding.DecodeString(bin.Payload)
	sent, _ := base64.StdEncoding.DecodeString(bin.Sent)
	if len(sent) != 300 || !bytes.Equal(got, sent) {
		t.Fatalf("binary payload: got %d bytes %x, sent %d bytes %x", len(got), got, len(sent), sent)
	}

	// Direct message; the numeric ref comes back as a number.
	dr := p.expect("receipt")
	if dr.Client != "a" || dr.Frame["ref"] != 7.0 || nodeStr(dr.Frame, "to") != sockets["b"] {
		t.Fatalf("direct receipt: %s", dr.raw)
	}
	dm := p.expect("message")
	if dm.Client != "b" || nodeStr(dm.Frame, "data") != "direct to b" || nodeStr(dm.Frame, "from") != sockets["a"] {
		t.Fatalf("direct message: %s", dm.raw)
	}
	if _, ok := dm.Frame["room"]; ok {
		t.Fatalf("direct message has a room: %s", dm.raw)
	}
	p.wait()
}

func TestNodeRawMode(t *testing.T) {
	const limit = 4096
	srv := testserver.Start(t, func(c *config.Config) { c.MaxMessageBytes = limit })
	p := startNode(t, "raw.js", srv.WSURL, srv.LobbySecret, "4096")
	p.expect("open")

	type frame struct {
		Binary bool   `json:"binary"`
		Text   string `json:"text"`
		B64    string `json:"b64"`
	}
	var got [2]struct {
		Client string `json:"client"`
		Frame  frame  `json:"frame"`
	}
	p.expect("received").decode(t, &got[0])
	p.expect("received").decode(t, &got[1])
	var sent struct {
		Text string `json:"text"`
		B64  string `json:"b64"`
	}
	p.expect("sent").decode(t, &sent)
	if got[0].Client != "b" || got[0].Frame.Binary || got[0].Frame.Text != sent.Text {
		t.Fatalf("raw text frame: got %+v, sent %q", got[0], sent.Text)
	}
	if got[1].Client != "b" || !got[1].Frame.Binary || got[1].Frame.B64 != sent.B64 {
		t.Fatalf("raw binary frame: got %+v, sent %s", got[1], sent.B64)
	}

	c := p.expect("close")
	if c.Client != "a" || c.Code != 1009 {
		t.Fatalf("oversized raw frame: want close 1009 at a, got %s", c.raw)
	}
	p.wait()
}

func TestNodeHandshakeRefused(t *testing.T) {
	srv := testserver.Start(t)
	cases := []struct {
		name, url string
		status    int
		code      string
	}{
		{"bad token", srv.WSURL + "/ws?token=ph_bad", http.StatusUnauthorized, "unauthorized"},
		{"bad bearer raw", srv.WSURL + "/ws/rooms/lobby?token=" + url.QueryEscape("ph_"+strings.Repeat("x", 43)), http.StatusUnauthorized, "unauthorized"},
		{"unknown room", srv.WSURL + "/ws/rooms/nowhere?token=" + url.QueryEscape(srv.LobbySecret), http.StatusNotFound, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startNode(t, "refused.js", tc.url)
			var r struct {
				Status      int    `json:"status"`
				ContentType string `json:"content_type"`
				Body        struct {
					Error struct {
						Code    string `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				} `json:"body"`
			}
			l := p.expect("refused")
			l.decode(t, &r)
			if r.Status != tc.status || r.Body.Error.Code != tc.code || r.Body.Error.Message == "" ||
				!strings.HasPrefix(r.ContentType, "application/json") {
				t.Fatalf("want %d %s with a JSON body, got %s", tc.status, tc.code, l.raw)
			}
			p.wait()
		})
	}
}

func TestNodeFirstMessageAuth(t *testing.T) {
	srv := testserver.Start(t)
	p := startNode(t, "auth.js", srv.WSURL, srv.LobbySecret)

	w := p.expect("welcome")
	if !strings.HasPrefix(nodeStr(w.Frame, "socket"), srv.LobbyTokenID+"/") {
		t.Fatalf("welcome after auth frame: %s", w.raw)
	}
	pong := p.expect("pong")
	ref, _ := json.Marshal(pong.Frame["ref"])
	if string(ref) != `{"nested":["ref",1]}` {
		t.Fatalf("pong ref %s: %s", ref, pong.raw)
	}
	e := p.expect("error")
	if nodeStr(e.Frame, "code") != "unauthorized" || nodeStr(e.Frame, "ref") != "a1" {
		t.Fatalf("bad auth frame: want error unauthorized with ref a1, got %s", e.raw)
	}
	c := p.expect("close")
	if c.Code != 4001 {
		t.Fatalf("bad auth frame: want close 4001, got %s", c.raw)
	}
	p.wait()
}

func TestNodeKickedClose(t *testing.T) {
	srv := testserver.Start(t)
	p := startNode(t, "kicked.js", srv.WSURL, srv.LobbySecret)
	w := p.expect("welcome")
	id := nodeStr(w.Frame, "socket")
	tokenID, slot, ok := strings.Cut(id, "/")
	if !ok || tokenID != srv.LobbyTokenID {
		t.Fatalf("welcome socket %q", id)
	}
	srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/sockets/"+tokenID+"/"+slot, nil, nil)
	c := p.expect("close")
	if c.Code != 4010 {
		t.Fatalf("kicked socket: want close 4010, got %s", c.raw)
	}
	p.wait()
}

func TestNodeTokenDeletedClose(t *testing.T) {
	srv := testserver.Start(t)
	tok := srv.TokenFor("lobby")
	p := startNode(t, "kicked.js", srv.WSURL, tok.Secret)
	p.expect("welcome")
	srv.MustAPI(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+tok.ID, nil, nil)
	c := p.expect("close")
	if c.Code != 4001 {
		t.Fatalf("deleted token: want close 4001, got %s", c.raw)
	}
	p.wait()
}
