// Package transport carries Raft messages between stores over the gRPC
// Raft service: one batched stream per peer store (reconnecting with
// backoff), snapshots in chunks over the Snapshot stream, and a filter hook
// through which tests partition, drop or delay messages.
package transport
