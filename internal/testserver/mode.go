package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/porthouse/porthouse/store"
	"github.com/porthouse/porthouse/supervisor"
)

// Process modes of a test server.
const (
	ModeRun       = "run"
	ModeSupervise = "supervise"
)

// envMode selects the mode of every test server in a test binary whose
// TestMain calls Main: PORTHOUSE_TEST_MODE=supervise runs the same tests
// against `supervise -workers 2`.
const envMode = "PORTHOUSE_TEST_MODE"

// envWorker makes a test binary run as a worker process.
const envWorker = "PORTHOUSE_TEST_WORKER"

var mainInstalled bool

// Test servers hash passwords at bcrypt's lowest cost: many tests create
// accounts, and the default cost dominates their run time under -race.
func init() { store.SetPasswordCostForTesting(bcrypt.MinCost) }

// Main is TestMain for packages whose tests may run in supervise mode: the
// test binary doubles as the worker binary (go-plugin's helper-process
// pattern), re-executed with PORTHOUSE_TEST_WORKER=1.
func Main(m *testing.M) {
	if os.Getenv(envWorker) == "1" {
		if err := supervisor.RunWorker(os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, "test worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	mainInstalled = true
	os.Exit(m.Run())
}

// Mode is the mode test servers start in.
func Mode() string {
	if mainInstalled && os.Getenv(envMode) == ModeSupervise {
		return ModeSupervise
	}
	return ModeRun
}

// workerCmd re-executes the test binary as a worker.
func workerCmd(int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorker+"=1")
	return cmd
}
