package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPortSupported: Linux has IP_BIND_ADDRESS_NO_PORT.
const bindNoPortSupported = true

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT on a socket about to be bound to a
// source address, so the port is chosen at connect time.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
