package pdserver

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/pdpb"
)

// newGRPCServer assembles the gRPC server in one place: the interceptor
// chain (logging outermost, then metrics, then panic recovery so the outer
// two see the Internal error a panic becomes), the PD service, health and
// reflection.
func newGRPCServer(s *Server) (*grpc.Server, *health.Server) {
	g := grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.logUnary, s.metricsUnary, s.recoverUnary),
		grpc.ChainStreamInterceptor(s.logStream, s.metricsStream, s.recoverStream),
		// Clients keep Tso and heartbeat streams open for hours; let them
		// ping so dead peers are noticed.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	pdpb.RegisterPDServer(g, &service{s: s})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(g, hs)
	hs.SetServingStatus(pdpb.PD_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	reflection.Register(g)
	s.m.initialize()
	return g, hs
}

func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	d := time.Since(start)
	switch {
	case err != nil && status.Code(err) != codes.InvalidArgument && status.Code(err) != codes.NotFound:
		s.lg.Warn("request failed", zap.String("method", info.FullMethod), zap.Duration("took", d), zap.Error(err))
	case s.cfg.SlowRequestThreshold > 0 && d > s.cfg.SlowRequestThreshold:
		s.lg.Warn("slow request", zap.String("method", info.FullMethod), zap.Duration("took", d), zap.Error(err))
	default:
		if ce := s.lg.Check(zap.DebugLevel, "request"); ce != nil {
			ce.Write(zap.String("method", info.FullMethod), zap.Duration("took", d), zap.Error(err))
		}
	}
	return resp, err
}

func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	if err != nil && status.Code(err) != codes.Canceled {
		s.lg.Info("stream ended", zap.String("method", info.FullMethod), zap.Duration("took", time.Since(start)), zap.Error(err))
	}
	return err
}

func (s *Server) metricsUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	s.m.latency.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
	s.m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return resp, err
}

func (s *Server) metricsStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	s.m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return err
}

func (s *Server) recovered(method string, p any) error {
	s.m.panics.Inc()
	s.lg.Error("panic in handler", zap.String("method", method), zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
	return status.Error(codes.Internal, fmt.Sprintf("internal error in %s", method))
}

func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.recovered(info.FullMethod, p)
		}
	}()
	return h(ctx, req)
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.recovered(info.FullMethod, p)
		}
	}()
	return h(srv, ss)
}
