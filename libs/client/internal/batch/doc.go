// Package batch sends the SDK's data RPCs to a store over one BatchCommands
// stream per connection, the way TiKV's client-go does: requests made
// concurrently by many goroutines travel together in one stream message and
// come back together, so the store pays gRPC's per-RPC costs (HTTP/2 frames,
// a write per response, a goroutine per RPC) per message instead of per
// request.
//
// Client implements kvrpcpb.KVClient, so the SDK's request loop does not
// know whether it batches: each call still returns the response or the
// gRPC status its unary RPC would have, and the errors that decide retries
// keep their meaning. A stream that cannot be opened returns the status a
// unary call would have got (an unreachable store's "connection refused"
// proves nothing was sent); a stream that breaks after a request went out
// returns Unavailable that IsBroken recognises, since the store may have
// applied it, unless the request provably did not run (its stream had
// ended before it was written, or a stopping store said it answered all it
// read), which NotRun recognises; a caller whose context ends first gets
// DeadlineExceeded or Canceled and its late answer is dropped.
package batch
