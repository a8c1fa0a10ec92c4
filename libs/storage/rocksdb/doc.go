// Package rocksdb implements storage.Engine on RocksDB through cgo
// (github.com/linxGnu/grocksdb v1.7.14, built against Debian's librocksdb
// 7.8.3; later grocksdb releases do not compile against that library).
//
// It exists to keep every cgo concern in one place: grocksdb has no
// finalizers, so this package owns the lifetime of every RocksDB object
// (options, column-family handles, snapshots, iterators, batches and the
// returned slices), frees each exactly once, and guards all of them with one
// lock so that a concurrent Close can never free the database under a
// running call. Debian's RocksDB is built with assertions and aborts the
// process on misuse, so misuse is turned into errors here before it reaches
// RocksDB.
package rocksdb
