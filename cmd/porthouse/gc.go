package main

import (
	"os"
	"runtime/debug"
)

// socketGCPercent is the GC target of the processes that hold sockets
// (run, the workers) or an entry per socket (the supervisor's sequence).
// Idle sockets are live heap that garbage collection cannot shrink, and
// Go's default (100: the heap may grow to twice the live data before a
// collection) doubles their resident cost. At 50 an idle socket costs about
// 9% less memory (docs/benchmarks.md, "GC target") for somewhat more
// frequent collections under load.
const socketGCPercent = 50

// tuneGC applies socketGCPercent unless the operator set GOGC.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(socketGCPercent)
	}
}
