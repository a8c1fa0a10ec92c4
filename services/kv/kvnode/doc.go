// Package kvnode assembles one kv-service node: engine, PD connection (or an
// embedded PD in dev mode), store identity and cluster bootstrap, the storage
// backend, the gRPC and HTTP status servers, and the heartbeats to PD.
//
// It is public so that the kv-service binary and in-process integration
// tests start nodes the same way; everything it assembles stays internal.
package kvnode
