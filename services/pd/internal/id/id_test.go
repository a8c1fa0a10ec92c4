package id

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/services/pd/internal/metastore"
)

// TestUniqueAcrossRestarts allocates across several incarnations on the
// same data directory, each dropped mid-block without any clean shutdown.
func TestUniqueAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	seen := make(map[uint64]bool)
	var last uint64
	for _, n := range []int{1, 250, 999, 1, 2500} {
		eng, err := rocksdb.Open(dir, rocksdb.NewConfig(), zap.NewNop())
		require.NoError(t, err)
		a, err := New(metastore.New(eng), 100)
		require.NoError(t, err)
		for range n {
			id, err := a.Alloc()
			require.NoError(t, err)
			require.False(t, seen[id], "id %d allocated twice", id)
			require.Greater(t, id, last)
			seen[id], last = true, id
		}
		require.NoError(t, eng.Close())
	}
}

func TestReserve(t *testing.T) {
	eng, err := rocksdb.Open(t.TempDir(), rocksdb.NewConfig(), zap.NewNop())
	require.NoError(t, err)
	defer eng.Close()
	st := metastore.New(eng)
	a, err := New(st, 10)
	require.NoError(t, err)
	tests := []struct {
		floor uint64
		want  uint64 // next Alloc
	}{
		{floor: 5, want: 6},
		{floor: 3, want: 7}, // below what was handed out: no effect
		{floor: 42, want: 43},
	}
	for _, tt := range tests {
		require.NoError(t, a.Reserve(tt.floor))
		got, err := a.Alloc()
		require.NoError(t, err)
		require.Equal(t, tt.want, got, "after Reserve(%d)", tt.floor)
	}
	// The reservation is durable.
	b, err := New(st, 10)
	require.NoError(t, err)
	got, err := b.Alloc()
	require.NoError(t, err)
	require.Greater(t, got, uint64(43))
}
