// Package pdclient is the Go client of the placement driver, used by
// kv-service and the SDK. It hides PD restarts behind retries with backoff,
// turns response-header errors into sentinel Go errors, merges concurrent
// GetTS calls into one batched Tso stream request, and keeps a long-lived
// region heartbeat stream that reconnects on its own.
package pdclient
