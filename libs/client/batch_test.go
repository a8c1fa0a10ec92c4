package client

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestBatchingConcurrentCallersSeeOwnWrites(t *testing.T) {
	fc := newFakeCluster(t, 3)
	c, _ := newTestClient(t, fc)
	require.NotNil(t, c.batches, "batching is on by default")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := make(chan struct{})
	errs := make(chan error, 200)
	var wg sync.WaitGroup
	for g := 0; g < 200; g++ {
		wg.Go(func() {
			<-start
			for i := 0; i < 5; i++ {
				k, v := fmt.Sprintf("g%03d/%d", g, i), fmt.Sprintf("value-%d-%d", g, i)
				ver, err := c.Put(ctx, []byte(k), []byte(v))
				if err != nil {
					errs <- fmt.Errorf("put %s: %w", k, err)
					return
				}
				got, err := c.Get(ctx, []byte(k))
				if err != nil {
					errs <- fmt.Errorf("get %s: %w", k, err)
					return
				}
				if want := (GetResult{Value: []byte(v), Version: ver, Found: true}); !equalResult(got, want) {
					errs <- fmt.Errorf("get %s = %+v, want %+v", k, got, want)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// Batching happened: some message carried several requests. The
	// sender observes a message after sending it, so wait for the last.
	require.Eventually(t, func() bool {
		h := histogramOf(t, c.metrics.batchSize)
		return h.GetSampleSum() == 2000 && h.GetSampleCount() < 2000
	}, 10*time.Second, time.Millisecond, "2000 requests in fewer messages: %v", histogramOf(t, c.metrics.batchSize))
}

func equalResult(a, b GetResult) bool {
	return string(a.Value) == string(b.Value) && a.Version == b.Version && a.Found == b.Found
}

func TestBatchingStreamBreakMidFlight(t *testing.T) {
	ctx := context.Background()
	t.Run("put is undetermined", func(t *testing.T) {
		fc := newFakeCluster(t, 2)
		c, _ := newTestClient(t, fc)
		_, err := c.Put(ctx, []byte("k"), []byte("v0")) // opens the stream
		require.NoError(t, err)
		held, _ := fc.hold(1)
		go func() {
			<-held
			fc.servers[1].Stop()
		}()
		_, err = c.Put(ctx, []byte("k"), []byte("v1"))
		require.ErrorIs(t, err, ErrUndetermined)
		require.Equal(t, codes.Unavailable, status.Code(err), "error: %v", err)
	})
	t.Run("get is retried on another peer", func(t *testing.T) {
		fc := newFakeCluster(t, 2)
		c, _ := newTestClient(t, fc)
		ver, err := c.Put(ctx, []byte("k"), []byte("v"))
		require.NoError(t, err)
		held, _ := fc.hold(1)
		go func() {
			<-held
			// Store 1 dies; store 2 takes over the region.
			fc.setLeader(1, 2)
			fc.servers[1].Stop()
		}()
		got, err := c.Get(ctx, []byte("k"))
		require.NoError(t, err)
		require.Equal(t, GetResult{Value: []byte("v"), Version: ver, Found: true}, got)
		require.Positive(t, counterValue(t, c.metrics.retries.WithLabelValues("unavailable")))
	})
}

func TestBatchingStoppingStoreWriteIsResent(t *testing.T) {
	// A stopping store ends the stream without running the put: the SDK
	// resends it instead of reporting it undetermined.
	fc := newFakeCluster(t, 1)
	c, _ := newTestClient(t, fc)
	fc.mu.Lock()
	fc.drainStreams = 1
	fc.mu.Unlock()
	ver, err := c.Put(context.Background(), []byte("k"), []byte("v"))
	require.NoError(t, err)
	require.Equal(t, uint64(1), ver, "applied once")
	require.Equal(t, 1.0, counterValue(t, c.metrics.retries.WithLabelValues("unavailable")))
}

func TestBatchingCallerDeadline(t *testing.T) {
	// A put held by the store past the attempt's deadline is undetermined:
	// the store may still apply it (here it does, once the deadline the
	// request carried ends its wait). Its late answer is dropped and the
	// client keeps working.
	fc := newFakeCluster(t, 1)
	c := newClient(Config{RequestTimeout: 200 * time.Millisecond, MaxRetries: 1}, options{}, fakePD{fc: fc})
	defer c.Close()
	_, release := fc.hold(1)
	_, err := c.Put(context.Background(), []byte("k"), []byte("v"))
	require.ErrorIs(t, err, ErrUndetermined)
	require.Equal(t, codes.DeadlineExceeded, status.Code(err), "error: %v", err)
	release()
	got, err := c.Get(context.Background(), []byte("k"))
	require.NoError(t, err)
	require.Equal(t, "v", string(got.Value), "the held put was applied after its caller gave up")
}

func TestDisableBatching(t *testing.T) {
	fc := newFakeCluster(t, 1)
	reg := prometheus.NewRegistry()
	c := newClient(Config{DisableBatching: true}, options{reg: reg}, fakePD{fc: fc})
	defer c.Close()
	require.Nil(t, c.batches)
	ver, err := c.Put(context.Background(), []byte("k"), []byte("v"))
	require.NoError(t, err)
	got, err := c.Get(context.Background(), []byte("k"))
	require.NoError(t, err)
	require.Equal(t, GetResult{Value: []byte("v"), Version: ver, Found: true}, got)
	require.Zero(t, histogramOf(t, c.metrics.batchSize).GetSampleCount())
}

func TestNeverSentIgnoresBrokenBatchStreams(t *testing.T) {
	for _, tt := range []struct {
		msg  string
		want bool
	}{
		{`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`, true},
		{"transport is closing", false},
		{"batch stream broken after the request was sent: connection error: connection refused", false},
		{"batch request not run: the store ended the stream before reading it: kv-service is stopping", true},
	} {
		require.Equal(t, tt.want, neverSent(status.New(codes.Unavailable, tt.msg)), tt.msg)
	}
}

func histogramOf(t *testing.T, h prometheus.Histogram) *dto.Histogram {
	t.Helper()
	var m dto.Metric
	require.NoError(t, h.Write(&m))
	return m.GetHistogram()
}
