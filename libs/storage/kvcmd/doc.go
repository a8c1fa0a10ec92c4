// Package kvcmd is the deterministic state-machine step of FlareDB: a Command
// (put, delete, delete-range, batch, compare-and-swap) is applied against a
// Reader and produces writes into a WriteBatch plus a Result. Given the same
// engine state and the same commands in the same order, every replica
// produces byte-identical batches and results, which is what lets the Raft
// layer run this code at apply time on every replica.
//
// Layout (record.go): storage.CFVersion holds every key's version record
// [1][version][flags], the authority on its version, kept as a tombstone
// after deletion. storage.CFDefault holds each live key's value together
// with a copy of its version, [2][version][0][value], so a Get is one
// engine read and a Scan one iterator that never walks tombstones. A put
// reads the version record and writes both keys in one batch.
//
// Versions: every key has a uint64 version, 0 meaning "does not exist". A
// deleted key's version record stays as a tombstone, so a key's versions
// strictly increase over its whole life, across delete and re-create, and
// are never reused.
package kvcmd
