package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const apiKeyBySecretSQL = `
SELECT k.secret_hash, k.id, k.name, k.owner_id, k.created_at,
       a.id, a.username, a.is_admin, a.created_at
FROM api_keys k JOIN accounts a ON a.id = k.owner_id
WHERE k.secret_hash = ?`

// CreateAPIKey creates a service key for ownerID and returns it with its
// secret (pk_…), which is returned only here and stored only as a hash.
func (s *Store) CreateAPIKey(ctx context.Context, ownerID int64, name string) (APIKey, string, error) {
	if err := checkLabel("name", name); err != nil {
		return APIKey{}, "", err
	}
	k := APIKey{ID: newID(apiKeyIDPrefix), Name: name, OwnerID: ownerID, CreatedAt: fromMS(s.nowMS())}
	secret := newSecret(apiKeySecretPref)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := accountExists(ctx, tx, ownerID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO api_keys (id, owner_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, ownerID, name, hashSecret(secret), k.CreatedAt.UnixMilli())
		if err != nil {
			return fmt.Errorf("create api key: %w", err)
		}
		return nil
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, secret, nil
}

// ListAPIKeys returns ownerID's keys, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, ownerID int64) ([]APIKey, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT id, name, owner_id, created_at FROM api_keys WHERE owner_id = ? ORDER BY created_at, rowid`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	out := []APIKey{}
	for rows.Next() {
		var k APIKey
		var created int64
		if err := rows.Scan(&k.ID, &k.Name, &k.OwnerID, &created); err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		k.CreatedAt = fromMS(created)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// DeleteAPIKey deletes ownerID's key id; another owner's key is ErrNotFound.
func (s *Store) DeleteAPIKey(ctx context.Context, ownerID int64, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE id = ? AND owner_id = ?`, id, ownerID)
		if err != nil {
			return fmt.Errorf("delete api key: %w", err)
		}
		return rowsAffected(res, "api key "+id)
	})
}

// APIKeyAccount returns the account and key a secret belongs to, or
// ErrUnauthorized for an unknown or malformed secret.
func (s *Store) APIKeyAccount(ctx context.Context, secret string) (Account, APIKey, error) {
	if !wellFormed(secret, apiKeySecretPref) {
		return Account{}, APIKey{}, ErrUnauthorized
	}
	want := hashSecret(secret)
	var got []byte
	var k APIKey
	var a Account
	var kCreated, aCreated int64
	err := s.apiKeyBySec.QueryRowContext(ctx, want).Scan(&got, &k.ID, &k.Name, &k.OwnerID, &kCreated,
		&a.ID, &a.Username, &a.IsAdmin, &aCreated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Account{}, APIKey{}, ErrUnauthorized
	case err != nil:
		return Account{}, APIKey{}, fmt.Errorf("api key: %w", err)
	}
	if !sameHash(got, want) {
		return Account{}, APIKey{}, ErrUnauthorized
	}
	k.CreatedAt, a.CreatedAt = fromMS(kCreated), fromMS(aCreated)
	return a, k, nil
}
