// Package batchtest serves the BatchCommands stream for fake stores in the
// SDK's tests: a fake that implements the unary data RPCs gets BatchCommands
// by calling Serve, so the SDK's routing and retry tests run over the same
// batching path as production without each fake re-implementing the stream.
//
// It is a reference implementation, not kv-service's: no metrics, limits or
// packing of answers into shared messages.
package batchtest
