// Package storage defines the local storage engine every FlareDB node runs on:
// a small Engine interface whose doc comments are its contract, the column
// families that keep different kinds of keys apart, and the errors engines
// return. Implementations live in sub-packages (rocksdb); storagetest is the
// conformance suite every implementation must pass; kvcmd is the
// deterministic state-machine step that turns KV commands into write batches.
package storage
