package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations is the schema history. migrations[i] takes the database from
// PRAGMA user_version i to i+1. Append only: never edit a released entry.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE accounts (
	id            INTEGER PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE,
	password_hash BLOB    NOT NULL,
	is_admin      INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
	secret_hash BLOB    PRIMARY KEY,
	account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	expires_at  INTEGER NOT NULL,
	created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_account ON sessions(account_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE api_keys (
	id          TEXT    PRIMARY KEY,
	owner_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name        TEXT    NOT NULL DEFAULT '',
	secret_hash BLOB    NOT NULL UNIQUE,
	created_at  INTEGER NOT NULL
);
CREATE INDEX api_keys_owner ON api_keys(owner_id, created_at);

CREATE TABLE rooms (
	id                INTEGER PRIMARY KEY,
	owner_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name              TEXT    NOT NULL,
	public            INTEGER NOT NULL DEFAULT 0,
	public_send       INTEGER NOT NULL DEFAULT 0,
	password_hash     BLOB,
	format            TEXT    NOT NULL DEFAULT 'any'
	                  CHECK (format IN ('any', 'text', 'binary', 'json')),
	max_members       INTEGER NOT NULL DEFAULT 0 CHECK (max_members >= 0),
	max_message_bytes INTEGER NOT NULL DEFAULT 0 CHECK (max_message_bytes >= 0),
	echo              INTEGER NOT NULL DEFAULT 0,
	presence          INTEGER NOT NULL DEFAULT 0,
	created_at        INTEGER NOT NULL,
	UNIQUE (owner_id, name)
);

CREATE TABLE tokens (
	id               TEXT    PRIMARY KEY,
	owner_id         INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name             TEXT    NOT NULL DEFAULT '',
	secret_hash      BLOB    NOT NULL UNIQUE,
	max_connections  INTEGER NOT NULL DEFAULT 10
	                 CHECK (max_connections BETWEEN 1 AND 100000),
	auto_join        INTEGER NOT NULL DEFAULT 1,
	can_create_rooms INTEGER NOT NULL DEFAULT 0,
	expires_at       INTEGER,
	created_at       INTEGER NOT NULL
);
CREATE INDEX tokens_owner ON tokens(owner_id, created_at);

-- formats is a bit set: 1 text, 2 binary.
CREATE TABLE subscriptions (
	token_id TEXT    NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
	room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
	send     INTEGER NOT NULL,
	receive  INTEGER NOT NULL,
	formats  INTEGER NOT NULL CHECK (formats BETWEEN 1 AND 3),
	PRIMARY KEY (token_id, room_id)
) WITHOUT ROWID;
CREATE INDEX subscriptions_room ON subscriptions(room_id);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
`,
}

// migrate applies the pending migrations in one write transaction and
// records the new version in PRAGMA user_version (which is part of the
// transaction). It refuses a database newer than this binary.
func (s *Store) migrate(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this binary (%d)", v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		if v == len(migrations) {
			return nil
		}
		// PRAGMA takes no bound parameters; the value is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
		return nil
	})
}

// SchemaVersion returns the database's schema version (the number of
// migrations applied).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.r.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}
