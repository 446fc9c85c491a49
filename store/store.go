package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMS is how long a connection waits for a lock held by another
// connection (in practice: another process) before failing.
const busyTimeoutMS = 5000

// Store is the SQLite-backed store. Safe for concurrent use; see the package
// documentation for the pool layout.
type Store struct {
	file string  // absolute path of the database file
	w    *sql.DB // writer: one connection, BEGIN IMMEDIATE
	r    *sql.DB // readers: query-only connections

	// Hot lookups, prepared once on the reader pool.
	tokenBySecret *sql.Stmt
	apiKeyBySec   *sql.Stmt
	sessionBySec  *sql.Stmt

	now func() time.Time // the clock; tests replace it

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database file at path, creating its
// parent directory, and applies any pending migrations.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Precompute the dummy hash Authenticate compares against for unknown
	// users, so the first such call is not slower than the rest.
	dummyHash()

	s := &Store{file: abs, now: time.Now}
	s.w, err = sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.migrate(context.Background()); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}

	s.r, err = sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.r.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.prepare(context.Background()); err != nil {
		s.r.Close()
		s.w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// dsn builds the driver DSN for the database file at abs. The path is
// written as a file: URI so that any character in it survives.
func dsn(abs string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Path: filepath.ToSlash(abs)}
	return "file:" + u.EscapedPath() + "?" + q.Encode()
}

func (s *Store) prepare(ctx context.Context) error {
	var err error
	if s.tokenBySecret, err = s.r.PrepareContext(ctx, tokenSelect+` WHERE t.secret_hash = ?`+tokenOrder); err != nil {
		return fmt.Errorf("prepare token lookup: %w", err)
	}
	if s.apiKeyBySec, err = s.r.PrepareContext(ctx, apiKeyBySecretSQL); err != nil {
		return fmt.Errorf("prepare api key lookup: %w", err)
	}
	if s.sessionBySec, err = s.r.PrepareContext(ctx, sessionBySecretSQL); err != nil {
		return fmt.Errorf("prepare session lookup: %w", err)
	}
	return nil
}

// Close closes the store. It is safe to call more than once; later calls
// return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, st := range []*sql.Stmt{s.tokenBySecret, s.apiKeyBySec, s.sessionBySec} {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		errs = append(errs, s.r.Close(), s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

// Ping checks that the database answers (for readiness probes).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// querier is what both the pools and a transaction offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// write runs fn in one write transaction (BEGIN IMMEDIATE on the single
// writer connection) and commits it if fn returns nil. fn must use only tx.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// nowMS is the current time in Unix milliseconds.
func (s *Store) nowMS() int64 { return s.now().UnixMilli() }

// fromMS converts stored Unix milliseconds to a UTC time.
func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// rowsAffected returns ErrNotFound when res touched no row.
func rowsAffected(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

// notFound maps sql.ErrNoRows to ErrNotFound with what, and wraps other
// errors with what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return fmt.Errorf("%s: %w", what, err)
}
