package puddle

import (
	"testing"
	"time"

	"github.com/porthouse/porthouse/store"
)

func TestTokenCache(t *testing.T) {
	c := newTokenCache()
	tok := store.Token{ID: "tk_a", Owner: "admin", MaxConnections: 2,
		Subscriptions: []store.Subscription{{Room: "lobby", Send: true, Receive: true, Formats: []string{"text"}}}}

	if _, ok := c.get("ph_secret"); ok {
		t.Fatal("empty cache answered")
	}
	p1 := c.put("ph_secret", tok, time.Now())
	p2 := c.put("ph_other", tok, time.Now()) // a second secret of the same, unchanged token
	if p1 != p2 {
		t.Fatal("sockets of one unchanged token do not share its settings")
	}
	if got, ok := c.get("ph_secret"); !ok || got != p1 {
		t.Fatalf("get = %v, %v", got, ok)
	}

	readAt := time.Now()
	changed := tok
	changed.MaxConnections = 5
	p3 := c.update(changed)
	if got, _ := c.get("ph_other"); got != p3 || got.MaxConnections != 5 {
		t.Fatalf("update did not reach every secret: %+v", got)
	}
	if cur, revoked := c.since("tk_a", readAt); revoked || cur != p3 {
		t.Fatalf("since after update = %v, %v; want the new settings", cur, revoked)
	}

	c.revoke("tk_a")
	if _, ok := c.get("ph_secret"); ok {
		t.Fatal("revoked token still answered")
	}
	if _, revoked := c.since("tk_a", readAt); !revoked {
		t.Fatal("a socket whose token was read before the revocation must learn of it")
	}
	if _, revoked := c.since("tk_a", time.Now().Add(time.Millisecond)); revoked {
		t.Fatal("a token read after its revocation (a new secret) counts as revoked")
	}
}

func TestTokenCacheTTL(t *testing.T) {
	c := newTokenCache()
	c.put("ph_s", store.Token{ID: "tk_b"}, time.Now())
	c.mu.Lock()
	for h, e := range c.bySecret {
		e.at = time.Now().Add(-2 * tokenCacheTTL)
		c.bySecret[h] = e
	}
	c.mu.Unlock()
	if _, ok := c.get("ph_s"); ok {
		t.Fatal("an entry past its TTL was trusted")
	}
}

// A token read before a revocation and put into the cache after it must not
// be cached: the old secret would keep working until the TTL.
func TestTokenCachePutAfterRevoke(t *testing.T) {
	c := newTokenCache()
	readAt := time.Now()
	c.revoke("tk_c") // the revocation lands between the read and the put
	c.put("ph_old", store.Token{ID: "tk_c"}, readAt)
	if _, ok := c.get("ph_old"); ok {
		t.Fatal("a secret revoked while it was being read was cached")
	}
}

// A token read before a live update and put into the cache after it holds
// the old settings: they must not be cached (nor handed to the socket), or
// new sockets would get them until the TTL. This holds for a token the
// process has never seen, whose update finds nothing in the cache to
// change.
func TestTokenCachePutAfterUpdate(t *testing.T) {
	c := newTokenCache()
	old := store.Token{ID: "tk_d", Subscriptions: []store.Subscription{{Room: "lobby", Receive: true}}}
	readAt := time.Now()
	fresh := old
	fresh.Subscriptions = nil // the grant is taken away while the read is on its way
	upd := c.update(fresh)
	got := c.put("ph_d", old, readAt)
	if got != upd || len(got.Subscriptions) != 0 {
		t.Fatalf("put of a read older than the update = %+v, want the update's %+v", got, upd)
	}
	if cached, ok := c.get("ph_d"); !ok || cached != upd {
		t.Fatalf("cached %+v, %v; want the update's settings", cached, ok)
	}
	if cur, revoked := c.since("tk_d", readAt); revoked || cur != upd {
		t.Fatalf("since = %+v, %v; want the update's settings", cur, revoked)
	}

	// A read that starts after the update is the store's newer word.
	later := time.Now().Add(time.Millisecond)
	newer := fresh
	newer.MaxConnections = 7
	if got := c.put("ph_d", newer, later); got.MaxConnections != 7 {
		t.Fatalf("put of a read newer than the update = %+v", got)
	}
}

// An update or a revocation reaches every secret of its token and no
// other token's, and the cache's bound clears the index with the entries.
func TestTokenCacheSecretsIndex(t *testing.T) {
	c := newTokenCache()
	a := store.Token{ID: "tk_e", MaxConnections: 1}
	b := store.Token{ID: "tk_f", MaxConnections: 1}
	c.put("ph_e1", a, time.Now())
	c.put("ph_e2", a, time.Now())
	c.put("ph_e1", a, time.Now()) // again: indexed once
	c.put("ph_f", b, time.Now())
	if n := len(c.secrets["tk_e"]); n != 2 {
		t.Fatalf("tk_e has %d indexed secrets, want 2", n)
	}
	a.MaxConnections = 9
	c.update(a)
	for _, s := range []string{"ph_e1", "ph_e2"} {
		if got, ok := c.get(s); !ok || got.MaxConnections != 9 {
			t.Fatalf("%s after update = %+v, %v", s, got, ok)
		}
	}
	if got, _ := c.get("ph_f"); got.MaxConnections != 1 {
		t.Fatalf("another token's entry changed: %+v", got)
	}
	c.revoke("tk_e")
	for _, s := range []string{"ph_e1", "ph_e2"} {
		if _, ok := c.get(s); ok {
			t.Fatalf("%s answered after its token was revoked", s)
		}
	}
	if _, ok := c.get("ph_f"); !ok {
		t.Fatal("revoking one token dropped another's secret")
	}
	if _, ok := c.secrets["tk_e"]; ok {
		t.Fatal("a revoked token stays in the index")
	}
}
