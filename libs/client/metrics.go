package client

import "github.com/prometheus/client_golang/prometheus"

// metrics are the SDK's own series. They are registered on the registerer
// given with WithRegisterer, and only there: several clients in one process
// each pass their own (or none).
type metrics struct {
	duration     *prometheus.HistogramVec
	retries      *prometheus.CounterVec
	regionLookup *prometheus.CounterVec
	batchSize    prometheus.Histogram
}

// commands and retryReasons list every label value up front so each series
// exists (at zero) from the start.
var (
	commands = []string{
		"get", "batch_get", "put", "batch_put", "delete", "batch_delete", "delete_range",
		"scan", "reverse_scan", "cas", "get_ts", "change_peer", "transfer_leader",
	}
	retryReasons = []string{
		"not_leader", "epoch_not_match", "region_not_found", "key_not_in_region", "server_is_busy",
		"store_not_match", "region_error", "unavailable", "timeout", "no_route",
	}
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "flaredb",
			Subsystem: "client",
			Name:      "request_duration_seconds",
			Help:      "Latency of SDK calls, retries included, by command.",
			Buckets:   prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"cmd"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flaredb",
			Subsystem: "client",
			Name:      "retries_total",
			Help:      "Requests retried by the SDK, by the reason of the failed attempt.",
		}, []string{"reason"}),
		regionLookup: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flaredb",
			Subsystem: "client",
			Name:      "region_cache_total",
			Help:      "Region cache lookups, by result (hit or miss).",
		}, []string{"result"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "flaredb",
			Subsystem: "client",
			Name:      "batch_commands_size",
			Help:      "Requests per BatchCommands stream message sent to a store.",
			// 1 .. 128, the most the SDK packs into one message.
			Buckets: prometheus.ExponentialBuckets(1, 2, 8),
		}),
	}
	for _, c := range commands {
		m.duration.WithLabelValues(c)
	}
	for _, r := range retryReasons {
		m.retries.WithLabelValues(r)
	}
	m.regionLookup.WithLabelValues("hit")
	m.regionLookup.WithLabelValues("miss")
	if reg != nil {
		reg.MustRegister(m.duration, m.retries, m.regionLookup, m.batchSize)
	}
	return m
}

func (m *metrics) observeLookup(hit bool) {
	if hit {
		m.regionLookup.WithLabelValues("hit").Inc()
	} else {
		m.regionLookup.WithLabelValues("miss").Inc()
	}
}

func (m *metrics) observeBatch(n int) { m.batchSize.Observe(float64(n)) }
