package supervisor

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortListeners opens n TCP listeners on addr in one SO_REUSEPORT
// group and returns them as files to hand to workers. With port 0 the first
// listener picks the port and the others take the same one.
func reusePortListeners(addr string, n int) ([]*os.File, net.Addr, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	// Plain TCP: Go's default MPTCP listener sends every accepted
	// connection through the kernel's MPTCP subflow path, about a tenth of
	// a loopback handshake, for clients that do not speak MPTCP anyway.
	lc.SetMultipathTCP(false)
	files := make([]*os.File, 0, n)
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	var bound net.Addr
	for i := 0; i < n; i++ {
		a := addr
		if bound != nil {
			a = bound.String()
		}
		ln, err := lc.Listen(context.Background(), "tcp", a)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("listen %s: %w", a, err)
		}
		if bound == nil {
			bound = ln.Addr()
		}
		f, err := ln.(*net.TCPListener).File()
		ln.Close() // the file keeps the socket listening
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("listener file: %w", err)
		}
		files = append(files, f)
	}
	return files, bound, nil
}
