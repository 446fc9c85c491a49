// Package bench is the load generator behind `porthouse bench`.
//
// It owns everything a benchmark run needs, from the target to the figures:
//
//   - target.go, api.go, spawn.go: the server under test. A running Porthouse
//     reached with a token or an API key (bench then creates its own rooms
//     and tokens through /api/v1 and deletes them at the end), a Porthouse it
//     starts itself (`run` or `supervise -workers N`, a temporary data
//     directory, an API key made by logging in as the bootstrap admin), or a
//     plain broadcast server (-target raw), including the reference one in
//     refserver.go;
//   - plan.go: how receivers, publishers and rooms are spread over client
//     processes. Publisher i sends to room i%rooms, or, with more rooms than
//     publishers, to its run of rooms in turn (one socket per room in raw
//     mode). Each publisher keeps -inflight messages on their way and learns
//     that one arrived from its own socket (rooms that echo), or from a
//     receiver of the room in its own process (a "watcher": no echo, -via
//     http, raw broadcast targets);
//   - sock.go, dial.go, reader.go, frames.go, conn.go: the client side, on
//     raw non-blocking sockets with gobwas/ws for masking and its handshake
//     errors: dialing from several loopback source addresses
//     (IP_BIND_ADDRESS_NO_PORT) with an upgrade request built once per path,
//     the 101 and its Sec-WebSocket-Accept checked by a reader; one reader
//     per CPU, each a goroutine with a level-triggered epoll instance,
//     reads every socket it owns into one buffer, timestamps the read and
//     looks only at the first bytes of each payload (send timestamp,
//     publisher, sequence), keeping per socket no more than the start of a
//     frame that spans reads; masked client frames;
//   - gen.go, publisher.go: one process's share of the load: its
//     connections, receivers and publishers, counters and latency histogram;
//     publishers write a batch of frames per socket with one write;
//   - child.go: the same share run in a child process (-procs N), driven over
//     stdin and reporting JSON lines on stdout, histograms serialised;
//   - run.go: the phases of a run (set up, connect, hold or load, drain,
//     finish, clean up), every one bounded in time;
//   - procstat.go: server CPU seconds and RSS from /proc, generator CPU from
//     getrusage;
//   - result.go, report.go: the figures as a table, one JSON line, and a
//     self-contained HTML page with SVG plots.
//
// Concurrency: a generator owns one reader goroutine per CPU, the dialing
// goroutines of the connect phase (-dial-concurrency) and one goroutine per
// publisher (plus a fixed pool for -via http). A socket is read by its
// dialing goroutine until its reader takes it over (reader.go says how the
// hand-over works), then only by its reader; writes (publisher frames,
// pongs, close answers) are serialised by the socket's write mutex, and a
// reader never waits on one: a write it cannot finish at once goes to a
// short-lived goroutine. finish stops the publishers, then the readers
// (before any socket is closed, so that no descriptor is read after reuse),
// closes the sockets and waits for those writes with a deadline. Counters are atomics; the latency
// histogram is sharded, each shard under its own mutex, and readers record a
// whole read's worth of samples per lock. Run drives the generators from one
// goroutine; only the progress sampler runs beside it.
package bench
