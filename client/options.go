package client

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/porthouse/porthouse/wire"
)

// AuthMode is how the token reaches the server.
type AuthMode int

// Authentication modes (PROTOCOL.md "WebSocket endpoints").
const (
	// AuthHeader sends `Authorization: Bearer <token>` with the handshake.
	AuthHeader AuthMode = iota
	// AuthQuery sends the token as the `token` query parameter. The URL
	// then holds a secret: prefer AuthHeader where the client allows it.
	AuthQuery
	// AuthFirstMessage sends {"type":"auth","token":...} as the first
	// frame (envelope mode only).
	AuthFirstMessage
)

// String returns the name DialConfig accepts for the mode.
func (m AuthMode) String() string {
	switch m {
	case AuthQuery:
		return "query"
	case AuthFirstMessage:
		return "message"
	default:
		return "header"
	}
}

// ParseAuthMode parses "header", "query" or "message" ("first-message").
func ParseAuthMode(s string) (AuthMode, error) {
	switch s {
	case "", "header", "bearer":
		return AuthHeader, nil
	case "query":
		return AuthQuery, nil
	case "message", "first-message", "first_message":
		return AuthFirstMessage, nil
	}
	return 0, errors.New("unknown auth mode " + s + ` (want "header", "query" or "message")`)
}

// Defaults of the options.
const (
	DefaultDialTimeout    = 10 * time.Second
	DefaultCloseTimeout   = 2 * time.Second
	DefaultMaxMessageSize = 32 << 20
	DefaultMessageBuffer  = 256
	DefaultEventBuffer    = 64
	// DefaultEnvelopeRate paces SendEnvelope to 4 MiB/s. The server closes
	// a receiver whose outbound queue passes its bound (1 MiB by default)
	// with 4009, and it accepts chunks much faster than it can deliver
	// them to a busy receiver: receipts alone do not pace a sender.
	DefaultEnvelopeRate = 4 << 20
)

// Option configures Dial, DialRoom and DialConfig.
type Option func(*options)

type options struct {
	auth           AuthMode
	header         http.Header
	reconnect      *ReconnectPolicy
	logger         hclog.Logger
	dialTimeout    time.Duration
	closeTimeout   time.Duration
	idleTimeout    time.Duration
	maxMessageSize int64
	messageBuffer  int
	eventBuffer    int
	password       string
	envelopeRate   int64
}

func buildOptions(opts []Option) options {
	o := options{
		header:         http.Header{},
		logger:         hclog.NewNullLogger(),
		dialTimeout:    DefaultDialTimeout,
		closeTimeout:   DefaultCloseTimeout,
		maxMessageSize: DefaultMaxMessageSize,
		messageBuffer:  DefaultMessageBuffer,
		eventBuffer:    DefaultEventBuffer,
		envelopeRate:   DefaultEnvelopeRate,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithQueryAuth sends the token as the `token` query parameter instead of
// the Authorization header.
func WithQueryAuth() Option { return func(o *options) { o.auth = AuthQuery } }

// WithFirstMessageAuth sends the token in a first `auth` message after the
// upgrade instead of the Authorization header (envelope mode only).
func WithFirstMessageAuth() Option { return func(o *options) { o.auth = AuthFirstMessage } }

// WithAuth sets the authentication mode.
func WithAuth(m AuthMode) Option { return func(o *options) { o.auth = m } }

// WithHeader adds a header to the handshake request (for example Origin).
// It may be given several times.
func WithHeader(key, value string) Option {
	return func(o *options) { o.header.Add(key, value) }
}

// WithReconnect makes the connection reconnect automatically when it drops,
// following p. Without it a dropped connection ends the Conn.
func WithReconnect(p ReconnectPolicy) Option {
	return func(o *options) { o.reconnect = &p }
}

// WithLogger sets the logger for connection life events (reconnects,
// dropped events). It never sees secrets. The default discards everything.
func WithLogger(l hclog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithDialTimeout bounds each connect and handshake, the first and every
// reconnect (default DefaultDialTimeout; 0 leaves only the context).
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithCloseTimeout bounds how long Close waits for the server to answer the
// close frame (default DefaultCloseTimeout).
func WithCloseTimeout(d time.Duration) Option { return func(o *options) { o.closeTimeout = d } }

// WithIdleTimeout treats a connection on which nothing arrived for d (not
// even the server's pings, every 25 s by default) as dead. 0, the default,
// waits forever.
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idleTimeout = d } }

// WithMaxMessageSize bounds an incoming message (default
// DefaultMaxMessageSize); a larger one ends the connection.
func WithMaxMessageSize(n int64) Option { return func(o *options) { o.maxMessageSize = n } }

// WithBuffers sets the capacity of the Messages (or RawConn frames) and
// Events channels (defaults DefaultMessageBuffer, DefaultEventBuffer).
func WithBuffers(messages, events int) Option {
	return func(o *options) {
		o.messageBuffer = max(messages, 0)
		o.eventBuffer = max(events, 0)
	}
}

// WithEnvelopeRate paces SendEnvelope to bytesPerSecond (chunk headers
// included), after a first burst of 256 KiB or one chunk; 0 sends as fast
// as the server accepts. The default is DefaultEnvelopeRate.
func WithEnvelopeRate(bytesPerSecond int64) Option {
	return func(o *options) { o.envelopeRate = max(bytesPerSecond, 0) }
}

// WithPassword gives the room password to DialRoom (the `password` query
// parameter). Envelope mode passes passwords to Join instead.
func WithPassword(password string) Option { return func(o *options) { o.password = password } }

// ReconnectPolicy tells a connection how to reconnect: after a drop it waits
// a jittered, exponentially growing delay between MinDelay and MaxDelay
// before each attempt, and gives up after MaxAttempts failed attempts in a
// row. Whatever Retry says, it never reconnects after Close or after close
// code 4001 (token revoked).
type ReconnectPolicy struct {
	MinDelay    time.Duration // first delay; default 250 ms
	MaxDelay    time.Duration // cap of the delay; default 30 s
	MaxAttempts int           // failed attempts in a row before giving up; 0 = never give up
	// Retry reports whether the error that ended the connection, or made
	// a reconnect attempt fail, is worth another attempt. Nil means
	// DefaultRetry.
	Retry func(err error) bool
}

// DefaultReconnect is the policy listen uses: 250 ms up to 30 s, forever.
func DefaultReconnect() ReconnectPolicy {
	return ReconnectPolicy{MinDelay: 250 * time.Millisecond, MaxDelay: 30 * time.Second}
}

// DefaultRetry retries everything except what retrying cannot fix: close
// codes 4001 (revoked), 4003 (raw room subscription removed), 4010 (kicked
// by the owner) and 1008 (policy), and handshake refusals 401, 403 and 404.
// Network errors, 1001 (draining), 1011, 4008, 4009, 429 and 5xx are
// retried.
func DefaultRetry(err error) bool {
	switch CloseCode(err) {
	case wire.CloseRevoked, wire.CloseUnsubscribed, wire.CloseKicked, wire.ClosePolicy:
		return false
	}
	var he *HandshakeError
	if errors.As(err, &he) {
		switch he.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusBadRequest:
			return false
		}
	}
	return !errors.Is(err, ErrClosed)
}

func (p ReconnectPolicy) retry(err error) bool {
	if CloseCode(err) == wire.CloseRevoked || errors.Is(err, ErrClosed) {
		return false
	}
	if p.Retry != nil {
		return p.Retry(err)
	}
	return DefaultRetry(err)
}

// delay is the wait before attempt n (0-based): half of the capped
// exponential delay plus a random part of the other half ("equal jitter").
func (p ReconnectPolicy) delay(n int) time.Duration {
	lo := p.MinDelay
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	hi := p.MaxDelay
	if hi <= 0 {
		hi = 30 * time.Second
	}
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + rand.N(d-half+1)
}
