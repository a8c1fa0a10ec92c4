package pdserver

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/internal/cluster"
	"github.com/flaredb/flaredb/services/pd/internal/tso"
)

// errClusterMismatch is returned when a request names another cluster.
var errClusterMismatch = errors.New("request is for another cluster")

// This file is the one place where PD errors become wire errors. Errors a
// client acts on (routing, bootstrap state, stale data) travel in the
// response header; everything else becomes a gRPC status.

// headerErrors maps core errors to pdpb error types.
var headerErrors = []struct {
	err error
	typ pdpb.ErrorType
}{
	{cluster.ErrNotBootstrapped, pdpb.ErrorType_NOT_BOOTSTRAPPED},
	{cluster.ErrAlreadyBootstrapped, pdpb.ErrorType_ALREADY_BOOTSTRAPPED},
	{cluster.ErrRegionNotFound, pdpb.ErrorType_REGION_NOT_FOUND},
	{cluster.ErrStaleRegion, pdpb.ErrorType_STALE_REGION},
	{cluster.ErrStoreTombstone, pdpb.ErrorType_STORE_TOMBSTONE},
	{errClusterMismatch, pdpb.ErrorType_CLUSTER_MISMATCH},
}

// header builds the response header for err; ok is false when err must be
// returned as a gRPC status instead.
func header(clusterID uint64, err error) (*pdpb.ResponseHeader, bool) {
	h := &pdpb.ResponseHeader{ClusterId: clusterID}
	if err == nil {
		return h, true
	}
	for _, he := range headerErrors {
		if errors.Is(err, he.err) {
			h.Error = &pdpb.Error{Type: he.typ, Message: err.Error()}
			return h, true
		}
	}
	return nil, false
}

// toStatus converts a non-header error to a gRPC status error.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, cluster.ErrInvalidArgument), errors.Is(err, tso.ErrInvalidCount):
		code = codes.InvalidArgument
	case errors.Is(err, cluster.ErrStoreNotFound):
		code = codes.NotFound
	case errors.Is(err, tso.ErrClosed), errors.Is(err, errStopping):
		code = codes.Unavailable
	}
	return status.Error(code, err.Error())
}

// reply finishes a unary handler: header errors go into the response built
// by build, the rest become a status.
func reply[T any](s *Server, err error, build func(*pdpb.ResponseHeader) T) (T, error) {
	h, ok := header(s.cluster.ID(), err)
	if !ok {
		var zero T
		return zero, toStatus(err)
	}
	return build(h), nil
}
