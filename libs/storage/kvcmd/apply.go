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
	// known caches, per key touched in this batch, its record and value as
	// of the end of the commands applied so far.
	known map[string]*entry
	// scratch is reused to encode records; the batch copies them.
	scratch []byte
}

// entry is the state of one key as the batch so far leaves it.
type entry struct {
	rec   record
	value []byte // the live value; nil when the key is deleted or absent
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

// Reset prepares the Applier for the next batch, forgetting what the last
// one wrote; call it after that batch was written (or dropped).
func (a *Applier) Reset(r storage.Reader, wb storage.WriteBatch) {
	a.r, a.wb = r, wb
	clear(a.known)
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
		return Result{Version: cur, Value: e.value}, nil
	}
	if cmd.Delete {
		a.del(cmd.Key, e)
		return Result{Succeeded: true}, nil
	}
	return Result{Succeeded: true, Version: a.put(cmd.Key, cmd.Value, e), Value: cmd.Value}, nil
}

// load returns the key's entry, reading its record (version, deleted flag
// and value in one engine read) on first use.
func (a *Applier) load(key []byte) (*entry, error) {
	if e, ok := a.known[string(key)]; ok {
		return e, nil
	}
	e := &entry{}
	b, err := a.r.Get(storage.CFDefault, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// Never existed: version 0, no value.
	case err != nil:
		return nil, fmt.Errorf("kvcmd: read %q: %w", key, err)
	default:
		// The engine's Get returns a copy owned by us, so the value may
		// stay a subslice of it for as long as the cache and results need.
		if e.rec, e.value, err = decodeRecord(b); err != nil {
			return nil, fmt.Errorf("kvcmd: key %q: %w", key, err)
		}
	}
	a.known[string(key)] = e
	return e, nil
}

// put gives the key the version after the last one it ever had.
func (a *Applier) put(key, value []byte, e *entry) uint64 {
	e.rec = record{version: e.rec.version + 1}
	e.value = value
	a.write(key, e)
	return e.rec.version
}

// del turns a live key into a tombstone that keeps its last version.
func (a *Applier) del(key []byte, e *entry) {
	if e.rec.current() == 0 {
		return
	}
	e.rec.deleted = true
	e.value = nil
	a.write(key, e)
}

// write adds the key's record, as e now has it, to the batch. A tombstone
// is a put like any other record, never an engine delete.
func (a *Applier) write(key []byte, e *entry) {
	a.scratch = appendRecord(a.scratch[:0], e.rec, e.value)
	a.wb.Put(storage.CFDefault, key, a.scratch) // the batch copies
	if cap(a.scratch) > maxScratch {
		a.scratch = nil
	}
}

// deleteRange tombstones every live key in [start, end) (end empty: to the
// end of the key space), in key order. Tombstones are puts of the keys one
// by one; no engine range delete is involved, since the records must stay.
func (a *Applier) deleteRange(start, end []byte) (Result, error) {
	// Keys already touched by this batch are judged by their cached state
	// (they may have been created or deleted earlier in the batch); the
	// rest by their stored record.
	type stored struct {
		key []byte
		rec record
	}
	var fromDisk []stored
	it, err := a.r.NewIterator(storage.CFDefault, storage.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return Result{}, fmt.Errorf("kvcmd: delete range: %w", err)
	}
	for ; it.Valid(); it.Next() {
		k := it.Key()
		if _, ok := a.known[string(k)]; ok {
			continue
		}
		rec, _, err := decodeRecord(it.Value())
		if err != nil {
			it.Close()
			return Result{}, fmt.Errorf("kvcmd: delete range: key %q: %w", k, err)
		}
		if rec.current() != 0 {
			fromDisk = append(fromDisk, stored{key: append([]byte(nil), k...), rec: rec})
		}
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
