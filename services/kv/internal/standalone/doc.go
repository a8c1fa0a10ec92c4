// Package standalone is the single-node server.Storage: the store hosts one
// region covering the whole key space and applies each write straight to the
// local engine, durably, before answering. It exists so kv-service is useful
// (and its handlers testable end to end) without Raft; the replicated backend
// plugs into the same seam and replaces it without touching the handlers.
package standalone
