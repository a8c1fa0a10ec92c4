// Package client is FlareDB's public Go SDK: raw key-value reads and writes,
// versioned compare-and-swap, scans, timestamps and a few admin calls, routed
// to the right store of a multi-region cluster.
//
// It exists so that applications never deal with regions, leaders or routing
// errors: the client learns routes from PD, keeps them in a cache, splits
// batches and scans by region, and retries routing errors and unreachable
// stores with exponential backoff within the caller's context deadline.
//
// Versions: every write of a key gives it a new, larger version; Get returns
// it and CompareAndSwap/CompareAndDelete condition on it (0 = absent).
//
// Retries are at-least-once: a Put or CompareAndSwap whose reply was lost may
// have been applied; retrying it can then bump the version again or report a
// conflict against its own write. Callers that need exactly-once semantics
// should check the returned version.
//
// Batching: data requests that goroutines make concurrently to one store
// share messages of one BatchCommands stream per store, which saves the
// store most of gRPC's per-request cost. Each request keeps its own
// deadline, result, error and retries, exactly as if sent alone;
// Config.DisableBatching sends each as its own unary RPC instead.
//
// Errors are usable with errors.Is and errors.As: ErrInvalidArgument for
// requests the server refused as sent (the server's message is kept),
// ErrRegionUnavailable when retries ran out (wrapping the last cause, often a
// *RegionError), ErrClosed after Close, and context errors when the deadline
// passed first. A missing key is not an error: GetResult.Found is false.
package client
