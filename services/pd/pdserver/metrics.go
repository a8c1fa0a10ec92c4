package pdserver

import (
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/flaredb/flaredb/proto/pdpb"
)

type metrics struct {
	requests *prometheus.CounterVec   // method, code
	latency  *prometheus.HistogramVec // method
	panics   prometheus.Counter
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
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.panics)
	}
	return m
}

// initialize creates every method's series at zero so dashboards and rate()
// see them before the first request.
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
}

func registerClusterGauges(reg prometheus.Registerer, s *Server) {
	if reg == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "flaredb", Subsystem: "pd", Name: "regions",
			Help: "Regions known to PD.",
		}, func() float64 { return float64(s.cluster.RegionCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "flaredb", Subsystem: "pd", Name: "bootstrapped",
			Help: "1 once the cluster is bootstrapped.",
		}, func() float64 {
			if s.cluster.IsBootstrapped() {
				return 1
			}
			return 0
		}),
	)
}
