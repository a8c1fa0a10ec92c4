package tso

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	issued        prometheus.Counter
	overflowWaits prometheus.Counter
	saves         prometheus.Counter
	saveErrors    prometheus.Counter
	saveDuration  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flaredb", Subsystem: "pd_tso", Name: "issued_total",
			Help: "Timestamps handed out by the timestamp oracle.",
		}),
		overflowWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flaredb", Subsystem: "pd_tso", Name: "overflow_waits_total",
			Help: "Requests that found the logical part exhausted and waited for the next physical tick.",
		}),
		saves: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flaredb", Subsystem: "pd_tso", Name: "saves_total",
			Help: "Times the saved-until upper bound was persisted.",
		}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flaredb", Subsystem: "pd_tso", Name: "save_errors_total",
			Help: "Failed attempts to persist the saved-until upper bound.",
		}),
		saveDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "flaredb", Subsystem: "pd_tso", Name: "save_duration_seconds",
			Help:    "Latency of persisting the saved-until upper bound.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.issued, m.overflowWaits, m.saves, m.saveErrors, m.saveDuration)
	}
	return m
}
