package kvcmd_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/kvcmd"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
)

// These benchmarks measure the versioned data model on top of a RocksDB
// engine: what one put, get or scan costs in engine (cgo) calls. The raw
// engine numbers to compare against are in libs/storage/rocksdb.

const (
	benchKeys      = 20000
	benchValueSize = 100
)

func benchEngine(b *testing.B) *rocksdb.Engine {
	b.Helper()
	e, err := rocksdb.Open(b.TempDir(), rocksdb.NewConfig(), nil)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, e.Close()) })
	return e
}

func benchKey(i uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("bench/k"), i)
}

// benchPreload puts benchKeys keys of benchValueSize bytes.
func benchPreload(b *testing.B, e storage.Engine) {
	b.Helper()
	value := make([]byte, benchValueSize)
	wb := e.NewWriteBatch()
	defer wb.Close()
	a := kvcmd.NewApplier(e, wb)
	for start := 0; start < benchKeys; start += 1000 {
		wb.Clear()
		a.Reset(e, wb)
		for i := start; i < start+1000; i++ {
			_, err := a.Apply(&kvcmd.Command{Op: kvcmd.OpPut, Key: benchKey(uint64(i)), Value: value})
			require.NoError(b, err)
		}
		require.NoError(b, e.Write(wb, storage.WriteOptions{}))
	}
}

// BenchmarkApplyPut applies group puts of existing keys into one batch and
// writes it without sync, as Raft apply does with committed entries.
func BenchmarkApplyPut(b *testing.B) {
	for _, group := range []int{1, 100} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			e := benchEngine(b)
			benchPreload(b, e)
			value := make([]byte, benchValueSize)
			wb := e.NewWriteBatch()
			defer wb.Close()
			a := kvcmd.NewApplier(e, wb)
			rng := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				wb.Clear()
				a.Reset(e, wb)
				for j := 0; j < group; j++ {
					cmd := &kvcmd.Command{Op: kvcmd.OpPut, Key: benchKey(rng.Uint64N(benchKeys)), Value: value}
					if _, err := a.Apply(cmd); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.Write(wb, storage.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// BenchmarkGet reads one key through kvcmd.Get, from the live engine (what
// a caller without a snapshot pays) and from an open snapshot.
func BenchmarkGet(b *testing.B) {
	e := benchEngine(b)
	benchPreload(b, e)
	snap, err := e.NewSnapshot()
	require.NoError(b, err)
	defer snap.Close()
	for _, c := range []struct {
		name string
		r    storage.Reader
	}{{"engine", e}, {"snapshot", snap}} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < b.N; i++ {
				if _, ver, err := kvcmd.Get(c.r, benchKey(rng.Uint64N(benchKeys))); err != nil || ver == 0 {
					b.Fatal(err, ver)
				}
			}
		})
	}
}

// BenchmarkScan100 reads 100 keys with values through kvcmd.Scan.
func BenchmarkScan100(b *testing.B) {
	e := benchEngine(b)
	benchPreload(b, e)
	snap, err := e.NewSnapshot()
	require.NoError(b, err)
	defer snap.Close()
	for _, c := range []struct {
		name string
		r    storage.Reader
	}{{"engine", e}, {"snapshot", snap}} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < b.N; i++ {
				kvs, err := kvcmd.Scan(c.r, benchKey(rng.Uint64N(benchKeys-100)), nil, 100, false, false)
				if err != nil || len(kvs) != 100 {
					b.Fatal(err, len(kvs))
				}
			}
		})
	}
}
