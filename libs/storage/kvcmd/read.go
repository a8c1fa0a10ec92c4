package kvcmd

import (
	"errors"
	"fmt"

	"github.com/flaredb/flaredb/libs/storage"
)

// KV is one live key with its value and version, as Scan returns it.
type KV struct {
	Key     []byte
	Value   []byte
	Version uint64
}

// Get returns the key's value and version; version 0 and a nil value when
// the key is absent (never written, or deleted), which is not an error.
//
// It is one engine read: a live key's value record carries its version,
// so the two always agree and r may be a live engine without a snapshot.
// The value is owned by the caller (it is part of the copy the engine's
// Get returns).
func Get(r storage.Reader, key []byte) (value []byte, version uint64, err error) {
	b, err := r.Get(storage.CFDefault, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	v, version, err := DecodeValue(b)
	if err != nil {
		return nil, 0, fmt.Errorf("kvcmd: key %q: %w", key, err)
	}
	return v, version, nil
}

// Scan returns up to limit live keys in [start, end) (end nil or empty:
// unbounded; limit <= 0: no limit), ascending or, with reverse, descending.
// With keyOnly the values are nil. Only live keys have value records, so
// the tombstones of deleted keys are not walked.
//
// Scan uses one iterator over one column family. The storage.Reader
// contract makes an iterator a consistent view as of its creation, so a
// live engine needs no snapshot of its own: every record of the result
// comes from the same point in time.
func Scan(r storage.Reader, start, end []byte, limit int, reverse, keyOnly bool) ([]KV, error) {
	it, err := r.NewIterator(storage.CFDefault, storage.IterOptions{LowerBound: start, UpperBound: end, Reverse: reverse})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []KV
	for ; it.Valid() && (limit <= 0 || len(out) < limit); it.Next() {
		v, version, err := DecodeValue(it.Value())
		if err != nil {
			return nil, fmt.Errorf("kvcmd: key %q: %w", it.Key(), err)
		}
		kv := KV{Key: append([]byte(nil), it.Key()...), Version: version}
		if !keyOnly {
			// The iterator's buffer is reused by Next.
			kv.Value = append([]byte(nil), v...)
		}
		out = append(out, kv)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
