package server

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// StatusInfo is the /status JSON document. Field names are a stable
// contract for tools (flarectl status, scripts).
type StatusInfo struct {
	StoreID          uint64    `json:"store_id"`
	Address          string    `json:"address"`
	AdvertiseAddress string    `json:"advertise_address"`
	StatusAddress    string    `json:"status_address"`
	PDEndpoints      []string  `json:"pd_endpoints"`
	DevMode          bool      `json:"dev_mode"`
	Version          string    `json:"version"`
	RegionCount      int       `json:"region_count"`
	StartTime        time.Time `json:"start_time"`
	UptimeSeconds    float64   `json:"uptime_seconds"`
}

// NewStatusHandler serves /metrics from g, /debug/pprof/ and /status, whose
// document info builds at request time.
func NewStatusHandler(g prometheus.Gatherer, info func() StatusInfo) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(info())
	})
	return mux
}
