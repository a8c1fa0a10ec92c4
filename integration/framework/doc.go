// Package framework runs FlareDB's real binaries (PD, kv-service, flarectl)
// as child processes for integration tests and runnable examples.
//
// It exists so that multi-process tests read as scenarios ("start PD, start
// a store, kill -9 it, restart it") while the framework handles the
// mechanics: building or locating binaries, free loopback ports, separate
// data directories, log files dumped when a test fails, readiness through
// grpc.health.v1, and killing every child at cleanup, whatever happened.
//
// Binaries come from the -kv-bin, -pd-bin and -flarectl-bin test flags
// (Bazel passes $(rootpath ...) there). When a flag is empty the package is
// built with `go build` into a temporary directory, once per test binary;
// call Main from TestMain to remove that directory afterwards.
package framework
