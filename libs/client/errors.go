package client

import (
	"errors"
	"fmt"

	"github.com/flaredb/flaredb/proto/errorpb"
)

var (
	// ErrInvalidArgument is wrapped by errors for requests the server (or
	// the client, for what it can check locally) refuses as sent: empty or
	// oversize keys, oversize values, batches over the limit, empty ranges.
	// The error's text carries the server's message naming the limit.
	ErrInvalidArgument = errors.New("flaredb: invalid argument")
	// ErrRegionUnavailable is wrapped when a request ran out of retries
	// without reaching a region leader able to serve it.
	ErrRegionUnavailable = errors.New("flaredb: region unavailable")
	// ErrUndetermined is wrapped when a write (put, batch put, CAS) was sent
	// but its answer was lost (the leader died, the connection broke, the
	// attempt timed out): it may or may not have been applied. The client
	// does not resend such a write, because applying it twice is visible
	// (a second new version). Read the key to learn the outcome.
	ErrUndetermined = errors.New("flaredb: write outcome undetermined")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("flaredb: client closed")
)

// RegionError is a routing error a store returned in a response body
// (not leader, epoch mismatch, region not found, ...). The client handles
// these by itself; one reaches the caller only as the last cause wrapped in
// an ErrRegionUnavailable error.
type RegionError struct {
	RegionID uint64
	Err      *errorpb.Error
}

func (e *RegionError) Error() string {
	return fmt.Sprintf("region %d: %s: %s", e.RegionID, regionErrorReason(e.Err), e.Err.GetMessage())
}

// regionErrorReason names the kind of a routing error; it doubles as the
// retries_total reason label, so the set is bounded.
func regionErrorReason(e *errorpb.Error) string {
	switch {
	case e.GetNotLeader() != nil:
		return "not_leader"
	case e.GetEpochNotMatch() != nil:
		return "epoch_not_match"
	case e.GetRegionNotFound() != nil:
		return "region_not_found"
	case e.GetKeyNotInRegion() != nil:
		return "key_not_in_region"
	case e.GetServerIsBusy() != nil:
		return "server_is_busy"
	case e.GetStoreNotMatch() != nil:
		return "store_not_match"
	default:
		return "region_error"
	}
}

// invalidf builds an ErrInvalidArgument for what the client checks locally.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
