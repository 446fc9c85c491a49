package client_test

import (
	"testing"

	"github.com/porthouse/porthouse/internal/testserver"
)

// TestMain lets PORTHOUSE_TEST_MODE=supervise run the client's tests against
// a real server with two worker processes (this test binary, re-executed).
func TestMain(m *testing.M) { testserver.Main(m) }
