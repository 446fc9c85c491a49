package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gobwas/ws"
	"github.com/porthouse/porthouse/wire"
)

// maxErrorBody bounds the handshake error body read from the server.
const maxErrorBody = 64 << 10

// endpoint is where to dial: the URL without any secret, and the token.
type endpoint struct {
	u     *url.URL
	token string
}

// String is the URL for messages and logs: never the token.
func (e endpoint) String() string { return redactURL(e.u) }

// parseBase parses a ws://, wss://, http:// or https:// URL (http maps to
// ws). A `token` query parameter is taken out of the URL and returned, so
// that a URL copied from `porthouse run` works as is.
func parseBase(raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("bad url: %w", errors.Unwrap(err))
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return nil, "", fmt.Errorf("bad url %q: scheme must be ws, wss, http or https", redactURL(u))
	}
	if u.Host == "" {
		return nil, "", fmt.Errorf("bad url %q: no host", redactURL(u))
	}
	q := u.Query()
	token := q.Get("token")
	q.Del("token")
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u, token, nil
}

// envelopeEndpoint resolves Dial's url: a base URL (no path, or "/") gets
// the path /ws; a URL with a path is used as is.
func envelopeEndpoint(raw, token string) (endpoint, error) {
	u, urlToken, err := parseBase(raw)
	if err != nil {
		return endpoint{}, err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws"
	}
	if token == "" {
		token = urlToken
	}
	return endpoint{u: u, token: token}, nil
}

// roomEndpoint resolves DialRoom's URL: base + /ws/rooms/{room}, with
// "owner/room" escaped into one path segment. A base that already ends in
// /ws is accepted too.
func roomEndpoint(raw, token, room, password string) (endpoint, error) {
	if _, ok := wire.ParseRoomRef(room); !ok {
		return endpoint{}, fmt.Errorf("bad room name %q", room)
	}
	u, urlToken, err := parseBase(raw)
	if err != nil {
		return endpoint{}, err
	}
	base := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/ws")
	u.Path = base + "/ws/rooms/" + room
	u.RawPath = base + "/ws/rooms/" + url.PathEscape(room)
	if password != "" {
		q := u.Query()
		q.Set("password", password)
		u.RawQuery = q.Encode()
	}
	if token == "" {
		token = urlToken
	}
	return endpoint{u: u, token: token}, nil
}

// redactURL writes u with the token and password query values hidden.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	for _, k := range []string{"token", "password"} {
		if q.Has(k) {
			q.Set(k, "REDACTED")
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// handshake connects to ep and upgrades; refusals become *HandshakeError.
func handshake(ctx context.Context, ep endpoint, o *options, allowFirstMessage bool) (*frameConn, error) {
	if ep.token == "" {
		return nil, fmt.Errorf("dial %s: no token", ep)
	}
	u := *ep.u
	header := o.header.Clone()
	switch o.auth {
	case AuthHeader:
		header.Set("Authorization", "Bearer "+ep.token)
	case AuthQuery:
		q := u.Query()
		q.Set("token", ep.token)
		u.RawQuery = q.Encode()
	case AuthFirstMessage:
		if !allowFirstMessage {
			return nil, fmt.Errorf("dial %s: first-message auth exists only in envelope mode (/ws)", ep)
		}
	}
	var refused *HandshakeError
	d := ws.Dialer{
		Timeout:       o.dialTimeout,
		Header:        ws.HandshakeHeaderHTTP(header),
		OnStatusError: func(status int, _ []byte, resp io.Reader) { refused = readRefusal(status, resp) },
	}
	nc, br, _, err := d.Dial(ctx, u.String())
	if err != nil {
		if refused != nil {
			err = refused
		}
		return nil, fmt.Errorf("dial %s: %w", ep, err)
	}
	return newFrameConn(nc, br, o.maxMessageSize, o.idleTimeout), nil
}

// readRefusal reads the HTTP response of a refused handshake and its JSON
// body {"error":{"code","message"}}.
func readRefusal(status int, resp io.Reader) *HandshakeError {
	he := &HandshakeError{Status: status}
	if res, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
		body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		_ = res.Body.Close()
		var eb wire.ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
			he.Err = &wire.Error{Code: eb.Error.Code, Message: eb.Error.Message}
		}
	}
	if he.Err == nil {
		he.Err = &wire.Error{Code: statusCode(status), Message: strings.ToLower(http.StatusText(status))}
	}
	return he
}

// statusCode maps an HTTP status without a coded body to an error code.
func statusCode(status int) wire.Code {
	switch status {
	case http.StatusBadRequest:
		return wire.CodeBadRequest
	case http.StatusUnauthorized:
		return wire.CodeUnauthorized
	case http.StatusForbidden:
		return wire.CodeForbidden
	case http.StatusNotFound:
		return wire.CodeNotFound
	case http.StatusConflict:
		return wire.CodeConflict
	case http.StatusRequestEntityTooLarge:
		return wire.CodeTooLarge
	case http.StatusTooManyRequests:
		return wire.CodeRateLimited
	}
	return wire.CodeInternal
}
