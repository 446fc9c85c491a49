package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// childEnv makes the test binary a child load generator (the helper-process
// pattern): TestMain sees it and runs RunChild instead of the tests.
const childEnv = "PORTHOUSE_BENCH_TEST_CHILD=1"

func TestMain(m *testing.M) {
	if os.Getenv("PORTHOUSE_BENCH_TEST_CHILD") == "1" {
		os.Exit(RunChild(os.Stdin, os.Stdout))
	}
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// porthouseBinary builds cmd/porthouse once per test run: spawned servers
// and the -procs children of the end-to-end tests are that binary.
func porthouseBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "porthouse-bench-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "porthouse")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/porthouse").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ../cmd/porthouse: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// testConfig is a small, quick run with this test binary as the child
// generator.
func testConfig() Config {
	c := Default()
	c.Conns = 20
	c.Duration = time.Second
	c.Drain = 2 * time.Second
	c.DialTimeout = 5 * time.Second
	c.ConnectTimeout = 20 * time.Second
	c.Executable = os.Args[0]
	c.ChildArgs = []string{"-test.run=^$"}
	c.ChildEnv = []string{childEnv}
	return c
}
