package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"

	"github.com/flaredb/flaredb/libs/storage/rocksdb"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

func TestStatusHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := rocksdb.NewConfig()
	cfg.BlockCacheSize, cfg.WriteBufferSize = 1<<20, 1<<20
	e, err := rocksdb.Open(t.TempDir(), cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, reg.Register(NewEngineCollector(e)))

	want := StatusInfo{StoreID: 4, Address: "127.0.0.1:1", Version: "v", RegionCount: 1, PDEndpoints: []string{"127.0.0.1:2"}}
	ts := httptest.NewServer(NewStatusHandler(reg, func() StatusInfo { return want }))
	defer ts.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(ts.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/status")
	require.Equal(t, http.StatusOK, code)
	var got StatusInfo
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Equal(t, want, got)

	code, body = get("/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, name := range []string{
		"flaredb_engine_written_bytes_total", "flaredb_engine_memtable_bytes", "flaredb_engine_pending_compaction_bytes",
		"flaredb_engine_block_cache_hits_total", "flaredb_engine_block_cache_misses_total", "flaredb_engine_wal_syncs_total",
	} {
		require.Contains(t, body, name)
	}

	code, _ = get("/debug/pprof/")
	require.Equal(t, http.StatusOK, code)
}

func TestSlowRequestsLogAtWarn(t *testing.T) {
	for _, tt := range []struct {
		name  string
		slow  time.Duration
		level zapcore.Level
		msg   string
	}{
		{"fast request logs at debug", time.Hour, zapcore.DebugLevel, "handled request"},
		{"slow request logs at warn", time.Nanosecond, zapcore.WarnLevel, "slow request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			m, err := newMetrics(prometheus.NewRegistry())
			require.NoError(t, err)
			ic := observeUnary(&recorder{m: m, lg: zap.New(core), slow: tt.slow})
			req := &kvrpcpb.RawGetRequest{Context: &kvrpcpb.Context{RegionId: 9}}
			_, err = ic(context.Background(), req, &grpc.UnaryServerInfo{FullMethod: "/kvrpcpb.KV/RawGet"}, func(context.Context, any) (any, error) { return nil, nil })
			require.NoError(t, err)
			all := logs.All()
			require.Len(t, all, 1)
			require.Equal(t, tt.level, all[0].Level)
			require.Equal(t, tt.msg, all[0].Message)
			require.Equal(t, "RawGet", all[0].ContextMap()["method"])
			require.Equal(t, uint64(9), all[0].ContextMap()["region-id"])
			require.Equal(t, 1.0, counterValue(t, m.requests.WithLabelValues("RawGet", "OK")))
		})
	}
}
