package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
)

// ErrUnsupported is wrapped by Storage implementations for operations they
// cannot perform at all (e.g. membership changes without replication). It
// maps to codes.Unimplemented.
var ErrUnsupported = errors.New("operation not supported by this storage backend")

// invalidArgumentError is a request the service refuses to run as sent.
type invalidArgumentError struct{ msg string }

func (e *invalidArgumentError) Error() string { return e.msg }

// invalidf returns an error that maps to codes.InvalidArgument.
func invalidf(format string, args ...any) error {
	return &invalidArgumentError{msg: fmt.Sprintf(format, args...)}
}

// toStatus is the one place where errors become gRPC statuses. Routing errors
// never reach it: they travel in response bodies (region_error).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var inv *invalidArgumentError
	switch {
	case errors.As(err, &inv):
		return status.Error(codes.InvalidArgument, inv.msg)
	case errors.Is(err, kvcmd.ErrInvalid):
		// The state machine's own validation caught a client mistake.
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, ErrUnsupported):
		return status.Error(codes.Unimplemented, err.Error())
	case errors.Is(err, storage.ErrClosed):
		// The node is shutting down; another replica or a restart will
		// serve the request.
		return status.Error(codes.Unavailable, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}
