package supervisor

import (
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReusePortListenersPlainTCP checks the listeners share one port and
// are plain TCP, not Go's default MPTCP.
func TestReusePortListenersPlainTCP(t *testing.T) {
	files, addr, err := reusePortListeners("127.0.0.1:0", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		defer f.Close()
		proto, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_PROTOCOL)
		if err != nil {
			t.Fatal(err)
		}
		if proto != unix.IPPROTO_TCP {
			t.Fatalf("listener protocol %d, want TCP (%d)", proto, unix.IPPROTO_TCP)
		}
		sa, err := unix.Getsockname(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		if port := sa.(*unix.SockaddrInet4).Port; addr == nil || port == 0 || addr.String() != "127.0.0.1:"+strconv.Itoa(port) {
			t.Fatalf("listener on port %d, group address %v", port, addr)
		}
	}
}
