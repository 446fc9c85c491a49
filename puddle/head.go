package puddle

import (
	"bytes"
	"net/url"
	"strings"
)

// request is what the ingress reads from a WebSocket handshake request head.
// gobwas/ws validates the handshake itself; this holds what Porthouse needs
// to decide before the upgrade.
type request struct {
	method        string
	path          string
	query         url.Values
	host          string
	origin        string
	authorization string
	remote        string
}

// isWebSocketPath reports whether a request line prefix is for /ws, /ws?...
// or /ws/...; it needs at least 8 bytes.
func isWebSocketPath(b []byte) bool {
	return len(b) >= 8 && bytes.HasPrefix(b, []byte("GET /ws")) &&
		(b[7] == ' ' || b[7] == '?' || b[7] == '/')
}

// parseHead parses a request head (up to and including the blank line).
func parseHead(head []byte) (request, bool) {
	var r request
	line, rest, ok := bytes.Cut(head, []byte("\r\n"))
	if !ok {
		return r, false
	}
	parts := strings.SplitN(string(line), " ", 3)
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return r, false
	}
	r.method = parts[0]
	u, err := url.ParseRequestURI(parts[1])
	if err != nil {
		return r, false
	}
	r.path = u.EscapedPath()
	r.query, err = url.ParseQuery(u.RawQuery)
	if err != nil {
		return r, false
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return r, false
		}
		key := string(bytes.TrimSpace(k))
		val := string(bytes.TrimSpace(v))
		switch {
		case strings.EqualFold(key, "Host"):
			r.host = val
		case strings.EqualFold(key, "Origin"):
			r.origin = val
		case strings.EqualFold(key, "Authorization"):
			r.authorization = val
		}
	}
	return r, true
}

// bearer returns the token of an `Authorization: Bearer` value.
func bearer(v string) string {
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// originAllowed reports whether a browser Origin may connect: no Origin
// (non-browser clients), the same host, or a listed origin.
func originAllowed(origin, host string, allowed []string) bool {
	if origin == "" {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(a, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}
