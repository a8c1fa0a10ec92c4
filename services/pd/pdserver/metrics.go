package pdserver

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/flaredb/flaredb/proto/pdpb"
	"github.com/flaredb/flaredb/services/pd/internal/cluster"
)

// Region heartbeat results, the values of the result label.
const (
	hbOK              = "ok"
	hbStale           = "stale"
	hbNotBootstrapped = "not_bootstrapped"
	hbClusterMismatch = "cluster_mismatch"
	hbInvalid         = "invalid"
	hbError           = "error"
)

var hbResults = []string{hbOK, hbStale, hbNotBootstrapped, hbClusterMismatch, hbInvalid, hbError}

// heartbeatResult names the outcome of one region heartbeat.
func heartbeatResult(err error) string {
	switch {
	case err == nil:
		return hbOK
	case errors.Is(err, cluster.ErrStaleRegion):
		return hbStale
	case errors.Is(err, cluster.ErrNotBootstrapped):
		return hbNotBootstrapped
	case errors.Is(err, errClusterMismatch):
		return hbClusterMismatch
	case errors.Is(err, cluster.ErrInvalidArgument):
		return hbInvalid
	}
	return hbError
}

type metrics struct {
	requests *prometheus.CounterVec   // method, code
	latency  *prometheus.HistogramVec // method
	panics   prometheus.Counter

	regionHeartbeats        *prometheus.CounterVec // result
	regionHeartbeatDuration prometheus.Histogram

	tsoRequestDuration prometheus.Histogram
	tsoBatchSize       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flaredb", Subsystem: "pd", Name: "grpc_requests_total",
			Help: "gRPC requests (unary calls and streams) finished, by method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "flaredb", Subsystem: "pd", Name: "grpc_request_duration_seconds",
			Help:    "Latency of unary gRPC requests by method.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}, []string{"method"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flaredb", Subsystem: "pd", Name: "grpc_panics_total",
			Help: "Handler panics recovered and turned into Internal errors.",
		}),
		regionHeartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flaredb", Subsystem: "pd", Name: "region_heartbeats_total",
			Help: "Region heartbeats received on the RegionHeartbeat stream, by result (ok, or why PD rejected it).",
		}, []string{"result"}),
		regionHeartbeatDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "flaredb", Subsystem: "pd", Name: "region_heartbeat_duration_seconds",
			Help:    "Time PD takes to handle one region heartbeat, reply included.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20),
		}),
		tsoRequestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "flaredb", Subsystem: "pd_tso", Name: "request_duration_seconds",
			Help:    "Time PD takes to answer one Tso stream request, overflow waits and the send included.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20),
		}),
		tsoBatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "flaredb", Subsystem: "pd_tso", Name: "batch_size",
			Help:    "Timestamps requested by one Tso stream request (the client's batch).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.panics, m.regionHeartbeats, m.regionHeartbeatDuration,
			m.tsoRequestDuration, m.tsoBatchSize)
	}
	return m
}

// initialize creates every method's and result's series at zero so
// dashboards and rate() see them before the first request.
func (m *metrics) initialize() {
	for _, d := range []grpc.ServiceDesc{pdpb.PD_ServiceDesc} {
		for _, md := range d.Methods {
			name := "/" + d.ServiceName + "/" + md.MethodName
			m.latency.WithLabelValues(name)
			m.requests.WithLabelValues(name, codes.OK.String())
		}
		for _, sd := range d.Streams {
			m.requests.WithLabelValues("/"+d.ServiceName+"/"+sd.StreamName, codes.OK.String())
		}
	}
	for _, r := range hbResults {
		m.regionHeartbeats.WithLabelValues(r)
	}
}

// clusterCollector reports the cluster model at scrape time: store liveness
// depends on heartbeat age, so it cannot be kept up to date by events.
type clusterCollector struct {
	c *cluster.Cluster

	bootstrapped, regions, stores                      *prometheus.Desc
	withoutLeader, missPeer, extraPeer, downPeer       *prometheus.Desc
	capacity, available, used, storeRegions, storeLead *prometheus.Desc
}

func newClusterCollector(c *cluster.Cluster) *clusterCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("flaredb", "pd", name), help, labels, nil)
	}
	return &clusterCollector{
		c:             c,
		bootstrapped:  desc("bootstrapped", "1 once the cluster is bootstrapped."),
		regions:       desc("regions", "Regions known to PD."),
		stores:        desc("stores", "Stores by state: up, down (no heartbeat for max-store-down-time), offline (being removed), tombstone (removed).", "state"),
		withoutLeader: desc("regions_without_leader", "Regions with no usable leader known to PD: none reported since PD started, or the reported one is gone or on a down store."),
		missPeer:      desc("regions_miss_peer", "Regions with fewer peers than max-replicas."),
		extraPeer:     desc("regions_extra_peer", "Regions with more peers than max-replicas."),
		downPeer:      desc("regions_down_peer", "Regions with a peer on a down or tombstone store."),
		capacity:      desc("store_capacity_bytes", "Size of the store's data filesystem, from its last heartbeat.", "store"),
		available:     desc("store_available_bytes", "Free space on the store's data filesystem, from its last heartbeat.", "store"),
		used:          desc("store_used_bytes", "Live data in the store's engine, from its last heartbeat.", "store"),
		storeRegions:  desc("store_regions", "Region peers PD knows on the store (from region heartbeats).", "store"),
		storeLead:     desc("store_leaders", "Regions whose leader PD knows to be on the store.", "store"),
	}
}

func (cc *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cc.bootstrapped, cc.regions, cc.stores, cc.withoutLeader, cc.missPeer,
		cc.extraPeer, cc.downPeer, cc.capacity, cc.available, cc.used, cc.storeRegions, cc.storeLead} {
		ch <- d
	}
}

func (cc *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	sum := cc.c.Summary()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	boot := 0.0
	if sum.Bootstrapped {
		boot = 1
	}
	gauge(cc.bootstrapped, boot)
	gauge(cc.regions, float64(sum.Regions))
	for _, st := range cluster.StoreStatuses {
		gauge(cc.stores, float64(sum.Stores[st]), string(st))
	}
	gauge(cc.withoutLeader, float64(sum.RegionsWithoutLeader))
	gauge(cc.missPeer, float64(sum.RegionsMissPeer))
	gauge(cc.extraPeer, float64(sum.RegionsExtraPeer))
	gauge(cc.downPeer, float64(sum.RegionsDownPeer))
	for _, s := range sum.StoreDetails {
		id := strconv.FormatUint(s.ID, 10)
		if s.HasStats {
			gauge(cc.capacity, float64(s.Capacity), id)
			gauge(cc.available, float64(s.Available), id)
			gauge(cc.used, float64(s.UsedBytes), id)
		}
		gauge(cc.storeRegions, float64(s.RegionCount), id)
		gauge(cc.storeLead, float64(s.LeaderCount), id)
	}
}

func registerClusterCollector(reg prometheus.Registerer, s *Server) {
	if reg != nil {
		reg.MustRegister(newClusterCollector(s.cluster))
	}
}
