package puddle

import "net"

// newFrameReader reads frames from c after the bytes extra, as a socket
// reads its connection after the handshake.
func newFrameReader(c net.Conn, extra []byte, limit int) *frameReader {
	return newFrameReaderFrom(readSource(c, extra), limit)
}
