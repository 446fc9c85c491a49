package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) {
	// Real bcrypt, cheap cost: the tests hash many passwords under -race.
	bcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// openTest opens a store on a fresh file and closes it at the end of t.
func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "porthouse.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fakeClock makes s read the time from the returned pointer.
func fakeClock(s *Store) *time.Time {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return now }
	return &now
}

func mustAccount(t *testing.T, s *Store, name string) Account {
	t.Helper()
	a, err := s.CreateAccount(context.Background(), name, "password-"+name, false)
	if err != nil {
		t.Fatalf("CreateAccount(%q): %v", name, err)
	}
	return a
}

func mustRoom(t *testing.T, s *Store, owner int64, name string) Room {
	t.Helper()
	r, err := s.CreateRoom(context.Background(), owner, name, RoomPatch{})
	if err != nil {
		t.Fatalf("CreateRoom(%q): %v", name, err)
	}
	return r
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func ptr[T any](v T) *T { return &v }
