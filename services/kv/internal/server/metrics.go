package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/flaredb/flaredb/libs/storage"
	"github.com/flaredb/flaredb/proto/kvrpcpb"
)

const namespace = "flaredb"

// metrics are the gRPC request metrics of one server. Labels are bounded:
// method is one of the registered RPC names, code one of the gRPC codes.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	panics   prometheus.Counter
	// batchSize counts the requests of each BatchCommands message; each
	// request is also counted in requests and duration like a unary RPC.
	batchSize prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "kv", Name: "requests_total",
			Help: "gRPC requests handled, by method and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "kv", Name: "request_duration_seconds",
			Help: "gRPC request handling time, by method.",
			// 250µs .. ~8s: a local read is sub-millisecond, a replicated
			// write with fsync a few milliseconds, anything past seconds
			// is an incident.
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
		}, []string{"method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "kv", Name: "requests_in_flight",
			Help: "gRPC requests currently being handled.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "kv", Name: "handler_panics_total",
			Help: "Panics recovered in gRPC handlers.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "kv", Name: "batch_commands_size",
			Help: "Requests per BatchCommands stream message received.",
			// 1 .. 1024, the most one message may carry.
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.panics, m.batchSize} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Start every KV series at zero so rate() and alerts work from the
	// first scrape rather than from the first error of each kind.
	for _, md := range kvrpcpb.KV_ServiceDesc.Methods {
		m.duration.WithLabelValues(md.MethodName)
		for c := codes.OK; c <= codes.Unauthenticated; c++ {
			m.requests.WithLabelValues(md.MethodName, c.String())
		}
	}
	return m, nil
}

// engineCollector exports storage.Engine.Stats at scrape time, so the numbers
// are always current and no background poller is needed.
type engineCollector struct {
	engine storage.Engine

	writtenBytes, readBytes, memtable, pendingCompaction *prometheus.Desc
	cacheHits, cacheMisses, walSyncs, liveData, keys     *prometheus.Desc
}

// NewEngineCollector returns a collector for e's Stats. Register it on the
// node's registry.
func NewEngineCollector(e storage.Engine) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "engine", name), help, nil, nil)
	}
	return &engineCollector{
		engine:            e,
		writtenBytes:      d("written_bytes_total", "Bytes written to the engine."),
		readBytes:         d("read_bytes_total", "Bytes read from the engine."),
		memtable:          d("memtable_bytes", "Bytes held in memtables."),
		pendingCompaction: d("pending_compaction_bytes", "Estimated bytes compaction still has to rewrite."),
		cacheHits:         d("block_cache_hits_total", "Block cache hits."),
		cacheMisses:       d("block_cache_misses_total", "Block cache misses."),
		walSyncs:          d("wal_syncs_total", "WAL fsyncs."),
		liveData:          d("live_data_bytes", "Estimated bytes of live data."),
		keys:              d("estimated_keys", "Estimated number of keys."),
	}
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.writtenBytes, c.readBytes, c.memtable, c.pendingCompaction,
		c.cacheHits, c.cacheMisses, c.walSyncs, c.liveData, c.keys} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.engine.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(c.writtenBytes, s.BytesWritten)
	counter(c.readBytes, s.BytesRead)
	gauge(c.memtable, s.MemtableBytes)
	gauge(c.pendingCompaction, s.PendingCompactionBytes)
	counter(c.cacheHits, s.BlockCacheHit)
	counter(c.cacheMisses, s.BlockCacheMiss)
	counter(c.walSyncs, s.WALSyncs)
	gauge(c.liveData, s.LiveDataBytes)
	gauge(c.keys, s.EstimatedKeys)
}
