package store

import (
	"context"
	"database/sql"
	"fmt"
)

// upsertSubscription writes token → room inside tx. The room must be one of
// ownerID's rooms (ErrNotFound naming it otherwise); sub must have passed
// checkSubscription.
func upsertSubscription(ctx context.Context, tx *sql.Tx, ownerID int64, tokenID string, sub Subscription) error {
	mask, err := formatMask(sub.Formats)
	if err != nil {
		return err
	}
	var roomID int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM rooms WHERE owner_id = ? AND name = ?`, ownerID, sub.Room).Scan(&roomID)
	if err != nil {
		return notFound(err, fmt.Sprintf("room %q", sub.Room))
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO subscriptions (token_id, room_id, send, receive, formats) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (token_id, room_id) DO UPDATE
		SET send = excluded.send, receive = excluded.receive, formats = excluded.formats`,
		tokenID, roomID, sub.Send, sub.Receive, mask)
	if err != nil {
		return fmt.Errorf("put subscription: %w", err)
	}
	return nil
}

// replaceSubscriptions makes subs the whole subscription set of tokenID.
func replaceSubscriptions(ctx context.Context, tx *sql.Tx, ownerID int64, tokenID string, subs []Subscription) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE token_id = ?`, tokenID); err != nil {
		return fmt.Errorf("replace subscriptions: %w", err)
	}
	for _, sub := range subs {
		if err := upsertSubscription(ctx, tx, ownerID, tokenID, sub); err != nil {
			return err
		}
	}
	return nil
}

// PutSubscription creates or replaces the subscription of ownerID's token
// tokenID to ownerID's room sub.Room, and returns the updated token. Empty
// formats mean both.
func (s *Store) PutSubscription(ctx context.Context, ownerID int64, tokenID string, sub Subscription) (Token, error) {
	if err := checkSubscription(sub); err != nil {
		return Token{}, err
	}
	var t Token
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tokenExists(ctx, tx, ownerID, tokenID); err != nil {
			return err
		}
		if err := upsertSubscription(ctx, tx, ownerID, tokenID, sub); err != nil {
			return err
		}
		var err error
		t, err = loadToken(ctx, tx, ownerID, tokenID)
		return err
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// DeleteSubscription removes the subscription of ownerID's token tokenID to
// room and returns the updated token; a missing one is ErrNotFound.
func (s *Store) DeleteSubscription(ctx context.Context, ownerID int64, tokenID, room string) (Token, error) {
	var t Token
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tokenExists(ctx, tx, ownerID, tokenID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `
			DELETE FROM subscriptions
			WHERE token_id = ? AND room_id = (SELECT id FROM rooms WHERE owner_id = ? AND name = ?)`,
			tokenID, ownerID, room)
		if err != nil {
			return fmt.Errorf("delete subscription: %w", err)
		}
		if err := rowsAffected(res, fmt.Sprintf("subscription to room %q", room)); err != nil {
			return err
		}
		t, err = loadToken(ctx, tx, ownerID, tokenID)
		return err
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// tokenExists returns ErrNotFound unless ownerID owns token id.
func tokenExists(ctx context.Context, q querier, ownerID int64, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE id = ? AND owner_id = ?`, id, ownerID).Scan(&one)
	if err != nil {
		return notFound(err, "token "+id)
	}
	return nil
}
