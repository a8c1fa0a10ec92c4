// Package cluster runs several Raft stores in one process, connected by the
// real gRPC transport over 127.0.0.1, with a filter that partitions, drops
// or delays messages between them. It is the fast tier of the integration
// tests; integration/framework runs real binaries. It lives under
// services/kv/internal because it drives the internal raftstore directly.
package cluster
