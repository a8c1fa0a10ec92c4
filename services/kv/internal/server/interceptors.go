package server

import (
	"context"
	"path"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

// The chain runs observe (metrics and logging) outside recover, so a panic
// converted to Internal is counted and logged like any other failure.

// recorder records metrics for every request and logs it: at debug always,
// at warn when slower than slow. Never at info: a busy store would drown its
// own log. A unary RPC and one command of a BatchCommands stream are
// recorded alike, under the unary method's name.
type recorder struct {
	m    *metrics
	lg   *zap.Logger
	slow time.Duration
}

// observeUnary records every unary request through o.
func observeUnary(o *recorder) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return o.record(ctx, path.Base(info.FullMethod), req, handler)
	}
}

// record runs handler on req as method (e.g. "RawPut") and records it.
func (o *recorder) record(ctx context.Context, method string, req any, handler grpc.UnaryHandler) (any, error) {
	m := o.m
	m.inFlight.Inc()
	start := time.Now()
	resp, err := handler(ctx, req)
	took := time.Since(start)
	m.inFlight.Dec()
	code := status.Code(err)
	m.requests.WithLabelValues(method, code.String()).Inc()
	m.duration.WithLabelValues(method).Observe(took.Seconds())

	level := zap.DebugLevel
	msg := "handled request"
	if took > o.slow {
		level, msg = zap.WarnLevel, "slow request"
	}
	if ce := o.lg.Check(level, msg); ce != nil {
		fields := []zap.Field{
			zap.String("method", method),
			zap.String("code", code.String()),
			zap.Duration("took", took),
		}
		if p, ok := peer.FromContext(ctx); ok {
			fields = append(fields, zap.Stringer("remote-addr", p.Addr))
		}
		if r, ok := req.(interface{ GetContext() *kvrpcpb.Context }); ok {
			fields = append(fields, zap.Uint64("region-id", r.GetContext().GetRegionId()))
		}
		if err != nil {
			fields = append(fields, zap.Error(err))
		}
		ce.Write(fields...)
	}
	return resp, err
}

// recoverUnary turns a handler panic into codes.Internal so one bad request
// cannot take the store down, and logs it with the stack.
func recoverUnary(m *metrics, lg *zap.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return callRecovering(ctx, m, lg, info.FullMethod, req, handler)
	}
}

// callRecovering runs handler, turning its panic into codes.Internal.
func callRecovering(ctx context.Context, m *metrics, lg *zap.Logger, fullMethod string, req any, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, recovered(m, lg, fullMethod, r)
		}
	}()
	return handler(ctx, req)
}

// recoverStream is recoverUnary for streaming RPCs (health watch,
// reflection).
func recoverStream(m *metrics, lg *zap.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = recovered(m, lg, info.FullMethod, r)
			}
		}()
		return handler(srv, ss)
	}
}

func recovered(m *metrics, lg *zap.Logger, method string, r any) error {
	m.panics.Inc()
	lg.Error("panic in grpc handler",
		zap.String("method", method),
		zap.Any("panic", r),
		zap.ByteString("stack", debug.Stack()))
	return status.Errorf(codes.Internal, "internal error in %s", path.Base(method))
}
