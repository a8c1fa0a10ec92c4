package rocksdb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"defaults", func(c *Config) {}, ""},
		{"zstd, unlimited files, no bloom", func(c *Config) {
			c.Compression, c.MaxOpenFiles, c.BloomFilterBitsPerKey = CompressionZstd, -1, 0
		}, ""},
		{"small cache", func(c *Config) { c.BlockCacheSize = 1 }, "block-cache-size 1 is below"},
		{"small write buffer", func(c *Config) { c.WriteBufferSize = 0 }, "write-buffer-size 0 is below"},
		{"one write buffer", func(c *Config) { c.MaxWriteBufferNumber = 1 }, "max-write-buffer-number 1"},
		{"merging every memtable", func(c *Config) { c.MinWriteBufferNumberToMerge = c.MaxWriteBufferNumber }, "min-write-buffer-number-to-merge 8 is outside [1, max-write-buffer-number 8)"},
		{"merging none", func(c *Config) { c.MinWriteBufferNumberToMerge = 0 }, "min-write-buffer-number-to-merge 0"},
		{"bloom bits", func(c *Config) { c.BloomFilterBitsPerKey = 100 }, "bloom-filter-bits-per-key 100"},
		{"compression", func(c *Config) { c.Compression = "gzip" }, `compression "gzip" is not one of`},
		{"wal sync", func(c *Config) { c.WALSync = "sometimes" }, `wal-sync "sometimes"`},
		{"open files", func(c *Config) { c.MaxOpenFiles = 3 }, "max-open-files 3"},
		{"jobs", func(c *Config) { c.MaxBackgroundJobs = 0 }, "max-background-jobs 0"},
	}
	for _, c := range cases {
		cfg := NewConfig()
		c.change(&cfg)
		err := cfg.Validate()
		if c.want == "" {
			require.NoError(t, err, c.name)
			continue
		}
		require.ErrorContains(t, err, c.want, c.name)
		_, err = Open(t.TempDir(), cfg, nil)
		require.ErrorContains(t, err, c.want, "Open validates: %s", c.name)
	}
}

func TestOpenWritesInfoLogToDataDir(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, NewConfig(), nil)
	require.NoError(t, err)
	wb := e.NewWriteBatch()
	wb.Put(storage.CFDefault, []byte("k"), []byte("v"))
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))
	wb.Close()
	require.NoError(t, e.Close())
	b, err := os.ReadFile(filepath.Join(dir, "LOG"))
	require.NoError(t, err)
	log := string(b)
	require.True(t, strings.Contains(log, "RocksDB version"), "RocksDB's LOG is in the data dir")
	// RocksDB prefixes every non-INFO line with its level.
	require.False(t, strings.Contains(log, "[DEBUG]"), "LOG must be at INFO, not DEBUG")
}

func TestCloseFreesLeakedIteratorsAndSnapshots(t *testing.T) {
	e, err := Open(t.TempDir(), NewConfig(), nil)
	require.NoError(t, err)
	wb := e.NewWriteBatch()
	wb.Put(storage.CFDefault, []byte("k"), []byte("v"))
	require.NoError(t, e.Write(wb, storage.WriteOptions{}))
	wb.Close()
	snap, err := e.NewSnapshot()
	require.NoError(t, err)
	it, err := snap.NewIterator(storage.CFDefault, storage.IterOptions{})
	require.NoError(t, err)
	require.True(t, it.Valid())
	it2, err := e.NewIterator(storage.CFDefault, storage.IterOptions{LowerBound: []byte("z"), UpperBound: []byte("a")})
	require.NoError(t, err)

	require.NoError(t, e.Close()) // must not abort inside RocksDB
	require.False(t, it.Valid())
	require.Nil(t, it.Key())
	require.ErrorIs(t, it.Err(), storage.ErrClosed)
	it.Close()
	it2.Close()
	_, err = snap.Get(storage.CFDefault, []byte("k"))
	require.ErrorIs(t, err, storage.ErrClosed)
	snap.Close()
}

func TestWriteRejectsForeignBatch(t *testing.T) {
	a, err := Open(t.TempDir(), NewConfig(), nil)
	require.NoError(t, err)
	defer a.Close()
	b, err := Open(t.TempDir(), NewConfig(), nil)
	require.NoError(t, err)
	defer b.Close()
	wb := a.NewWriteBatch()
	defer wb.Close()
	wb.Put(storage.CFDefault, []byte("k"), []byte("v"))
	require.ErrorIs(t, b.Write(wb, storage.WriteOptions{}), errForeignBatch)
	wb.Close()
	require.ErrorIs(t, a.Write(wb, storage.WriteOptions{}), errBatchClosed)
}

func TestStats(t *testing.T) {
	e, err := Open(t.TempDir(), NewConfig(), nil)
	require.NoError(t, err)
	defer e.Close()
	wb := e.NewWriteBatch()
	defer wb.Close()
	for _, k := range []string{"a", "b", "c"} {
		wb.Put(storage.CFDefault, []byte(k), []byte(strings.Repeat("v", 100)))
	}
	require.NoError(t, e.Write(wb, storage.WriteOptions{Sync: true}))
	_, err = e.Get(storage.CFDefault, []byte("a"))
	require.NoError(t, err)
	st := e.Stats()
	require.Greater(t, st.BytesWritten, uint64(300))
	require.Positive(t, st.WALSyncs)
	require.Positive(t, st.MemtableBytes)
	require.Equal(t, uint64(3), st.EstimatedKeys)
}

func TestParseTickers(t *testing.T) {
	dump := "rocksdb.block.cache.miss COUNT : 12\n" +
		"rocksdb.db.get.micros P50 : 1.0 P95 : 2.0 P99 : 3.0 P100 : 4.0 COUNT : 5 SUM : 6\n" +
		"rocksdb.wal.synced COUNT : 3\n"
	require.Equal(t, map[string]uint64{"rocksdb.block.cache.miss": 12, "rocksdb.wal.synced": 3}, parseTickers(dump))
}
