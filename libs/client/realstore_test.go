package client_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/libs/client"
)

// TestBatchingAgainstRealStore drives the batching path end to end against
// the real kv-service TestMain started: many goroutines write and read
// their own keys at once, each sees its own writes, and the requests shared
// BatchCommands messages.
func TestBatchingAgainstRealStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := prometheus.NewRegistry()
	c, err := client.New(ctx, client.Config{PDEndpoints: []string{pdAddr}}, client.WithRegisterer(reg))
	require.NoError(t, err)
	defer c.Close()

	const goroutines, rounds = 200, 5
	start := make(chan struct{})
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Go(func() {
			<-start
			for i := 0; i < rounds; i++ {
				k, v := fmt.Sprintf("batching/%03d/%d", g, i), fmt.Sprintf("v-%d-%d", g, i)
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
				if string(got.Value) != v || got.Version != ver || !got.Found {
					errs <- fmt.Errorf("get %s = %+v, want %q version %d", k, got, v, ver)
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

	// Every request went on the stream, several per message. The sender
	// observes a message after sending it: wait for the last.
	const requests = goroutines * rounds * 2
	var count uint64
	var sum float64
	require.Eventually(t, func() bool {
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() == "flaredb_client_batch_commands_size" {
				h := f.GetMetric()[0].GetHistogram()
				count, sum = h.GetSampleCount(), h.GetSampleSum()
			}
		}
		return sum >= requests
	}, 10*time.Second, 10*time.Millisecond)
	require.Less(t, count, uint64(requests), "%d requests in %d messages", uint64(sum), count)
	t.Logf("%d requests in %d messages", uint64(sum), count)
}
