package store

import (
	"context"
	"reflect"
	"regexp"
	"testing"
	"time"
)

var (
	tokenIDRe     = regexp.MustCompile(`^tk_[a-z2-7]{16}$`)
	tokenSecretRe = regexp.MustCompile(`^ph_[A-Za-z0-9_-]{43}$`)
	both          = []string{"text", "binary"}
)

func TestCreateTokenDefaults(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	tk, secret, err := s.CreateToken(ctx, a.ID, TokenPatch{})
	if err != nil {
		t.Fatal(err)
	}
	if !tokenIDRe.MatchString(tk.ID) {
		t.Errorf("id %q has the wrong shape", tk.ID)
	}
	if !tokenSecretRe.MatchString(secret) {
		t.Errorf("secret has the wrong shape (len %d)", len(secret))
	}
	if tk.Name != "" || tk.MaxConnections != 10 || !tk.AutoJoin || tk.CanCreateRooms || tk.ExpiresAt != nil ||
		tk.Owner != "alice" || tk.OwnerID != a.ID || tk.Subscriptions == nil || len(tk.Subscriptions) != 0 ||
		tk.CreatedAt.IsZero() || tk.CreatedAt.Location() != time.UTC {
		t.Fatalf("defaults = %+v", tk)
	}
	got, err := s.Token(ctx, a.ID, tk.ID)
	if err != nil || !reflect.DeepEqual(got, tk) {
		t.Fatalf("Token = %+v, %v; want %+v", got, err, tk)
	}
	_, _, err = s.CreateToken(ctx, 999, TokenPatch{})
	wantErr(t, err, ErrNotFound)
}

func TestCreateTokenFields(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	mustRoom(t, s, a.ID, "lobby")
	mustRoom(t, s, a.ID, "alerts")
	exp := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	expp := &exp
	tests := []struct {
		name string
		p    TokenPatch
		want error
	}{
		{"all fields", TokenPatch{
			Name: ptr("sensor"), MaxConnections: ptr(100000), AutoJoin: ptr(false), CanCreateRooms: ptr(true),
			ExpiresAt: &expp,
			Subscriptions: &[]Subscription{
				{Room: "lobby", Send: true, Receive: true, Formats: []string{"binary", "text"}},
				{Room: "alerts", Receive: true, Formats: []string{"text"}},
			},
		}, nil},
		{"max_connections 1", TokenPatch{MaxConnections: ptr(1)}, nil},
		{"max_connections 0", TokenPatch{MaxConnections: ptr(0)}, ErrInvalid},
		{"max_connections too many", TokenPatch{MaxConnections: ptr(100001)}, ErrInvalid},
		{"unknown room", TokenPatch{Subscriptions: &[]Subscription{{Room: "nope", Send: true}}}, ErrNotFound},
		{"bad format", TokenPatch{Subscriptions: &[]Subscription{{Room: "lobby", Formats: []string{"json"}}}}, ErrInvalid},
		{"duplicate room", TokenPatch{Subscriptions: &[]Subscription{{Room: "lobby"}, {Room: "lobby"}}}, ErrInvalid},
		{"bad room name", TokenPatch{Subscriptions: &[]Subscription{{Room: "bob/lobby"}}}, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := s.CountTokens(ctx, a.ID)
			tk, _, err := s.CreateToken(ctx, a.ID, tc.p)
			wantErr(t, err, tc.want)
			if err != nil {
				if after, _ := s.CountTokens(ctx, a.ID); after != before {
					t.Fatalf("failed create left a token behind (%d → %d)", before, after)
				}
				return
			}
			got, err := s.Token(ctx, a.ID, tk.ID)
			if err != nil || !reflect.DeepEqual(got, tk) {
				t.Fatalf("Token = %+v, %v; want %+v", got, err, tk)
			}
		})
	}

	ts, _ := s.ListTokens(ctx, a.ID)
	tk := ts[0]
	wantExp := exp.Truncate(time.Millisecond).UTC()
	if tk.Name != "sensor" || tk.MaxConnections != 100000 || tk.AutoJoin || !tk.CanCreateRooms ||
		tk.ExpiresAt == nil || !tk.ExpiresAt.Equal(wantExp) || tk.ExpiresAt.Location() != time.UTC {
		t.Fatalf("fields = %+v", tk)
	}
	wantSubs := []Subscription{ // ordered by room name, formats normalised
		{Room: "alerts", Receive: true, Formats: []string{"text"}},
		{Room: "lobby", Send: true, Receive: true, Formats: both},
	}
	if !reflect.DeepEqual(tk.Subscriptions, wantSubs) {
		t.Fatalf("subscriptions = %+v", tk.Subscriptions)
	}
}

func TestTokenBySecret(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := fakeClock(s)
	a := mustAccount(t, s, "alice")
	mustRoom(t, s, a.ID, "lobby")
	subs := []Subscription{{Room: "lobby", Send: true, Receive: true}}
	tk, secret, err := s.CreateToken(ctx, a.ID, TokenPatch{Subscriptions: &subs})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenBySecret(ctx, secret)
	if err != nil || !reflect.DeepEqual(got, tk) {
		t.Fatalf("TokenBySecret = %+v, %v; want %+v", got, err, tk)
	}
	if len(got.Subscriptions) != 1 || !reflect.DeepEqual(got.Subscriptions[0].Formats, both) {
		t.Fatalf("subscriptions = %+v", got.Subscriptions)
	}

	for name, bad := range map[string]string{
		"empty":        "",
		"no prefix":    secret[3:],
		"wrong prefix": "pk_" + secret[3:],
		"too short":    secret[:45],
		"too long":     secret + "A",
		"bad char":     secret[:45] + "=",
		"unknown":      newSecret(tokenSecretPrefix),
	} {
		if _, err := s.TokenBySecret(ctx, bad); err != ErrUnauthorized {
			t.Errorf("%s: err = %v, want ErrUnauthorized", name, err)
		}
	}

	// Expiry: expires_at <= now is expired.
	exp := now.Add(time.Minute)
	expp := &exp
	if _, err := s.UpdateToken(ctx, a.ID, tk.ID, TokenPatch{ExpiresAt: &expp}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenBySecret(ctx, secret); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	*now = exp
	_, err = s.TokenBySecret(ctx, secret)
	wantErr(t, err, ErrUnauthorized)
	// Clearing the expiry (pointer to nil) revives it.
	var none *time.Time
	tk, err = s.UpdateToken(ctx, a.ID, tk.ID, TokenPatch{ExpiresAt: &none})
	if err != nil || tk.ExpiresAt != nil {
		t.Fatalf("clear expiry: %+v, %v", tk, err)
	}
	if _, err := s.TokenBySecret(ctx, secret); err != nil {
		t.Fatalf("after clearing expiry: %v", err)
	}
}

func TestRegenerateToken(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	b := mustAccount(t, s, "bob")
	tk, old, err := s.CreateToken(ctx, a.ID, TokenPatch{Name: ptr("dev")})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.RegenerateToken(ctx, b.ID, tk.ID)
	wantErr(t, err, ErrNotFound)
	if _, err := s.TokenBySecret(ctx, old); err != nil {
		t.Fatalf("another owner's regenerate changed the secret: %v", err)
	}

	tk2, fresh, err := s.RegenerateToken(ctx, a.ID, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tk2, tk) || fresh == old || !tokenSecretRe.MatchString(fresh) {
		t.Fatalf("regenerated %+v (secret changed: %v)", tk2, fresh != old)
	}
	_, err = s.TokenBySecret(ctx, old)
	wantErr(t, err, ErrUnauthorized)
	if got, err := s.TokenBySecret(ctx, fresh); err != nil || got.ID != tk.ID {
		t.Fatalf("new secret: %+v, %v", got, err)
	}
	_, _, err = s.RegenerateToken(ctx, a.ID, "tk_nope")
	wantErr(t, err, ErrNotFound)
}

func TestTokenUpdateListDelete(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	b := mustAccount(t, s, "bob")
	mustRoom(t, s, a.ID, "one")
	mustRoom(t, s, a.ID, "two")
	mustRoom(t, s, b.ID, "bobs")

	t1, _, _ := s.CreateToken(ctx, a.ID, TokenPatch{Name: ptr("first")})
	subs := []Subscription{{Room: "one", Send: true}}
	t2, sec2, _ := s.CreateToken(ctx, a.ID, TokenPatch{Name: ptr("second"), Subscriptions: &subs})
	tb, _, _ := s.CreateToken(ctx, b.ID, TokenPatch{})

	ts, err := s.ListTokens(ctx, a.ID)
	if err != nil || len(ts) != 2 || ts[0].ID != t1.ID || ts[1].ID != t2.ID {
		t.Fatalf("ListTokens = %+v, %v", ts, err)
	}
	if ts[0].Subscriptions == nil || len(ts[0].Subscriptions) != 0 || len(ts[1].Subscriptions) != 1 {
		t.Fatalf("list subscriptions = %+v / %+v", ts[0].Subscriptions, ts[1].Subscriptions)
	}
	if n, _ := s.CountTokens(ctx, a.ID); n != 2 {
		t.Fatalf("CountTokens = %d", n)
	}
	if ts, err := s.ListTokens(ctx, 999); err != nil || ts == nil || len(ts) != 0 {
		t.Fatalf("ListTokens(nobody) = %#v, %v", ts, err)
	}

	// Partial update keeps the rest, including subscriptions.
	up, err := s.UpdateToken(ctx, a.ID, t2.ID, TokenPatch{MaxConnections: ptr(3), CanCreateRooms: ptr(true)})
	if err != nil || up.MaxConnections != 3 || !up.CanCreateRooms || up.Name != "second" || len(up.Subscriptions) != 1 {
		t.Fatalf("UpdateToken = %+v, %v", up, err)
	}
	// Replace the whole subscription set.
	repl := []Subscription{{Room: "two", Receive: true, Formats: []string{"binary"}}}
	up, err = s.UpdateToken(ctx, a.ID, t2.ID, TokenPatch{Subscriptions: &repl})
	if err != nil || !reflect.DeepEqual(up.Subscriptions, []Subscription{{Room: "two", Receive: true, Formats: []string{"binary"}}}) {
		t.Fatalf("replace = %+v, %v", up.Subscriptions, err)
	}
	// A failing replacement changes nothing (one transaction).
	bad := []Subscription{{Room: "one"}, {Room: "bobs"}}
	_, err = s.UpdateToken(ctx, a.ID, t2.ID, TokenPatch{Name: ptr("renamed"), Subscriptions: &bad})
	wantErr(t, err, ErrNotFound)
	if got, _ := s.Token(ctx, a.ID, t2.ID); !reflect.DeepEqual(got, up) {
		t.Fatalf("failed update changed the token: %+v", got)
	}
	// Empty set clears.
	up, err = s.UpdateToken(ctx, a.ID, t2.ID, TokenPatch{Subscriptions: &[]Subscription{}})
	if err != nil || up.Subscriptions == nil || len(up.Subscriptions) != 0 {
		t.Fatalf("clear subscriptions = %#v, %v", up.Subscriptions, err)
	}
	_, err = s.UpdateToken(ctx, a.ID, t2.ID, TokenPatch{MaxConnections: ptr(0)})
	wantErr(t, err, ErrInvalid)

	// Another owner sees nothing.
	_, err = s.Token(ctx, b.ID, t1.ID)
	wantErr(t, err, ErrNotFound)
	_, err = s.UpdateToken(ctx, b.ID, t1.ID, TokenPatch{Name: ptr("x")})
	wantErr(t, err, ErrNotFound)
	wantErr(t, s.DeleteToken(ctx, b.ID, t1.ID), ErrNotFound)
	_, err = s.Token(ctx, a.ID, tb.ID)
	wantErr(t, err, ErrNotFound)

	wantErr(t, s.DeleteToken(ctx, a.ID, t2.ID), nil)
	wantErr(t, s.DeleteToken(ctx, a.ID, t2.ID), ErrNotFound)
	_, err = s.TokenBySecret(ctx, sec2)
	wantErr(t, err, ErrUnauthorized)
	_, err = s.Token(ctx, a.ID, t2.ID)
	wantErr(t, err, ErrNotFound)
}

func TestSubscriptions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	b := mustAccount(t, s, "bob")
	mustRoom(t, s, a.ID, "lobby")
	mustRoom(t, s, a.ID, "alpha")
	mustRoom(t, s, b.ID, "bobs")
	tk, secret, _ := s.CreateToken(ctx, a.ID, TokenPatch{})

	tests := []struct {
		name     string
		owner    int64
		token    string
		sub      Subscription
		want     error
		wantSubs []Subscription
	}{
		{"put", a.ID, tk.ID, Subscription{Room: "lobby", Send: true, Receive: true}, nil,
			[]Subscription{{Room: "lobby", Send: true, Receive: true, Formats: both}}},
		{"put second sorts by name", a.ID, tk.ID, Subscription{Room: "alpha", Receive: true, Formats: []string{"text"}}, nil,
			[]Subscription{{Room: "alpha", Receive: true, Formats: []string{"text"}}, {Room: "lobby", Send: true, Receive: true, Formats: both}}},
		{"upsert", a.ID, tk.ID, Subscription{Room: "lobby", Send: true, Formats: []string{"binary", "binary"}}, nil,
			[]Subscription{{Room: "alpha", Receive: true, Formats: []string{"text"}}, {Room: "lobby", Send: true, Formats: []string{"binary"}}}},
		{"bad format", a.ID, tk.ID, Subscription{Room: "lobby", Formats: []string{"text", "json"}}, ErrInvalid, nil},
		{"unknown room", a.ID, tk.ID, Subscription{Room: "nope"}, ErrNotFound, nil},
		{"other owner's room", a.ID, tk.ID, Subscription{Room: "bobs"}, ErrNotFound, nil},
		{"other owner's token", b.ID, tk.ID, Subscription{Room: "bobs"}, ErrNotFound, nil},
		{"unknown token", a.ID, "tk_nope", Subscription{Room: "lobby"}, ErrNotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.PutSubscription(ctx, tc.owner, tc.token, tc.sub)
			wantErr(t, err, tc.want)
			if err == nil && !reflect.DeepEqual(got.Subscriptions, tc.wantSubs) {
				t.Fatalf("subscriptions = %+v, want %+v", got.Subscriptions, tc.wantSubs)
			}
		})
	}
	_, err := s.PutSubscription(ctx, a.ID, tk.ID, Subscription{Room: "nope"})
	if err == nil || !regexp.MustCompile(`nope`).MatchString(err.Error()) {
		t.Fatalf("unknown room error does not name the room: %v", err)
	}

	// Delete.
	_, err = s.DeleteSubscription(ctx, b.ID, tk.ID, "alpha")
	wantErr(t, err, ErrNotFound)
	got, err := s.DeleteSubscription(ctx, a.ID, tk.ID, "alpha")
	if err != nil || len(got.Subscriptions) != 1 || got.Subscriptions[0].Room != "lobby" {
		t.Fatalf("DeleteSubscription = %+v, %v", got.Subscriptions, err)
	}
	_, err = s.DeleteSubscription(ctx, a.ID, tk.ID, "alpha")
	wantErr(t, err, ErrNotFound)
	_, err = s.DeleteSubscription(ctx, a.ID, tk.ID, "nope")
	wantErr(t, err, ErrNotFound)

	// Deleting a room removes its subscriptions.
	wantErr(t, s.DeleteRoom(ctx, a.ID, "lobby"), nil)
	got, err = s.TokenBySecret(ctx, secret)
	if err != nil || got.Subscriptions == nil || len(got.Subscriptions) != 0 {
		t.Fatalf("after room delete: %#v, %v", got.Subscriptions, err)
	}
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM subscriptions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("subscription rows left: %d, %v", n, err)
	}
	// Deleting a token removes its subscriptions.
	mustRoom(t, s, a.ID, "lobby")
	if _, err := s.PutSubscription(ctx, a.ID, tk.ID, Subscription{Room: "lobby"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteToken(ctx, a.ID, tk.ID), nil)
	if err := s.r.QueryRow(`SELECT count(*) FROM subscriptions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("subscription rows left after token delete: %d, %v", n, err)
	}
}

func TestNormalizeSubscription(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
		err  error
	}{
		{nil, both, nil},
		{[]string{}, both, nil},
		{[]string{"binary", "text"}, both, nil},
		{[]string{"text"}, []string{"text"}, nil},
		{[]string{"binary"}, []string{"binary"}, nil},
		{[]string{"TEXT"}, nil, ErrInvalid},
		{[]string{""}, nil, ErrInvalid},
	}
	for _, tc := range tests {
		got, err := NormalizeSubscription(Subscription{Room: "r", Formats: tc.in})
		wantErr(t, err, tc.err)
		if err == nil && !reflect.DeepEqual(got.Formats, tc.want) {
			t.Errorf("NormalizeSubscription(%q) = %q, want %q", tc.in, got.Formats, tc.want)
		}
	}
}
