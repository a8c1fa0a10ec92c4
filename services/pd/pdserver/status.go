package pdserver

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flaredb/flaredb/proto/metapb"
)

// Status is the JSON document served at /status.
type Status struct {
	Version      string          `json:"version"`
	ClusterID    uint64          `json:"cluster_id"`
	Addr         string          `json:"addr"`
	Bootstrapped bool            `json:"bootstrapped"`
	Stores       []*metapb.Store `json:"stores"`
	RegionCount  int             `json:"region_count"`
}

func (s *Server) status() Status {
	st := Status{
		Version:      Version,
		ClusterID:    s.cluster.ID(),
		Addr:         s.advertiseAddr(),
		Bootstrapped: s.cluster.IsBootstrapped(),
		RegionCount:  s.cluster.RegionCount(),
	}
	if st.Bootstrapped {
		st.Stores, _ = s.cluster.GetAllStores(false)
	}
	if st.Stores == nil {
		st.Stores = []*metapb.Store{}
	}
	return st
}

func (s *Server) statusHandler() http.Handler {
	mux := http.NewServeMux()
	if g, ok := s.reg.(prometheus.Gatherer); ok {
		mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	} else {
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no metrics registry is attached to this PD", http.StatusNotFound)
		})
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.status())
	})
	return mux
}
