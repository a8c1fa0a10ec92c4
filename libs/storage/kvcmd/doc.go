// Package kvcmd is the deterministic state-machine step of FlareDB: a Command
// (put, delete, delete-range, batch, compare-and-swap) is applied against a
// Reader and produces writes into a WriteBatch plus a Result. Given the same
// engine state and the same commands in the same order, every replica
// produces byte-identical batches and results, which is what lets the Raft
// layer run this code at apply time on every replica.
//
// Layout (record.go): a live key is one value record in storage.CFDefault
// holding its version and value, so a put writes one key, a Get is one
// engine read and a Scan one iterator that never walks deleted keys. A
// deleted key's last version stays as a tombstone in storage.CFVersion.
//
// Versions: every key has a uint64 version, 0 meaning "does not exist". A
// deleted key's version stays as a tombstone, so a key's versions
// strictly increase over its whole life, across delete and re-create, and
// are never reused.
package kvcmd
