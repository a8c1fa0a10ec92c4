package rocksdb_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/libs/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.RunConformance(t, func(t *testing.T, dir string) storage.Engine {
		cfg := rocksdb.NewConfig()
		cfg.BlockCacheSize = 8 << 20 // many engines in one process
		cfg.WriteBufferSize = 4 << 20
		e, err := rocksdb.Open(dir, cfg, zaptest.NewLogger(t))
		require.NoError(t, err)
		return e
	})
}
