// Package client is the Go client library of Porthouse: it connects to a
// server over WebSocket (github.com/gobwas/ws), sends and receives messages
// in envelope mode (/ws) and raw mode (/ws/rooms/{room}), reconnects, and
// carries payloads of any size as envelopes of chunks.
//
// # Connections
//
// Dial opens an envelope-mode Conn and returns once the server's welcome
// arrived. Every command (Send, SendBinary, SendTo, Join, Leave, Create,
// Ping) carries an automatic ref and waits for its answer: a receipt, a
// joined/left, a pong, or an error, returned as a *wire.Error. Incoming
// messages come from Recv or Messages, events (joined, left, room.added,
// room.removed, member.*, errors no call waits for, and the library's own
// disconnected/reconnected) from Events. DialRoom opens a raw-mode RawConn
// bound to one room: frames go out and come in as bare payloads.
// DialConfig reads url, token, room and auth mode from a file.
//
// The token goes in the Authorization header by default (WithQueryAuth,
// WithFirstMessageAuth change that). A refused handshake is a
// *HandshakeError holding the *wire.Error of the response body; a socket
// the server closes ends with a *CloseError holding the close code (4001
// revoked, 4009 slow consumer, 4010 kicked, ...), returned by Recv, Err and
// every later call.
//
// With WithReconnect a dropped connection is dialled again with jittered
// exponential backoff; the rooms joined with Join or Create are joined
// again, and an EventReconnected with the new socket id follows. It never
// reconnects after Close or after close code 4001. Calls waiting for an
// answer when the connection drops fail with ErrConnectionLost (whether
// the server acted on them is unknown); new calls wait for the next
// connection.
//
// # Envelopes
//
// An Envelope cuts a payload into chunks, each a binary message with a
// 72-byte header (magic "PHE1", envelope id, index, count, total length,
// CRC-32C of the chunk, SHA-256 of the whole payload) then the data; the
// format is specified byte by byte in docs/envelope-chunks.md. SendEnvelope
// sends one; an Assembler puts them back together on the receiving side,
// verifying everything, with bounded memory and a timeout for lost chunks.
//
// # Concurrency
//
// Conn, RawConn and Assembler are safe for concurrent use. A Conn writes
// through one mutex and reads with one goroutine, which dispatches answers,
// messages and events; a supervisor goroutine runs the reconnects. Close
// stops both and waits for them, and may be called more than once. The
// Messages channel is not dropped from: a caller that stops reading holds
// up the reader, and the server eventually closes the socket as a slow
// consumer (4009). The Events channel drops new events when full
// (DroppedEvents counts them). Lock order: session.mu, then Conn.mu, then
// the connection's write lock; no I/O happens under the first two.
package client
