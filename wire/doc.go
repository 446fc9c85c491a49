// Package wire holds the client-facing vocabulary of Porthouse: error codes,
// close codes, room-name rules and the JSON shapes of envelope-mode frames.
//
// It is shared by the server (puddle, router, api) and the Go client library,
// so that both sides speak exactly the contract in PROTOCOL.md. It owns no
// goroutines and no state; every function is safe for concurrent use.
package wire
