package puddle

import (
	"crypto/sha256"
	"reflect"
	"sync"
	"time"

	"github.com/porthouse/porthouse/store"
)

// Token cache bounds: an entry is trusted for tokenCacheTTL (live changes
// update or drop it at once; the TTL is a safety net), and the whole cache is
// dropped past tokenCacheMax secrets.
const (
	tokenCacheTTL = 30 * time.Second
	tokenCacheMax = 100_000
)

// tokenCache lets a handshake admit a known token without a store round
// trip, and makes every socket of a token share one *store.Token, which is
// never modified once shared (a change stores a new one). Secrets are kept
// only as SHA-256 hashes.
type tokenCache struct {
	mu       sync.Mutex
	bySecret map[[32]byte]cachedToken
	secrets  map[string][][32]byte // token id → its hashes in bySecret, so a change touches only them
	byID     map[string]*store.Token
	revoked  map[string]tokenChange // token id → its last revocation
	updated  map[string]tokenChange // token id → its last live update
}

// tokenChange is a live change of a token: when it arrived, and for an
// update the new settings.
type tokenChange struct {
	tok *store.Token
	at  time.Time
}

// changeMemory is how long a revocation or an update is remembered for
// sockets that were being admitted when it happened.
const changeMemory = time.Minute

// note records a change of token id in m, forgetting those older than
// changeMemory.
func note(m map[string]tokenChange, id string, tok *store.Token) {
	now := time.Now()
	for k, ch := range m {
		if now.Sub(ch.at) > changeMemory {
			delete(m, k)
		}
	}
	m[id] = tokenChange{tok: tok, at: now}
}

type cachedToken struct {
	tok *store.Token
	at  time.Time
}

func newTokenCache() *tokenCache {
	return &tokenCache{
		bySecret: make(map[[32]byte]cachedToken),
		secrets:  make(map[string][][32]byte),
		byID:     make(map[string]*store.Token),
		revoked:  make(map[string]tokenChange),
		updated:  make(map[string]tokenChange),
	}
}

// get returns the token of a secret if it was seen recently.
func (c *tokenCache) get(secret string) (*store.Token, bool) {
	h := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.bySecret[h]
	if !ok || time.Since(e.at) > tokenCacheTTL {
		return nil, false
	}
	return e.tok, true
}

// put remembers a token read from the store at readAt and returns the
// shared pointer for it: the current one when nothing changed. A token
// revoked since readAt is not remembered (the socket that read it learns of
// the revocation when it registers). A token updated since readAt may have
// been read before the update was written: the update's settings, which
// are the newer, are remembered and returned instead of the read.
func (c *tokenCache) put(secret string, t store.Token, readAt time.Time) *store.Token {
	h := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.revoked[t.ID]; ok && !r.at.Before(readAt) {
		return &t
	}
	if len(c.bySecret) >= tokenCacheMax {
		clear(c.bySecret)
		clear(c.secrets)
		clear(c.byID)
	}
	var shared *store.Token
	if u, ok := c.updated[t.ID]; ok && !u.at.Before(readAt) {
		shared = u.tok
		c.byID[t.ID] = shared
	} else if shared = c.byID[t.ID]; shared == nil || !reflect.DeepEqual(*shared, t) {
		shared = &t
		c.byID[t.ID] = shared
	}
	if _, ok := c.bySecret[h]; !ok {
		c.secrets[t.ID] = append(c.secrets[t.ID], h)
	}
	c.bySecret[h] = cachedToken{tok: shared, at: time.Now()}
	return shared
}

// update stores a token's new settings and returns its shared pointer.
func (c *tokenCache) update(t store.Token) *store.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	shared := &t
	if _, ok := c.byID[t.ID]; ok {
		c.byID[t.ID] = shared // only tokens this process has seen: the map must not grow with every edit
	}
	note(c.updated, t.ID, shared)
	for _, h := range c.secrets[t.ID] {
		if e, ok := c.bySecret[h]; ok {
			c.bySecret[h] = cachedToken{tok: shared, at: e.at}
		}
	}
	return shared
}

// revoke forgets every secret of a token.
func (c *tokenCache) revoke(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byID, id)
	note(c.revoked, id, nil)
	for _, h := range c.secrets[id] {
		delete(c.bySecret, h)
	}
	delete(c.secrets, id)
}

// since tells a socket admitted with a token read at readAt what happened to
// the token meanwhile: revoked, or its current settings (nil if unknown).
func (c *tokenCache) since(id string, readAt time.Time) (cur *store.Token, revoked bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.revoked[id]; ok && !r.at.Before(readAt) {
		return nil, true
	}
	if cur := c.byID[id]; cur != nil {
		return cur, false
	}
	if u, ok := c.updated[id]; ok && !u.at.Before(readAt) {
		return u.tok, false // the cache was cleared since the socket's read
	}
	return nil, false
}
