package server

import (
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// Config is what the gRPC server needs from the node's configuration.
type Config struct {
	Limits Limits
	// SlowRequestThreshold: requests slower than this are logged at warn.
	SlowRequestThreshold time.Duration
	// MaxMessageSize bounds one gRPC message in bytes, both directions.
	MaxMessageSize int
}

// Server is the assembled gRPC server of one node.
type Server struct {
	lg     *zap.Logger
	grpc   *grpc.Server
	health *health.Server
	kv     *kvService
	m      *metrics
	// calls counts the client RPCs in flight.
	calls *clientCalls
	// peerEnds end the streams of the peer services (RegisterPeer); set
	// before Serve.
	peerEnds []func()
}

// New assembles the gRPC server in one place: the interceptor chain
// (metrics and logging outside panic recovery), the KV service over st, the
// grpc.health.v1 service reporting SERVING, and reflection so grpcurl works.
// Its metrics are registered on reg with every KV series started at zero.
// Other services may be added before Serve: with Register, or with
// RegisterPeer those other stores call (the Raft transport).
func New(cfg Config, st Storage, lg *zap.Logger, reg prometheus.Registerer) (*Server, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	if st == nil {
		return nil, errors.New("server: nil Storage")
	}
	if cfg.MaxMessageSize <= 0 || cfg.SlowRequestThreshold <= 0 {
		return nil, errors.New("server: MaxMessageSize and SlowRequestThreshold must be positive")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	rec := &recorder{m: m, lg: lg, slow: cfg.SlowRequestThreshold}
	calls := newClientCalls()
	g := grpc.NewServer(
		grpc.ChainUnaryInterceptor(calls.unary, observeUnary(rec), recoverUnary(m, lg)),
		grpc.ChainStreamInterceptor(calls.stream, recoverStream(m, lg)),
		grpc.MaxRecvMsgSize(cfg.MaxMessageSize),
		grpc.MaxSendMsgSize(cfg.MaxMessageSize),
		// Clients keep idle connections alive with pings; allow them
		// rather than closing with ENHANCE_YOUR_CALM.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             5 * time.Second,
			PermitWithoutStream: true,
		}),
	)
	kv := &kvService{st: st, lim: cfg.Limits, rec: rec, maxMsg: cfg.MaxMessageSize, stopping: make(chan struct{})}

	kvrpcpb.RegisterKVServer(g, kv)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(kvrpcpb.KV_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, hs)
	reflection.Register(g)
	return &Server{lg: lg, grpc: g, health: hs, kv: kv, m: m, calls: calls}, nil
}

// Register adds another service for clients before Serve.
func (s *Server) Register(desc *grpc.ServiceDesc, impl any) {
	s.grpc.RegisterService(desc, impl)
}

// Serve accepts connections on lis until Stop. It returns nil after a stop.
func (s *Server) Serve(lis net.Listener) error {
	err := s.grpc.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop stops the server within timeout, in the order the stores depend on
// (see RegisterPeer):
//  1. health reports NOT_SERVING, so health checks steer clients away, and
//     the server stops accepting connections and RPCs; BatchCommands streams
//     stop taking commands, answer the ones in flight and end, so clients
//     reconnect elsewhere;
//  2. once client RPCs drained, the streams of peer services end;
//  3. the graceful stop completes.
//
// When timeout expires first, the peer streams end and the remaining
// connections are closed.
func (s *Server) Stop(timeout time.Duration) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	s.health.Shutdown()
	s.kv.stop()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-s.calls.idle():
		s.endPeerStreams()
		select {
		case <-done:
			return
		case <-timer.C:
		}
	case <-timer.C:
		s.endPeerStreams()
	}
	s.lg.Warn("graceful stop timed out; closing remaining connections", zap.Duration("timeout", timeout))
	s.grpc.Stop()
	<-done
}
