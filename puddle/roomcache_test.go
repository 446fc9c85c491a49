package puddle

import (
	"testing"
	"time"

	"github.com/porthouse/porthouse/store"
)

// A room read before a live change and stored after it would bring the old
// rules (or a deleted room) back; the cache refuses such a read.
func TestRoomCacheRefusesStaleRead(t *testing.T) {
	c := newRoomCache()
	readAt := time.Now()
	c.update("admin/r", store.Room{Name: "r", Public: false}) // made private during the read
	c.put("admin/r", store.Room{Name: "r", Public: true}, readAt)
	if r, ok := c.get("admin/r"); !ok || r.Public {
		t.Fatalf("stale read replaced a live change: %+v %v", r, ok)
	}
	readAt = time.Now()
	c.drop("admin/gone") // deleted during the read
	c.put("admin/gone", store.Room{Name: "gone"}, readAt)
	if _, ok := c.get("admin/gone"); ok {
		t.Fatal("a room deleted during its read came back")
	}
	c.put("admin/new", store.Room{Name: "new"}, time.Now())
	if _, ok := c.get("admin/new"); !ok {
		t.Fatal("a fresh read was not kept")
	}
}
