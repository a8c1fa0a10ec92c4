package rocksdb

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/linxGnu/grocksdb"

	"github.com/flaredb/flaredb/libs/storage"
)

// iterator is a storage.Iterator. Like the interface says, one iterator is
// used by one goroutine at a time; what it guards against is the engine
// closing underneath it. Every method holds e.mu shared, and closed is
// written either by Close (e.mu shared, the owner goroutine) or by the
// engine's Close (e.mu exclusive), never both at once.
type iterator struct {
	e       *Engine
	it      *grocksdb.Iterator // nil for a statically empty range
	ro      *grocksdb.ReadOptions
	reverse bool
	valid   bool
	closed  bool
	forced  bool // freed by Engine.Close, not by the caller

	// RocksDB keeps pointers to the bounds, so they live here, copied from
	// the caller, until the iterator is freed.
	lower, upper []byte
	// Key and Value copy into these buffers: a returned slice then never
	// points into C memory that a concurrent Engine.Close could free.
	key, val []byte
}

var _ storage.Iterator = (*iterator)(nil)

// newIteratorLocked builds an iterator on the live DB (snap nil) or on a
// snapshot; e.mu is held shared.
func newIteratorLocked(e *Engine, snap *grocksdb.Snapshot, cf string, opts storage.IterOptions) (*iterator, error) {
	h, ok := e.cfs[cf]
	if !ok {
		return nil, fmt.Errorf("%w: %q", storage.ErrUnknownCF, cf)
	}
	it := &iterator{e: e, reverse: opts.Reverse}
	// An empty bound means unbounded, like nil: region end keys use "" for
	// "to the end".
	if len(opts.LowerBound) > 0 {
		it.lower = append([]byte(nil), opts.LowerBound...)
	}
	if len(opts.UpperBound) > 0 {
		it.upper = append([]byte(nil), opts.UpperBound...)
	}
	if it.lower != nil && it.upper != nil && bytes.Compare(it.lower, it.upper) >= 0 {
		// Nothing can be in range; RocksDB asserts on inverted bounds.
		e.track(it)
		return it, nil
	}
	it.ro = grocksdb.NewDefaultReadOptions()
	if snap != nil {
		it.ro.SetSnapshot(snap)
	}
	if it.lower != nil {
		it.ro.SetIterateLowerBound(it.lower)
	}
	if it.upper != nil {
		it.ro.SetIterateUpperBound(it.upper)
	}
	it.it = e.db.NewIteratorCF(it.ro, h)
	if it.reverse {
		it.it.SeekToLast()
	} else {
		it.it.SeekToFirst()
	}
	it.valid = it.it.Valid()
	e.track(it)
	return it, nil
}

// Valid implements storage.Iterator.
func (i *iterator) Valid() bool {
	i.e.mu.RLock()
	defer i.e.mu.RUnlock()
	return !i.closed && i.valid
}

// Next implements storage.Iterator.
func (i *iterator) Next() {
	i.e.mu.RLock()
	defer i.e.mu.RUnlock()
	if i.closed || !i.valid {
		return
	}
	if i.reverse {
		i.it.Prev()
	} else {
		i.it.Next()
	}
	i.valid = i.it.Valid()
}

// Key implements storage.Iterator.
func (i *iterator) Key() []byte {
	i.e.mu.RLock()
	defer i.e.mu.RUnlock()
	if i.closed || !i.valid {
		return nil
	}
	i.key = append(i.key[:0], i.it.Key().Data()...)
	return i.key
}

// Value implements storage.Iterator.
func (i *iterator) Value() []byte {
	i.e.mu.RLock()
	defer i.e.mu.RUnlock()
	if i.closed || !i.valid {
		return nil
	}
	i.val = append(i.val[:0], i.it.Value().Data()...)
	return i.val
}

// Err implements storage.Iterator.
func (i *iterator) Err() error {
	i.e.mu.RLock()
	defer i.e.mu.RUnlock()
	if i.forced {
		return storage.ErrClosed
	}
	if i.closed || i.it == nil {
		return nil
	}
	if err := i.it.Err(); err != nil {
		return fmt.Errorf("rocksdb: iterate: %w", err)
	}
	return nil
}

// Close implements storage.Iterator; a second Close is a no-op.
func (i *iterator) Close() {
	i.e.mu.RLock()
	defer i.e.mu.RUnlock()
	if i.closed {
		return
	}
	i.freeLocked()
	i.e.untrack(i)
}

func (i *iterator) forceCloseLocked() {
	i.freeLocked()
	i.forced = true
}

func (i *iterator) freeLocked() {
	i.closed, i.valid = true, false
	if i.it != nil {
		i.it.Close()
		i.it = nil
	}
	if i.ro != nil {
		i.ro.Destroy()
		i.ro = nil
	}
}

// snapshot is a storage.Snapshot. Unlike an iterator it may be shared by
// goroutines, so mu orders its reads against its Close. Lock order: e.mu
// before mu.
type snapshot struct {
	e    *Engine
	mu   sync.RWMutex
	snap *grocksdb.Snapshot
	ro   *grocksdb.ReadOptions // with snap set; used by Get
	// closed is set by Close (mu held) or by Engine.Close (e.mu exclusive).
	closed bool
}

var _ storage.Snapshot = (*snapshot)(nil)

// Get implements storage.Reader.
func (s *snapshot) Get(cf string, key []byte) ([]byte, error) {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	return getLocked(s.e, s.ro, cf, key)
}

// NewIterator implements storage.Reader. The iterator MUST be closed before
// the snapshot.
func (s *snapshot) NewIterator(cf string, opts storage.IterOptions) (storage.Iterator, error) {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	return newIteratorLocked(s.e, s.snap, cf, opts)
}

// Close implements storage.Snapshot; a second Close is a no-op.
func (s *snapshot) Close() {
	s.e.mu.RLock()
	defer s.e.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.freeLocked()
	s.e.untrack(s)
}

func (s *snapshot) forceCloseLocked() { s.freeLocked() }

func (s *snapshot) freeLocked() {
	s.closed = true
	s.ro.Destroy()
	s.ro = nil
	s.e.db.ReleaseSnapshot(s.snap) // frees it; Destroy would free twice
	s.snap = nil
}
