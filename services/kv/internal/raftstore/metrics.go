package raftstore

import "github.com/prometheus/client_golang/prometheus"

// metrics of one store. Labels are bounded: no region ids, no keys.
type metrics struct {
	proposals        *prometheus.CounterVec
	readIndexes      prometheus.Counter
	leaderChanges    prometheus.Counter
	walSyncSeconds   prometheus.Histogram
	persistRegions   prometheus.Histogram
	applySeconds     prometheus.Histogram
	applyEntries     prometheus.Histogram
	appliedLag       prometheus.Gauge
	leaders          prometheus.Gauge
	regions          prometheus.Gauge
	snapshotsApplied prometheus.Counter
	snapshotsBuilt   prometheus.Counter
	logCompactions   prometheus.Counter
	entryProposals   prometheus.Histogram
	appendsCoalesced prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "flaredb", "raftstore"
	m := &metrics{
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "proposals_total", Help: "Proposals by kind (write, conf_change) and outcome (proposed, rejected)."},
			[]string{"kind", "outcome"}),
		readIndexes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "read_index_total", Help: "ReadIndex requests issued (each may serve many reads)."}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "leader_changes_total", Help: "Leader changes seen by peers of this store."}),
		walSyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "wal_sync_duration_seconds",
			Help: "Latency of one engine WAL sync (fsync) making Raft state durable; one sync covers every round " +
				"written before it. The _count series counts the syncs.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		persistRegions: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "persist_regions", Help: "Regions persisted per Raft write (group commit width).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "apply_duration_seconds", Help: "Latency of one apply round (one engine write).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		applyEntries: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "apply_entries", Help: "Entries applied per apply round.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		appliedLag: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "committed_applied_lag_entries", Help: "Sum over peers of committed minus applied index."}),
		leaders: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "leaders", Help: "Peers of this store that lead their region."}),
		regions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "regions", Help: "Peers hosted by this store."}),
		snapshotsApplied: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "snapshots_applied_total", Help: "Region snapshots received and applied."}),
		snapshotsBuilt: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "snapshots_built_total", Help: "Region snapshots built for lagging or new peers."}),
		logCompactions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "log_compactions_total", Help: "Raft log truncations."}),
		entryProposals: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "entry_proposals", Help: "Write proposals merged into one Raft entry by the leader.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		appendsCoalesced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "appends_coalesced_total",
			Help: "Commit-only appends not sent because a later append of the same round to the same follower carried them."}),
	}
	for _, k := range []string{"write", "conf_change", "transfer_leader"} {
		for _, o := range []string{"proposed", "rejected"} {
			m.proposals.WithLabelValues(k, o)
		}
	}
	if reg != nil {
		reg.MustRegister(m.proposals, m.readIndexes, m.leaderChanges, m.walSyncSeconds, m.persistRegions,
			m.applySeconds, m.applyEntries, m.appliedLag, m.leaders, m.regions, m.snapshotsApplied,
			m.snapshotsBuilt, m.logCompactions, m.entryProposals, m.appendsCoalesced)
	}
	return m
}
