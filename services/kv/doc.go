// Command kv runs one FlareDB kv-service node: the KV gRPC API over a local
// RocksDB engine, registered with PD.
//
// With no flags it is a working single-node dev store: an embedded PD on
// 127.0.0.1:2379, the KV API on 127.0.0.1:20160, /metrics, /status and
// /debug/pprof/ on 127.0.0.1:20180, data in ./flaredb-data (under
// $BUILD_WORKING_DIRECTORY when started by `bazel run`). A second start on
// the same data dir finds everything again. Pass --pd to join a real PD
// cluster instead. Run with -h for every flag; --config names an optional
// TOML file that flags override.
//
// SIGINT or SIGTERM stops it gracefully: in-flight requests finish and the
// engine is synced before exit.
package main
