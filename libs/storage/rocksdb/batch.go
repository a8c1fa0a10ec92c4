package rocksdb

import (
	"bytes"
	"fmt"

	"github.com/linxGnu/grocksdb"

	"github.com/flaredb/flaredb/libs/storage"
)

// writeBatch is a storage.WriteBatch on a RocksDB write batch. The first
// invalid operation (empty key, unknown column family, engine closed) is
// remembered and not added; Engine.Write then returns it and applies
// nothing, so a batch is never half-valid.
type writeBatch struct {
	e      *Engine
	wb     *grocksdb.WriteBatch
	err    error
	closed bool
}

var _ storage.WriteBatch = (*writeBatch)(nil)

// handle returns the column family handle for an operation, or records why
// the operation is invalid. e.mu is held shared: adding to a batch reads the
// handle, which Close frees.
func (b *writeBatch) handleLocked(cf string, key []byte) *grocksdb.ColumnFamilyHandle {
	if b.closed {
		b.setErr(errBatchClosed)
		return nil
	}
	if b.e.closed {
		b.setErr(storage.ErrClosed)
		return nil
	}
	h, ok := b.e.cfs[cf]
	if !ok {
		b.setErr(fmt.Errorf("%w: %q", storage.ErrUnknownCF, cf))
		return nil
	}
	if len(key) == 0 {
		b.setErr(storage.ErrEmptyKey)
		return nil
	}
	return h
}

func (b *writeBatch) setErr(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Put implements storage.WriteBatch.
func (b *writeBatch) Put(cf string, key, value []byte) {
	b.e.mu.RLock()
	defer b.e.mu.RUnlock()
	if h := b.handleLocked(cf, key); h != nil {
		b.wb.PutCF(h, key, value)
	}
}

// Delete implements storage.WriteBatch.
func (b *writeBatch) Delete(cf string, key []byte) {
	b.e.mu.RLock()
	defer b.e.mu.RUnlock()
	if h := b.handleLocked(cf, key); h != nil {
		b.wb.DeleteCF(h, key)
	}
}

// DeleteRange implements storage.WriteBatch. start may be empty (from the
// first key); end must not be. An empty range (start >= end) adds nothing:
// RocksDB rejects inverted range tombstones at write time, and an empty
// range deletes nothing anyway.
func (b *writeBatch) DeleteRange(cf string, start, end []byte) {
	b.e.mu.RLock()
	defer b.e.mu.RUnlock()
	h := b.handleLocked(cf, end)
	if h == nil || bytes.Compare(start, end) >= 0 {
		return
	}
	b.wb.DeleteRangeCF(h, start, end)
}

// Count implements storage.WriteBatch.
func (b *writeBatch) Count() int {
	if b.closed {
		return 0
	}
	return b.wb.Count()
}

// Size implements storage.WriteBatch: the length of RocksDB's encoded batch.
func (b *writeBatch) Size() int {
	if b.closed {
		return 0
	}
	return len(b.wb.Data())
}

// Clear implements storage.WriteBatch; it also forgets a recorded error.
func (b *writeBatch) Clear() {
	if b.closed {
		return
	}
	b.wb.Clear()
	b.err = nil
}

// Close implements storage.WriteBatch. A RocksDB batch does not reference
// the DB, so it may be closed before or after the engine; closing twice is
// a no-op.
func (b *writeBatch) Close() {
	if b.closed {
		return
	}
	b.closed = true
	b.wb.Destroy()
	b.wb = nil
}
