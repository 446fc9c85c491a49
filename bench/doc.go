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
//   - dial.go, frames.go, conn.go: the client side on github.com/gobwas/ws:
//     dialing from several loopback source addresses (IP_BIND_ADDRESS_NO_PORT),
//     masked client frames, and a streaming frame reader that only looks at
//     the first bytes of each payload (send timestamp, publisher, sequence);
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
// Concurrency: a generator owns one goroutine per connection reader and one
// per publisher (plus a fixed pool for -via http); all of them stop when the
// generator's context is cancelled and its connections are closed, and
// finish waits for them with a deadline. Counters are atomics; the latency
// histogram is sharded, each shard under its own mutex, and readers record a
// whole read's worth of samples per lock. Run drives the generators from one
// goroutine; only the progress sampler runs beside it.
package bench
