package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// dialer opens WebSocket connections to one server, spreading them over
// loopback source addresses when the server is on IPv4 loopback: one source
// address gives at most ~28,000 ports towards one server port, and
// IP_BIND_ADDRESS_NO_PORT lets the kernel pick the port at connect time by
// the whole 4-tuple instead of reserving it at bind.
type dialer struct {
	base    *url.URL // ws://host:port
	header  http.Header
	sources []net.IP
	timeout time.Duration
}

func newDialer(rawURL, token string, sourceIPs int, timeout time.Duration) (*dialer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	d := &dialer{base: &url.URL{Scheme: u.Scheme, Host: u.Host}, timeout: timeout}
	if token != "" {
		d.header = http.Header{"Authorization": {"Bearer " + token}}
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.To4() != nil && ip.IsLoopback() && bindNoPortSupported {
		for i := 0; i < sourceIPs; i++ {
			d.sources = append(d.sources, net.IPv4(127, 0, 0, byte(1+i)))
		}
	}
	return d, nil
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

// dial opens a connection to path (with its query) from source address
// number idx. leftover is what the server sent after its 101 answer.
func (d *dialer) dial(ctx context.Context, path string, idx int) (conn net.Conn, leftover []byte, err error) {
	u := *d.base
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u.RawQuery = path[i+1:]
		path = path[:i]
	}
	u.Path = path
	var refused *refusedError
	wd := ws.Dialer{
		Timeout: d.timeout,
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			refused = &refusedError{status: status}
			if r, err := http.ReadResponse(bufio.NewReader(io.LimitReader(resp, 64<<10)), nil); err == nil {
				b, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10))
				refused.body = string(b)
			}
		},
	}
	if d.header != nil {
		wd.Header = ws.HandshakeHeaderHTTP(d.header)
	}
	if len(d.sources) > 0 {
		src := &net.TCPAddr{IP: d.sources[idx%len(d.sources)]}
		nd := net.Dialer{Timeout: d.timeout, LocalAddr: src, Control: bindNoPort}
		wd.NetDial = nd.DialContext
	}
	conn, br, _, err := wd.Dial(ctx, u.String())
	if err != nil {
		if refused != nil {
			return nil, nil, refused
		}
		return nil, nil, shortDialError(err)
	}
	if br != nil {
		leftover = make([]byte, br.Buffered())
		_, _ = io.ReadFull(br, leftover)
		ws.PutReader(br)
	}
	return conn, leftover, nil
}

// shortDialError trims a dial error to its cause.
func shortDialError(err error) error {
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err):
		return errors.New("dial: timed out")
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("dial: connection refused")
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return errors.New("dial: no free local port (EADDRNOTAVAIL)")
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		return errors.New("dial: too many open files")
	case errors.Is(err, syscall.ECONNRESET):
		return errors.New("dial: connection reset")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("handshake: connection closed by the server")
	case errors.As(err, &op):
		return fmt.Errorf("dial: %v", op.Err)
	}
	return fmt.Errorf("dial: %v", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
