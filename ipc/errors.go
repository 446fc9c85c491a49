package ipc

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/porthouse/porthouse/sequence"
	"github.com/porthouse/porthouse/store"
)

// Status messages that tell two ResourceExhausted errors apart.
const (
	msgMaxConnections = "max_connections"
	msgRoomFull       = "room_full"
)

// toStatus turns a sentinel error into a gRPC status error.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sequence.ErrMaxConnections):
		return status.Error(codes.ResourceExhausted, msgMaxConnections)
	case errors.Is(err, sequence.ErrRoomFull):
		return status.Error(codes.ResourceExhausted, msgRoomFull)
	case errors.Is(err, sequence.ErrConflict), errors.Is(err, store.ErrConflict):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, sequence.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrUnauthorized):
		return status.Error(codes.Unauthenticated, "unauthorized")
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

// seqError turns a status error from the sequence service back into the
// sequence sentinels.
func seqError(err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.ResourceExhausted:
		if st.Message() == msgRoomFull {
			return sequence.ErrRoomFull
		}
		return sequence.ErrMaxConnections
	case codes.AlreadyExists:
		return sequence.ErrConflict
	case codes.NotFound:
		return sequence.ErrNotFound
	}
	return err
}

// storeError turns a status error from the directory back into the store
// sentinels.
func storeError(err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		return store.ErrNotFound
	case codes.Unauthenticated:
		return store.ErrUnauthorized
	}
	return err
}
