package rocksdb

import (
	"fmt"

	"github.com/linxGnu/grocksdb"
)

// Compression names accepted in Config.Compression.
const (
	CompressionNone   = "none"
	CompressionSnappy = "snappy"
	CompressionLZ4    = "lz4"
	CompressionZstd   = "zstd"
)

// WAL sync policies accepted in Config.WALSync.
const (
	// WALSyncOnRequest fsyncs the WAL for writes that ask for it
	// (storage.WriteOptions.Sync). This is the only policy that honours the
	// Engine contract exactly, and the default.
	WALSyncOnRequest = "on-request"
	// WALSyncAlways fsyncs the WAL on every write, whatever it asks for.
	WALSyncAlways = "always"
	// WALSyncNever never fsyncs on write; data reaches disk when the OS or
	// a memtable flush writes it. A machine crash (not a process crash) can
	// lose acknowledged writes. Only for throwaway test clusters.
	WALSyncNever = "never"
)

// Config is the user-facing RocksDB tuning of one store. Sizes are in bytes.
type Config struct {
	// BlockCacheSize is the shared LRU cache for uncompressed data, index
	// and filter blocks of all column families.
	BlockCacheSize uint64 `toml:"block-cache-size"`
	// WriteBufferSize is the size of each memtable of each column family.
	WriteBufferSize uint64 `toml:"write-buffer-size"`
	// MaxWriteBufferNumber is how many memtables a column family may hold
	// (one active, the rest waiting for flush) before writes stall.
	MaxWriteBufferNumber int `toml:"max-write-buffer-number"`
	// MinWriteBufferNumberToMerge is how many full memtables are merged
	// into one flush, so each L0 file holds about this many memtables.
	MinWriteBufferNumberToMerge int `toml:"min-write-buffer-number-to-merge"`
	// BloomFilterBitsPerKey sizes the per-SST bloom filter (10 gives about
	// 1% false positives); 0 disables bloom filters.
	BloomFilterBitsPerKey int `toml:"bloom-filter-bits-per-key"`
	// Compression of SST blocks: none, snappy, lz4 or zstd.
	Compression string `toml:"compression"`
	// WALSync is the WAL fsync policy: on-request, always or never.
	WALSync string `toml:"wal-sync"`
	// MaxOpenFiles caps open SST files; -1 keeps them all open.
	MaxOpenFiles int `toml:"max-open-files"`
	// MaxBackgroundJobs caps concurrent flushes and compactions.
	MaxBackgroundJobs int `toml:"max-background-jobs"`
}

// NewConfig returns the defaults: modest enough that several stores fit in
// one test process, big enough for a small production node.
//
// Memtables are small and merged four to a flush. Inserting into a
// memtable is a skiplist walk whose cache and TLB misses grow with its
// size: about 5.8 us per key with a full 64 MiB memtable against 3.1-3.6
// us with 8 MiB ones on the 2-core benchmark machine (BenchmarkMemtableFill,
// 1,000,000 distinct keys; docs/benchmarks.md), and every replica pays it
// for every write. Merging four memtables per flush keeps L0 files at about
// 32 MiB, so compaction sees what a 32 MiB memtable would give it. Reads
// probe up to MaxWriteBufferNumber memtables; a whole-key bloom filter in
// each lets them skip the ones without the key.
func NewConfig() Config {
	return Config{
		BlockCacheSize:              128 << 20,
		WriteBufferSize:             8 << 20,
		MaxWriteBufferNumber:        8,
		MinWriteBufferNumberToMerge: 4,
		BloomFilterBitsPerKey:       10,
		Compression:                 CompressionLZ4,
		WALSync:                     WALSyncOnRequest,
		MaxOpenFiles:                4096,
		MaxBackgroundJobs:           4,
	}
}

// Validate reports the first invalid setting, naming it and its bounds.
func (c Config) Validate() error {
	switch {
	case c.BlockCacheSize < 1<<20:
		return fmt.Errorf("rocksdb: block-cache-size %d is below the minimum 1MiB (1048576)", c.BlockCacheSize)
	case c.WriteBufferSize < 1<<20:
		return fmt.Errorf("rocksdb: write-buffer-size %d is below the minimum 1MiB (1048576)", c.WriteBufferSize)
	case c.MaxWriteBufferNumber < 2 || c.MaxWriteBufferNumber > 64:
		return fmt.Errorf("rocksdb: max-write-buffer-number %d is outside [2, 64]", c.MaxWriteBufferNumber)
	case c.MinWriteBufferNumberToMerge < 1 || c.MinWriteBufferNumberToMerge >= c.MaxWriteBufferNumber:
		return fmt.Errorf("rocksdb: min-write-buffer-number-to-merge %d is outside [1, max-write-buffer-number %d)",
			c.MinWriteBufferNumberToMerge, c.MaxWriteBufferNumber)
	case c.BloomFilterBitsPerKey < 0 || c.BloomFilterBitsPerKey > 64:
		return fmt.Errorf("rocksdb: bloom-filter-bits-per-key %d is outside [0, 64]", c.BloomFilterBitsPerKey)
	case c.MaxOpenFiles != -1 && c.MaxOpenFiles < 16:
		return fmt.Errorf("rocksdb: max-open-files %d must be -1 (unlimited) or at least 16", c.MaxOpenFiles)
	case c.MaxBackgroundJobs < 1 || c.MaxBackgroundJobs > 256:
		return fmt.Errorf("rocksdb: max-background-jobs %d is outside [1, 256]", c.MaxBackgroundJobs)
	}
	if _, err := compressionType(c.Compression); err != nil {
		return err
	}
	switch c.WALSync {
	case WALSyncOnRequest, WALSyncAlways, WALSyncNever:
	default:
		return fmt.Errorf("rocksdb: wal-sync %q is not one of %s, %s, %s",
			c.WALSync, WALSyncOnRequest, WALSyncAlways, WALSyncNever)
	}
	return nil
}

func compressionType(name string) (grocksdb.CompressionType, error) {
	switch name {
	case CompressionNone:
		return grocksdb.NoCompression, nil
	case CompressionSnappy:
		return grocksdb.SnappyCompression, nil
	case CompressionLZ4:
		return grocksdb.LZ4Compression, nil
	case CompressionZstd:
		return grocksdb.ZSTDCompression, nil
	}
	return 0, fmt.Errorf("rocksdb: compression %q is not one of %s, %s, %s, %s",
		name, CompressionNone, CompressionSnappy, CompressionLZ4, CompressionZstd)
}
