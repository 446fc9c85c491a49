package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSecretsNeverStored creates every kind of secret, closes the store and
// scans every file in the data directory for the plain secrets.
func TestSecretsNeverStored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "porthouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	const accountPW, roomPW = "account-password-xyzzy", "room-password-plugh"
	a, err := s.CreateAccount(ctx, "alice", accountPW, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRoom(ctx, a.ID, "vault", RoomPatch{Password: ptr(roomPW)}); err != nil {
		t.Fatal(err)
	}
	_, tokenSecret, err := s.CreateToken(ctx, a.ID, TokenPatch{})
	if err != nil {
		t.Fatal(err)
	}
	_, keySecret, err := s.CreateAPIKey(ctx, a.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	session, err := s.CreateSession(ctx, a.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.Created {
		t.Fatal("bootstrap ran with an account present")
	}
	// Files as they are while open (WAL and all), then after Close.
	secrets := map[string]string{
		"token": tokenSecret, "api key": keySecret, "session": session,
		"account password": accountPW, "room password": roomPW,
		"token body": tokenSecret[3:], "api key body": keySecret[3:],
	}
	scan := func(when string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for what, secret := range secrets {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("%s: %s found in %s", when, what, e.Name())
				}
			}
		}
	}
	scan("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	scan("closed")
}
