// Package bootstrap gives a store its identity and the cluster its first
// region. Both steps talk to PD and persist their outcome in the engine's
// meta column family, and both must be idempotent across crashes at any
// point: a restarted store must find the same store id and regions, and a
// half-finished cluster bootstrap must be completed with the same region, not
// a new one.
//
// It is shared by the single-node and Raft backends; the Raft backend adds its
// initial Raft state for the first region through the prepare hook, in the
// same atomic write as the region's local state.
package bootstrap
