// Package pdserver assembles the placement driver: it opens PD's durable
// state, wires the timestamp oracle, ID allocator and cluster model behind
// the pdpb.PD gRPC service, and serves /metrics, /status and pprof over HTTP.
// It lives outside internal/ so kv-service can embed a PD in its zero-flag
// dev mode with exactly the code the standalone binary runs.
package pdserver
