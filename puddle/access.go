package puddle

import (
	"context"
	"errors"

	"github.com/porthouse/porthouse/router"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// access is what a token may do in one room.
type access struct {
	key      string // owner/name
	owner    string
	name     string
	display  string // as the token names it
	rules    router.Rules
	perm     router.Perm
	password bool // joining needs the room password
}

const permAll = router.PermSend | router.PermReceive | router.PermText | router.PermBinary

// subPerm turns a subscription into permission bits.
func subPerm(sub store.Subscription) router.Perm {
	var p router.Perm
	if sub.Send {
		p |= router.PermSend
	}
	if sub.Receive {
		p |= router.PermReceive
	}
	for _, f := range sub.Formats {
		switch f {
		case wire.FormatText:
			p |= router.PermText
		case wire.FormatBinary:
			p |= router.PermBinary
		}
	}
	return p
}

// roomRules turns a stored room into router rules.
func roomRules(r store.Room) router.Rules {
	return router.Rules{
		Public:          r.Public,
		PublicSend:      r.PublicSend,
		Echo:            r.Echo,
		Presence:        r.Presence,
		Format:          r.Format,
		MaxMembers:      r.MaxMembers,
		MaxMessageBytes: r.MaxMessageBytes,
		PasswordHash:    r.PasswordHash,
	}
}

// transientRules turns a transient room into router rules.
func transientRules(tr sequence.TransientRoom) router.Rules {
	return router.Rules{Public: tr.Public, PublicSend: tr.PublicSend, Echo: tr.Echo,
		Presence: tr.Presence, Format: tr.Format, Transient: true}
}

// publicPerm is what anyone gets in a public room.
func publicPerm(rules router.Rules) router.Perm {
	p := router.PermReceive | router.PermText | router.PermBinary
	if rules.PublicSend {
		p |= router.PermSend
	}
	return p
}

// resolve decides what tok may do in the room it names as name. Persistent
// rooms come first, then transient rooms. Subscribed tokens of the owner use
// their subscription; everyone else gets in through `public`. Whoever joins
// a room with a password must give it (PROTOCOL.md: "join must give it").
func (p *Puddle) resolve(ctx context.Context, tok *store.Token, name string) (access, *wire.Error) {
	ref, ok := wire.ParseRoomRef(name)
	if !ok {
		return access{}, wire.Errorf(wire.CodeBadRequest, "invalid room name %q", name)
	}
	owner := ref.Owner
	if owner == "" {
		owner = tok.Owner
	}
	a := access{key: wire.Key(owner, ref.Name), owner: owner, name: ref.Name}
	a.display = wire.DisplayName(tok.Owner, a.key)
	room, err := p.room(ctx, owner, ref.Name)
	switch {
	case err == nil:
		a.rules = roomRules(room)
		a.password = room.HasPassword
		if owner == tok.Owner {
			for _, sub := range tok.Subscriptions {
				if sub.Room == ref.Name {
					a.perm = subPerm(sub)
					return a, nil
				}
			}
		}
		if !room.Public {
			return a, wire.Errorf(wire.CodeForbidden, "token may not use room %q", a.display)
		}
		a.perm = publicPerm(a.rules)
		return a, nil
	case !errors.Is(err, store.ErrNotFound):
		return a, wire.Errorf(wire.CodeInternal, "room lookup failed")
	}
	tr, found, err := p.seq.Room(ctx, a.key)
	if err != nil {
		return a, wire.Errorf(wire.CodeInternal, "room lookup failed")
	}
	if !found {
		return a, wire.Errorf(wire.CodeNotFound, "no room %q", a.display)
	}
	a.rules = transientRules(tr)
	switch {
	case owner == tok.Owner:
		a.perm = permAll
	case tr.Public:
		a.perm = publicPerm(a.rules)
	default:
		return a, wire.Errorf(wire.CodeForbidden, "token may not use room %q", a.display)
	}
	return a, nil
}

// checkPassword verifies a room password when access needs one.
func (a *access) checkPassword(given string) *wire.Error {
	if !a.password {
		return nil
	}
	if given == "" || !store.CheckRoomPassword(store.Room{HasPassword: true, PasswordHash: a.rules.PasswordHash}, given) {
		return wire.Errorf(wire.CodeForbidden, "wrong or missing password for room %q", a.display)
	}
	return nil
}

// maxBytes is the effective max_message_bytes of a room.
func maxBytes(rules *router.Rules, server int) int {
	if rules.MaxMessageBytes > 0 && rules.MaxMessageBytes < server {
		return rules.MaxMessageBytes
	}
	return server
}
