package wire

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a PROTOCOL.md error code, sent to clients in `error` frames and in
// HTTP error bodies.
type Code string

// The error codes of PROTOCOL.md.
const (
	CodeBadRequest   Code = "bad_request"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeNotFound     Code = "not_found"
	CodeTooLarge     Code = "too_large"
	CodeFormat       Code = "format"
	CodeRateLimited  Code = "rate_limited"
	CodeRoomFull     Code = "room_full"
	CodeConflict     Code = "conflict"
	CodeInternal     Code = "internal"
)

// HTTPStatus maps a code to the HTTP status PROTOCOL.md pairs with it.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeBadRequest, CodeFormat:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited, CodeRoomFull:
		return http.StatusTooManyRequests
	case CodeConflict:
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// Error is a coded error meant for a client: its Message is safe to show.
// Internal errors are wrapped into CodeInternal with a generic message.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds a coded client error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as a client error: a *Error found in its chain, or an
// `internal` error with a message that reveals nothing about err.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error"}
}

// ErrorBody is the JSON body of every HTTP error: {"error":{"code","message"}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// WebSocket close codes of PROTOCOL.md.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001 // server shutting down or worker draining
	ClosePolicy       = 1008 // format or permission violated in raw mode
	CloseTooBig       = 1009
	CloseInternal     = 1011
	CloseRevoked      = 4001 // token revoked, regenerated, deleted or expired
	CloseUnsubscribed = 4003 // raw-mode room subscription removed
	CloseRateLimited  = 4008
	CloseSlowConsumer = 4009
	CloseKicked       = 4010
)
