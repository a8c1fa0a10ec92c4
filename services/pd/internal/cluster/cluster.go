package cluster

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/internal/schedule"
)

// Storage is the durable side of the cluster model; every Save MUST be
// durable when it returns.
type Storage interface {
	LoadClusterID() (uint64, bool, error)
	SaveClusterID(id uint64) error
	LoadBootstrapped() (bool, error)
	SaveBootstrap(store *metapb.Store, region *metapb.Region) error
	SaveStore(store *metapb.Store) error
	SaveRegion(region *metapb.Region) error
	DeleteRegions(ids []uint64) error
	LoadStores() ([]*metapb.Store, error)
	LoadRegions() ([]*metapb.Region, error)
}

// IDAllocator hands out cluster-unique ids.
type IDAllocator interface {
	Alloc() (uint64, error)
	Reserve(floor uint64) error
}

// Config tunes the model.
type Config struct {
	MaxReplicas      int
	MaxStoreDownTime time.Duration
	// StepTimeout is how long a scheduling step may stay in flight
	// without the region's epoch moving before it may be re-issued.
	StepTimeout time.Duration
	// Now replaces time.Now in tests; nil means time.Now.
	Now func() time.Time
}

type storeEntry struct {
	meta          *metapb.Store
	stats         *pdpb.StoreStats
	lastHeartbeat time.Time // zero until the first heartbeat since PD start
	lastSeen      time.Time // liveness baseline: put, heartbeat or PD start
}

type regionEntry struct {
	region *metapb.Region
	leader *metapb.Peer
	size   uint64
	keys   uint64
}

// Cluster is safe for concurrent use.
type Cluster struct {
	lg        *zap.Logger
	cfg       Config
	st        Storage
	ids       IDAllocator
	sched     *schedule.Scheduler
	now       func() time.Time
	clusterID uint64
	// mu protects the model below and serialises its persistence, so the
	// durable and in-memory views change in the same order.
	mu struct {
		sync.RWMutex
		bootstrapped bool
		stores       map[uint64]*storeEntry
		regions      map[uint64]*regionEntry
		index        regionIndex
	}
}

// New loads (or creates, on first start) the cluster id and the persisted
// stores and regions.
func New(cfg Config, st Storage, ids IDAllocator, lg *zap.Logger) (*Cluster, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	c := &Cluster{lg: lg, cfg: cfg, st: st, ids: ids, now: cfg.Now}
	if c.now == nil {
		c.now = time.Now
	}
	c.sched = schedule.New(cfg.MaxReplicas, cfg.StepTimeout)
	c.mu.stores = make(map[uint64]*storeEntry)
	c.mu.regions = make(map[uint64]*regionEntry)

	id, ok, err := st.LoadClusterID()
	if err != nil {
		return nil, fmt.Errorf("cluster: load id: %w", err)
	}
	if !ok {
		id, err = randomID()
		if err != nil {
			return nil, err
		}
		if err := st.SaveClusterID(id); err != nil {
			return nil, fmt.Errorf("cluster: save id: %w", err)
		}
		lg.Info("created cluster id", zap.Uint64("cluster-id", id))
	}
	c.clusterID = id
	if c.mu.bootstrapped, err = st.LoadBootstrapped(); err != nil {
		return nil, fmt.Errorf("cluster: load bootstrapped: %w", err)
	}
	stores, err := st.LoadStores()
	if err != nil {
		return nil, fmt.Errorf("cluster: load stores: %w", err)
	}
	start := c.now()
	for _, s := range stores {
		// A restarted PD gives every store a full MaxStoreDownTime to
		// heartbeat before calling it down.
		c.mu.stores[s.GetId()] = &storeEntry{meta: s, lastSeen: start}
	}
	regions, err := st.LoadRegions()
	if err != nil {
		return nil, fmt.Errorf("cluster: load regions: %w", err)
	}
	for _, r := range regions {
		e := &regionEntry{region: r}
		c.mu.regions[r.GetId()] = e
		c.mu.index.insert(e)
	}
	lg.Info("loaded cluster", zap.Uint64("cluster-id", id), zap.Bool("bootstrapped", c.mu.bootstrapped),
		zap.Int("stores", len(stores)), zap.Int("regions", len(regions)))
	return c, nil
}

func randomID() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("cluster: random id: %w", err)
		}
		// Keep it positive as an int64 so every tool prints it the same.
		if id := binary.BigEndian.Uint64(b[:]) >> 1; id != 0 {
			return id, nil
		}
	}
}

// ID is the cluster id, fixed at the first start.
func (c *Cluster) ID() uint64 { return c.clusterID }

// IsBootstrapped reports whether Bootstrap has completed.
func (c *Cluster) IsBootstrapped() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.mu.bootstrapped
}

// Bootstrap records the first store and the first region, which must cover
// the whole key space and have a peer on that store.
func (c *Cluster) Bootstrap(store *metapb.Store, region *metapb.Region) error {
	if err := validateStore(store); err != nil {
		return err
	}
	if region == nil || region.GetId() == 0 {
		return fmt.Errorf("%w: bootstrap region must have a non-zero id", ErrInvalidArgument)
	}
	if len(region.GetStartKey()) != 0 || len(region.GetEndKey()) != 0 {
		return fmt.Errorf("%w: bootstrap region must cover the whole key space (empty start and end key)", ErrInvalidArgument)
	}
	floor := max(store.GetId(), region.GetId())
	onStore := false
	for _, p := range region.GetPeers() {
		if p.GetId() == 0 {
			return fmt.Errorf("%w: bootstrap region peer has id 0", ErrInvalidArgument)
		}
		onStore = onStore || p.GetStoreId() == store.GetId()
		floor = max(floor, p.GetId())
	}
	if !onStore {
		return fmt.Errorf("%w: bootstrap region needs a peer on store %d", ErrInvalidArgument, store.GetId())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.bootstrapped {
		return ErrAlreadyBootstrapped
	}
	if err := c.ids.Reserve(floor); err != nil {
		return err
	}
	store = cloneStore(store)
	store.NodeState, store.LastHeartbeatUnixMs = 0, 0
	region = proto.Clone(region).(*metapb.Region)
	if region.RegionEpoch == nil {
		region.RegionEpoch = &metapb.RegionEpoch{}
	}
	if err := c.st.SaveBootstrap(store, region); err != nil {
		return fmt.Errorf("cluster: save bootstrap: %w", err)
	}
	c.mu.bootstrapped = true
	c.mu.stores[store.GetId()] = &storeEntry{meta: store, lastSeen: c.now()}
	e := &regionEntry{region: region}
	c.mu.regions[region.GetId()] = e
	c.mu.index.insert(e)
	c.lg.Info("cluster bootstrapped", zap.Uint64("store-id", store.GetId()), zap.Uint64("region-id", region.GetId()))
	return nil
}

// Scheduler exposes the scheduler for queued operators.
func (c *Cluster) Scheduler() *schedule.Scheduler { return c.sched }
