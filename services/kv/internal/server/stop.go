package server

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
)

// A graceful stop has an order. Client requests drain first; only then do
// the streams of peer services (the Raft transport) end, because until then
// a request may depend on them: a write commits only once followers
// acknowledge it, over their streams to this store. Peers keep those
// streams open for as long as the store runs, so ending them is what lets
// gRPC's graceful stop finish rather than wait out its timeout.

// RegisterPeer adds, before Serve, a service that other stores call rather
// than clients. Its RPCs do not count as client requests, and Stop calls end
// once client requests drained (or the timeout expired); end MUST make the
// service's handlers return and refuse new calls, and may be called again.
func (s *Server) RegisterPeer(desc *grpc.ServiceDesc, impl any, end func()) {
	s.grpc.RegisterService(desc, impl)
	s.calls.peers[desc.ServiceName] = true
	s.peerEnds = append(s.peerEnds, end)
}

// endPeerStreams ends the streams of every peer service.
func (s *Server) endPeerStreams() {
	for _, end := range s.peerEnds {
		end()
	}
}

// clientCalls counts the client RPCs in flight (every RPC but those of peer
// services, a BatchCommands stream counting as one) so Stop can tell when
// they drained.
type clientCalls struct {
	// peers holds the names of the peer services; written only before
	// Serve, so read without a lock.
	peers map[string]bool
	n     atomic.Int64
	mu    struct {
		sync.Mutex
		// idlec is closed when n drops to zero while someone waits;
		// nil otherwise.
		idlec chan struct{}
	}
}

func newClientCalls() *clientCalls { return &clientCalls{peers: make(map[string]bool)} }

// isPeer reports whether fullMethod ("/package.Service/Method") belongs to a
// peer service.
func (c *clientCalls) isPeer(fullMethod string) bool {
	svc, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	return c.peers[svc]
}

func (c *clientCalls) begin() { c.n.Add(1) }

func (c *clientCalls) end() {
	if c.n.Add(-1) != 0 {
		return
	}
	c.mu.Lock()
	if c.mu.idlec != nil && c.n.Load() == 0 {
		close(c.mu.idlec)
		c.mu.idlec = nil
	}
	c.mu.Unlock()
}

// idle returns a channel closed once no client RPC is in flight. A call
// that starts after that is not waited for. Stop asks as it starts gRPC's
// graceful stop, so only a call that races with the GOAWAY to its client
// can start then; it may run without the peer streams, and fail as it could
// had the store died.
func (c *clientCalls) idle() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n.Load() == 0 {
		done := make(chan struct{})
		close(done)
		return done
	}
	if c.mu.idlec == nil {
		c.mu.idlec = make(chan struct{})
	}
	return c.mu.idlec
}

// unary counts the client's unary RPCs; it is first in the chain.
func (c *clientCalls) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if c.isPeer(info.FullMethod) {
		return handler(ctx, req)
	}
	c.begin()
	defer c.end()
	return handler(ctx, req)
}

// stream counts the client's streaming RPCs; it is first in the chain.
func (c *clientCalls) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if c.isPeer(info.FullMethod) {
		return handler(srv, ss)
	}
	c.begin()
	defer c.end()
	return handler(srv, ss)
}
