package pdclient

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkGetTS measures timestamps per second and p99 GetTS latency for
// 1, 100 and 1,000 concurrent callers through the client against an
// in-process PD over loopback gRPC. b.N is the total number of timestamps.
func BenchmarkGetTS(b *testing.B) {
	for _, callers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			pd := startPD(b, b.TempDir())
			defer pd.Stop()
			c := newClient(b, pd.Addr())
			ctx := context.Background()
			if _, err := c.GetTS(ctx); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			lat := make([][]time.Duration, callers)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for g := 0; g < callers; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					mine := make([]time.Duration, 0, b.N/callers+1)
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if _, err := c.GetTS(ctx); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					lat[g] = mine
				}(g)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				p99 := all[min(len(all)-1, len(all)*99/100)]
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			}
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ts/s")
		})
	}
}
