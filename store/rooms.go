package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/porthouse/porthouse/wire"
	"golang.org/x/crypto/bcrypt"
)

// Room formats.
const (
	FormatAny    = "any"
	FormatText   = "text"
	FormatBinary = "binary"
	FormatJSON   = "json"
)

const roomSelect = `
SELECT r.id, r.owner_id, a.username, r.name, r.public, r.public_send, r.password_hash,
       r.format, r.max_members, r.max_message_bytes, r.echo, r.presence, r.created_at
FROM rooms r JOIN accounts a ON a.id = r.owner_id`

func scanRoom(row interface{ Scan(...any) error }) (Room, error) {
	var r Room
	var created int64
	err := row.Scan(&r.ID, &r.OwnerID, &r.Owner, &r.Name, &r.Public, &r.PublicSend, &r.PasswordHash,
		&r.Format, &r.MaxMembers, &r.MaxMessageBytes, &r.Echo, &r.Presence, &created)
	if err != nil {
		return Room{}, err
	}
	r.HasPassword = len(r.PasswordHash) > 0
	r.CreatedAt = fromMS(created)
	return r, nil
}

// roomWrite is a validated RoomPatch: the password already hashed, outside
// any transaction.
type roomWrite struct {
	p        RoomPatch
	setPass  bool
	passHash []byte // nil clears
}

func prepareRoomPatch(p RoomPatch) (roomWrite, error) {
	w := roomWrite{p: p}
	if p.Format != nil {
		switch *p.Format {
		case FormatAny, FormatText, FormatBinary, FormatJSON:
		default:
			return w, fmt.Errorf("%w: format must be any, text, binary or json", ErrInvalid)
		}
	}
	if p.MaxMembers != nil && *p.MaxMembers < 0 {
		return w, fmt.Errorf("%w: max_members must be >= 0", ErrInvalid)
	}
	if p.MaxMessageBytes != nil && *p.MaxMessageBytes < 0 {
		return w, fmt.Errorf("%w: max_message_bytes must be >= 0", ErrInvalid)
	}
	if p.Password != nil {
		w.setPass = true
		if *p.Password != "" {
			h, err := bcryptHash(*p.Password)
			if err != nil {
				return w, err
			}
			w.passHash = h
		}
	}
	return w, nil
}

// apply sets the patch's fields on r.
func (w roomWrite) apply(r *Room) {
	p := w.p
	setIf(&r.Public, p.Public)
	setIf(&r.PublicSend, p.PublicSend)
	setIf(&r.Format, p.Format)
	setIf(&r.MaxMembers, p.MaxMembers)
	setIf(&r.MaxMessageBytes, p.MaxMessageBytes)
	setIf(&r.Echo, p.Echo)
	setIf(&r.Presence, p.Presence)
	if w.setPass {
		r.PasswordHash = w.passHash
		r.HasPassword = len(w.passHash) > 0
	}
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// CreateRoom creates a persistent room owned by ownerID. The name must be a
// valid name and unused by this owner (ErrConflict); unset rules take their
// defaults (format "any", everything else off or zero).
func (s *Store) CreateRoom(ctx context.Context, ownerID int64, name string, p RoomPatch) (Room, error) {
	if !wire.ValidName(name) {
		return Room{}, fmt.Errorf("%w: room name must match [a-z0-9][a-z0-9._-]{0,63}", ErrInvalid)
	}
	w, err := prepareRoomPatch(p)
	if err != nil {
		return Room{}, err
	}
	var r Room
	err = s.write(ctx, func(tx *sql.Tx) error {
		r, err = insertRoom(ctx, tx, ownerID, name, w, s.nowMS())
		return err
	})
	return r, err
}

func insertRoom(ctx context.Context, tx *sql.Tx, ownerID int64, name string, w roomWrite, now int64) (Room, error) {
	r := Room{OwnerID: ownerID, Name: name, Format: FormatAny, CreatedAt: fromMS(now)}
	w.apply(&r)
	if err := tx.QueryRowContext(ctx, `SELECT username FROM accounts WHERE id = ?`, ownerID).Scan(&r.Owner); err != nil {
		return Room{}, notFound(err, "account")
	}
	err := tx.QueryRowContext(ctx, `
		INSERT INTO rooms (owner_id, name, public, public_send, password_hash, format,
		                   max_members, max_message_bytes, echo, presence, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ownerID, name, r.Public, r.PublicSend, r.PasswordHash, r.Format,
		r.MaxMembers, r.MaxMessageBytes, r.Echo, r.Presence, now).Scan(&r.ID)
	if isUnique(err) {
		return Room{}, fmt.Errorf("%w: room %q exists", ErrConflict, name)
	}
	if err != nil {
		return Room{}, fmt.Errorf("create room: %w", err)
	}
	return r, nil
}

// ListRooms returns ownerID's rooms ordered by name.
func (s *Store) ListRooms(ctx context.Context, ownerID int64) ([]Room, error) {
	rows, err := s.r.QueryContext(ctx, roomSelect+` WHERE r.owner_id = ? ORDER BY r.name`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	defer rows.Close()
	out := []Room{}
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, fmt.Errorf("list rooms: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	return out, nil
}

// CountRooms returns the number of ownerID's rooms.
func (s *Store) CountRooms(ctx context.Context, ownerID int64) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM rooms WHERE owner_id = ?`, ownerID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rooms: %w", err)
	}
	return n, nil
}

// Room returns the room name of the account with username owner.
func (s *Store) Room(ctx context.Context, owner, name string) (Room, error) {
	r, err := scanRoom(s.r.QueryRowContext(ctx, roomSelect+` WHERE a.username = ? AND r.name = ?`, owner, name))
	if err != nil {
		return Room{}, notFound(err, fmt.Sprintf("room %q", name))
	}
	return r, nil
}

// roomOf returns ownerID's room name inside q.
func roomOf(ctx context.Context, q querier, ownerID int64, name string) (Room, error) {
	r, err := scanRoom(q.QueryRowContext(ctx, roomSelect+` WHERE r.owner_id = ? AND r.name = ?`, ownerID, name))
	if err != nil {
		return Room{}, notFound(err, fmt.Sprintf("room %q", name))
	}
	return r, nil
}

// UpdateRoom changes the rules of ownerID's room name; nil fields of p stay
// as they are. Another owner's room is ErrNotFound.
func (s *Store) UpdateRoom(ctx context.Context, ownerID int64, name string, p RoomPatch) (Room, error) {
	w, err := prepareRoomPatch(p)
	if err != nil {
		return Room{}, err
	}
	var r Room
	err = s.write(ctx, func(tx *sql.Tx) error {
		if r, err = roomOf(ctx, tx, ownerID, name); err != nil {
			return err
		}
		w.apply(&r)
		_, err := tx.ExecContext(ctx, `
			UPDATE rooms SET public = ?, public_send = ?, password_hash = ?, format = ?,
			       max_members = ?, max_message_bytes = ?, echo = ?, presence = ?
			WHERE id = ?`,
			r.Public, r.PublicSend, r.PasswordHash, r.Format,
			r.MaxMembers, r.MaxMessageBytes, r.Echo, r.Presence, r.ID)
		if err != nil {
			return fmt.Errorf("update room: %w", err)
		}
		return nil
	})
	return r, err
}

// DeleteRoom deletes ownerID's room name and every subscription to it.
func (s *Store) DeleteRoom(ctx context.Context, ownerID int64, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM rooms WHERE owner_id = ? AND name = ?`, ownerID, name)
		if err != nil {
			return fmt.Errorf("delete room: %w", err)
		}
		return rowsAffected(res, fmt.Sprintf("room %q", name))
	})
}

// CheckRoomPassword reports whether password opens r: true when r has no
// password, else whether it matches the stored hash.
func CheckRoomPassword(r Room, password string) bool {
	if len(r.PasswordHash) == 0 {
		return true
	}
	return bcrypt.CompareHashAndPassword(r.PasswordHash, []byte(password)) == nil
}
