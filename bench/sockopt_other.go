//go:build !linux

package bench

import "syscall"

// bindNoPortSupported: only Linux spreads over source addresses.
const bindNoPortSupported = false

func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }
