// Package server is kv-service's gRPC front: the KV service handlers, the one
// function that assembles the gRPC server (interceptors, health, reflection,
// metrics), and the HTTP status server.
//
// Handlers stay thin on purpose: they validate a request against the
// configured limits, turn it into kvcmd commands or a snapshot read through
// the Storage seam, and convert the outcome. Whether data lives on one node or
// in a Raft group is invisible here, so the single-node and replicated
// backends share every line of request handling, validation and error
// mapping.
package server
