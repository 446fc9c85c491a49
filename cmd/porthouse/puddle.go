package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/porthouse/porthouse/supervisor"
)

func init() {
	commands["puddle"] = command{summary: "a worker process (started by supervise, not by hand)", run: runPuddle}
}

// runPuddle is `porthouse puddle`, launched by the supervisor.
func runPuddle(_ context.Context, _ []string, _ io.Reader, _, stderr io.Writer) int {
	tuneGC()
	if err := supervisor.RunWorker(os.Getenv); err != nil {
		fmt.Fprintf(stderr, "porthouse puddle: %v\n", err)
		return 1
	}
	return 0
}
