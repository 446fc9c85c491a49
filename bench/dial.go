package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// dialer opens WebSocket connections to one server, spreading them over
// loopback source addresses when the server is on IPv4 loopback: one source
// address gives at most ~28,000 ports towards one server port, and
// IP_BIND_ADDRESS_NO_PORT lets the kernel pick the port at connect time by
// the whole 4-tuple instead of reserving it at bind.
//
// Everything that is the same for every connection is done once: the
// address is resolved and the upgrade request of each path (with the token)
// is built up to its Sec-WebSocket-Key, which is the only part that changes.
type dialer struct {
	dst4    *unix.SockaddrInet4 // the server, IPv4; copied per use (the unix package writes into a Sockaddr)
	dst6    *unix.SockaddrInet6 // or IPv6
	sources [][4]byte
	host    string // the Host header
	auth    string // the Authorization header line, or ""
	timeout time.Duration

	mu   sync.Mutex
	reqs map[string][]byte // request up to the key's value, by path
}

func newDialer(rawURL, token string, sourceIPs int, timeout time.Duration) (*dialer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("url %s: only ws:// is supported", rawURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	addr, err := net.ResolveTCPAddr("tcp", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", u.Host, err)
	}
	d := &dialer{host: u.Host, timeout: timeout, reqs: map[string][]byte{}}
	if ip4 := addr.IP.To4(); ip4 != nil {
		d.dst4 = &unix.SockaddrInet4{Port: addr.Port, Addr: [4]byte(ip4)}
		if ip4.IsLoopback() && bindNoPortSupported {
			for i := 0; i < sourceIPs; i++ {
				d.sources = append(d.sources, [4]byte{127, 0, 0, byte(1 + i)})
			}
		}
	} else {
		d.dst6 = &unix.SockaddrInet6{Port: addr.Port, Addr: [16]byte(addr.IP.To16())}
		if addr.Zone != "" {
			if ifi, err := net.InterfaceByName(addr.Zone); err == nil {
				d.dst6.ZoneId = uint32(ifi.Index)
			}
		}
	}
	if token != "" {
		d.auth = "Authorization: Bearer " + token + "\r\n"
	}
	return d, nil
}

// request returns the upgrade request for path (with its query) up to the
// value of Sec-WebSocket-Key, built once per path.
func (d *dialer) request(path string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.reqs[path]; ok {
		return r, nil
	}
	if path == "" || path[0] != '/' || strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("bad request path %q", path)
	}
	r := []byte("GET " + path + " HTTP/1.1\r\nHost: " + d.host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		d.auth + "Sec-WebSocket-Key: ")
	d.reqs[path] = r
	return r, nil
}

// handshake is what a client upgrade needs to know about its request, and,
// for an upgrade answered on a reader, how the answer is handed back.
type handshake struct {
	req    []byte   // the whole request
	accept [28]byte // the Sec-WebSocket-Accept the server must answer

	oneshot  bool         // the dialing goroutine sets the socket up after the upgrade (envelope mode)
	state    atomic.Int32 // hsWaiting, then hsAnswered (by the reader) or hsAbandoned (by the dialer)
	done     chan error   // the answer's verdict, once answered
	got      []byte       // a refusal: what was read of it
	leftover []byte       // a 101: what the server sent after it
}

// Handshake states: the reader and the dialing goroutine agree which of
// them finishes the socket.
const (
	hsWaiting = iota
	hsAnswered
	hsAbandoned
)

// keySize is the length of a Sec-WebSocket-Key (16 bytes in base64).
const keySize = 24

// newHandshake builds the request for path with a fresh random key.
func (d *dialer) newHandshake(path string) (*handshake, error) {
	prefix, err := d.request(path)
	if err != nil {
		return nil, err
	}
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	hs := &handshake{req: make([]byte, len(prefix)+keySize+4)}
	n := copy(hs.req, prefix)
	key := hs.req[n : n+keySize]
	base64.StdEncoding.Encode(key, raw[:])
	copy(hs.req[n+keySize:], "\r\n\r\n")
	hs.accept = acceptKey(key)
	return hs, nil
}

// acceptKey is the Sec-WebSocket-Accept answering key (RFC 6455 4.2.2).
func acceptKey(key []byte) (out [28]byte) {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	var sum [sha1.Size]byte
	base64.StdEncoding.Encode(out[:], h.Sum(sum[:0]))
	return out
}

// connect opens a socket from source address number idx and writes the
// upgrade request, waiting until deadline at most.
func (d *dialer) connect(hs *handshake, idx int, nodelay bool, deadline time.Time) (int, error) {
	family, dst, src := unix.AF_INET6, unix.Sockaddr(nil), unix.Sockaddr(nil)
	if d.dst4 != nil {
		sa := *d.dst4
		family, dst = unix.AF_INET, &sa
		if len(d.sources) > 0 {
			src = &unix.SockaddrInet4{Addr: d.sources[idx%len(d.sources)]}
		}
	} else {
		sa := *d.dst6
		dst = &sa
	}
	fd, err := openSocket(family, dst, src, nodelay)
	if err != nil {
		return -1, shortDialError(err)
	}
	s := fdIO{fd: fd, deadline: deadline}
	if _, err := s.Write(hs.req); err != nil {
		unix.Close(fd)
		return -1, shortDialError(err)
	}
	return fd, nil
}

// maxResponseHead bounds the head of the server's answer to an upgrade.
const maxResponseHead = 8 << 10

// dial opens a connection to path (with its query) from source address
// number idx and upgrades it, blocking until it is done: for the probe and
// tests; the generator's sockets upgrade on the readers (gen.open).
// leftover is what the server sent after its 101 answer.
func (d *dialer) dial(ctx context.Context, path string, idx int) (s *fdIO, leftover []byte, err error) {
	deadline := time.Now().Add(d.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	hs, err := d.newHandshake(path)
	if err != nil {
		return nil, nil, err
	}
	fd, err := d.connect(hs, idx, true, deadline)
	if err != nil {
		return nil, nil, err
	}
	s = &fdIO{fd: fd, deadline: deadline}
	buf := make([]byte, 0, 4096)
	for {
		n, err := s.Read(buf[len(buf):cap(buf)])
		if err != nil {
			unix.Close(fd)
			return nil, nil, shortDialError(err)
		}
		buf = buf[:len(buf)+n]
		head, err := checkUpgrade(buf, &hs.accept)
		if err != nil {
			err = refusal(err, buf, s)
			unix.Close(fd)
			return nil, nil, err
		}
		if head > 0 {
			s.deadline = time.Time{}
			return s, buf[head:], nil
		}
		if len(buf) == cap(buf) {
			unix.Close(fd)
			return nil, nil, errors.New("handshake: answer head too large")
		}
	}
}

// statusError is a handshake answered with a status other than 101;
// refusal turns it into a refusedError with the answer's body.
type statusError struct{ status int }

func (e *statusError) Error() string { return fmt.Sprintf("handshake: HTTP %d", e.status) }

// checkUpgrade looks at the start of the server's answer to an upgrade: it
// returns the size of the answer's head when it is a valid 101, 0 when the
// head is not all there yet, or an error (*statusError for another status).
func checkUpgrade(b []byte, accept *[28]byte) (int, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) >= maxResponseHead {
			return 0, errors.New("handshake: answer head too large")
		}
		return 0, nil
	}
	lines := b[:end]
	line, rest, _ := bytes.Cut(lines, []byte("\r\n"))
	proto, status, ok := bytes.Cut(line, []byte(" "))
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(status) < 3 {
		return 0, fmt.Errorf("handshake: %w", ws.ErrMalformedResponse)
	}
	code, err := strconv.Atoi(string(status[:3]))
	if err != nil {
		return 0, fmt.Errorf("handshake: %w", ws.ErrMalformedResponse)
	}
	if code != http.StatusSwitchingProtocols {
		return 0, &statusError{status: code}
	}
	if !bytes.Equal(proto, []byte("HTTP/1.1")) {
		return 0, ws.ErrHandshakeBadProtocol
	}
	var upgrade, connection, acceptOK bool
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, fmt.Errorf("handshake: %w", ws.ErrMalformedResponse)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Upgrade")):
			upgrade = bytes.EqualFold(value, []byte("websocket"))
		case bytes.EqualFold(name, []byte("Connection")):
			connection = hasToken(value, "upgrade")
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			acceptOK = bytes.Equal(value, accept[:])
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Extensions")):
			return 0, ws.ErrHandshakeBadExtensions
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Protocol")):
			return 0, ws.ErrHandshakeBadSubProtocol
		}
	}
	switch {
	case !upgrade:
		return 0, ws.ErrHandshakeBadUpgrade
	case !connection:
		return 0, ws.ErrHandshakeBadConnection
	case !acceptOK:
		return 0, ws.ErrHandshakeBadSecAccept
	}
	return end + 4, nil
}

// hasToken reports whether a comma-separated header value holds token.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(token)) {
			return true
		}
	}
	return false
}

// refusal turns a *statusError into a refusedError with the body of the
// answer: got is what was read so far, the rest is read from s until its
// deadline. Other errors are returned as they are.
func refusal(err error, got []byte, s *fdIO) error {
	var se *statusError
	if !errors.As(err, &se) {
		return err
	}
	refused := &refusedError{status: se.status}
	r := io.MultiReader(bytes.NewReader(got), s)
	if resp, rerr := http.ReadResponse(bufio.NewReader(io.LimitReader(r, 64<<10)), nil); rerr == nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		refused.body = string(b)
	}
	return refused
}

// refusedError is a handshake answered with an HTTP error.
type refusedError struct {
	status int
	body   string
}

func (e *refusedError) Error() string {
	msg := strings.TrimSpace(e.body)
	if code, text, ok := apiErrorText(e.body); ok {
		msg = code + ": " + text
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		return fmt.Sprintf("handshake refused: HTTP %d", e.status)
	}
	return fmt.Sprintf("handshake refused: HTTP %d %s", e.status, msg)
}

// shortDialError trims a dial error to its cause.
func shortDialError(err error) error {
	var op *net.OpError
	var se *os.SyscallError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err):
		return errors.New("dial: timed out")
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("dial: connection refused")
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return errors.New("dial: no free local port (EADDRNOTAVAIL)")
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		return errors.New("dial: too many open files")
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return errors.New("dial: connection reset")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("handshake: connection closed by the server")
	case errors.As(err, &op):
		return fmt.Errorf("dial: %v", op.Err)
	case errors.As(err, &se):
		return fmt.Errorf("dial: %s: %v", se.Syscall, se.Err)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
