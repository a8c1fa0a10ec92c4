package pdserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/internal/cluster"
	"github.com/flaredb/flaredb/services/pd/internal/id"
	"github.com/flaredb/flaredb/services/pd/internal/metastore"
	"github.com/flaredb/flaredb/services/pd/internal/tso"
)

// Version is reported by /status; release builds set it with -ldflags.
var Version = "dev"

// Server is one placement driver.
type Server struct {
	cfg     Config
	lg      *zap.Logger
	reg     prometheus.Registerer
	m       *metrics
	eng     storage.Engine
	tso     *tso.Allocator
	ids     *id.Allocator
	cluster *cluster.Cluster

	grpc      *grpc.Server
	health    *health.Server
	lis       net.Listener
	http      *http.Server
	statusLis net.Listener

	stopc    chan struct{} // closed by Stop; ends long-lived streams
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New opens PD's storage under cfg.DataDir and loads its state (cluster id,
// TSO bound, ID block, stores, regions). reg may be nil; lg may be nil.
func New(cfg Config, lg *zap.Logger, reg prometheus.Registerer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pd config: %w", err)
	}
	if lg == nil {
		lg = zap.NewNop()
	}
	eng, err := rocksdb.Open(cfg.DataDir, engineConfig(), lg.Named("storage"))
	if err != nil {
		return nil, fmt.Errorf("pd: open storage in %s: %w", cfg.DataDir, err)
	}
	s, err := newServer(cfg, eng, lg, reg)
	if err != nil {
		_ = eng.Close()
		return nil, err
	}
	return s, nil
}

// engineConfig sizes RocksDB for PD's few kilobytes of metadata, so an
// embedded PD costs a kv-service little memory.
func engineConfig() rocksdb.Config {
	c := rocksdb.NewConfig()
	c.BlockCacheSize = 8 << 20
	c.WriteBufferSize = 4 << 20
	c.MaxBackgroundJobs = 2
	return c
}

func newServer(cfg Config, eng storage.Engine, lg *zap.Logger, reg prometheus.Registerer) (*Server, error) {
	s := &Server{cfg: cfg, lg: lg, reg: reg, m: newMetrics(reg), eng: eng, stopc: make(chan struct{})}
	meta := metastore.New(eng)
	var now func() time.Time
	tk := &tso.Knobs{}
	if cfg.Knobs != nil {
		now = cfg.Knobs.Now
		tk.Now, tk.DisableTicker = cfg.Knobs.Now, cfg.Knobs.DisableTSOTicker
	}
	var err error
	if s.ids, err = id.New(meta, 0); err != nil {
		return nil, err
	}
	s.cluster, err = cluster.New(cluster.Config{
		MaxReplicas:      cfg.MaxReplicas,
		MaxStoreDownTime: cfg.MaxStoreDownTime,
		StepTimeout:      cfg.ScheduleStepTimeout,
		Now:              now,
	}, meta, s.ids, lg)
	if err != nil {
		return nil, err
	}
	s.tso, err = tso.New(tso.Config{TickInterval: cfg.TSOTickInterval, SaveWindow: cfg.TSOSaveWindow, Knobs: tk}, meta, lg.Named("tso"), reg)
	if err != nil {
		return nil, err
	}
	registerClusterCollector(reg, s)
	s.grpc, s.health = newGRPCServer(s)
	return s, nil
}

// Start listens on Addr (port 0 picks one) and StatusAddr and serves in the
// background.
func (s *Server) Start() error {
	lis, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("pd: listen on %s: %w", s.cfg.Addr, err)
	}
	s.lis = lis
	if s.cfg.StatusAddr != "" {
		sl, err := net.Listen("tcp", s.cfg.StatusAddr)
		if err != nil {
			_ = lis.Close()
			return fmt.Errorf("pd: listen on status address %s: %w", s.cfg.StatusAddr, err)
		}
		s.statusLis = sl
		s.http = &http.Server{Handler: s.statusHandler(), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.http.Serve(sl); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.lg.Error("status server stopped", zap.Error(err))
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(lis); err != nil {
			s.lg.Error("grpc server stopped", zap.Error(err))
		}
	}()
	s.lg.Info("pd started", zap.String("addr", s.Addr()), zap.String("status-addr", s.StatusAddr()),
		zap.Uint64("cluster-id", s.cluster.ID()), zap.String("data-dir", s.cfg.DataDir))
	return nil
}

// Addr is the actual gRPC listen address ("" before Start).
func (s *Server) Addr() string {
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// StatusAddr is the actual HTTP status address ("" when disabled or before
// Start).
func (s *Server) StatusAddr() string {
	if s.statusLis == nil {
		return ""
	}
	return s.statusLis.Addr().String()
}

// ClusterID is the persisted cluster id.
func (s *Server) ClusterID() uint64 { return s.cluster.ID() }

func (s *Server) advertiseAddr() string {
	if s.cfg.AdvertiseAddr != "" {
		return s.cfg.AdvertiseAddr
	}
	if a := s.Addr(); a != "" {
		return a
	}
	return s.cfg.Addr
}

func (s *Server) member() *pdpb.Member {
	return &pdpb.Member{Name: "pd", MemberId: s.cluster.ID(), ClientUrls: []string{s.advertiseAddr()}}
}

// Stop ends long-lived streams, waits up to GracefulStopTimeout for
// in-flight unary RPCs, then closes storage. It is idempotent.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.lg.Info("pd stopping")
		s.health.Shutdown()
		close(s.stopc)
		done := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(s.cfg.GracefulStopTimeout):
			s.lg.Warn("graceful stop timed out; closing connections")
			s.grpc.Stop()
			<-done
		}
		if s.http != nil {
			_ = s.http.Close()
		}
		s.wg.Wait()
		s.tso.Close()
		if err := s.eng.Close(); err != nil {
			s.lg.Error("closing storage", zap.Error(err))
		}
		s.lg.Info("pd stopped")
	})
}
