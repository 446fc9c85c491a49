package client

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/porthouse/porthouse/wire"
)

// Sentinel errors of the connection.
var (
	// ErrClosed is returned by every call on a Conn or RawConn after Close.
	ErrClosed = errors.New("porthouse: connection closed")
	// ErrConnectionLost is returned (wrapping the cause) by a call whose
	// answer never came because the connection ended first. Whether the
	// server acted on the command is unknown; the call is not retried.
	ErrConnectionLost = errors.New("porthouse: connection lost before the answer")
)

// CloseError is a connection closed by the server, with the close code and
// reason of its close frame (PROTOCOL.md "Close codes"; wire.Close*).
type CloseError struct {
	Code   int
	Reason string
}

// Error gives the code, its meaning and the reason.
func (e *CloseError) Error() string {
	s := "porthouse: closed by server: " + strconv.Itoa(e.Code)
	if m := closeMeaning(e.Code); m != "" {
		s += " (" + m + ")"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// CloseCode returns the close code of the *CloseError in err's chain, or 0.
func CloseCode(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

func closeMeaning(code int) string {
	switch code {
	case wire.CloseNormal:
		return "normal"
	case wire.CloseGoingAway:
		return "server going away"
	case wire.ClosePolicy:
		return "policy violation"
	case wire.CloseTooBig:
		return "message too big"
	case wire.CloseInternal:
		return "internal error"
	case wire.CloseRevoked:
		return "token revoked"
	case wire.CloseUnsubscribed:
		return "subscription removed"
	case wire.CloseRateLimited:
		return "rate limited"
	case wire.CloseSlowConsumer:
		return "slow consumer"
	case wire.CloseKicked:
		return "kicked"
	}
	return ""
}

// HandshakeError is a WebSocket handshake the server refused with an HTTP
// status (401, 403, 404, 429, ...). Err is the coded error of the response
// body, or one made from the status when the body has none; errors.As finds
// it as a *wire.Error.
type HandshakeError struct {
	Status int
	Err    *wire.Error
}

// Error gives the HTTP status and the coded error.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("handshake refused with HTTP %d: %v", e.Status, e.Err)
}

// Unwrap returns the coded error.
func (e *HandshakeError) Unwrap() error { return e.Err }
