package conns

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// startHealthServer serves grpc.health.v1 on a free loopback port.
func startHealthServer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestPoolReusesConnections(t *testing.T) {
	a, b := startHealthServer(t), startHealthServer(t)
	p := New()
	t.Cleanup(func() { require.NoError(t, p.Close()) })

	ca, err := p.Get(a)
	require.NoError(t, err)
	again, err := p.Get(a)
	require.NoError(t, err)
	require.Same(t, ca, again)
	cb, err := p.Get(b)
	require.NoError(t, err)
	require.NotSame(t, ca, cb)
	require.Equal(t, 2, p.Len())

	for _, cc := range []*grpc.ClientConn{ca, cb} {
		resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
		require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.Status)
	}
}

func TestPoolClosed(t *testing.T) {
	p := New()
	_, err := p.Get(startHealthServer(t))
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	_, err = p.Get("127.0.0.1:1")
	require.ErrorIs(t, err, ErrClosed)
}
