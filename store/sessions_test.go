package store

import (
	"context"
	"regexp"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := fakeClock(s)
	a := mustAccount(t, s, "alice")

	secret, err := s.CreateSession(ctx, a.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("session secret %q has the wrong shape", secret)
	}
	if got, err := s.SessionAccount(ctx, secret); err != nil || got != a {
		t.Fatalf("SessionAccount = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "short", secret[:42] + "!", newSecret("")} {
		_, err := s.SessionAccount(ctx, bad)
		wantErr(t, err, ErrUnauthorized)
	}

	_, err = s.CreateSession(ctx, a.ID, 0)
	wantErr(t, err, ErrInvalid)
	_, err = s.CreateSession(ctx, a.ID+100, time.Hour)
	wantErr(t, err, ErrNotFound)

	// Expiry: valid just before, refused at and after expires_at.
	*now = now.Add(time.Hour - time.Millisecond)
	if _, err := s.SessionAccount(ctx, secret); err != nil {
		t.Fatalf("session before expiry: %v", err)
	}
	*now = now.Add(time.Millisecond)
	_, err = s.SessionAccount(ctx, secret)
	wantErr(t, err, ErrUnauthorized)

	// Creating a session purges expired ones.
	other, err := s.CreateSession(ctx, a.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM sessions`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sessions after purge = %d, %v; want 1", n, err)
	}

	// Delete is idempotent.
	for range 2 {
		if err := s.DeleteSession(ctx, other); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
	}
	_, err = s.SessionAccount(ctx, other)
	wantErr(t, err, ErrUnauthorized)
	if err := s.DeleteSession(ctx, "garbage"); err != nil {
		t.Fatalf("DeleteSession(garbage): %v", err)
	}
}
