package rocksdb

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/linxGnu/grocksdb"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/libs/storage"
)

// Engine is a storage.Engine on one RocksDB database with every column
// family of storage.ColumnFamilies. Create it with Open.
type Engine struct {
	lg      *zap.Logger
	dir     string
	walSync string

	// mu guards closed and, through it, the lifetime of every RocksDB
	// object below. Every call holds mu shared while it touches RocksDB;
	// Close holds it exclusively while it frees them, so a concurrent Close
	// waits for running calls and later calls see closed.
	mu     sync.RWMutex
	closed bool

	db       *grocksdb.DB
	cfs      map[string]*grocksdb.ColumnFamilyHandle // read-only after Open
	handles  []*grocksdb.ColumnFamilyHandle
	opts     *grocksdb.Options
	cache    *grocksdb.Cache
	ro       *grocksdb.ReadOptions // shared by point gets; never mutated
	woSync   *grocksdb.WriteOptions
	woNoSync *grocksdb.WriteOptions

	// live holds the open iterators and snapshots, so Close can free any a
	// caller leaked before the DB goes away: RocksDB aborts when a DB is
	// closed under them.
	liveMu sync.Mutex
	live   map[resource]struct{}
}

// resource is an iterator or snapshot that Close may have to free.
type resource interface {
	// forceCloseLocked frees the resource; e.mu is held exclusively.
	forceCloseLocked()
}

var _ storage.Engine = (*Engine)(nil)

// Open opens (creating if missing) the database in dir with every column
// family of storage.ColumnFamilies. RocksDB's own LOG is written to dir at
// INFO level. The caller must Close the engine.
func Open(dir string, cfg Config, lg *zap.Logger) (*Engine, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rocksdb: create data dir: %w", err)
	}
	comp, _ := compressionType(cfg.Compression) // checked by Validate

	cache := grocksdb.NewLRUCache(cfg.BlockCacheSize)
	bbto := grocksdb.NewDefaultBlockBasedTableOptions()
	bbto.SetBlockCache(cache)
	// Index and filter blocks count against the cache, so memory stays
	// bounded by configuration as the data grows; L0's stay pinned because
	// every read consults them.
	bbto.SetCacheIndexAndFilterBlocks(true)
	bbto.SetPinL0FilterAndIndexBlocksInCache(true)
	if cfg.BloomFilterBitsPerKey > 0 {
		// The table options take ownership of the policy.
		bbto.SetFilterPolicy(grocksdb.NewBloomFilterFull(float64(cfg.BloomFilterBitsPerKey)))
	}

	opts := grocksdb.NewDefaultOptions()
	opts.SetCreateIfMissing(true)
	opts.SetCreateIfMissingColumnFamilies(true)
	// Debian's RocksDB is a debug-style build whose default log level is
	// DEBUG, which floods the LOG file.
	opts.SetInfoLogLevel(grocksdb.InfoInfoLogLevel)
	opts.SetMaxLogFileSize(64 << 20)
	opts.SetKeepLogFileNum(10)
	opts.SetBlockBasedTableFactory(bbto) // copies bbto, which we can free
	opts.SetWriteBufferSize(cfg.WriteBufferSize)
	opts.SetMaxWriteBufferNumber(cfg.MaxWriteBufferNumber)
	opts.SetMinWriteBufferNumberToMerge(cfg.MinWriteBufferNumberToMerge)
	// A whole-key bloom filter per memtable (a tenth of its size), so a
	// point read skips the memtables that lack its key; see NewConfig.
	opts.SetMemTablePrefixBloomSizeRatio(0.1)
	opts.SetMemtableWholeKeyFiltering(true)
	opts.SetCompression(comp)
	opts.SetMaxOpenFiles(cfg.MaxOpenFiles)
	opts.SetMaxBackgroundJobs(cfg.MaxBackgroundJobs)
	opts.SetLevelCompactionDynamicLevelBytes(true)
	opts.SetBytesPerSync(1 << 20)
	opts.EnableStatistics()

	cfOpts := make([]*grocksdb.Options, len(storage.ColumnFamilies))
	for i := range cfOpts {
		cfOpts[i] = opts // RocksDB copies the options per family
	}
	db, handles, err := grocksdb.OpenDbColumnFamilies(opts, dir, storage.ColumnFamilies, cfOpts)
	bbto.Destroy()
	if err != nil {
		opts.Destroy()
		cache.Destroy()
		return nil, fmt.Errorf("rocksdb: open %s: %w", dir, err)
	}

	e := &Engine{
		lg:       lg,
		dir:      dir,
		walSync:  cfg.WALSync,
		db:       db,
		cfs:      make(map[string]*grocksdb.ColumnFamilyHandle, len(handles)),
		handles:  handles,
		opts:     opts,
		cache:    cache,
		ro:       grocksdb.NewDefaultReadOptions(),
		woSync:   grocksdb.NewDefaultWriteOptions(),
		woNoSync: grocksdb.NewDefaultWriteOptions(),
		live:     make(map[resource]struct{}),
	}
	e.woSync.SetSync(true)
	for i, name := range storage.ColumnFamilies {
		e.cfs[name] = handles[i]
	}
	if cfg.WALSync == WALSyncNever {
		lg.Warn("rocksdb wal fsync disabled; a machine crash can lose acknowledged writes", zap.String("dir", dir))
	}
	lg.Info("opened rocksdb engine",
		zap.String("dir", dir),
		zap.Uint64("block-cache-size", cfg.BlockCacheSize),
		zap.Uint64("write-buffer-size", cfg.WriteBufferSize),
		zap.Int("max-write-buffer-number", cfg.MaxWriteBufferNumber),
		zap.Int("min-write-buffer-number-to-merge", cfg.MinWriteBufferNumberToMerge),
		zap.String("compression", cfg.Compression),
		zap.String("wal-sync", cfg.WALSync))
	return e, nil
}

// Dir returns the data directory the engine was opened on.
func (e *Engine) Dir() string { return e.dir }

// Get implements storage.Reader.
func (e *Engine) Get(cf string, key []byte) ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	return getLocked(e, e.ro, cf, key)
}

// getLocked is the point get shared by the engine and its snapshots; e.mu
// is held shared. It costs two cgo crossings: the get, and freeing RocksDB's
// copy after we copy it into Go memory.
func getLocked(e *Engine, ro *grocksdb.ReadOptions, cf string, key []byte) ([]byte, error) {
	h, ok := e.cfs[cf]
	if !ok {
		return nil, fmt.Errorf("%w: %q", storage.ErrUnknownCF, cf)
	}
	if len(key) == 0 {
		return nil, storage.ErrEmptyKey
	}
	s, err := e.db.GetCF(ro, h, key)
	if err != nil {
		return nil, fmt.Errorf("rocksdb: get: %w", err)
	}
	defer s.Free()
	if !s.Exists() {
		return nil, storage.ErrNotFound
	}
	data := s.Data()
	v := make([]byte, len(data))
	copy(v, data)
	return v, nil
}

// NewIterator implements storage.Reader.
func (e *Engine) NewIterator(cf string, opts storage.IterOptions) (storage.Iterator, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	return newIteratorLocked(e, nil, cf, opts)
}

// NewWriteBatch implements storage.Engine.
func (e *Engine) NewWriteBatch() storage.WriteBatch {
	return &writeBatch{e: e, wb: grocksdb.NewWriteBatch()}
}

// errForeignBatch is returned when Write gets a batch this engine did not
// create.
var errForeignBatch = errors.New("rocksdb: write batch was not created by this engine")

// errBatchClosed is returned when Write gets a batch that was closed.
var errBatchClosed = errors.New("rocksdb: write batch is closed")

// Write implements storage.Engine.
func (e *Engine) Write(wb storage.WriteBatch, opts storage.WriteOptions) error {
	b, ok := wb.(*writeBatch)
	if !ok || b.e != e {
		return errForeignBatch
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return storage.ErrClosed
	}
	if b.closed {
		return errBatchClosed
	}
	if b.err != nil {
		return b.err
	}
	wo := e.woNoSync
	if e.walSync == WALSyncAlways || (opts.Sync && e.walSync != WALSyncNever) {
		wo = e.woSync
	}
	if err := e.db.Write(wo, b.wb); err != nil {
		return fmt.Errorf("rocksdb: write: %w", err)
	}
	return nil
}

// NewSnapshot implements storage.Engine.
func (e *Engine) NewSnapshot() (storage.Snapshot, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	s := &snapshot{e: e, snap: e.db.NewSnapshot(), ro: grocksdb.NewDefaultReadOptions()}
	s.ro.SetSnapshot(s.snap)
	e.track(s)
	return s, nil
}

// SyncWAL implements storage.Engine.
func (e *Engine) SyncWAL() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return storage.ErrClosed
	}
	if err := e.db.FlushWAL(true); err != nil {
		return fmt.Errorf("rocksdb: sync wal: %w", err)
	}
	return nil
}

func (e *Engine) track(r resource) {
	e.liveMu.Lock()
	e.live[r] = struct{}{}
	e.liveMu.Unlock()
}

func (e *Engine) untrack(r resource) {
	e.liveMu.Lock()
	delete(e.live, r)
	e.liveMu.Unlock()
}

// Close implements storage.Engine. It waits for running calls, frees any
// iterators and snapshots the caller leaked (logging them), syncs the WAL,
// and releases every RocksDB object. Calling it again returns nil.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true

	// Iterators first: a snapshot's iterators reference its read options.
	e.liveMu.Lock()
	var iters, snaps []resource
	for r := range e.live {
		if _, ok := r.(*iterator); ok {
			iters = append(iters, r)
		} else {
			snaps = append(snaps, r)
		}
	}
	e.live = nil
	e.liveMu.Unlock()
	if n := len(iters) + len(snaps); n > 0 {
		e.lg.Error("closing rocksdb engine with open iterators or snapshots; freeing them",
			zap.Int("iterators", len(iters)), zap.Int("snapshots", len(snaps)))
	}
	for _, r := range iters {
		r.forceCloseLocked()
	}
	for _, r := range snaps {
		r.forceCloseLocked()
	}

	err := e.db.FlushWAL(true)
	if err != nil {
		err = fmt.Errorf("rocksdb: sync wal on close: %w", err)
	}
	// Column-family handles must go before the DB, or RocksDB asserts.
	for _, h := range e.handles {
		h.Destroy()
	}
	e.handles, e.cfs = nil, nil
	e.db.Close()
	e.db = nil
	e.ro.Destroy()
	e.woSync.Destroy()
	e.woNoSync.Destroy()
	e.opts.Destroy()
	e.cache.Destroy()
	e.lg.Info("closed rocksdb engine", zap.String("dir", e.dir))
	return err
}
