package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/porthouse/porthouse/wire"
)

// Token limits and defaults.
const (
	DefaultMaxConnections = 10
	MaxMaxConnections     = 100000
)

// Subscription formats.
const (
	fmtText   = 1
	fmtBinary = 2
)

// tokenSelect yields one row per (token, subscription), a token without
// subscriptions as one row with NULL subscription columns. Combined with
// tokenOrder, rows of one token are adjacent and its subscriptions ordered
// by room name.
const tokenSelect = `
SELECT t.id, t.name, t.owner_id, a.username, t.max_connections, t.auto_join,
       t.can_create_rooms, t.expires_at, t.created_at, t.secret_hash,
       r.name, s.send, s.receive, s.formats
FROM tokens t
JOIN accounts a ON a.id = t.owner_id
LEFT JOIN subscriptions s ON s.token_id = t.id
LEFT JOIN rooms r ON r.id = s.room_id`

const tokenOrder = ` ORDER BY t.created_at, t.rowid, r.name`

// tokenRow is a token with its stored secret hash.
type tokenRow struct {
	Token
	hash []byte
}

// scanTokens groups the rows of a tokenSelect query into tokens.
func scanTokens(rows *sql.Rows) ([]tokenRow, error) {
	defer rows.Close()
	out := []tokenRow{}
	for rows.Next() {
		var t tokenRow
		var expires sql.NullInt64
		var created int64
		var room sql.NullString
		var send, receive sql.NullBool
		var formats sql.NullInt64
		err := rows.Scan(&t.ID, &t.Name, &t.OwnerID, &t.Owner, &t.MaxConnections, &t.AutoJoin,
			&t.CanCreateRooms, &expires, &created, &t.hash, &room, &send, &receive, &formats)
		if err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].ID != t.ID {
			t.CreatedAt = fromMS(created)
			if expires.Valid {
				e := fromMS(expires.Int64)
				t.ExpiresAt = &e
			}
			t.Subscriptions = []Subscription{}
			out = append(out, t)
		}
		if room.Valid {
			last := &out[len(out)-1]
			last.Subscriptions = append(last.Subscriptions, Subscription{
				Room: room.String, Send: send.Bool, Receive: receive.Bool,
				Formats: formatNames(int(formats.Int64)),
			})
		}
	}
	return out, rows.Err()
}

func formatNames(mask int) []string {
	out := make([]string, 0, 2)
	if mask&fmtText != 0 {
		out = append(out, FormatText)
	}
	if mask&fmtBinary != 0 {
		out = append(out, FormatBinary)
	}
	return out
}

// formatMask validates and encodes subscription formats; empty means both.
func formatMask(formats []string) (int, error) {
	if len(formats) == 0 {
		return fmtText | fmtBinary, nil
	}
	mask := 0
	for _, f := range formats {
		switch f {
		case FormatText:
			mask |= fmtText
		case FormatBinary:
			mask |= fmtBinary
		default:
			return 0, fmt.Errorf("%w: formats must be a subset of [\"text\", \"binary\"], got %q", ErrInvalid, f)
		}
	}
	return mask, nil
}

// NormalizeSubscription returns sub with its formats validated and written
// in canonical form (text before binary; empty means both).
func NormalizeSubscription(sub Subscription) (Subscription, error) {
	mask, err := formatMask(sub.Formats)
	if err != nil {
		return Subscription{}, err
	}
	sub.Formats = formatNames(mask)
	return sub, nil
}

// loadToken reads ownerID's token id inside q.
func loadToken(ctx context.Context, q querier, ownerID int64, id string) (Token, error) {
	rows, err := q.QueryContext(ctx, tokenSelect+` WHERE t.id = ? AND t.owner_id = ?`+tokenOrder, id, ownerID)
	if err != nil {
		return Token{}, fmt.Errorf("token: %w", err)
	}
	ts, err := scanTokens(rows)
	if err != nil {
		return Token{}, fmt.Errorf("token: %w", err)
	}
	if len(ts) == 0 {
		return Token{}, fmt.Errorf("%w: token %s", ErrNotFound, id)
	}
	return ts[0].Token, nil
}

// tokenWrite is a validated TokenPatch.
type tokenWrite struct {
	p TokenPatch
}

func prepareTokenPatch(p TokenPatch) (tokenWrite, error) {
	if p.Name != nil {
		if err := checkLabel("name", *p.Name); err != nil {
			return tokenWrite{}, err
		}
	}
	if p.MaxConnections != nil && (*p.MaxConnections < 1 || *p.MaxConnections > MaxMaxConnections) {
		return tokenWrite{}, fmt.Errorf("%w: max_connections must be between 1 and %d", ErrInvalid, MaxMaxConnections)
	}
	if p.Subscriptions != nil {
		seen := make(map[string]bool, len(*p.Subscriptions))
		for _, sub := range *p.Subscriptions {
			if err := checkSubscription(sub); err != nil {
				return tokenWrite{}, err
			}
			if seen[sub.Room] {
				return tokenWrite{}, fmt.Errorf("%w: subscriptions: room %q listed twice", ErrInvalid, sub.Room)
			}
			seen[sub.Room] = true
		}
	}
	return tokenWrite{p: p}, nil
}

func checkSubscription(sub Subscription) error {
	if !wire.ValidName(sub.Room) {
		return fmt.Errorf("%w: subscription room %q is not a valid room name", ErrInvalid, sub.Room)
	}
	_, err := formatMask(sub.Formats)
	return err
}

func (w tokenWrite) apply(t *Token) {
	p := w.p
	setIf(&t.Name, p.Name)
	setIf(&t.MaxConnections, p.MaxConnections)
	setIf(&t.AutoJoin, p.AutoJoin)
	setIf(&t.CanCreateRooms, p.CanCreateRooms)
	if p.ExpiresAt != nil {
		if *p.ExpiresAt == nil {
			t.ExpiresAt = nil
		} else {
			e := (*p.ExpiresAt).Truncate(time.Millisecond).UTC()
			t.ExpiresAt = &e
		}
	}
}

func expiresMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// CreateToken creates a token for ownerID and returns it with its secret
// (ph_…), returned only here and stored only as a hash. Unset fields take
// their defaults: name "", max_connections 10, auto_join true,
// can_create_rooms false, no expiry, no subscriptions.
func (s *Store) CreateToken(ctx context.Context, ownerID int64, p TokenPatch) (Token, string, error) {
	w, err := prepareTokenPatch(p)
	if err != nil {
		return Token{}, "", err
	}
	var t Token
	var secret string
	err = s.write(ctx, func(tx *sql.Tx) error {
		t, secret, err = insertToken(ctx, tx, ownerID, w, s.nowMS())
		return err
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

func insertToken(ctx context.Context, tx *sql.Tx, ownerID int64, w tokenWrite, now int64) (Token, string, error) {
	if err := accountExists(ctx, tx, ownerID); err != nil {
		return Token{}, "", err
	}
	t := Token{ID: newID(tokenIDPrefix), MaxConnections: DefaultMaxConnections, AutoJoin: true}
	w.apply(&t)
	secret := newSecret(tokenSecretPrefix)
	_, err := tx.ExecContext(ctx, `
		INSERT INTO tokens (id, owner_id, name, secret_hash, max_connections, auto_join,
		                    can_create_rooms, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, ownerID, t.Name, hashSecret(secret), t.MaxConnections, t.AutoJoin,
		t.CanCreateRooms, expiresMS(t.ExpiresAt), now)
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	if w.p.Subscriptions != nil {
		if err := replaceSubscriptions(ctx, tx, ownerID, t.ID, *w.p.Subscriptions); err != nil {
			return Token{}, "", err
		}
	}
	t, err = loadToken(ctx, tx, ownerID, t.ID)
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// ListTokens returns ownerID's tokens, oldest first, with their
// subscriptions.
func (s *Store) ListTokens(ctx context.Context, ownerID int64) ([]Token, error) {
	rows, err := s.r.QueryContext(ctx, tokenSelect+` WHERE t.owner_id = ?`+tokenOrder, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	ts, err := scanTokens(rows)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]Token, len(ts))
	for i := range ts {
		out[i] = ts[i].Token
	}
	return out, nil
}

// CountTokens returns the number of ownerID's tokens.
func (s *Store) CountTokens(ctx context.Context, ownerID int64) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE owner_id = ?`, ownerID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// Token returns ownerID's token id; another owner's token is ErrNotFound.
func (s *Store) Token(ctx context.Context, ownerID int64, id string) (Token, error) {
	return loadToken(ctx, s.r, ownerID, id)
}

// UpdateToken changes ownerID's token id; nil fields of p stay as they are.
// Non-nil Subscriptions replace the whole set, in the same transaction.
func (s *Store) UpdateToken(ctx context.Context, ownerID int64, id string, p TokenPatch) (Token, error) {
	w, err := prepareTokenPatch(p)
	if err != nil {
		return Token{}, err
	}
	var t Token
	err = s.write(ctx, func(tx *sql.Tx) error {
		if t, err = loadToken(ctx, tx, ownerID, id); err != nil {
			return err
		}
		w.apply(&t)
		_, err := tx.ExecContext(ctx, `
			UPDATE tokens SET name = ?, max_connections = ?, auto_join = ?,
			       can_create_rooms = ?, expires_at = ?
			WHERE id = ?`,
			t.Name, t.MaxConnections, t.AutoJoin, t.CanCreateRooms, expiresMS(t.ExpiresAt), id)
		if err != nil {
			return fmt.Errorf("update token: %w", err)
		}
		if p.Subscriptions != nil {
			if err := replaceSubscriptions(ctx, tx, ownerID, id, *p.Subscriptions); err != nil {
				return err
			}
		}
		t, err = loadToken(ctx, tx, ownerID, id)
		return err
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// DeleteToken deletes ownerID's token id and its subscriptions.
func (s *Store) DeleteToken(ctx context.Context, ownerID int64, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE id = ? AND owner_id = ?`, id, ownerID)
		if err != nil {
			return fmt.Errorf("delete token: %w", err)
		}
		return rowsAffected(res, "token "+id)
	})
}

// RegenerateToken gives ownerID's token id a new secret, returned only
// here; the old secret stops working at once.
func (s *Store) RegenerateToken(ctx context.Context, ownerID int64, id string) (Token, string, error) {
	secret := newSecret(tokenSecretPrefix)
	var t Token
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET secret_hash = ? WHERE id = ? AND owner_id = ?`,
			hashSecret(secret), id, ownerID)
		if err != nil {
			return fmt.Errorf("regenerate token: %w", err)
		}
		if err := rowsAffected(res, "token "+id); err != nil {
			return err
		}
		t, err = loadToken(ctx, tx, ownerID, id)
		return err
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// TokenBySecret returns the token a secret belongs to, with its
// subscriptions, in one indexed query. An unknown, malformed or expired
// secret is ErrUnauthorized; a malformed one costs no query.
func (s *Store) TokenBySecret(ctx context.Context, secret string) (Token, error) {
	if !wellFormed(secret, tokenSecretPrefix) {
		return Token{}, ErrUnauthorized
	}
	want := hashSecret(secret)
	rows, err := s.tokenBySecret.QueryContext(ctx, want)
	if err != nil {
		return Token{}, fmt.Errorf("token by secret: %w", err)
	}
	ts, err := scanTokens(rows)
	if err != nil {
		return Token{}, fmt.Errorf("token by secret: %w", err)
	}
	if len(ts) != 1 || !sameHash(ts[0].hash, want) {
		return Token{}, ErrUnauthorized
	}
	t := ts[0].Token
	if t.ExpiresAt != nil && !t.ExpiresAt.After(s.now()) {
		return Token{}, ErrUnauthorized
	}
	return t, nil
}
