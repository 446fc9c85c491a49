package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient talks to Porthouse's /api/v1 with an API key, or with a session
// cookie right after logging in.
type apiClient struct {
	base   string // http://host:port
	key    string
	cookie *http.Cookie
	hc     *http.Client
}

func newAPIClient(base, key string) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), key: key, hc: &http.Client{Timeout: 15 * time.Second}}
}

// apiError is an answer other than the one expected.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	msg := strings.TrimSpace(e.body)
	if code, text, ok := apiErrorText(e.body); ok {
		msg = code + ": " + text
	}
	return fmt.Sprintf("%s %s: HTTP %d %s", e.method, e.path, e.status, truncate(msg, 200))
}

// apiErrorText reads Porthouse's {"error":{"code","message"}} body.
func apiErrorText(body string) (code, msg string, ok bool) {
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &v) != nil || v.Error.Code == "" {
		return "", "", false
	}
	return v.Error.Code, v.Error.Message, true
}

// do sends one request; it decodes a JSON answer into out when the status
// is want, else returns an *apiError.
func (a *apiClient) do(ctx context.Context, method, path string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(mustJSON(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.key != "" {
		req.Header.Set("Authorization", "Bearer "+a.key)
	}
	if a.cookie != nil {
		req.AddCookie(a.cookie)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, shortHTTPError(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != want {
		return &apiError{method: method, path: path, status: resp.StatusCode, body: string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: bad answer: %w", method, path, err)
		}
	}
	if method == http.MethodPost && path == "/api/v1/login" {
		for _, c := range resp.Cookies() {
			if c.Name == "porthouse_session" {
				a.cookie = c
			}
		}
		if a.cookie == nil {
			return errors.New("login: no session cookie in the answer")
		}
	}
	return nil
}

func shortHTTPError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return shortDialError(ue.Err)
	}
	return err
}

// status is the HTTP status of an *apiError, or 0.
func status(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	return 0
}

// login logs in and makes an API key for bench.
func (a *apiClient) loginForKey(ctx context.Context, user, password string) (string, error) {
	if err := a.do(ctx, http.MethodPost, "/api/v1/login", map[string]string{"username": user, "password": password}, nil, http.StatusOK); err != nil {
		return "", err
	}
	var key struct {
		Secret string `json:"secret"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/v1/api-keys", map[string]string{"name": "porthouse bench"}, &key, http.StatusCreated); err != nil {
		return "", err
	}
	a.cookie = nil
	a.key = key.Secret
	return key.Secret, nil
}

// apiRoom is the part of a room resource bench reads.
type apiRoom struct {
	Name string `json:"name"`
	Echo bool   `json:"echo"`
}

// ensureRoom creates room name with echo on; a room of that name that
// already exists is used as it is (created false).
func (a *apiClient) ensureRoom(ctx context.Context, name string) (r apiRoom, created bool, err error) {
	err = a.do(ctx, http.MethodPost, "/api/v1/rooms", map[string]any{"name": name, "echo": true}, &r, http.StatusCreated)
	if err == nil {
		return r, true, nil
	}
	if status(err) != http.StatusConflict {
		return r, false, err
	}
	err = a.do(ctx, http.MethodGet, "/api/v1/rooms/"+url.PathEscape(name), nil, &r, http.StatusOK)
	return r, false, err
}

// apiToken is a token as created.
type apiToken struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// createToken makes a token subscribed to rooms (send and receive, both
// formats), not auto-joining (envelope sockets join their one room), for
// maxConns sockets.
func (a *apiClient) createToken(ctx context.Context, name string, rooms []string, maxConns int) (apiToken, error) {
	subs := make([]map[string]any, len(rooms))
	for i, r := range rooms {
		subs[i] = map[string]any{"room": r, "send": true, "receive": true, "formats": []string{"text", "binary"}}
	}
	var t apiToken
	err := a.do(ctx, http.MethodPost, "/api/v1/tokens", map[string]any{
		"name": name, "max_connections": maxConns, "auto_join": false, "subscriptions": subs,
	}, &t, http.StatusCreated)
	if err == nil && t.Secret == "" {
		err = errors.New("POST /api/v1/tokens: no secret in the answer")
	}
	return t, err
}

func (a *apiClient) deleteToken(ctx context.Context, id string) error {
	return a.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, nil, http.StatusNoContent)
}

func (a *apiClient) deleteRoom(ctx context.Context, name string) error {
	return a.do(ctx, http.MethodDelete, "/api/v1/rooms/"+url.PathEscape(name), nil, nil, http.StatusNoContent)
}
