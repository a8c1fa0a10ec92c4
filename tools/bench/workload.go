package main

import (
	"context"
	"fmt"
	"math/rand"
)

// workload describes the mix of one run.
type workload struct {
	name     string
	readFrac float64 // for get/ycsb: fraction of operations that are reads
	op       string  // put, get, mixed, cas, scan, tso
}

var workloads = map[string]workload{
	"put":    {name: "put", op: "put"},
	"get":    {name: "get", op: "get"},
	"ycsb-a": {name: "ycsb-a", op: "mixed", readFrac: 0.50},
	"ycsb-b": {name: "ycsb-b", op: "mixed", readFrac: 0.95},
	"ycsb-c": {name: "ycsb-c", op: "mixed", readFrac: 1.0},
	"cas":    {name: "cas", op: "cas"},
	"scan":   {name: "scan", op: "scan"},
	"tso":    {name: "tso", op: "tso"},
}

// needsPreload is true for workloads that read keys that must exist.
func (w workload) needsPreload() bool {
	return w.op == "get" || w.op == "mixed" || w.op == "scan"
}

// keyChooser picks keys from [0, n) uniformly or with a zipfian skew. Each
// client goroutine owns one (math/rand sources are not goroutine-safe).
type keyChooser struct {
	rng  *rand.Rand
	zipf *rand.Zipf
	n    uint64
}

// newKeyChooser: Go's Zipf needs s > 1, so the skew is s=1.01 (YCSB's
// default theta is 0.99; the hot set is comparable).
func newKeyChooser(seed int64, n uint64, dist string) (*keyChooser, error) {
	rng := rand.New(rand.NewSource(seed))
	k := &keyChooser{rng: rng, n: n}
	switch dist {
	case "uniform":
	case "zipfian":
		k.zipf = rand.NewZipf(rng, 1.01, 1, n-1)
	default:
		return nil, fmt.Errorf("unknown key distribution %q (want uniform or zipfian)", dist)
	}
	return k, nil
}

func (k *keyChooser) next() uint64 {
	if k.zipf != nil {
		return k.zipf.Uint64()
	}
	return uint64(k.rng.Int63n(int64(k.n)))
}

func benchKey(prefix string, i uint64) []byte {
	return []byte(fmt.Sprintf("%s%012d", prefix, i))
}

// runOp performs one operation of w and returns CAS conflicts, if any.
func runOp(ctx context.Context, d Driver, w workload, kc *keyChooser, prefix string, value []byte, scanLimit int) (int, error) {
	key := benchKey(prefix, kc.next())
	switch w.op {
	case "put":
		return 0, d.Put(ctx, key, value)
	case "get":
		return 0, d.Get(ctx, key)
	case "mixed":
		if kc.rng.Float64() < w.readFrac {
			return 0, d.Get(ctx, key)
		}
		return 0, d.Put(ctx, key, value)
	case "cas":
		return d.CASIncrement(ctx, key)
	case "scan":
		return 0, d.Scan(ctx, key, scanLimit)
	case "tso":
		return 0, d.TSO(ctx)
	}
	return 0, fmt.Errorf("unknown op %q", w.op)
}
