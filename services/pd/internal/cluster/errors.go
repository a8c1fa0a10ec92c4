package cluster

import "errors"

// Errors returned by Cluster. pdserver maps them to response-header errors
// or gRPC status codes in one place.
var (
	ErrNotBootstrapped     = errors.New("cluster is not bootstrapped")
	ErrAlreadyBootstrapped = errors.New("cluster is already bootstrapped")
	ErrRegionNotFound      = errors.New("region not found")
	ErrStaleRegion         = errors.New("region heartbeat is stale")
	ErrStoreNotFound       = errors.New("store not found")
	ErrStoreTombstone      = errors.New("store is tombstone")
	// ErrInvalidArgument wraps every validation failure; the message names
	// the offending field.
	ErrInvalidArgument = errors.New("invalid argument")
)
