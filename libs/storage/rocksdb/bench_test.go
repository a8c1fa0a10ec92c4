package rocksdb_test

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
	k := make([]byte, 0, 16)
	k = append(k, "bench/k"...)
	return binary.BigEndian.AppendUint64(k, i)
}

// preload writes benchKeys keys through kvcmd, so both the raw and the
// versioned benchmarks have data to read.
func preload(b *testing.B, e storage.Engine) {
	b.Helper()
	value := make([]byte, benchValueSize)
	for start := 0; start < benchKeys; start += 1000 {
		wb := e.NewWriteBatch()
		a := kvcmd.NewApplier(e, wb)
		for i := start; i < start+1000; i++ {
			_, err := a.Apply(&kvcmd.Command{Op: kvcmd.OpPut, Key: benchKey(uint64(i)), Value: value})
			require.NoError(b, err)
		}
		require.NoError(b, e.Write(wb, storage.WriteOptions{}))
		wb.Close()
	}
}

func BenchmarkPut(b *testing.B) {
	for _, sync := range []bool{false, true} {
		for _, batch := range []int{1, 100} {
			name := fmt.Sprintf("sync=%v/batch=%d", sync, batch)
			b.Run(name, func(b *testing.B) {
				e := benchEngine(b)
				value := make([]byte, benchValueSize)
				wb := e.NewWriteBatch()
				defer wb.Close()
				rng := rand.New(rand.NewPCG(1, 2))
				b.SetBytes(int64(batch * benchValueSize))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					wb.Clear()
					for j := 0; j < batch; j++ {
						wb.Put(storage.CFDefault, benchKey(rng.Uint64()), value)
					}
					if err := e.Write(wb, storage.WriteOptions{Sync: sync}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "keys/s")
			})
		}
	}
}

func BenchmarkGet(b *testing.B) {
	e := benchEngine(b)
	preload(b, e)
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("raw", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := e.Get(storage.CFDefault, benchKey(rng.Uint64N(benchKeys))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("versioned", func(b *testing.B) {
		snap, err := e.NewSnapshot()
		require.NoError(b, err)
		defer snap.Close()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, _, err := kvcmd.Get(snap, benchKey(rng.Uint64N(benchKeys))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkScan100(b *testing.B) {
	e := benchEngine(b)
	preload(b, e)
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("raw", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			it, err := e.NewIterator(storage.CFDefault, storage.IterOptions{LowerBound: benchKey(rng.Uint64N(benchKeys - 100))})
			if err != nil {
				b.Fatal(err)
			}
			for n := 0; n < 100 && it.Valid(); n++ {
				_, _ = it.Key(), it.Value()
				it.Next()
			}
			it.Close()
		}
	})
	b.Run("versioned", func(b *testing.B) {
		snap, err := e.NewSnapshot()
		require.NoError(b, err)
		defer snap.Close()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			kvs, err := kvcmd.Scan(snap, benchKey(rng.Uint64N(benchKeys-100)), nil, 100, false, false)
			if err != nil || len(kvs) != 100 {
				b.Fatal(err, len(kvs))
			}
		}
	})
}

// BenchmarkCAS measures the versioned read-modify-write: apply (read the
// key's record, add one put) plus the write, without sync. group=100
// applies 100 CAS on distinct keys into one batch, as Raft apply groups
// committed entries.
func BenchmarkCAS(b *testing.B) {
	for _, group := range []int{1, 100} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			e := benchEngine(b)
			preload(b, e)
			value := make([]byte, benchValueSize)
			versions := make([]uint64, benchKeys)
			for i := range versions {
				versions[i] = 1
			}
			wb := e.NewWriteBatch()
			defer wb.Close()
			a := kvcmd.NewApplier(e, wb)
			b.ResetTimer()
			next := 0
			for i := 0; i < b.N; i++ {
				wb.Clear()
				a.Reset(e, wb)
				for j := 0; j < group; j++ {
					k := next % benchKeys
					next++
					res, err := a.Apply(&kvcmd.Command{Op: kvcmd.OpCAS, Key: benchKey(uint64(k)), ExpectedVersion: versions[k], Value: value})
					if err != nil || !res.Succeeded {
						b.Fatal(err, res)
					}
					versions[k] = res.Version
				}
				if err := e.Write(wb, storage.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "cas/s")
		})
	}
}

// BenchmarkMemtableFill measures an unsynced write of random keys once the
// memtables are full, with the old single 64 MiB memtable and with the
// default 8 MiB ones merged four to a flush (see NewConfig): inserting
// into a memtable costs more the larger it is.
func BenchmarkMemtableFill(b *testing.B) {
	for _, c := range []struct {
		name               string
		size               uint64
		maxNumber, toMerge int
	}{
		{"64MiB", 64 << 20, 4, 1},
		{"8MiBx4", 8 << 20, 8, 4},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := rocksdb.NewConfig()
			cfg.WriteBufferSize, cfg.MaxWriteBufferNumber, cfg.MinWriteBufferNumberToMerge = c.size, c.maxNumber, c.toMerge
			e, err := rocksdb.Open(b.TempDir(), cfg, nil)
			require.NoError(b, err)
			b.Cleanup(func() { require.NoError(b, e.Close()) })
			value := make([]byte, benchValueSize)
			rng := rand.New(rand.NewPCG(1, 2))
			write := func(n int) {
				for n > 0 {
					wb := e.NewWriteBatch()
					for i := 0; i < 32 && n > 0; i, n = i+1, n-1 {
						wb.Put(storage.CFDefault, benchKey(rng.Uint64N(1_000_000)), value)
					}
					require.NoError(b, e.Write(wb, storage.WriteOptions{}))
					wb.Close()
				}
			}
			// Over 64 MiB of entries: the memtables are full from here on.
			write(450_000)
			b.ResetTimer()
			write(b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
