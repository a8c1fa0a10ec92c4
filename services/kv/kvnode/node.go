package kvnode

import (
	"context"
	"errors"
	"fmt"
	"github.com/flaredb/flaredb/proto/raft_serverpb"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/libs/pdclient"
	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/metapb"
	"github.com/flaredb/flaredb/services/kv/internal/bootstrap"
	"github.com/flaredb/flaredb/services/kv/internal/server"
	"github.com/flaredb/flaredb/services/kv/kvconfig"
	"github.com/flaredb/flaredb/services/pd/pdserver"
)

// Version is reported to PD and on /status. Release builds set it with
// -ldflags "-X github.com/flaredb/flaredb/services/kv/kvnode.Version=...".
var Version = "0.1.0-dev"

// Config is the node's configuration; see package kvconfig.
type Config = kvconfig.Config

// NewConfig returns the default configuration (a dev-mode single node).
func NewConfig() Config { return kvconfig.NewConfig() }

// Node is one kv-service process's worth of parts. Create it with New, then
// Start; Stop releases everything. A Node is started at most once.
type Node struct {
	cfg      Config
	lg       *zap.Logger
	reg      prometheus.Registerer
	gatherer prometheus.Gatherer

	// Set by Start, read-only afterwards.
	startTime time.Time
	engine    storage.Engine
	pd        *pdserver.Server // embedded PD in dev mode, else nil
	pdc       *pdclient.Client
	pdEps     []string
	storeID   uint64
	advertise string
	backend   backend
	grpc      *server.Server
	lis       net.Listener
	status    *http.Server
	statusLis net.Listener
	stopLoops context.CancelFunc
	loops     sync.WaitGroup
	stopOnce  sync.Once
}

// New validates cfg and returns an unstarted node. Metrics are registered on
// reg at Start; if reg is also a prometheus.Gatherer (a *prometheus.Registry)
// the status server's /metrics serves it. A nil reg gets a fresh registry, a
// nil lg a no-op logger.
func New(cfg Config, lg *zap.Logger, reg prometheus.Registerer) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kvnode: invalid config: %w", err)
	}
	if lg == nil {
		lg = zap.NewNop()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	g, ok := reg.(prometheus.Gatherer)
	if !ok {
		lg.Warn("metrics registerer is not a gatherer; /metrics will be empty")
		g = prometheus.Gatherers{}
	}
	return &Node{cfg: cfg, lg: lg, reg: reg, gatherer: g}, nil
}

// Start brings the node up: engine, PD (embedded in dev mode), store
// identity, cluster bootstrap when needed, backend, servers, heartbeats. On
// error everything started so far is stopped again.
func (n *Node) Start() (err error) {
	if n.startTime != (time.Time{}) {
		return errors.New("kvnode: Start called twice")
	}
	n.startTime = time.Now()
	defer func() {
		if err != nil {
			n.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.PD.StartTimeout)
	defer cancel()

	if err := n.openEngine(); err != nil {
		return err
	}
	if err := n.connectPD(ctx); err != nil {
		return err
	}
	// Listen before registering with PD: the store's address is the one
	// actually bound (port 0 in tests).
	if n.lis, err = net.Listen("tcp", n.cfg.Addr); err != nil {
		return fmt.Errorf("kvnode: listen on %s: %w", n.cfg.Addr, err)
	}
	n.advertise = n.cfg.AdvertiseAddr
	if n.advertise == "" {
		n.advertise = n.lis.Addr().String()
	}
	if n.cfg.StatusAddr != "" {
		if n.statusLis, err = net.Listen("tcp", n.cfg.StatusAddr); err != nil {
			return fmt.Errorf("kvnode: listen on status address %s: %w", n.cfg.StatusAddr, err)
		}
	}
	if err := n.joinCluster(ctx); err != nil {
		return err
	}
	regions, err := bootstrap.LoadRegions(n.engine)
	if err != nil {
		return fmt.Errorf("kvnode: load regions: %w", err)
	}
	if n.backend, err = n.newBackend(n.engine, regions); err != nil {
		return fmt.Errorf("kvnode: start storage backend: %w", err)
	}
	if err := n.startServers(); err != nil {
		return err
	}
	n.startHeartbeats()
	n.lg.Info("kv node started",
		zap.Uint64("store-id", n.storeID),
		zap.String("addr", n.Addr()),
		zap.String("advertise-addr", n.advertise),
		zap.String("status-addr", n.StatusAddr()),
		zap.Strings("pd-endpoints", n.pdEps),
		zap.Int("region-count", n.backend.RegionCount()),
		zap.Bool("dev-mode", n.cfg.DevMode()))
	return nil
}

func (n *Node) openEngine() error {
	if err := os.MkdirAll(n.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("kvnode: create data dir: %w", err)
	}
	e, err := rocksdb.Open(filepath.Join(n.cfg.DataDir, "db"), n.cfg.RocksDB, n.lg.Named("rocksdb"))
	if err != nil {
		return fmt.Errorf("kvnode: open engine in %s: %w", n.cfg.DataDir, err)
	}
	n.engine = e
	return n.reg.Register(server.NewEngineCollector(e))
}

func (n *Node) connectPD(ctx context.Context) error {
	n.pdEps = n.cfg.PDEndpoints
	if n.cfg.DevMode() {
		pcfg := pdserver.NewConfig()
		pcfg.Addr = n.cfg.DevPDAddr
		pcfg.StatusAddr = ""
		pcfg.DataDir = filepath.Join(n.cfg.DataDir, "pd")
		// One store can hold one replica; a higher target would have PD
		// forever asking for replicas that cannot exist.
		pcfg.MaxReplicas = 1
		pd, err := pdserver.New(pcfg, n.lg.Named("pd"), n.reg)
		if err != nil {
			return fmt.Errorf("kvnode: embedded pd: %w", err)
		}
		n.pd = pd
		if err := pd.Start(); err != nil {
			return fmt.Errorf("kvnode: start embedded pd on %s: %w", pcfg.Addr, err)
		}
		n.pdEps = []string{pd.Addr()}
	}
	pdc, err := pdclient.New(ctx, n.pdEps, n.lg.Named("pdclient"), pdclient.WithRegisterer(n.reg))
	if err != nil {
		return fmt.Errorf("kvnode: connect to pd %v: %w", n.pdEps, err)
	}
	n.pdc = pdc
	return nil
}

// joinCluster establishes the store's identity, bootstraps the cluster if
// nobody has, and (re)registers the store with its current addresses.
func (n *Node) joinCluster(ctx context.Context) error {
	id, err := bootstrap.EnsureStoreID(ctx, n.engine, n.pdc, n.pdc.ClusterID(), n.lg)
	if err != nil {
		return fmt.Errorf("kvnode: store identity: %w", err)
	}
	n.storeID = id
	store := n.storeMeta()
	if _, err := bootstrap.EnsureCluster(ctx, n.engine, n.pdc, store, prepareFirstRegion, n.lg); err != nil {
		return fmt.Errorf("kvnode: %w", err)
	}
	if err := n.pdc.PutStore(ctx, store); err != nil {
		return fmt.Errorf("kvnode: register store with pd: %w", err)
	}
	return nil
}

func (n *Node) storeMeta() *metapb.Store {
	return &metapb.Store{
		Id:             n.storeID,
		Address:        n.advertise,
		StatusAddress:  n.StatusAddr(),
		State:          metapb.StoreState_Up,
		Version:        Version,
		StartTimestamp: n.startTime.Unix(),
	}
}

func (n *Node) startServers() error {
	srv, err := server.New(server.Config{
		Limits: server.Limits{
			MaxKeySize:   kvconfig.MaxKeySize,
			MaxValueSize: n.cfg.Limits.MaxValueSize,
			MaxBatchKeys: n.cfg.Limits.MaxBatchKeys,
			MaxScanLimit: n.cfg.Limits.MaxScanLimit,
		},
		SlowRequestThreshold: n.cfg.SlowRequestThreshold,
		MaxMessageSize:       n.cfg.Limits.MaxMessageSize,
	}, n.backend, n.lg.Named("grpc"), n.reg)
	if err != nil {
		return fmt.Errorf("kvnode: build grpc server: %w", err)
	}
	n.grpc = srv
	if rb, ok := n.backend.(*raftBackend); ok {
		// Other stores keep their Raft streams to this one open; the
		// server ends them on stop once client requests drained.
		srv.RegisterPeer(&raft_serverpb.Raft_ServiceDesc, rb.trans.Service(), rb.trans.StopReceiving)
	}
	go func() {
		if err := srv.Serve(n.lis); err != nil {
			n.lg.Error("grpc server failed", zap.Error(err))
		}
	}()
	if n.statusLis != nil {
		n.status = &http.Server{
			Handler:           server.NewStatusHandler(n.gatherer, n.statusInfo),
			ReadHeaderTimeout: 10 * time.Second,
		}
		go func() {
			if err := n.status.Serve(n.statusLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.lg.Error("status server failed", zap.Error(err))
			}
		}()
	}
	return nil
}

func (n *Node) statusInfo() server.StatusInfo {
	return server.StatusInfo{
		StoreID:          n.storeID,
		Address:          n.Addr(),
		AdvertiseAddress: n.advertise,
		StatusAddress:    n.StatusAddr(),
		PDEndpoints:      n.pdEps,
		DevMode:          n.cfg.DevMode(),
		Version:          Version,
		RegionCount:      n.backend.RegionCount(),
		StartTime:        n.startTime,
		UptimeSeconds:    time.Since(n.startTime).Seconds(),
	}
}

// Addr is the gRPC address listened on (the real port when configured with
// port 0). Valid after Start.
func (n *Node) Addr() string {
	if n.lis == nil {
		return ""
	}
	return n.lis.Addr().String()
}

// StatusAddr is the HTTP status address listened on, or "" when disabled.
func (n *Node) StatusAddr() string {
	if n.statusLis == nil {
		return ""
	}
	return n.statusLis.Addr().String()
}

// PDEndpoints are the PD addresses in use: the embedded PD's in dev mode.
func (n *Node) PDEndpoints() []string { return append([]string(nil), n.pdEps...) }

// StoreID is this store's id. Valid after Start.
func (n *Node) StoreID() uint64 { return n.storeID }

// Stop shuts down gracefully: heartbeats stop, the gRPC server stops
// accepting and finishes in-flight requests, then ends the Raft streams
// other stores keep open to this one (all within graceful-stop-timeout),
// then the backend, PD connection, embedded PD and engine (WAL synced) are
// closed. Stop is idempotent and safe after a failed Start.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		if n.stopLoops != nil {
			n.stopLoops()
			n.loops.Wait()
		}
		if n.grpc != nil {
			n.grpc.Stop(n.cfg.GracefulStopTimeout)
		} else if n.lis != nil {
			n.lis.Close()
		}
		if n.status != nil {
			ctx, cancel := context.WithTimeout(context.Background(), n.cfg.GracefulStopTimeout)
			if err := n.status.Shutdown(ctx); err != nil {
				n.lg.Warn("status server shutdown", zap.Error(err))
			}
			cancel()
		} else if n.statusLis != nil {
			n.statusLis.Close()
		}
		if n.backend != nil {
			if err := n.backend.Close(); err != nil {
				n.lg.Error("close storage backend", zap.Error(err))
			}
		}
		if n.pdc != nil {
			if err := n.pdc.Close(); err != nil {
				n.lg.Warn("close pd client", zap.Error(err))
			}
		}
		if n.pd != nil {
			n.pd.Stop()
		}
		if n.engine != nil {
			if err := n.engine.SyncWAL(); err != nil {
				n.lg.Error("sync engine wal", zap.Error(err))
			}
			if err := n.engine.Close(); err != nil {
				n.lg.Error("close engine", zap.Error(err))
			}
		}
		n.lg.Info("kv node stopped", zap.Uint64("store-id", n.storeID))
	})
}
