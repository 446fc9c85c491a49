// Package store is Porthouse's persistent state: the SQLite schema, its
// versioned migrations and every query against it.
//
// It owns accounts and their login sessions, API keys, persistent rooms and
// their rules, tokens and their subscriptions, and a small key/value table of
// server settings. It does not own anything live: sockets, slots, transient
// rooms and membership belong to the sequence.
//
// # Secrets
//
// Token secrets (ph_…), API key secrets (pk_…) and session secrets are
// random, returned once to the caller and stored only as SHA-256 hashes in
// indexed columns; lookups go by hash and the hashes are compared again in
// constant time. Account and room passwords are stored as bcrypt hashes.
// Nothing in this package logs, and no error it returns contains a secret.
//
// # Concurrency
//
// A *Store is safe for concurrent use by any number of goroutines. It holds
// two database/sql pools on the same file, which is in WAL mode:
//
//   - the writer pool has exactly one connection and begins every
//     transaction with BEGIN IMMEDIATE, so writers of this process queue in
//     database/sql instead of meeting SQLITE_BUSY, and a transaction never
//     has to upgrade a read lock to a write lock;
//   - the reader pool has several query-only connections; under WAL they
//     read a consistent snapshot without waiting for the writer.
//
// Every connection sets busy_timeout (5 s) for the rare contention with
// another process (a backup tool, the sqlite3 shell) and enables foreign
// keys. Code running inside a write transaction must use only that
// transaction, never the pools: the writer's single connection is taken,
// and asking the writer pool again would wait forever.
//
// Expensive work (bcrypt) is done before a write transaction starts, so the
// write lock is held only for the statements themselves.
//
// Times are stored as Unix milliseconds and returned in UTC.
package store
