package conns

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// MaxMessageSize bounds gRPC messages both ways. A single value may be 4 MiB
// and batches carry several, so the gRPC default of 4 MiB for receives is
// too small.
const MaxMessageSize = 64 << 20

// ErrClosed is returned by Get after Close.
var ErrClosed = errors.New("conns: pool closed")

// Pool is safe for concurrent use.
type Pool struct {
	opts []grpc.DialOption

	mu struct {
		sync.Mutex
		// conns maps a store address to its connection.
		conns  map[string]*grpc.ClientConn
		closed bool
	}
}

// New returns an empty pool. opts are appended to the defaults (insecure
// transport, large message limits).
func New(opts ...grpc.DialOption) *Pool {
	p := &Pool{opts: append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
	}, opts...)}
	p.mu.conns = make(map[string]*grpc.ClientConn)
	return p
}

// Get returns the connection to addr, creating it on first use. Creating
// does not dial: gRPC connects in the background and the first RPC waits for
// it, so an unreachable store surfaces as an Unavailable RPC error.
func (p *Pool) Get(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return nil, ErrClosed
	}
	if cc, ok := p.mu.conns[addr]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(addr, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	p.mu.conns[addr] = cc
	return cc, nil
}

// Len is the number of open connections.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.mu.conns)
}

// Close closes every connection; in-flight RPCs on them fail with Canceled.
// Later calls to Get return ErrClosed. Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return nil
	}
	p.mu.closed = true
	var errs []error
	for addr, cc := range p.mu.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", addr, err))
		}
	}
	p.mu.conns = nil
	return errors.Join(errs...)
}
