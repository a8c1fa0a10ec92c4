// Command flarectl is FlareDB's command-line client: raw key-value reads and
// writes, versioned compare-and-swap, scans, timestamps and cluster status,
// through the public SDK (libs/client).
//
//	flarectl [--pd 127.0.0.1:2379] [-o text|json] [--hex] <command> [args]
//
// It exists for operators and for scripts: with -o json every result is one
// JSON object per line with stable field names, and the exit code is 0 on
// success (a missing key included), 1 on an error (message on stderr) and 2
// on a usage error.
//
// Commands live in files by group (kv.go, scan.go, cluster.go) and add
// themselves to a small registry, so a new group is a new file.
package main
