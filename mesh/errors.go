package mesh

import "errors"

// Errors returned by New and by the frame reader. Frame errors close the
// connection they came from; they never reach a caller of Publish.
var (
	// ErrInUse means another live mesh already listens on this puddle's path.
	ErrInUse = errors.New("mesh: socket path in use by a live listener")

	errFrameLength    = errors.New("bad frame length")
	errFrameTruncated = errors.New("truncated frame")
	errFrameType      = errors.New("unknown frame type")
	errFrameKind      = errors.New("unknown message kind")
	errFrameTrailing  = errors.New("bytes after the last field")
)
