package kvcmd

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/flaredb/flaredb/libs/storage"
)

// Applier applies commands into one write batch. It remembers the versions
// and values it wrote earlier in the same batch, so several commands
// touching one key before the batch is written see each other (group apply).
//
// Raft apply calls Apply for every command of many committed entries into
// one batch, writes the batch once, then calls Reset. While a batch is being
// filled, the Reader must not change except through this batch (the apply
// loop is the only writer of user data), because the Applier also caches
// what it read. Results may alias command values and cached reads; they are
// valid until the command slices are modified.
//
// An Applier is not safe for concurrent use.
type Applier struct {
	r  storage.Reader
	wb storage.WriteBatch
	// known caches, per key touched in this batch (and, when retaining,
	// in earlier ones), its version record, and its value as of the end of
	// the commands applied so far while this batch is filled.
	known map[string]*entry
	// valued lists the entries given a value in this batch; Reset drops
	// those values when retaining, so the cache holds version records only
	// and never pins command buffers.
	valued []*entry
	// retain bounds how many keys known keeps across Reset; zero means it
	// is forgotten at every Reset.
	retain int
	// scratch is reused to encode records; the batch copies them.
	scratch []byte
}

// entry is the state of one key as the batch so far leaves it.
type entry struct {
	rec         record
	value       []byte // when valueLoaded and live
	valueLoaded bool
}

// maxScratch bounds the encode buffer an Applier keeps between records, so
// one large value does not pin its size for the Applier's lifetime.
const maxScratch = 64 << 10

// NewApplier returns an Applier reading r and writing into wb.
func NewApplier(r storage.Reader, wb storage.WriteBatch) *Applier {
	a := &Applier{known: make(map[string]*entry)}
	a.Reset(r, wb)
	return a
}

// Retain makes the Applier keep the version records of up to maxKeys keys
// across Reset (beyond that it forgets them all at the next Reset), so a
// put to a recently written key needs no engine read. This is only correct
// while every change to user data goes through this Applier's batches, each
// written before the next Reset: the caller MUST call Forget, between
// batches, before anything else changes user data (a Raft snapshot,
// deleting a removed region) and after dropping a batch instead of writing
// it.
func (a *Applier) Retain(maxKeys int) { a.retain = maxKeys }

// Forget drops everything the Applier knows about keys.
func (a *Applier) Forget() {
	clear(a.known)
	clear(a.valued)
	a.valued = a.valued[:0]
}

// Reset prepares the Applier for the next batch; call it after the last one
// was written (or, after calling Forget, dropped). Unless retaining, it
// forgets what the last batch wrote.
func (a *Applier) Reset(r storage.Reader, wb storage.WriteBatch) {
	a.r, a.wb = r, wb
	if len(a.known) > a.retain {
		a.Forget()
		return
	}
	for _, e := range a.valued {
		if e.rec.current() != 0 {
			e.value, e.valueLoaded = nil, false
		}
	}
	clear(a.valued)
	a.valued = a.valued[:0]
}

// Apply evaluates cmd against the reader plus everything applied earlier in
// this batch and adds its writes to the batch. The error is either an
// invalid command (errors.Is(err, ErrInvalid)), in which case nothing was
// added, or a storage read error, in which case nothing of this command was
// added either, but the caller should treat the engine as failed.
func (a *Applier) Apply(cmd *Command) (Result, error) {
	if err := check(cmd); err != nil {
		return Result{}, err
	}
	switch cmd.Op {
	case OpPut:
		e, err := a.load(cmd.Key)
		if err != nil {
			return Result{}, err
		}
		return Result{Succeeded: true, Version: a.put(cmd.Key, cmd.Value, e)}, nil
	case OpDelete:
		e, err := a.load(cmd.Key)
		if err != nil {
			return Result{}, err
		}
		a.del(cmd.Key, e)
		return Result{Succeeded: true}, nil
	case OpBatchPut:
		// Read everything first so a read error leaves the batch untouched.
		es := make([]*entry, len(cmd.Pairs))
		for i, p := range cmd.Pairs {
			e, err := a.load(p.Key)
			if err != nil {
				return Result{}, err
			}
			es[i] = e
		}
		vs := make([]uint64, len(cmd.Pairs))
		for i, p := range cmd.Pairs {
			vs[i] = a.put(p.Key, p.Value, es[i])
		}
		return Result{Succeeded: true, Versions: vs}, nil
	case OpBatchDelete:
		es := make([]*entry, len(cmd.Keys))
		for i, k := range cmd.Keys {
			e, err := a.load(k)
			if err != nil {
				return Result{}, err
			}
			es[i] = e
		}
		for i, k := range cmd.Keys {
			a.del(k, es[i])
		}
		return Result{Succeeded: true}, nil
	case OpDeleteRange:
		return a.deleteRange(cmd.Key, cmd.EndKey)
	case OpCAS:
		return a.cas(cmd)
	}
	panic("kvcmd: check accepted an unknown op") // unreachable
}

func (a *Applier) cas(cmd *Command) (Result, error) {
	e, err := a.load(cmd.Key)
	if err != nil {
		return Result{}, err
	}
	cur := e.rec.current()
	if cur != cmd.ExpectedVersion {
		if err := a.loadValue(cmd.Key, e); err != nil {
			return Result{}, err
		}
		return Result{Version: cur, Value: e.value}, nil
	}
	if cmd.Delete {
		a.del(cmd.Key, e)
		return Result{Succeeded: true}, nil
	}
	return Result{Succeeded: true, Version: a.put(cmd.Key, cmd.Value, e), Value: cmd.Value}, nil
}

// load returns the key's entry, reading its record on first use: the
// value record of a live key, else the tombstone of a deleted one.
func (a *Applier) load(key []byte) (*entry, error) {
	if e, ok := a.known[string(key)]; ok {
		return e, nil
	}
	e := &entry{}
	b, err := a.r.Get(storage.CFDefault, key)
	switch {
	case err == nil:
		// The engine's Get returns a copy owned by us, so the value may
		// stay a subslice of it for as long as the batch needs it.
		v, version, err := DecodeValue(b)
		if err != nil {
			return nil, fmt.Errorf("kvcmd: key %q: %w", key, err)
		}
		e.rec = record{version: version}
		e.setValue(a, v)
	case errors.Is(err, storage.ErrNotFound):
		if e.rec, err = a.loadTombstone(key); err != nil {
			return nil, err
		}
		e.valueLoaded = true // deleted or never existed: no value
	default:
		return nil, fmt.Errorf("kvcmd: read %q: %w", key, err)
	}
	a.known[string(key)] = e
	return e, nil
}

// loadTombstone reads a key that has no value record: its tombstone, or
// the zero record when the key never existed.
func (a *Applier) loadTombstone(key []byte) (record, error) {
	b, err := a.r.Get(storage.CFVersion, key)
	if errors.Is(err, storage.ErrNotFound) {
		return record{}, nil
	}
	if err != nil {
		return record{}, fmt.Errorf("kvcmd: read version of %q: %w", key, err)
	}
	rec, err := decodeVersion(b)
	if err != nil {
		return record{}, fmt.Errorf("kvcmd: key %q: %w", key, err)
	}
	if !rec.deleted {
		return record{}, fmt.Errorf("%w: key %q has a live version record (%d) but no value", ErrCorrupt, key, rec.version)
	}
	return rec, nil
}

// loadValue reads a live key's value when the entry does not have it yet.
func (a *Applier) loadValue(key []byte, e *entry) error {
	if e.valueLoaded {
		return nil
	}
	b, err := a.r.Get(storage.CFDefault, key)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: key %q has live version %d but no value", ErrCorrupt, key, e.rec.version)
	}
	if err != nil {
		return fmt.Errorf("kvcmd: read value of %q: %w", key, err)
	}
	// The engine's Get returns a copy owned by us, so the value may stay a
	// subslice of it for as long as the cache and results need.
	v, version, err := DecodeValue(b)
	if err != nil {
		return fmt.Errorf("kvcmd: key %q: %w", key, err)
	}
	if version != e.rec.version {
		return fmt.Errorf("%w: key %q has version %d but its value version %d", ErrCorrupt, key, e.rec.version, version)
	}
	e.setValue(a, v)
	return nil
}

func (e *entry) setValue(a *Applier, v []byte) {
	e.value, e.valueLoaded = v, true
	if a.retain > 0 {
		a.valued = append(a.valued, e)
	}
}

// put gives the key the version after the last one it ever had: one value
// record, plus removing the tombstone of a re-created key.
func (a *Applier) put(key, value []byte, e *entry) uint64 {
	wasDeleted := e.rec.deleted
	e.rec = record{version: e.rec.version + 1}
	e.setValue(a, value)
	a.scratch = appendValue(a.scratch[:0], e.rec.version, value)
	a.wb.Put(storage.CFDefault, key, a.scratch) // the batch copies
	if cap(a.scratch) > maxScratch {
		a.scratch = nil
	}
	if wasDeleted {
		a.wb.Delete(storage.CFVersion, key)
	}
	return e.rec.version
}

// del turns a live key into a tombstone that keeps its last version, and
// deletes its value record.
func (a *Applier) del(key []byte, e *entry) {
	if e.rec.current() == 0 {
		return
	}
	e.rec.deleted = true
	e.setValue(a, nil)
	a.scratch = appendVersion(a.scratch[:0], e.rec)
	a.wb.Put(storage.CFVersion, key, a.scratch)
	a.wb.Delete(storage.CFDefault, key)
}

// deleteRange tombstones every live key in [start, end) (end empty: to the
// end of the key space), in key order. The version records must stay, so
// each key is deleted on its own rather than by an engine range delete.
func (a *Applier) deleteRange(start, end []byte) (Result, error) {
	// Keys the Applier knows (touched by this batch, or retained) are
	// judged by their cached state (they may have been created or deleted
	// earlier in the batch); the rest by their stored record. With a large
	// retained cache this walks all of it, which delete-range can afford.
	type stored struct {
		key []byte
		rec record
	}
	var fromDisk []stored
	// Only live keys have value records, so the walk skips tombstones.
	it, err := a.r.NewIterator(storage.CFDefault, storage.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return Result{}, fmt.Errorf("kvcmd: delete range: %w", err)
	}
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if _, ok := a.known[string(k)]; ok {
			continue
		}
		_, version, err := DecodeValue(it.Value())
		if err != nil {
			it.Close()
			return Result{}, fmt.Errorf("kvcmd: delete range: key %q: %w", k, err)
		}
		fromDisk = append(fromDisk, stored{key: append([]byte(nil), k...), rec: record{version: version}})
	}
	err = it.Err()
	it.Close()
	if err != nil {
		return Result{}, fmt.Errorf("kvcmd: delete range: %w", err)
	}

	live := make([][]byte, 0, len(fromDisk))
	for k, e := range a.known {
		if e.rec.current() != 0 && k >= string(start) && (len(end) == 0 || k < string(end)) {
			live = append(live, []byte(k))
		}
	}
	for _, s := range fromDisk {
		// The value is not loaded: the key is about to become a tombstone.
		a.known[string(s.key)] = &entry{rec: s.rec}
		live = append(live, s.key)
	}
	// Sorted, so every replica adds the same writes in the same order
	// whatever the map iteration order was.
	sort.Slice(live, func(i, j int) bool { return bytes.Compare(live[i], live[j]) < 0 })
	for _, k := range live {
		a.del(k, a.known[string(k)])
	}
	return Result{Succeeded: true}, nil
}
