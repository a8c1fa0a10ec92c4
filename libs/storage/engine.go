package storage

import "errors"

// Column families. Every engine MUST provide all of them; keys written to one
// family never collide with keys of another.
const (
	// CFDefault holds user values: user key -> the value of a live key,
	// prefixed with its version (see kvcmd), so reads need this family
	// only.
	CFDefault = "default"
	// CFVersion holds per-key version metadata that must outlive a value:
	// user key -> the version tombstone of a deleted key (see kvcmd), so
	// versions never repeat after delete and re-create.
	CFVersion = "version"
	// CFRaft holds Raft log entries, HardState and apply state per region.
	CFRaft = "raft"
	// CFMeta holds store identity and region metadata.
	CFMeta = "meta"
)

// ColumnFamilies lists every column family an engine must open.
var ColumnFamilies = []string{CFDefault, CFVersion, CFRaft, CFMeta}

var (
	// ErrNotFound is returned by Get when the key is absent.
	ErrNotFound = errors.New("storage: key not found")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("storage: engine closed")
	// ErrEmptyKey is returned when a key argument is empty.
	ErrEmptyKey = errors.New("storage: empty key")
	// ErrUnknownCF is returned for a column family name not in ColumnFamilies.
	ErrUnknownCF = errors.New("storage: unknown column family")
)

// Reader is a point-in-time or live view of the engine.
type Reader interface {
	// Get returns the value of key in cf. The returned slice is owned by the
	// caller (a copy). It returns ErrNotFound when the key is absent. Get
	// MUST NOT block on writers beyond the engine's own short locks.
	Get(cf string, key []byte) ([]byte, error)
	// NewIterator returns an iterator over cf bounded by opts. It reads a
	// consistent view as of its creation. The caller MUST Close it before
	// closing the Reader it came from.
	NewIterator(cf string, opts IterOptions) (Iterator, error)
}

// IterOptions bounds an iterator to [LowerBound, UpperBound); nil (or
// empty) means unbounded on that side. Reverse iterates from the highest key
// down. LowerBound >= UpperBound yields an empty iterator.
type IterOptions struct {
	LowerBound []byte
	UpperBound []byte
	Reverse    bool
}

// Iterator walks keys in order (descending when Reverse). It starts
// positioned on the first key in range. Key and Value return slices that are
// only valid until the next call to Next or Close; copy to keep them.
type Iterator interface {
	Valid() bool
	Next()
	Key() []byte
	Value() []byte
	// Err reports an iteration error; check it once Valid returns false.
	Err() error
	// Close releases the iterator. It MUST be called exactly once.
	Close()
}

// Snapshot is a consistent read-only view; writes after its creation are
// invisible to it. Unlike an Iterator it is safe for concurrent use. It MUST
// be closed; a second Close does nothing and reads after Close return
// ErrClosed.
type Snapshot interface {
	Reader
	Close()
}

// WriteBatch collects writes that Engine.Write applies atomically across
// column families. A batch is not safe for concurrent use. Keys and values
// are copied into the batch when added.
type WriteBatch interface {
	// Operations apply in the order they were added. The first invalid one
	// (empty key, unknown CF, engine closed) is not added and makes Write
	// return its error.
	Put(cf string, key, value []byte)
	Delete(cf string, key []byte)
	// DeleteRange deletes every key in [start, end) of cf. start may be
	// empty (from the first key); end MUST NOT be. start >= end adds nothing.
	DeleteRange(cf string, start, end []byte)
	// Count is the number of operations in the batch.
	Count() int
	// Size is the approximate encoded size in bytes.
	Size() int
	// Clear empties the batch for reuse.
	Clear()
	// Close releases the batch. It MUST be called exactly once.
	Close()
}

// WriteOptions controls durability of one Write.
type WriteOptions struct {
	// Sync: Write MUST NOT return before the batch is durable on disk
	// (WAL fsynced) when Sync is set.
	Sync bool
}

// Engine is a local ordered key-value store with column families. All
// methods are safe for concurrent use. Any method called after Close returns
// ErrClosed (or, for methods without an error result, does nothing).
type Engine interface {
	Reader
	// NewWriteBatch returns an empty batch owned by the caller.
	NewWriteBatch() WriteBatch
	// Write applies wb atomically: either every operation becomes visible
	// or none does. Invalid operations recorded in the batch (empty key,
	// unknown CF) make Write fail without applying anything.
	Write(wb WriteBatch, opts WriteOptions) error
	// NewSnapshot returns a consistent view as of now.
	NewSnapshot() (Snapshot, error)
	// SyncWAL makes every previous write durable.
	SyncWAL() error
	// Stats reports engine counters for metrics.
	Stats() Stats
	// Close makes every write durable and releases everything. It waits
	// for calls in flight. Iterators and snapshots MUST be closed before;
	// any left open are freed (and then report ErrClosed). Close is
	// idempotent: a second Close returns nil.
	Close() error
}

// Stats are engine-level counters exported as metrics.
type Stats struct {
	BytesWritten           uint64
	BytesRead              uint64
	MemtableBytes          uint64
	PendingCompactionBytes uint64
	BlockCacheHit          uint64
	BlockCacheMiss         uint64
	WALSyncs               uint64
	LiveDataBytes          uint64
	EstimatedKeys          uint64
}
