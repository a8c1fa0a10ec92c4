package pdclient

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/pdpb"
)

// Errors PD reports in response headers, usable with errors.Is.
var (
	ErrNotBootstrapped     = errors.New("pd: cluster is not bootstrapped")
	ErrAlreadyBootstrapped = errors.New("pd: cluster is already bootstrapped")
	ErrRegionNotFound      = errors.New("pd: region not found")
	ErrStaleRegion         = errors.New("pd: stale region")
	ErrStoreTombstone      = errors.New("pd: store is tombstone")
	ErrClusterMismatch     = errors.New("pd: cluster id mismatch")
	ErrIncompatibleVersion = errors.New("pd: incompatible version")
	ErrUnknown             = errors.New("pd: unknown error")
	// ErrStoreNotFound is GetStore's answer for an unknown store id.
	ErrStoreNotFound = errors.New("pd: store not found")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("pd: client closed")
	// ErrHeartbeatQueueFull is returned by ReportRegion when heartbeats
	// arrive faster than the stream can send them; the next heartbeat
	// carries newer state anyway.
	ErrHeartbeatQueueFull = errors.New("pd: region heartbeat queue full")
)

var headerSentinels = map[pdpb.ErrorType]error{
	pdpb.ErrorType_NOT_BOOTSTRAPPED:     ErrNotBootstrapped,
	pdpb.ErrorType_ALREADY_BOOTSTRAPPED: ErrAlreadyBootstrapped,
	pdpb.ErrorType_REGION_NOT_FOUND:     ErrRegionNotFound,
	pdpb.ErrorType_STALE_REGION:         ErrStaleRegion,
	pdpb.ErrorType_STORE_TOMBSTONE:      ErrStoreTombstone,
	pdpb.ErrorType_CLUSTER_MISMATCH:     ErrClusterMismatch,
	pdpb.ErrorType_INCOMPATIBLE_VERSION: ErrIncompatibleVersion,
	pdpb.ErrorType_UNKNOWN:              ErrUnknown,
}

// HeaderError converts a response header's error to a Go error wrapping
// one of the sentinels (nil when the header carries none).
func HeaderError(h *pdpb.ResponseHeader) error {
	e := h.GetError()
	if e == nil || e.GetType() == pdpb.ErrorType_OK {
		return nil
	}
	sentinel, ok := headerSentinels[e.GetType()]
	if !ok {
		sentinel = ErrUnknown
	}
	return fmt.Errorf("%w: %s", sentinel, e.GetMessage())
}

// convertStatus maps gRPC statuses that have a sentinel.
func convertStatus(err error) error {
	if status.Code(err) == codes.NotFound {
		return fmt.Errorf("%w: %s", ErrStoreNotFound, status.Convert(err).Message())
	}
	return err
}

// retryable reports whether an RPC error means PD is (temporarily) not
// reachable, so the call may be repeated.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable:
		return true
	}
	return false
}
