package puddle

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket path's reads and writes are on non-blocking descriptors: they
// never wait in the kernel, they return EAGAIN and the poller waits. So they
// are made as raw system calls, without telling the scheduler that the
// goroutine entered a blocking call. With unix.Syscall a loopback write that
// spends its ~10 µs delivering to the peer can look to the runtime's monitor
// like a blocked thread, which then hands the P to another thread. Measured
// (docs/benchmarks.md, session 3): paced p99 with the server on one CPU
// 17.5 → 16.0 ms (medians of 3) on top of the poller change.
//
// A raw call cannot be preempted, so only calls bounded by their buffer may
// be made this way: one read of at most len(p) bytes, one writev of at most
// maxIOV buffers.

// rawRead reads once from the non-blocking descriptor fd into p.
func rawRead(fd int32, p []byte) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// rawWritev writes iov (not empty) once to the non-blocking descriptor fd.
func rawWritev(fd int32, iov []unix.Iovec) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}
