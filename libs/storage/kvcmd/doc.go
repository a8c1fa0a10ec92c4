// Package kvcmd is the deterministic state-machine step of FlareDB: a Command
// (put, delete, delete-range, batch, compare-and-swap) is applied against a
// Reader and produces writes into a WriteBatch plus a Result. Given the same
// engine state and the same commands in the same order, every replica
// produces byte-identical batches and results, which is what lets the Raft
// layer run this code at apply time on every replica.
//
// Layout: every user key is exactly one key in storage.CFDefault whose value
// is a record [format=2][version uint64 big-endian][flags][value bytes]
// (record.go). One record carries both version and value, so a put is one
// engine read and one write, a Get one engine read, and a Scan one
// iterator. storage.CFVersion is not used.
//
// Versions: every key has a uint64 version, 0 meaning "does not exist". A
// deleted key's record stays as a tombstone (deleted flag, no value bytes),
// so a key's versions strictly increase over its whole life, across delete
// and re-create, and are never reused.
package kvcmd
