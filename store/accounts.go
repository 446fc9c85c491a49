package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/porthouse/porthouse/wire"
	"golang.org/x/crypto/bcrypt"
)

const accountCols = `id, username, is_admin, created_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var created int64
	if err := row.Scan(&a.ID, &a.Username, &a.IsAdmin, &created); err != nil {
		return Account{}, err
	}
	a.CreatedAt = fromMS(created)
	return a, nil
}

// CreateAccount creates an account. The username must be a valid name
// (wire.ValidName) and unused (ErrConflict); the password at least 8
// characters.
func (s *Store) CreateAccount(ctx context.Context, username, password string, admin bool) (Account, error) {
	if !wire.ValidName(username) {
		return Account{}, fmt.Errorf("%w: username must match [a-z0-9][a-z0-9._-]{0,63}", ErrInvalid)
	}
	hash, err := hashPassword(password)
	if err != nil {
		return Account{}, err
	}
	var a Account
	err = s.write(ctx, func(tx *sql.Tx) error {
		a, err = insertAccount(ctx, tx, username, hash, admin, s.nowMS())
		return err
	})
	return a, err
}

func insertAccount(ctx context.Context, q querier, username string, hash []byte, admin bool, now int64) (Account, error) {
	row := q.QueryRowContext(ctx,
		`INSERT INTO accounts (username, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?)
		 RETURNING `+accountCols, username, hash, admin, now)
	a, err := scanAccount(row)
	if isUnique(err) {
		return Account{}, fmt.Errorf("%w: username %q is taken", ErrConflict, username)
	}
	if err != nil {
		return Account{}, fmt.Errorf("create account: %w", err)
	}
	return a, nil
}

// Authenticate checks a username and password. It returns ErrUnauthorized
// for an unknown user or a wrong password, taking about the same time in
// both cases.
func (s *Store) Authenticate(ctx context.Context, username, password string) (Account, error) {
	var hash []byte
	var a Account
	var created int64
	err := s.r.QueryRowContext(ctx,
		`SELECT `+accountCols+`, password_hash FROM accounts WHERE username = ?`, username).
		Scan(&a.ID, &a.Username, &a.IsAdmin, &created, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return Account{}, ErrUnauthorized
	case err != nil:
		return Account{}, fmt.Errorf("authenticate: %w", err)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return Account{}, ErrUnauthorized
	}
	a.CreatedAt = fromMS(created)
	return a, nil
}

// Account returns the account with id.
func (s *Store) Account(ctx context.Context, id int64) (Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	if err != nil {
		return Account{}, notFound(err, "account")
	}
	return a, nil
}

// AccountByName returns the account with username.
func (s *Store) AccountByName(ctx context.Context, username string) (Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE username = ?`, username))
	if err != nil {
		return Account{}, notFound(err, fmt.Sprintf("account %q", username))
	}
	return a, nil
}

// ListAccounts returns every account, oldest first.
func (s *Store) ListAccounts(ctx context.Context) ([]Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := []Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// CountAccounts returns the number of accounts.
func (s *Store) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", err)
	}
	return n, nil
}

// SetPassword replaces an account's password (at least 8 characters).
// Existing sessions stay valid.
func (s *Store) SetPassword(ctx context.Context, id int64, password string) error {
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, id)
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		return rowsAffected(res, "account")
	})
}

// DeleteAccount deletes an account and everything it owns (rooms, tokens,
// subscriptions, API keys, sessions) in one transaction.
func (s *Store) DeleteAccount(ctx context.Context, id int64) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		// The foreign keys cascade too; deleting explicitly keeps the
		// account's footprint visible here and independent of the pragma.
		for _, q := range []string{
			`DELETE FROM subscriptions WHERE token_id IN (SELECT id FROM tokens WHERE owner_id = ?)`,
			`DELETE FROM subscriptions WHERE room_id IN (SELECT id FROM rooms WHERE owner_id = ?)`,
			`DELETE FROM tokens WHERE owner_id = ?`,
			`DELETE FROM rooms WHERE owner_id = ?`,
			`DELETE FROM api_keys WHERE owner_id = ?`,
			`DELETE FROM sessions WHERE account_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete account: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete account: %w", err)
		}
		return rowsAffected(res, "account")
	})
}
