package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Names of what Bootstrap creates.
const (
	BootstrapAdmin = "admin"
	BootstrapRoom  = "lobby"
)

// bootstrapPasswordLen is the length of a generated admin password.
const bootstrapPasswordLen = 20

// Bootstrap prepares a first start. When there are no accounts it creates,
// in one transaction, the admin account "admin" (with adminPassword, or a
// random 20-character password returned in AdminPassword when adminPassword
// is empty), the room "lobby" (format any) and a token named "lobby"
// subscribed to it with send and receive in both formats. Otherwise it
// returns a zero Bootstrap.
func (s *Store) Bootstrap(ctx context.Context, adminPassword string) (Bootstrap, error) {
	if n, err := s.CountAccounts(ctx); err != nil {
		return Bootstrap{}, fmt.Errorf("bootstrap: %w", err)
	} else if n > 0 {
		return Bootstrap{}, nil
	}
	var b Bootstrap
	password := adminPassword
	if password == "" {
		password = randomPassword(bootstrapPasswordLen)
		b.AdminPassword = password
	}
	hash, err := hashPassword(password)
	if err != nil {
		return Bootstrap{}, fmt.Errorf("bootstrap: admin password: %w", err)
	}
	name := BootstrapRoom
	subs := []Subscription{{Room: BootstrapRoom, Send: true, Receive: true, Formats: []string{FormatText, FormatBinary}}}
	err = s.write(ctx, func(tx *sql.Tx) error {
		// Check again under the write lock: another process may have won.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		now := s.nowMS()
		a, err := insertAccount(ctx, tx, BootstrapAdmin, hash, true, now)
		if err != nil {
			return err
		}
		if _, err := insertRoom(ctx, tx, a.ID, BootstrapRoom, roomWrite{}, now); err != nil {
			return err
		}
		t, secret, err := insertToken(ctx, tx, a.ID, tokenWrite{p: TokenPatch{Name: &name, Subscriptions: &subs}}, now)
		if err != nil {
			return err
		}
		b.Created, b.TokenID, b.TokenSecret = true, t.ID, secret
		return nil
	})
	if err != nil {
		return Bootstrap{}, fmt.Errorf("bootstrap: %w", err)
	}
	if !b.Created {
		return Bootstrap{}, nil
	}
	return b, nil
}
