package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "porthouse.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != len(migrations) {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
	}
	var mode string
	if err := s.r.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	for _, db := range []querier{s.r, s.w} {
		var fk, busy int
		if err := db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Fatalf("foreign_keys = %d, %v", fk, err)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != busyTimeoutMS {
			t.Fatalf("busy_timeout = %d, %v", busy, err)
		}
	}
	a := mustAccount(t, s, "alice")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("re-Open: %v", err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != len(migrations) {
		t.Fatalf("SchemaVersion after reopen = %d", v)
	}
	got, err := s.Account(ctx, a.ID)
	if err != nil || got.Username != "alice" {
		t.Fatalf("Account after reopen = %+v, %v", got, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "porthouse.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("Open accepted a schema newer than the binary")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("error = %v", err)
	}
}

func TestOpenPathWithOddCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?x=1#frag%20", "porthouse.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustAccount(t, s, "alice")
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestReaderIsQueryOnly(t *testing.T) {
	s := openTest(t)
	if _, err := s.r.Exec(`INSERT INTO settings (key, value) VALUES ('x', 'y')`); err == nil {
		t.Fatal("reader pool accepted a write")
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if v, ok, err := s.Setting(ctx, "open_signup"); err != nil || ok || v != "" {
		t.Fatalf("unset Setting = %q, %v, %v", v, ok, err)
	}
	for _, v := range []string{"true", "false"} {
		if err := s.SetSetting(ctx, "open_signup", v); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Setting(ctx, "open_signup"); err != nil || !ok || got != v {
			t.Fatalf("Setting = %q, %v, %v; want %q", got, ok, err, v)
		}
	}
}
