package main

import (
	"context"
	"fmt"
)

// Driver is one system under test. Every method is one logical operation
// whose latency is recorded; implementations must be safe for concurrent use
// by many client goroutines.
type Driver interface {
	Put(ctx context.Context, key, value []byte) error
	// Get MUST be a linearizable read (the default in both systems).
	Get(ctx context.Context, key []byte) error
	// CASIncrement reads the key and writes value+1 conditioned on the
	// version it read, retrying on conflict; conflicts are counted.
	CASIncrement(ctx context.Context, key []byte) (conflicts int, err error)
	// Scan reads up to limit pairs starting at start.
	Scan(ctx context.Context, start []byte, limit int) error
	// TSO fetches one timestamp.
	TSO(ctx context.Context) error
	Close() error
}

// errUnsupported is returned by drivers for workloads they cannot run.
type errUnsupported struct{ driver, op string }

func (e errUnsupported) Error() string {
	return fmt.Sprintf("driver %s does not support %s", e.driver, e.op)
}

// newDriver builds the named driver with conns independent connections
// (clients round-robin over them).
func newDriver(ctx context.Context, name string, endpoints []string, conns int) (Driver, error) {
	switch name {
	case "flaredb":
		return newFlareDriver(ctx, endpoints, conns)
	case "etcd":
		return newEtcdDriver(ctx, endpoints, conns)
	default:
		return nil, fmt.Errorf("unknown driver %q (want flaredb or etcd)", name)
	}
}

// encodeCounter and decodeCounter give CAS-increment values a fixed width so
// both drivers write the same bytes.
func encodeCounter(n uint64) []byte { return []byte(fmt.Sprintf("%020d", n)) }

func decodeCounter(b []byte) uint64 {
	var n uint64
	if len(b) == 0 {
		return 0
	}
	_, _ = fmt.Sscanf(string(b), "%d", &n)
	return n
}
