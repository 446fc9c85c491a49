package testserver

import (
	"os/exec"
	"testing"
)

// StartSupervised starts a server in supervise mode with the given number of
// worker processes, whatever PORTHOUSE_TEST_MODE says, and stops it when the
// test ends. The test binary is the worker binary, so the package's TestMain
// must call Main.
func StartSupervised(t testing.TB, workers int, opts ...Option) *Server {
	t.Helper()
	if !mainInstalled {
		t.Fatal("testserver: StartSupervised needs a TestMain that calls testserver.Main")
	}
	cfg := testConfig(t, opts)
	cfg.Workers = workers
	return startMode(t, cfg, ModeSupervise)
}

// WorkerCmd is a supervisor.Options.WorkerCmd that re-executes the test
// binary as worker id. It works only in a test binary whose TestMain calls
// Main.
func WorkerCmd(id int) *exec.Cmd { return workerCmd(id) }
