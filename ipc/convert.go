package ipc

import (
	"time"

	pb "github.com/porthouse/porthouse/proto"
	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/store"
)

func entryToPB(e sequence.Entry) *pb.Entry {
	return &pb.Entry{Id: e.ID, TokenId: e.TokenID, Slot: int32(e.Slot), Owner: e.Owner,
		Puddle: int32(e.Puddle), Mode: e.Mode, State: int32(e.State), Rooms: e.Rooms}
}

func entryFromPB(e *pb.Entry) sequence.Entry {
	return sequence.Entry{ID: e.GetId(), TokenID: e.GetTokenId(), Slot: int(e.GetSlot()), Owner: e.GetOwner(),
		Puddle: int(e.GetPuddle()), Mode: e.GetMode(), State: sequence.State(e.GetState()), Rooms: e.GetRooms()}
}

func transientToPB(r sequence.TransientRoom) *pb.TransientRoom {
	return &pb.TransientRoom{Key: r.Key, Owner: r.Owner, Creator: r.Creator, Public: r.Public,
		PublicSend: r.PublicSend, Echo: r.Echo, Presence: r.Presence, Format: r.Format}
}

func transientFromPB(r *pb.TransientRoom) sequence.TransientRoom {
	return sequence.TransientRoom{Key: r.GetKey(), Owner: r.GetOwner(), Creator: r.GetCreator(), Public: r.GetPublic(),
		PublicSend: r.GetPublicSend(), Echo: r.GetEcho(), Presence: r.GetPresence(), Format: r.GetFormat()}
}

// TokenToPB converts a store token for the wire.
func TokenToPB(t store.Token) *pb.Token {
	out := &pb.Token{Id: t.ID, Name: t.Name, OwnerId: t.OwnerID, Owner: t.Owner,
		MaxConnections: int32(t.MaxConnections), AutoJoin: t.AutoJoin, CanCreateRooms: t.CanCreateRooms}
	if t.ExpiresAt != nil {
		out.ExpiresAtUnixMs = t.ExpiresAt.UnixMilli()
	}
	for _, s := range t.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, &pb.Subscription{Room: s.Room, Send: s.Send, Receive: s.Receive, Formats: s.Formats})
	}
	return out
}

// TokenFromPB converts a wire token back.
func TokenFromPB(t *pb.Token) store.Token {
	out := store.Token{ID: t.GetId(), Name: t.GetName(), OwnerID: t.GetOwnerId(), Owner: t.GetOwner(),
		MaxConnections: int(t.GetMaxConnections()), AutoJoin: t.GetAutoJoin(), CanCreateRooms: t.GetCanCreateRooms(),
		Subscriptions: make([]store.Subscription, 0, len(t.GetSubscriptions()))}
	if ms := t.GetExpiresAtUnixMs(); ms != 0 {
		at := time.UnixMilli(ms).UTC()
		out.ExpiresAt = &at
	}
	for _, s := range t.GetSubscriptions() {
		out.Subscriptions = append(out.Subscriptions, store.Subscription{Room: s.GetRoom(), Send: s.GetSend(), Receive: s.GetReceive(), Formats: s.GetFormats()})
	}
	return out
}

// RoomToPB converts a store room for the wire (password hash included:
// workers check room passwords).
func RoomToPB(r store.Room) *pb.RoomInfo {
	return &pb.RoomInfo{Owner: r.Owner, Name: r.Name, Public: r.Public, PublicSend: r.PublicSend,
		HasPassword: r.HasPassword, PasswordHash: r.PasswordHash, Format: r.Format,
		MaxMembers: int32(r.MaxMembers), MaxMessageBytes: int32(r.MaxMessageBytes), Echo: r.Echo, Presence: r.Presence}
}

// RoomFromPB converts a wire room back.
func RoomFromPB(r *pb.RoomInfo) store.Room {
	return store.Room{Owner: r.GetOwner(), Name: r.GetName(), Public: r.GetPublic(), PublicSend: r.GetPublicSend(),
		HasPassword: r.GetHasPassword(), PasswordHash: r.GetPasswordHash(), Format: r.GetFormat(),
		MaxMembers: int(r.GetMaxMembers()), MaxMessageBytes: int(r.GetMaxMessageBytes()), Echo: r.GetEcho(), Presence: r.GetPresence()}
}
