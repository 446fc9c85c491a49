package api

import (
	"context"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// nopLive stands in when Config.Live is nil: no sockets, nothing to tell.
type nopLive struct{}

var _ Live = nopLive{}

func (nopLive) TokenUpdated(store.Token)       {}
func (nopLive) TokenRevoked(string)            {}
func (nopLive) RoomUpdated(store.Room)         {}
func (nopLive) RoomDeleted(owner, name string) {}
func (nopLive) Publish(context.Context, string, string, Publication) (string, error) {
	return "", wire.Errorf(wire.CodeNotFound, "no live server")
}
func (nopLive) RoomSockets(string, string) []SocketInfo { return nil }
func (nopLive) TransientRoom(string, string) bool       { return false }

func (nopLive) Kick(string, string) error {
	return wire.Errorf(wire.CodeNotFound, "no such socket")
}
