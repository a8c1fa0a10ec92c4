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

// snapshotter is what an engine offers beyond a Reader; Get and Scan use it
// to read the version and value CFs at one point in time.
type snapshotter interface {
	NewSnapshot() (storage.Snapshot, error)
}

// consistent returns a reader over which several reads agree: r itself when
// it is already a snapshot (or cannot make one), else a fresh snapshot the
// caller must close through the returned func.
func consistent(r storage.Reader) (storage.Reader, func(), error) {
	if _, ok := r.(storage.Snapshot); ok {
		return r, func() {}, nil
	}
	s, ok := r.(snapshotter)
	if !ok {
		return r, func() {}, nil
	}
	snap, err := s.NewSnapshot()
	if err != nil {
		return nil, nil, err
	}
	return snap, snap.Close, nil
}

// Get returns the key's value and version; version 0 and a nil value when
// the key is absent (never written, or deleted), which is not an error.
// Given a live engine it reads through a snapshot of its own, so the value
// always belongs to the version.
func Get(r storage.Reader, key []byte) (value []byte, version uint64, err error) {
	r, done, err := consistent(r)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	b, err := r.Get(storage.CFVersion, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	rec, err := decodeRecord(b)
	if err != nil {
		return nil, 0, err
	}
	if rec.current() == 0 {
		return nil, 0, nil
	}
	v, err := r.Get(storage.CFDefault, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, fmt.Errorf("kvcmd: key %q has live version %d but no value", key, rec.version)
	}
	if err != nil {
		return nil, 0, err
	}
	return v, rec.version, nil
}

// Scan returns up to limit live keys in [start, end) (end nil or empty:
// unbounded; limit <= 0: no limit), ascending or, with reverse, descending.
// With keyOnly the values are nil. Like Get it reads a live engine through
// its own snapshot. Deleted keys are skipped but still walked over, since
// their tombstones are kept.
func Scan(r storage.Reader, start, end []byte, limit int, reverse, keyOnly bool) ([]KV, error) {
	r, done, err := consistent(r)
	if err != nil {
		return nil, err
	}
	defer done()
	opts := storage.IterOptions{LowerBound: start, UpperBound: end, Reverse: reverse}
	vit, err := r.NewIterator(storage.CFVersion, opts)
	if err != nil {
		return nil, err
	}
	defer vit.Close()
	// Values are walked in lockstep: CFDefault holds exactly the live keys
	// of CFVersion, in the same order, so one step each beats a point get
	// per key.
	var dit storage.Iterator
	if !keyOnly {
		if dit, err = r.NewIterator(storage.CFDefault, opts); err != nil {
			return nil, err
		}
		defer dit.Close()
	}
	var out []KV
	for ; vit.Valid() && (limit <= 0 || len(out) < limit); vit.Next() {
		rec, err := decodeRecord(vit.Value())
		if err != nil {
			return nil, err
		}
		if rec.current() == 0 {
			continue
		}
		kv := KV{Key: append([]byte(nil), vit.Key()...), Version: rec.version}
		if dit != nil {
			if !dit.Valid() || string(dit.Key()) != string(kv.Key) {
				if err := dit.Err(); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("kvcmd: key %q has live version %d but no value", kv.Key, rec.version)
			}
			kv.Value = append([]byte(nil), dit.Value()...)
			dit.Next()
		}
		out = append(out, kv)
	}
	if err := vit.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
