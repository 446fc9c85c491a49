// Package router is the postman: it wraps a message in an Envelope, filters
// the room's members by their permissions and formats, and hands each target
// a WebSocket frame that was encoded once for every receiver of its kind.
//
// A Router holds the rooms that have local members. A Room keeps its members
// in shards, each a slice under its own RWMutex: fan-out read-locks one shard
// at a time, joins and leaves write-lock one shard. Member permissions are
// atomics, so an owner's change applies without touching the shards.
//
// Lock order: Router registry shard → Room member shard → (target's own lock,
// inside Target.Deliver). Deliver must never call back into the router.
//
// An Envelope is published by one goroutine at a time; it encodes its frames
// lazily and keeps them, so a room of any size costs at most three encodings
// (envelope frame with the bare room name, with the qualified name, and the
// raw frame) and no per-receiver copy of the payload.
package router
