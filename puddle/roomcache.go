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
	mu      sync.Mutex
	rooms   map[string]cachedRoom
	changed map[string]time.Time // room key → its last live change
}

type cachedRoom struct {
	room store.Room
	at   time.Time
}

func newRoomCache() *roomCache {
	return &roomCache{rooms: make(map[string]cachedRoom), changed: make(map[string]time.Time)}
}

func (c *roomCache) get(key string) (store.Room, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.rooms[key]
	if !ok || time.Since(e.at) > roomCacheTTL {
		return store.Room{}, false
	}
	return e.room, true
}

// put keeps a room read from the directory at readAt, unless a live change
// of the room came since: then the read is stale.
func (c *roomCache) put(key string, r store.Room, readAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at, ok := c.changed[key]; ok && !at.Before(readAt) {
		return
	}
	if len(c.rooms) >= roomCacheMax {
		clear(c.rooms)
	}
	c.rooms[key] = cachedRoom{room: r, at: time.Now()}
}

// update stores a room's new rules from a live change.
func (c *roomCache) update(key string, r store.Room) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noteLocked(key)
	c.rooms[key] = cachedRoom{room: r, at: time.Now()}
}

// drop forgets a deleted room.
func (c *roomCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noteLocked(key)
	delete(c.rooms, key)
}

// noteLocked records a live change of key (and forgets old ones).
func (c *roomCache) noteLocked(key string) {
	now := time.Now()
	if len(c.changed) >= roomCacheMax {
		for k, at := range c.changed {
			if now.Sub(at) > roomCacheTTL {
				delete(c.changed, k)
			}
		}
	}
	c.changed[key] = now
}

// room returns a persistent room, from the cache or the directory.
func (p *Puddle) room(ctx context.Context, owner, name string) (store.Room, error) {
	key := wire.Key(owner, name)
	if r, ok := p.rooms.get(key); ok {
		return r, nil
	}
	readAt := time.Now()
	r, err := p.dir.Room(ctx, owner, name)
	if err == nil {
		p.rooms.put(key, r, readAt)
	}
	return r, err
}
