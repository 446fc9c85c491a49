package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCreateAccount(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	mustAccount(t, s, "taken")
	tests := []struct {
		name, username, password string
		want                     error
	}{
		{"ok", "alice", "correct horse", nil},
		{"dots and dashes", "a.b_c-d", "12345678", nil},
		{"duplicate", "taken", "whatever123", ErrConflict},
		{"empty name", "", "whatever123", ErrInvalid},
		{"upper case", "Alice", "whatever123", ErrInvalid},
		{"leading dot", ".alice", "whatever123", ErrInvalid},
		{"slash", "a/b", "whatever123", ErrInvalid},
		{"too long", strings.Repeat("a", 65), "whatever123", ErrInvalid},
		{"short password", "bob", "1234567", ErrInvalid},
		{"empty password", "bob", "", ErrInvalid},
		{"password over 72 bytes", "bob", strings.Repeat("p", 73), ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := s.CreateAccount(ctx, tc.username, tc.password, false)
			wantErr(t, err, tc.want)
			if err != nil {
				return
			}
			if a.ID == 0 || a.Username != tc.username || a.IsAdmin || a.CreatedAt.Location() != time.UTC {
				t.Fatalf("account = %+v", a)
			}
		})
	}
	admin, err := s.CreateAccount(ctx, "root", "rootroot", true)
	if err != nil || !admin.IsAdmin {
		t.Fatalf("admin = %+v, %v", admin, err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	tests := []struct {
		name, username, password string
		want                     error
	}{
		{"right", "alice", "password-alice", nil},
		{"wrong password", "alice", "password-bob", ErrUnauthorized},
		{"empty password", "alice", "", ErrUnauthorized},
		{"unknown user", "bob", "password-alice", ErrUnauthorized},
		{"invalid name", "Alice", "password-alice", ErrUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Authenticate(ctx, tc.username, tc.password)
			wantErr(t, err, tc.want)
			if err == nil && got != a {
				t.Fatalf("Authenticate = %+v, want %+v", got, a)
			}
		})
	}

	if err := s.SetPassword(ctx, a.ID, "new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", "password-alice"); err != ErrUnauthorized {
		t.Fatalf("old password after SetPassword: %v", err)
	}
	if _, err := s.Authenticate(ctx, "alice", "new password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	wantErr(t, s.SetPassword(ctx, a.ID, "short"), ErrInvalid)
	wantErr(t, s.SetPassword(ctx, a.ID+100, "long enough"), ErrNotFound)
}

func TestAccountLookups(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if as, err := s.ListAccounts(ctx); err != nil || as == nil || len(as) != 0 {
		t.Fatalf("ListAccounts on empty store = %#v, %v", as, err)
	}
	a := mustAccount(t, s, "alice")
	b := mustAccount(t, s, "bob")
	if got, err := s.Account(ctx, b.ID); err != nil || got != b {
		t.Fatalf("Account = %+v, %v", got, err)
	}
	if got, err := s.AccountByName(ctx, "alice"); err != nil || got != a {
		t.Fatalf("AccountByName = %+v, %v", got, err)
	}
	_, err := s.Account(ctx, 999)
	wantErr(t, err, ErrNotFound)
	_, err = s.AccountByName(ctx, "carol")
	wantErr(t, err, ErrNotFound)
	as, err := s.ListAccounts(ctx)
	if err != nil || len(as) != 2 || as[0] != a || as[1] != b {
		t.Fatalf("ListAccounts = %+v, %v", as, err)
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 2 {
		t.Fatalf("CountAccounts = %d, %v", n, err)
	}
}

func TestDeleteAccountRemovesEverything(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	a := mustAccount(t, s, "alice")
	b := mustAccount(t, s, "bob")
	for _, owner := range []Account{a, b} {
		mustRoom(t, s, owner.ID, "lobby")
		subs := []Subscription{{Room: "lobby", Send: true, Receive: true}}
		if _, _, err := s.CreateToken(ctx, owner.ID, TokenPatch{Subscriptions: &subs}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateAPIKey(ctx, owner.ID, "ci"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSession(ctx, owner.ID, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	if err := s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	wantErr(t, s.DeleteAccount(ctx, a.ID), ErrNotFound)
	_, err := s.Account(ctx, a.ID)
	wantErr(t, err, ErrNotFound)

	for _, table := range []string{"rooms", "tokens", "api_keys"} {
		var n int
		if err := s.r.QueryRow(`SELECT count(*) FROM `+table+` WHERE owner_id = ?`, a.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s left for the deleted account: %d, %v", table, n, err)
		}
	}
	counts := map[string]int{}
	for _, table := range []string{"accounts", "rooms", "tokens", "api_keys", "sessions", "subscriptions"} {
		var n int
		if err := s.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	want := map[string]int{"accounts": 1, "rooms": 1, "tokens": 1, "api_keys": 1, "sessions": 1, "subscriptions": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s: %d rows, want %d (bob's untouched)", k, counts[k], v)
		}
	}
}
