package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/porthouse/porthouse/wire"
)

// createToken makes a token and returns its id; the secret is remembered.
func (e *env) createToken(c cred, body map[string]any) string {
	e.t.Helper()
	obj := e.do("POST", "/api/v1/tokens", c, body).want(e.t, 201).obj(e.t)
	e.remember(obj["secret"].(string))
	return obj["id"].(string)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	for _, r := range []string{"lobby", "news", "cams"} {
		e.do("POST", "/api/v1/rooms", alice.apiKey, map[string]any{"name": r}).want(t, 201)
	}
	e.live.takeCalls()

	if got := e.do("GET", "/api/v1/tokens", alice.session, nil).want(t, 200); string(got.raw) != "[]\n" {
		t.Fatalf("empty list %q", got.raw)
	}

	// Defaults, with an empty body.
	res := e.do("POST", "/api/v1/tokens", alice.session, nil).want(t, 201)
	tok := res.obj(t)
	wantKeys(t, "created token", tok, plus(tokenKeys, "secret")...)
	secret := tok["secret"].(string)
	e.remember(secret)
	if !strings.HasPrefix(tok["id"].(string), "tk_") || !strings.HasPrefix(secret, "ph_") || tok["owner"] != "alice" ||
		tok["max_connections"] != 10.0 || tok["auto_join"] != true || tok["can_create_rooms"] != false ||
		tok["expires_at"] != nil || len(tok["subscriptions"].([]any)) != 0 {
		t.Fatalf("default token %v", tok)
	}

	// Every field, and subscription defaults: send and receive true, both formats.
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	res = e.do("POST", "/api/v1/tokens", alice.apiKey, map[string]any{
		"name": "sensor", "max_connections": 3, "auto_join": false, "can_create_rooms": true,
		"expires_at": exp.Format(time.RFC3339),
		"subscriptions": []any{
			map[string]any{"room": "lobby"},
			map[string]any{"room": "news", "send": false},
			map[string]any{"room": "alice/cams", "receive": false, "formats": []string{"binary"}},
		},
	}).want(t, 201)
	tok = res.obj(t)
	e.remember(tok["secret"].(string))
	id := tok["id"].(string)
	if tok["name"] != "sensor" || tok["max_connections"] != 3.0 || tok["auto_join"] != false || tok["can_create_rooms"] != true {
		t.Fatalf("token %v", tok)
	}
	if got, err := time.Parse(time.RFC3339, tok["expires_at"].(string)); err != nil || !got.Equal(exp) {
		t.Fatalf("expires_at %v, want %v (%v)", tok["expires_at"], exp, err)
	}
	wantSubs(t, tok, map[string]string{
		"lobby": "send=true receive=true formats=text,binary",
		"news":  "send=false receive=true formats=text,binary",
		"cams":  "send=true receive=false formats=binary",
	})
	e.wantCalls()

	// Reads never carry the secret.
	got := e.do("GET", "/api/v1/tokens/"+id, alice.session, nil).want(t, 200).obj(t)
	wantKeys(t, "token", got, tokenKeys...)
	list := e.do("GET", "/api/v1/tokens", alice.session, nil).want(t, 200).arr(t)
	if len(list) != 2 {
		t.Fatalf("tokens %v", list)
	}
	for _, tk := range list {
		wantKeys(t, "listed token", tk, tokenKeys...)
		for _, s := range tk.(map[string]any)["subscriptions"].([]any) {
			wantKeys(t, "subscription", s, subKeys...)
		}
	}

	// Bad input.
	e.do("POST", "/api/v1/tokens", alice.session, map[string]any{"max_connections": 0}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/tokens", alice.session, map[string]any{"expires_at": "tomorrow"}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/tokens", alice.session, map[string]any{"subscriptions": []any{map[string]any{"room": "lobby", "formats": []string{}}}}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/tokens", alice.session, map[string]any{"subscriptions": []any{map[string]any{"room": "lobby", "formats": []string{"json"}}}}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/tokens", alice.session, map[string]any{"subscriptions": []any{map[string]any{"send": true}}}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("POST", "/api/v1/tokens", alice.session, map[string]any{"subscriptions": []any{map[string]any{"room": "bob/lobby"}}}).wantErr(t, 403, wire.CodeForbidden)
	e.do("POST", "/api/v1/tokens", alice.session, map[string]any{"subscriptions": []any{map[string]any{"room": "ghost"}}}).wantErr(t, 404, wire.CodeNotFound)
	e.wantCalls()

	// PATCH: fields, expiry cleared, subscriptions replaced.
	res = e.do("PATCH", "/api/v1/tokens/"+id, alice.session, map[string]any{
		"name": "sensor-2", "expires_at": nil, "subscriptions": []any{map[string]any{"room": "news"}},
	}).want(t, 200)
	tok = res.obj(t)
	wantKeys(t, "patched token", tok, tokenKeys...)
	if tok["name"] != "sensor-2" || tok["expires_at"] != nil || tok["max_connections"] != 3.0 {
		t.Fatalf("patched %v", tok)
	}
	wantSubs(t, tok, map[string]string{"news": "send=true receive=true formats=text,binary"})
	e.wantCalls("TokenUpdated " + id)
	if u := e.live.lastUpdated(t); u.Name != "sensor-2" || len(u.Subscriptions) != 1 {
		t.Fatalf("pushed %+v", u)
	}
	// A token patched into the past is also revoked.
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	e.do("PATCH", "/api/v1/tokens/"+id, alice.session, map[string]any{"expires_at": past}).want(t, 200)
	e.wantCalls("TokenUpdated "+id, "TokenRevoked "+id)
	e.do("PATCH", "/api/v1/tokens/"+id, alice.session, map[string]any{"expires_at": nil}).want(t, 200)
	e.wantCalls("TokenUpdated " + id)

	// PUT subscription: defaults, then a change; DELETE subscription.
	tok = e.do("PUT", "/api/v1/tokens/"+id+"/subscriptions/lobby", alice.session, nil).want(t, 200).obj(t)
	wantKeys(t, "token", tok, tokenKeys...)
	wantSubs(t, tok, map[string]string{
		"news":  "send=true receive=true formats=text,binary",
		"lobby": "send=true receive=true formats=text,binary",
	})
	e.wantCalls("TokenUpdated " + id)
	tok = e.do("PUT", "/api/v1/tokens/"+id+"/subscriptions/lobby", alice.apiKey, map[string]any{"receive": false, "formats": []string{"text"}}).want(t, 200).obj(t)
	wantSubs(t, tok, map[string]string{
		"news":  "send=true receive=true formats=text,binary",
		"lobby": "send=true receive=false formats=text",
	})
	e.wantCalls("TokenUpdated " + id)
	e.do("PUT", "/api/v1/tokens/"+id+"/subscriptions/ghost", alice.apiKey, map[string]any{}).wantErr(t, 404, wire.CodeNotFound)
	e.do("PUT", "/api/v1/tokens/tk_nope/subscriptions/lobby", alice.apiKey, map[string]any{}).wantErr(t, 404, wire.CodeNotFound)
	e.do("PUT", "/api/v1/tokens/"+id+"/subscriptions/lobby", alice.apiKey, map[string]any{"formats": []string{}}).wantErr(t, 400, wire.CodeBadRequest)
	e.do("PUT", "/api/v1/tokens/"+id+"/subscriptions/lobby", alice.apiKey, map[string]any{"room": "news"}).wantErr(t, 400, wire.CodeBadRequest)
	e.wantCalls()
	e.do("DELETE", "/api/v1/tokens/"+id+"/subscriptions/news", alice.session, nil).want(t, 204)
	e.wantCalls("TokenUpdated " + id)
	if subs := e.live.lastUpdated(t).Subscriptions; len(subs) != 1 || subs[0].Room != "lobby" {
		t.Fatalf("pushed subscriptions %v", subs)
	}
	e.do("DELETE", "/api/v1/tokens/"+id+"/subscriptions/news", alice.session, nil).wantErr(t, 404, wire.CodeNotFound)
	e.wantCalls()

	// Regenerate: a new secret, the old sockets revoked.
	res = e.do("POST", "/api/v1/tokens/"+id+"/regenerate", alice.session, nil).want(t, 200)
	tok = res.obj(t)
	wantKeys(t, "regenerated token", tok, plus(tokenKeys, "secret")...)
	e.remember(tok["secret"].(string))
	if tok["id"] != id || tok["secret"] == secret {
		t.Fatalf("regenerated %v", tok)
	}
	e.wantCalls("TokenRevoked " + id)

	// DELETE.
	e.do("DELETE", "/api/v1/tokens/"+id, alice.session, nil).want(t, 204)
	e.wantCalls("TokenRevoked " + id)
	e.do("GET", "/api/v1/tokens/"+id, alice.session, nil).wantErr(t, 404, wire.CodeNotFound)
	e.do("DELETE", "/api/v1/tokens/"+id, alice.session, nil).wantErr(t, 404, wire.CodeNotFound)
	e.do("POST", "/api/v1/tokens/"+id+"/regenerate", alice.session, nil).wantErr(t, 404, wire.CodeNotFound)
	e.wantCalls()
}

// wantSubs checks a token's subscriptions, room → "send=.. receive=.. formats=..".
func wantSubs(t *testing.T, tok map[string]any, want map[string]string) {
	t.Helper()
	subs := tok["subscriptions"].([]any)
	got := map[string]string{}
	for _, s := range subs {
		m := s.(map[string]any)
		wantKeys(t, "subscription", m, subKeys...)
		var formats []string
		for _, f := range m["formats"].([]any) {
			formats = append(formats, f.(string))
		}
		got[m["room"].(string)] = "send=" + fmtBool(m["send"]) + " receive=" + fmtBool(m["receive"]) + " formats=" + strings.Join(formats, ",")
	}
	if len(got) != len(want) || len(subs) != len(want) {
		t.Fatalf("subscriptions %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("subscription %s: %q, want %q", k, got[k], v)
		}
	}
}

func fmtBool(v any) string {
	if b, ok := v.(bool); ok && b {
		return "true"
	}
	return "false"
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.newUser("alice", false)
	res := e.do("POST", "/api/v1/api-keys", alice.session, map[string]any{"name": "ci"}).want(t, 201)
	key := res.obj(t)
	wantKeys(t, "created key", key, plus(keyKeys, "secret")...)
	secret := key["secret"].(string)
	e.remember(secret)
	if !strings.HasPrefix(secret, "pk_") || key["name"] != "ci" {
		t.Fatalf("key %v", key)
	}
	list := e.do("GET", "/api/v1/api-keys", cred{key: secret}, nil).want(t, 200).arr(t)
	if len(list) != 2 {
		t.Fatalf("keys %v", list)
	}
	for _, k := range list {
		wantKeys(t, "listed key", k, keyKeys...)
	}
	e.do("DELETE", "/api/v1/api-keys/"+key["id"].(string), alice.session, nil).want(t, 204)
	e.do("GET", "/api/v1/me", cred{key: secret}, nil).wantErr(t, 401, wire.CodeUnauthorized)
	e.do("DELETE", "/api/v1/api-keys/"+key["id"].(string), alice.session, nil).wantErr(t, 404, wire.CodeNotFound)
	e.wantCalls()
}
