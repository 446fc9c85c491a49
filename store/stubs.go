package store

// TEMPORARY: method set of *Store, for parallel work. The store implementer
// replaces every stub with a real implementation and deletes this file.

import (
	"context"
	"database/sql"
	"time"
)

// Store is the SQLite-backed store. Safe for concurrent use.
type Store struct{ db *sql.DB }

func Open(path string) (*Store, error) { panic("unimplemented") }
func (s *Store) Close() error          { panic("unimplemented") }

func (s *Store) Bootstrap(ctx context.Context, adminPassword string) (Bootstrap, error) {
	panic("unimplemented")
}

func (s *Store) CreateAccount(ctx context.Context, username, password string, admin bool) (Account, error) {
	panic("unimplemented")
}
func (s *Store) Authenticate(ctx context.Context, username, password string) (Account, error) {
	panic("unimplemented")
}
func (s *Store) Account(ctx context.Context, id int64) (Account, error) { panic("unimplemented") }
func (s *Store) AccountByName(ctx context.Context, username string) (Account, error) {
	panic("unimplemented")
}
func (s *Store) ListAccounts(ctx context.Context) ([]Account, error) { panic("unimplemented") }
func (s *Store) SetPassword(ctx context.Context, id int64, password string) error {
	panic("unimplemented")
}
func (s *Store) DeleteAccount(ctx context.Context, id int64) error { panic("unimplemented") }

func (s *Store) CreateSession(ctx context.Context, accountID int64, ttl time.Duration) (secret string, err error) {
	panic("unimplemented")
}
func (s *Store) SessionAccount(ctx context.Context, secret string) (Account, error) {
	panic("unimplemented")
}
func (s *Store) DeleteSession(ctx context.Context, secret string) error { panic("unimplemented") }

func (s *Store) CreateAPIKey(ctx context.Context, ownerID int64, name string) (APIKey, string, error) {
	panic("unimplemented")
}
func (s *Store) ListAPIKeys(ctx context.Context, ownerID int64) ([]APIKey, error) {
	panic("unimplemented")
}
func (s *Store) DeleteAPIKey(ctx context.Context, ownerID int64, id string) error {
	panic("unimplemented")
}
func (s *Store) APIKeyAccount(ctx context.Context, secret string) (Account, APIKey, error) {
	panic("unimplemented")
}

func (s *Store) CreateRoom(ctx context.Context, ownerID int64, name string, p RoomPatch) (Room, error) {
	panic("unimplemented")
}
func (s *Store) ListRooms(ctx context.Context, ownerID int64) ([]Room, error) {
	panic("unimplemented")
}
func (s *Store) Room(ctx context.Context, owner, name string) (Room, error) {
	panic("unimplemented")
}
func (s *Store) UpdateRoom(ctx context.Context, ownerID int64, name string, p RoomPatch) (Room, error) {
	panic("unimplemented")
}
func (s *Store) DeleteRoom(ctx context.Context, ownerID int64, name string) error {
	panic("unimplemented")
}
func CheckRoomPassword(r Room, password string) bool { panic("unimplemented") }

func (s *Store) CreateToken(ctx context.Context, ownerID int64, p TokenPatch) (Token, string, error) {
	panic("unimplemented")
}
func (s *Store) ListTokens(ctx context.Context, ownerID int64) ([]Token, error) {
	panic("unimplemented")
}
func (s *Store) Token(ctx context.Context, ownerID int64, id string) (Token, error) {
	panic("unimplemented")
}
func (s *Store) UpdateToken(ctx context.Context, ownerID int64, id string, p TokenPatch) (Token, error) {
	panic("unimplemented")
}
func (s *Store) DeleteToken(ctx context.Context, ownerID int64, id string) error {
	panic("unimplemented")
}
func (s *Store) RegenerateToken(ctx context.Context, ownerID int64, id string) (Token, string, error) {
	panic("unimplemented")
}
func (s *Store) TokenBySecret(ctx context.Context, secret string) (Token, error) {
	panic("unimplemented")
}
func (s *Store) PutSubscription(ctx context.Context, ownerID int64, tokenID string, sub Subscription) (Token, error) {
	panic("unimplemented")
}
func (s *Store) DeleteSubscription(ctx context.Context, ownerID int64, tokenID, room string) (Token, error) {
	panic("unimplemented")
}
