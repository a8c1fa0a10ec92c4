package metastore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/keys"
	"github.com/flaredb/flaredb/proto/metapb"
)

// Every PD key lives under keys.PDPrefix() in storage.CFMeta, so an
// embedded PD shares an engine with a kv-service without collisions.
var (
	keyTSOSavedUntil = keys.PDKey("tso", "saved-until")
	keyIDAllocEnd    = keys.PDKey("id", "alloc-end")
	keyClusterID     = keys.PDKey("cluster", "id")
	keyBootstrapped  = keys.PDKey("cluster", "bootstrapped")
	prefixStore      = keys.PDPrefix("stores")
	prefixRegion     = keys.PDPrefix("regions")
)

// ErrCorrupt reports a stored value that cannot be decoded.
var ErrCorrupt = errors.New("metastore: corrupt value")

// Store persists PD state on a storage.Engine. It is safe for concurrent use;
// every write is synced before it returns because callers hand out what they
// persisted (timestamps, IDs) right after.
type Store struct {
	eng storage.Engine
}

// New wraps eng. The engine stays owned by the caller.
func New(eng storage.Engine) *Store { return &Store{eng: eng} }

func (s *Store) put(kvs ...[]byte) error {
	wb := s.eng.NewWriteBatch()
	defer wb.Close()
	for i := 0; i+1 < len(kvs); i += 2 {
		wb.Put(storage.CFMeta, kvs[i], kvs[i+1])
	}
	return s.eng.Write(wb, storage.WriteOptions{Sync: true})
}

func (s *Store) loadUint64(key []byte) (uint64, bool, error) {
	v, err := s.eng.Get(storage.CFMeta, key)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("%w: key %q has %d bytes, want 8", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func encodeUint64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

// LoadTSOSavedUntil returns the persisted TSO upper bound in Unix
// milliseconds, or 0 if none was ever saved.
func (s *Store) LoadTSOSavedUntil() (int64, error) {
	v, _, err := s.loadUint64(keyTSOSavedUntil)
	return int64(v), err
}

// SaveTSOSavedUntil durably records the TSO upper bound.
func (s *Store) SaveTSOSavedUntil(ms int64) error {
	return s.put(keyTSOSavedUntil, encodeUint64(uint64(ms)))
}

// LoadIDAllocEnd returns the end of the last persisted ID block (0 if none).
func (s *Store) LoadIDAllocEnd() (uint64, error) {
	v, _, err := s.loadUint64(keyIDAllocEnd)
	return v, err
}

// SaveIDAllocEnd durably records the end of the current ID block.
func (s *Store) SaveIDAllocEnd(end uint64) error {
	return s.put(keyIDAllocEnd, encodeUint64(end))
}

// LoadClusterID returns the persisted cluster id and whether one exists.
func (s *Store) LoadClusterID() (uint64, bool, error) {
	return s.loadUint64(keyClusterID)
}

// SaveClusterID durably records the cluster id.
func (s *Store) SaveClusterID(id uint64) error {
	return s.put(keyClusterID, encodeUint64(id))
}

// LoadBootstrapped reports whether Bootstrap completed.
func (s *Store) LoadBootstrapped() (bool, error) {
	v, ok, err := s.loadUint64(keyBootstrapped)
	return ok && v == 1, err
}

// SaveBootstrap writes the first store, the first region and the
// bootstrapped flag in one atomic batch, so a crash never leaves a half
// bootstrapped cluster.
func (s *Store) SaveBootstrap(store *metapb.Store, region *metapb.Region) error {
	sv, err := proto.Marshal(store)
	if err != nil {
		return err
	}
	rv, err := proto.Marshal(region)
	if err != nil {
		return err
	}
	return s.put(storeKey(store.GetId()), sv, regionKey(region.GetId()), rv, keyBootstrapped, encodeUint64(1))
}

func storeKey(id uint64) []byte  { return keys.PDKey("stores", keys.PDID(id)) }
func regionKey(id uint64) []byte { return keys.PDKey("regions", keys.PDID(id)) }

// SaveStore durably records a store's metadata.
func (s *Store) SaveStore(store *metapb.Store) error {
	v, err := proto.Marshal(store)
	if err != nil {
		return err
	}
	return s.put(storeKey(store.GetId()), v)
}

// SaveRegion durably records a region's metadata.
func (s *Store) SaveRegion(region *metapb.Region) error {
	v, err := proto.Marshal(region)
	if err != nil {
		return err
	}
	return s.put(regionKey(region.GetId()), v)
}

// DeleteRegions removes the regions with the given ids (replaced by a split
// or merge that PD learned about).
func (s *Store) DeleteRegions(ids []uint64) error {
	if len(ids) == 0 {
		return nil
	}
	wb := s.eng.NewWriteBatch()
	defer wb.Close()
	for _, id := range ids {
		wb.Delete(storage.CFMeta, regionKey(id))
	}
	return s.eng.Write(wb, storage.WriteOptions{Sync: true})
}

// LoadStores returns every persisted store.
func (s *Store) LoadStores() ([]*metapb.Store, error) {
	var out []*metapb.Store
	err := s.scan(prefixStore, func(k, v []byte) error {
		st := &metapb.Store{}
		if err := proto.Unmarshal(v, st); err != nil {
			return fmt.Errorf("%w: store key %q: %v", ErrCorrupt, k, err)
		}
		out = append(out, st)
		return nil
	})
	return out, err
}

// LoadRegions returns every persisted region.
func (s *Store) LoadRegions() ([]*metapb.Region, error) {
	var out []*metapb.Region
	err := s.scan(prefixRegion, func(k, v []byte) error {
		r := &metapb.Region{}
		if err := proto.Unmarshal(v, r); err != nil {
			return fmt.Errorf("%w: region key %q: %v", ErrCorrupt, k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (s *Store) scan(prefix []byte, fn func(k, v []byte) error) error {
	it, err := s.eng.NewIterator(storage.CFMeta, storage.IterOptions{
		LowerBound: prefix,
		UpperBound: keys.PrefixEnd(prefix),
	})
	if err != nil {
		return err
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Err()
}
