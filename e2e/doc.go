// Package e2e holds the end-to-end tests of the external contract
// (PROTOCOL.md): a real server on 127.0.0.1:0 and real WebSocket clients.
package e2e
