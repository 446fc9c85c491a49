package puddle

import (
	"context"
	"sync"
	"time"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/wire"
)

// Room cache bounds, as for tokens: live changes (RoomUpdated, RoomDeleted)
// update or drop entries at once; the TTL is a safety net.
const (
	roomCacheTTL = 30 * time.Second
	roomCacheMax = 100_000
)

// roomCache keeps persistent rooms read from the directory, so that a
// handshake or join of a known room needs no store round trip. Only rooms
// that exist are kept: a room created a moment ago has no live event, and a
// remembered absence would hide it.
type roomCache struct {
	mu    sync.Mutex
	rooms map[string]cachedRoom
}

type cachedRoom struct {
	room store.Room
	at   time.Time
}

func newRoomCache() *roomCache { return &roomCache{rooms: make(map[string]cachedRoom)} }

func (c *roomCache) get(key string) (store.Room, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.rooms[key]
	if !ok || time.Since(e.at) > roomCacheTTL {
		return store.Room{}, false
	}
	return e.room, true
}

func (c *roomCache) put(key string, r store.Room) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rooms) >= roomCacheMax {
		clear(c.rooms)
	}
	c.rooms[key] = cachedRoom{room: r, at: time.Now()}
}

func (c *roomCache) drop(key string) {
	c.mu.Lock()
	delete(c.rooms, key)
	c.mu.Unlock()
}

// room returns a persistent room, from the cache or the directory.
func (p *Puddle) room(ctx context.Context, owner, name string) (store.Room, error) {
	key := wire.Key(owner, name)
	if r, ok := p.rooms.get(key); ok {
		return r, nil
	}
	r, err := p.dir.Room(ctx, owner, name)
	if err == nil {
		p.rooms.put(key, r)
	}
	return r, err
}
