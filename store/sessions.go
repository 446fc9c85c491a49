package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const sessionBySecretSQL = `
SELECT s.secret_hash, s.expires_at, a.id, a.username, a.is_admin, a.created_at
FROM sessions s JOIN accounts a ON a.id = s.account_id
WHERE s.secret_hash = ?`

// CreateSession starts a login session for accountID lasting ttl and returns
// its secret (43 base64url characters), which is stored only as a hash.
// Expired sessions are purged on the way.
func (s *Store) CreateSession(ctx context.Context, accountID int64, ttl time.Duration) (secret string, err error) {
	if ttl <= 0 {
		return "", fmt.Errorf("%w: session ttl must be positive", ErrInvalid)
	}
	secret = newSecret("")
	now := s.now()
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.UnixMilli()); err != nil {
			return fmt.Errorf("purge sessions: %w", err)
		}
		if err := accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO sessions (secret_hash, account_id, expires_at, created_at) VALUES (?, ?, ?, ?)`,
			hashSecret(secret), accountID, now.Add(ttl).UnixMilli(), now.UnixMilli())
		if err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// SessionAccount returns the account a session secret belongs to, or
// ErrUnauthorized for an unknown, malformed or expired session.
func (s *Store) SessionAccount(ctx context.Context, secret string) (Account, error) {
	if !wellFormed(secret, "") {
		return Account{}, ErrUnauthorized
	}
	want := hashSecret(secret)
	var got []byte
	var expires, created int64
	var a Account
	err := s.sessionBySec.QueryRowContext(ctx, want).
		Scan(&got, &expires, &a.ID, &a.Username, &a.IsAdmin, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Account{}, ErrUnauthorized
	case err != nil:
		return Account{}, fmt.Errorf("session: %w", err)
	}
	if !sameHash(got, want) || expires <= s.nowMS() {
		return Account{}, ErrUnauthorized
	}
	a.CreatedAt = fromMS(created)
	return a, nil
}

// DeleteSession ends a session. Deleting an unknown session is not an error.
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	if !wellFormed(secret, "") {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE secret_hash = ?`, hashSecret(secret)); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}

// accountExists returns ErrNotFound unless the account id exists.
func accountExists(ctx context.Context, q querier, id int64) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE id = ?`, id).Scan(&one)
	if err != nil {
		return notFound(err, "account")
	}
	return nil
}
