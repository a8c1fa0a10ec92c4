// Package linearizability checks FlareDB's key-value operations for
// linearizability with porcupine.
//
// It holds what every linearizability test shares: the sequential model (a
// versioned register per key: put sets the value and bumps the version,
// compare-and-swap is conditional on the version, get returns value and
// version), a recorder that runs concurrent clients against any Store and
// keeps the history, and Check, which runs porcupine and, on a violation,
// writes its HTML visualization to a file and fails the test with the path.
//
// The multi-process test of this package kills, pauses and restarts real
// kv-service processes; the in-process test with network partitions lives
// beside the in-process cluster (services/kv/internal/raftstore/cluster),
// which only code under services/kv may import.
//
// Short runs are part of `go test ./...`; the long version is
//
//	go test ./integration/linearizability -run Linearizable -long -timeout 30m
package linearizability
