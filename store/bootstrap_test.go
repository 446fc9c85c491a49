package store

import (
	"context"
	"reflect"
	"regexp"
	"sync"
	"testing"
)

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		password  string
		generated bool
	}{
		{"given password", "from-the-env", false},
		{"generated password", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			b, err := s.Bootstrap(ctx, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			if !b.Created || !tokenIDRe.MatchString(b.TokenID) || !tokenSecretRe.MatchString(b.TokenSecret) {
				t.Fatalf("Bootstrap = %+v", b)
			}
			pw := tc.password
			if tc.generated {
				if !regexp.MustCompile(`^[A-Za-z0-9]{20}$`).MatchString(b.AdminPassword) {
					t.Fatalf("generated password %q", b.AdminPassword)
				}
				pw = b.AdminPassword
			} else if b.AdminPassword != "" {
				t.Fatal("given password echoed back")
			}
			admin, err := s.Authenticate(ctx, "admin", pw)
			if err != nil || !admin.IsAdmin {
				t.Fatalf("admin login: %+v, %v", admin, err)
			}
			r, err := s.Room(ctx, "admin", "lobby")
			if err != nil || r.Format != "any" {
				t.Fatalf("lobby = %+v, %v", r, err)
			}
			tk, err := s.TokenBySecret(ctx, b.TokenSecret)
			if err != nil || tk.ID != b.TokenID || tk.Name != "lobby" || tk.OwnerID != admin.ID {
				t.Fatalf("token = %+v, %v", tk, err)
			}
			want := []Subscription{{Room: "lobby", Send: true, Receive: true, Formats: both}}
			if !reflect.DeepEqual(tk.Subscriptions, want) {
				t.Fatalf("subscriptions = %+v", tk.Subscriptions)
			}

			again, err := s.Bootstrap(ctx, "another-password")
			if err != nil || again != (Bootstrap{}) {
				t.Fatalf("second Bootstrap = %+v, %v", again, err)
			}
			if n, _ := s.CountAccounts(ctx); n != 1 {
				t.Fatalf("accounts = %d", n)
			}
		})
	}
}

func TestBootstrapSkipsWhenAccountsExist(t *testing.T) {
	s := openTest(t)
	mustAccount(t, s, "alice")
	b, err := s.Bootstrap(context.Background(), "")
	if err != nil || b != (Bootstrap{}) {
		t.Fatalf("Bootstrap = %+v, %v", b, err)
	}
	if _, err := s.AccountByName(context.Background(), "admin"); err == nil {
		t.Fatal("admin created although accounts existed")
	}
}

func TestBootstrapConcurrentCreatesOnce(t *testing.T) {
	s := openTest(t)
	var wg sync.WaitGroup
	results := make([]Bootstrap, 8)
	for i := range results {
		wg.Go(func() {
			b, err := s.Bootstrap(context.Background(), "")
			if err != nil {
				t.Error(err)
			}
			results[i] = b
		})
	}
	wg.Wait()
	created := 0
	for _, b := range results {
		if b.Created {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d bootstraps created, want 1", created)
	}
	if n, _ := s.CountTokens(context.Background(), 1); n != 1 {
		t.Fatalf("tokens = %d", n)
	}
}

func TestBootstrapBadPassword(t *testing.T) {
	s := openTest(t)
	_, err := s.Bootstrap(context.Background(), "short")
	wantErr(t, err, ErrInvalid)
	if n, _ := s.CountAccounts(context.Background()); n != 0 {
		t.Fatalf("accounts after failed bootstrap = %d", n)
	}
}
