package pdclient

import "github.com/prometheus/client_golang/prometheus"

// metrics are nil-safe: a client built without a registerer records
// nothing.
type metrics struct {
	tsoBatchSize   prometheus.Histogram
	tsoRPCDuration prometheus.Histogram
	getTSDuration  prometheus.Histogram
	reconnects     *prometheus.CounterVec // stream
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		tsoBatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "flaredb", Subsystem: "pdclient", Name: "tso_batch_size",
			Help:    "GetTS calls merged into one Tso stream request.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		tsoRPCDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "flaredb", Subsystem: "pdclient", Name: "tso_rpc_duration_seconds",
			Help:    "Round trip of one batched Tso stream request.",
			Buckets: prometheus.ExponentialBuckets(0.00002, 2, 18),
		}),
		getTSDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "flaredb", Subsystem: "pdclient", Name: "get_ts_duration_seconds",
			Help:    "Latency of GetTS as its caller sees it, including batching.",
			Buckets: prometheus.ExponentialBuckets(0.00002, 2, 18),
		}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flaredb", Subsystem: "pdclient", Name: "stream_reconnects_total",
			Help: "Long-lived streams (re)opened, by stream.",
		}, []string{"stream"}),
	}
	reg.MustRegister(m.tsoBatchSize, m.tsoRPCDuration, m.getTSDuration, m.reconnects)
	return m
}
