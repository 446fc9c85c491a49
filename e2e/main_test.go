package e2e

import (
	"testing"

	"github.com/porthouse/porthouse/internal/testserver"
)

// TestMain lets PORTHOUSE_TEST_MODE=supervise run every e2e test against a
// supervisor with two worker processes (this test binary, re-executed).
func TestMain(m *testing.M) { testserver.Main(m) }
