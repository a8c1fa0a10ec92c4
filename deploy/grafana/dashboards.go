package grafana

import (
	"fmt"
	"strings"
)

// inst selects the instances chosen in the $instance variable.
const inst = `instance=~"$instance"`

// rate is rate(metric{sel}[$__rate_interval]).
func rate(metric, sel string) string {
	return fmt.Sprintf("rate(%s{%s}[$__rate_interval])", metric, sel)
}

// quantile is the q-quantile of histogram h (without _bucket), aggregated
// by the labels in by (plus le).
func quantile(q, h, sel, by string) string {
	labels := "le"
	if by != "" {
		labels = by + ", le"
	}
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (%s))", q, labels, rate(h+"_bucket", sel))
}

// quantiles is three targets: p50, p99 and p99.9 of h, one series each per
// by (or overall when by is empty).
func quantiles(h, sel, by string) []Target {
	var ts []Target
	for _, q := range []struct{ q, name string }{{"0.5", "p50"}, {"0.99", "p99"}, {"0.999", "p99.9"}} {
		legend := q.name
		if by != "" {
			legend = "{{" + strings.ReplaceAll(by, ", ", "}} {{") + "}} " + q.name
		}
		ts = append(ts, Target{Expr: quantile(q.q, h, sel, by), Legend: legend})
	}
	return ts
}

// mean is the average of histogram h per by: rate(sum) / rate(count).
func mean(h, sel, by string) string {
	return fmt.Sprintf("sum by (%s) (%s) / sum by (%s) (%s)", by, rate(h+"_sum", sel), by, rate(h+"_count", sel))
}

// errRatio is the fraction of requests of counter c (labelled code) that did
// not end OK, per by. Counters whose error series appear only after the
// first error get "or ... * 0", so the ratio is 0 rather than absent.
func errRatio(c, sel, by string) string {
	errs := fmt.Sprintf(`sum by (%s) (%s)`, by, rate(c, join(sel, `code!="OK"`)))
	all := fmt.Sprintf(`sum by (%s) (%s)`, by, rate(c, sel))
	return fmt.Sprintf("(%s or %s * 0) / %s", errs, all, all)
}

func join(sels ...string) string {
	var out []string
	for _, s := range sels {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

// processPanels are the Go runtime and process collectors' basics for the
// processes matched by sel.
func processPanels(sel string) Row {
	return Row{Title: "Process", Panels: []Panel{
		{Title: "CPU", Unit: "percentunit", Width: 8, Targets: []Target{
			{Expr: rate("process_cpu_seconds_total", sel), Legend: "{{instance}}"}}},
		{Title: "Resident memory", Unit: "bytes", Width: 8, Targets: []Target{
			{Expr: fmt.Sprintf("process_resident_memory_bytes{%s}", sel), Legend: "{{instance}}"},
			{Expr: fmt.Sprintf("go_memstats_heap_inuse_bytes{%s}", sel), Legend: "{{instance}} heap in use"}}},
		{Title: "Goroutines", Width: 8, Targets: []Target{
			{Expr: fmt.Sprintf("go_goroutines{%s}", sel), Legend: "{{instance}}"}}},
	}}
}

// diskUsed is the used fraction of each store's data filesystem, from the
// capacity and available bytes stores report in heartbeats to PD (max
// over PD instances, which all see the same stores).
const diskUsed = `1 - max by (store) (flaredb_pd_store_available_bytes) / max by (store) (flaredb_pd_store_capacity_bytes > 0)`

// Dashboards returns every dashboard this directory holds.
func Dashboards() []Dashboard {
	return []Dashboard{overview(), kv(), engine(), raft(), pd(), client()}
}

func overview() Dashboard {
	kvSel := join(`job="flaredb-kv"`, inst)
	return Dashboard{
		File: "flaredb-overview.json", UID: "flaredb-overview", Title: "FlareDB / Cluster overview",
		Desc:          "Health of a FlareDB cluster at a glance: processes up, regions, traffic, errors, latency, data size.",
		InstanceQuery: `label_values(up{job=~"flaredb-(kv|pd)"}, instance)`,
		Rows: []Row{
			{Title: "Cluster", Panels: []Panel{
				{Title: "Stores up", Kind: "stat", Width: 4, Desc: "Stores heartbeating to PD (neither down, offline nor tombstone).",
					Targets: []Target{{Expr: `max(flaredb_pd_stores{state="up"})`}}},
				{Title: "Stores down", Kind: "stat", Width: 4, Desc: "Stores PD has not heard from for max-store-down-time; their replicas get moved.",
					Targets: []Target{{Expr: `max(flaredb_pd_stores{state="down"})`}}},
				{Title: "PD up", Kind: "stat", Width: 4, Targets: []Target{{Expr: `sum(up{job="flaredb-pd"})`}}},
				{Title: "Regions (PD)", Kind: "stat", Width: 4, Targets: []Target{{Expr: `max(flaredb_pd_regions)`}}},
				{Title: "Regions without leader", Kind: "stat", Width: 4, Desc: "No usable leader known to PD: none reported, or the reported one is on a down store.",
					Targets: []Target{{Expr: `max(flaredb_pd_regions_without_leader)`}}},
				{Title: "Regions missing replicas", Kind: "stat", Width: 4, Desc: "Fewer peers than max-replicas.",
					Targets: []Target{{Expr: `max(flaredb_pd_regions_miss_peer)`}}},
			}},
			{Title: "Capacity", Panels: []Panel{
				{Title: "Disk used by store", Unit: "percentunit", Width: 8, Desc: "Of the store's data filesystem, from its heartbeats to PD.",
					Targets: []Target{{Expr: diskUsed, Legend: "store {{store}}"}}},
				{Title: "Available space by store", Unit: "bytes", Width: 8, Targets: []Target{
					{Expr: `max by (store) (flaredb_pd_store_available_bytes)`, Legend: "store {{store}} available"},
					{Expr: `max by (store) (flaredb_pd_store_capacity_bytes)`, Legend: "store {{store}} capacity"}}},
				{Title: "Data by store", Unit: "bytes", Width: 8, Desc: "Live engine data each store reports to PD.", Targets: []Target{
					{Expr: `max by (store) (flaredb_pd_store_used_bytes)`, Legend: "store {{store}}"}}},
			}},
			{Title: "Traffic", Panels: []Panel{
				{Title: "KV requests by store", Unit: "reqps", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("sum by (instance) (%s)", rate("flaredb_kv_requests_total", kvSel)), Legend: "{{instance}}"}}},
				{Title: "KV error ratio by store", Unit: "percentunit", Width: 8, Targets: []Target{
					{Expr: errRatio("flaredb_kv_requests_total", kvSel, "instance"), Legend: "{{instance}}"}}},
				{Title: "KV latency (all methods)", Unit: "s", Width: 8, Targets: quantiles("flaredb_kv_request_duration_seconds", kvSel, "")},
				{Title: "Timestamps issued", Unit: "ops", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("sum(%s)", rate("flaredb_pd_tso_issued_total", "")), Legend: "timestamps/s"}}},
				{Title: "Regions and leaders by store", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_raftstore_regions{%s}", kvSel), Legend: "{{instance}} regions"},
					{Expr: fmt.Sprintf("flaredb_raftstore_leaders{%s}", kvSel), Legend: "{{instance}} leaders"}}},
				{Title: "Live data by store", Unit: "bytes", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_engine_live_data_bytes{%s}", kvSel), Legend: "{{instance}}"}}},
			}},
			processPanels(join(`job=~"flaredb-(kv|pd)"`, inst)),
		},
	}
}

func kv() Dashboard {
	return Dashboard{
		File: "flaredb-kv.json", UID: "flaredb-kv", Title: "FlareDB / KV requests",
		Desc:          "kv-service gRPC requests: rate by method, errors by code, latency from histograms.",
		InstanceQuery: `label_values(flaredb_kv_requests_total, instance)`,
		Rows: []Row{
			{Title: "Rate", Panels: []Panel{
				{Title: "Requests by method", Unit: "reqps", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (method) (%s)", rate("flaredb_kv_requests_total", inst)), Legend: "{{method}}"}}},
				{Title: "Requests by store", Unit: "reqps", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (instance) (%s)", rate("flaredb_kv_requests_total", inst)), Legend: "{{instance}}"}}},
				{Title: "Requests in flight", Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_kv_requests_in_flight{%s}", inst), Legend: "{{instance}}"}}},
				{Title: "Handler panics", Desc: "Panics recovered in handlers; each is a bug.", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (instance) (increase(flaredb_kv_handler_panics_total{%s}[$__rate_interval]))", inst), Legend: "{{instance}}"}}},
				{Title: "Requests per BatchCommands message", Desc: "How many requests the SDK packed into one stream message (batching width).", Targets: []Target{
					{Expr: mean("flaredb_kv_batch_commands_size", inst, "instance"), Legend: "{{instance}} mean"},
					{Expr: quantile("0.99", "flaredb_kv_batch_commands_size", inst, "instance"), Legend: "{{instance}} p99"}}},
			}},
			{Title: "Errors", Panels: []Panel{
				{Title: "Errors by code", Unit: "reqps", Desc: "Requests that ended with a gRPC status other than OK. Routing errors (not leader, epoch mismatch) travel in OK responses.",
					Targets: []Target{{Expr: fmt.Sprintf("sum by (code) (%s)", rate("flaredb_kv_requests_total", join(inst, `code!="OK"`))), Legend: "{{code}}"}}},
				{Title: "Errors by method and code", Unit: "reqps", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (method, code) (%s)", rate("flaredb_kv_requests_total", join(inst, `code!="OK"`))), Legend: "{{method}} {{code}}"}}},
				{Title: "Error ratio by method", Unit: "percentunit", Targets: []Target{
					{Expr: errRatio("flaredb_kv_requests_total", inst, "method"), Legend: "{{method}}"}}},
				{Title: "Error ratio by store", Unit: "percentunit", Targets: []Target{
					{Expr: errRatio("flaredb_kv_requests_total", inst, "instance"), Legend: "{{instance}}"}}},
			}},
			{Title: "Latency", Panels: []Panel{
				{Title: "Latency (all methods)", Unit: "s", Targets: quantiles("flaredb_kv_request_duration_seconds", inst, "")},
				{Title: "p99 latency by method", Unit: "s", Targets: []Target{
					{Expr: quantile("0.99", "flaredb_kv_request_duration_seconds", inst, "method"), Legend: "{{method}}"}}},
				{Title: "p50 latency by method", Unit: "s", Targets: []Target{
					{Expr: quantile("0.5", "flaredb_kv_request_duration_seconds", inst, "method"), Legend: "{{method}}"}}},
				{Title: "Mean latency by method", Unit: "s", Targets: []Target{
					{Expr: mean("flaredb_kv_request_duration_seconds", inst, "method"), Legend: "{{method}}"}}},
				{Title: "p99 latency by store", Unit: "s", Targets: []Target{
					{Expr: quantile("0.99", "flaredb_kv_request_duration_seconds", inst, "instance"), Legend: "{{instance}}"}}},
			}},
		},
	}
}

func engine() Dashboard {
	return Dashboard{
		File: "flaredb-engine.json", UID: "flaredb-engine", Title: "FlareDB / Storage engine",
		Desc:          "RocksDB engine statistics per store: bytes written and read, memtables, compaction, block cache, WAL.",
		InstanceQuery: `label_values(flaredb_engine_live_data_bytes, instance)`,
		Rows: []Row{
			{Title: "Throughput", Panels: []Panel{
				{Title: "Bytes written", Unit: "Bps", Targets: []Target{
					{Expr: rate("flaredb_engine_written_bytes_total", inst), Legend: "{{instance}}"}}},
				{Title: "Bytes read", Unit: "Bps", Targets: []Target{
					{Expr: rate("flaredb_engine_read_bytes_total", inst), Legend: "{{instance}}"}}},
				{Title: "WAL syncs", Unit: "ops", Desc: "All WAL fsyncs RocksDB counted, and those the Raft store issued to make Raft state durable.",
					Targets: []Target{
						{Expr: rate("flaredb_engine_wal_syncs_total", inst), Legend: "{{instance}} engine"},
						{Expr: rate("flaredb_raftstore_wal_sync_duration_seconds_count", inst), Legend: "{{instance}} raftstore"}}},
				{Title: "WAL sync latency", Unit: "s", Desc: "One WAL fsync (SyncWAL) making Raft state durable; one sync covers every round written before it.",
					Targets: quantiles("flaredb_raftstore_wal_sync_duration_seconds", inst, "instance")},
			}},
			{Title: "Memory and compaction", Panels: []Panel{
				{Title: "Memtables", Unit: "bytes", Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_engine_memtable_bytes{%s}", inst), Legend: "{{instance}}"}}},
				{Title: "Pending compaction", Unit: "bytes", Desc: "RocksDB slows writes at 64 GiB and stops them at 256 GiB by default.", Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_engine_pending_compaction_bytes{%s}", inst), Legend: "{{instance}}"}}},
				{Title: "Block cache hit ratio", Unit: "percentunit", Targets: []Target{
					{Expr: fmt.Sprintf("%s / (%s + %s)", rate("flaredb_engine_block_cache_hits_total", inst),
						rate("flaredb_engine_block_cache_hits_total", inst), rate("flaredb_engine_block_cache_misses_total", inst)),
						Legend: "{{instance}}"}}},
				{Title: "Block cache lookups", Unit: "ops", Targets: []Target{
					{Expr: rate("flaredb_engine_block_cache_hits_total", inst), Legend: "{{instance}} hit"},
					{Expr: rate("flaredb_engine_block_cache_misses_total", inst), Legend: "{{instance}} miss"}}},
			}},
			{Title: "Data", Panels: []Panel{
				{Title: "Live data", Unit: "bytes", Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_engine_live_data_bytes{%s}", inst), Legend: "{{instance}}"}}},
				{Title: "Estimated keys", Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_engine_estimated_keys{%s}", inst), Legend: "{{instance}}"}}},
			}},
		},
	}
}

func raft() Dashboard {
	return Dashboard{
		File: "flaredb-raft.json", UID: "flaredb-raft", Title: "FlareDB / Raft",
		Desc:          "raftstore and transport per store: proposals, WAL sync and apply latency, lag, leadership, messages, snapshots.",
		InstanceQuery: `label_values(flaredb_raftstore_regions, instance)`,
		Rows: []Row{
			{Title: "Regions", Panels: []Panel{
				{Title: "Regions (peers) by store", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_raftstore_regions{%s}", inst), Legend: "{{instance}}"}}},
				{Title: "Leaders by store", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_raftstore_leaders{%s}", inst), Legend: "{{instance}}"}}},
				{Title: "Leader changes", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("increase(flaredb_raftstore_leader_changes_total{%s}[$__rate_interval])", inst), Legend: "{{instance}}"}}},
			}},
			{Title: "Proposals", Panels: []Panel{
				{Title: "Proposals by kind and outcome", Unit: "ops", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (kind, outcome) (%s)", rate("flaredb_raftstore_proposals_total", inst)), Legend: "{{kind}} {{outcome}}"}}},
				{Title: "ReadIndex requests", Unit: "ops", Targets: []Target{
					{Expr: rate("flaredb_raftstore_read_index_total", inst), Legend: "{{instance}}"}}},
				{Title: "Writes per Raft entry", Desc: "Write proposals a leader merged into one Raft entry.", Targets: []Target{
					{Expr: mean("flaredb_raftstore_entry_proposals", inst, "instance"), Legend: "{{instance}} mean"},
					{Expr: quantile("0.99", "flaredb_raftstore_entry_proposals", inst, "instance"), Legend: "{{instance}} p99"}}},
			}},
			{Title: "Persist and apply", Panels: []Panel{
				{Title: "WAL sync latency", Unit: "s", Desc: "One WAL fsync making Raft state durable (covers every round written before it).",
					Targets: quantiles("flaredb_raftstore_wal_sync_duration_seconds", inst, "")},
				{Title: "Regions per persist (group commit)", Targets: []Target{
					{Expr: mean("flaredb_raftstore_persist_regions", inst, "instance"), Legend: "{{instance}} mean"},
					{Expr: quantile("0.99", "flaredb_raftstore_persist_regions", inst, "instance"), Legend: "{{instance}} p99"}}},
				{Title: "Apply latency", Unit: "s", Desc: "One apply round (one engine write).",
					Targets: quantiles("flaredb_raftstore_apply_duration_seconds", inst, "")},
				{Title: "Entries per apply round", Targets: []Target{
					{Expr: mean("flaredb_raftstore_apply_entries", inst, "instance"), Legend: "{{instance}} mean"},
					{Expr: quantile("0.99", "flaredb_raftstore_apply_entries", inst, "instance"), Legend: "{{instance}} p99"}}},
				{Title: "Committed but not applied", Desc: "Sum over the store's peers of committed minus applied index.", Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_raftstore_committed_applied_lag_entries{%s}", inst), Legend: "{{instance}}"}}},
			}},
			{Title: "Transport", Panels: []Panel{
				{Title: "Raft messages sent, dropped and failed", Unit: "ops", Width: 8,
					Desc: "Outbound messages, snapshots excluded. dropped: not queued (queue to the store full); failed: lost to a stream error or an unreachable store.",
					Targets: []Target{{Expr: fmt.Sprintf("sum by (instance, result) (%s)", rate("flaredb_transport_raft_messages_total", inst)),
						Legend: "{{instance}} {{result}}"}}},
				{Title: "Raft messages received", Unit: "ops", Width: 8, Targets: []Target{
					{Expr: rate("flaredb_transport_raft_messages_received_total", inst), Legend: "{{instance}}"}}},
				{Title: "Messages per batch", Width: 8, Desc: "Messages sent per batch written to a peer store's stream.", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (instance) (%s) / sum by (instance) (%s)",
						rate("flaredb_transport_raft_messages_total", join(inst, `result="sent"`)),
						rate("flaredb_transport_raft_batches_sent_total", inst)), Legend: "{{instance}}"}}},
				{Title: "Snapshot transfers", Unit: "ops", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (instance, result) (%s)", rate("flaredb_transport_snapshots_sent_total", inst)),
						Legend: "{{instance}} sent {{result}}"},
					{Expr: fmt.Sprintf("sum by (instance, result) (%s)", rate("flaredb_transport_snapshots_received_total", inst)),
						Legend: "{{instance}} received {{result}}"}}},
				{Title: "Snapshot traffic", Unit: "Bps", Targets: []Target{
					{Expr: rate("flaredb_transport_snapshot_sent_bytes_total", inst), Legend: "{{instance}} sent"},
					{Expr: rate("flaredb_transport_snapshot_received_bytes_total", inst), Legend: "{{instance}} received"}}},
			}},
			{Title: "Snapshots and log", Panels: []Panel{
				{Title: "Snapshots", Unit: "ops", Width: 8, Targets: []Target{
					{Expr: rate("flaredb_raftstore_snapshots_built_total", inst), Legend: "{{instance}} built"},
					{Expr: rate("flaredb_raftstore_snapshots_applied_total", inst), Legend: "{{instance}} applied"}}},
				{Title: "Raft log truncations", Unit: "ops", Width: 8, Targets: []Target{
					{Expr: rate("flaredb_raftstore_log_compactions_total", inst), Legend: "{{instance}}"}}},
				{Title: "Commit-only appends coalesced", Unit: "ops", Width: 8,
					Desc:    "Empty appends carrying a new commit index not sent because a later append of the same round to the same follower carried it; under write load about one per follower per entry.",
					Targets: []Target{{Expr: rate("flaredb_raftstore_appends_coalesced_total", inst), Legend: "{{instance}}"}}},
			}},
		},
	}
}

func pd() Dashboard {
	return Dashboard{
		File: "flaredb-pd.json", UID: "flaredb-pd", Title: "FlareDB / PD and TSO",
		Desc:          "Placement driver: gRPC requests, cluster state, the timestamp oracle, and TSO as PD clients see it.",
		InstanceQuery: `label_values(flaredb_pd_grpc_requests_total, instance)`,
		Rows: []Row{
			{Title: "Cluster", Panels: []Panel{
				{Title: "Regions", Kind: "stat", Width: 3, Targets: []Target{{Expr: fmt.Sprintf("max(flaredb_pd_regions{%s})", inst)}}},
				{Title: "Bootstrapped", Kind: "stat", Width: 3, Targets: []Target{{Expr: fmt.Sprintf("max(flaredb_pd_bootstrapped{%s})", inst)}}},
				{Title: "Stores up", Kind: "stat", Width: 3, Targets: []Target{
					{Expr: fmt.Sprintf("max(flaredb_pd_stores{%s})", join(inst, `state="up"`))}}},
				{Title: "Stores down", Kind: "stat", Width: 3, Targets: []Target{
					{Expr: fmt.Sprintf("max(flaredb_pd_stores{%s})", join(inst, `state="down"`))}}},
				{Title: "Regions without leader", Kind: "stat", Width: 3, Targets: []Target{
					{Expr: fmt.Sprintf("max(flaredb_pd_regions_without_leader{%s})", inst)}}},
				{Title: "Regions missing replicas", Kind: "stat", Width: 3, Targets: []Target{
					{Expr: fmt.Sprintf("max(flaredb_pd_regions_miss_peer{%s})", inst)}}},
				{Title: "Timestamps issued", Kind: "stat", Unit: "ops", Width: 3, Targets: []Target{
					{Expr: fmt.Sprintf("sum(%s)", rate("flaredb_pd_tso_issued_total", inst))}}},
				{Title: "gRPC panics", Kind: "stat", Width: 3, Targets: []Target{
					{Expr: fmt.Sprintf("sum(flaredb_pd_grpc_panics_total{%s})", inst)}}},
			}},
			{Title: "Stores and regions (PD's view)", Panels: []Panel{
				{Title: "Stores by state", Width: 8, Desc: "down: no heartbeat for max-store-down-time; offline: being removed; tombstone: removed.",
					Targets: []Target{{Expr: fmt.Sprintf("sum by (state) (flaredb_pd_stores{%s})", inst), Legend: "{{state}}"}}},
				{Title: "Disk used by store", Unit: "percentunit", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("1 - flaredb_pd_store_available_bytes{%s} / (flaredb_pd_store_capacity_bytes{%s} > 0)", inst, inst),
						Legend: "{{instance}} store {{store}}"}}},
				{Title: "Capacity, available and used by store", Unit: "bytes", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_pd_store_capacity_bytes{%s}", inst), Legend: "store {{store}} capacity"},
					{Expr: fmt.Sprintf("flaredb_pd_store_available_bytes{%s}", inst), Legend: "store {{store}} available"},
					{Expr: fmt.Sprintf("flaredb_pd_store_used_bytes{%s}", inst), Legend: "store {{store}} used"}}},
				{Title: "Region peers by store", Width: 8, Desc: "From region heartbeats; compare with the stores' own flaredb_raftstore_regions.",
					Targets: []Target{{Expr: fmt.Sprintf("flaredb_pd_store_regions{%s}", inst), Legend: "store {{store}}"}}},
				{Title: "Leaders by store", Width: 8, Targets: []Target{
					{Expr: fmt.Sprintf("flaredb_pd_store_leaders{%s}", inst), Legend: "store {{store}}"}}},
				{Title: "Region health", Width: 8, Desc: "Regions without a usable leader, with fewer or more peers than max-replicas, or with a peer on a down store.",
					Targets: []Target{
						{Expr: fmt.Sprintf("flaredb_pd_regions_without_leader{%s}", inst), Legend: "without leader"},
						{Expr: fmt.Sprintf("flaredb_pd_regions_miss_peer{%s}", inst), Legend: "miss peer"},
						{Expr: fmt.Sprintf("flaredb_pd_regions_extra_peer{%s}", inst), Legend: "extra peer"},
						{Expr: fmt.Sprintf("flaredb_pd_regions_down_peer{%s}", inst), Legend: "down peer"}}},
			}},
			{Title: "gRPC", Panels: []Panel{
				{Title: "Requests by method", Unit: "reqps", Desc: "Unary calls and finished streams (Tso, RegionHeartbeat).", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (method) (%s)", rate("flaredb_pd_grpc_requests_total", inst)), Legend: "{{method}}"}}},
				{Title: "Requests by code", Unit: "reqps", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (code) (%s)", rate("flaredb_pd_grpc_requests_total", inst)), Legend: "{{code}}"}}},
				{Title: "Error ratio", Unit: "percentunit", Targets: []Target{
					{Expr: errRatio("flaredb_pd_grpc_requests_total", inst, "instance"), Legend: "{{instance}}"}}},
				{Title: "p99 latency by method (unary)", Unit: "s", Desc: "Includes store heartbeats, GetRegion and GetStore lookups.", Targets: []Target{
					{Expr: quantile("0.99", "flaredb_pd_grpc_request_duration_seconds", inst, "method"), Legend: "{{method}}"}}},
			}},
			{Title: "Heartbeats", Panels: []Panel{
				{Title: "Region heartbeats by result", Unit: "ops", Width: 8, Desc: "ok, or why PD rejected the heartbeat (stale epoch, not bootstrapped, ...).",
					Targets: []Target{{Expr: fmt.Sprintf("sum by (result) (%s)", rate("flaredb_pd_region_heartbeats_total", inst)), Legend: "{{result}}"}}},
				{Title: "Region heartbeat latency", Unit: "s", Width: 8, Desc: "PD's handling of one heartbeat on the RegionHeartbeat stream, reply included.",
					Targets: quantiles("flaredb_pd_region_heartbeat_duration_seconds", inst, "")},
				{Title: "Store heartbeat latency", Unit: "s", Width: 8, Desc: "StoreHeartbeat handling in PD (a unary call).",
					Targets: quantiles("flaredb_pd_grpc_request_duration_seconds", join(inst, `method=~".*/StoreHeartbeat"`), "")},
			}},
			{Title: "Timestamp oracle", Panels: []Panel{
				{Title: "Timestamps issued", Unit: "ops", Width: 8, Targets: []Target{
					{Expr: rate("flaredb_pd_tso_issued_total", inst), Legend: "{{instance}}"}}},
				{Title: "Tso request latency (PD side)", Unit: "s", Width: 8, Desc: "One Tso stream request in PD: overflow waits and the send included.",
					Targets: quantiles("flaredb_pd_tso_request_duration_seconds", inst, "")},
				{Title: "Timestamps per Tso request (PD side)", Width: 8, Desc: "The batch each request carries.", Targets: []Target{
					{Expr: mean("flaredb_pd_tso_batch_size", inst, "instance"), Legend: "{{instance}} mean"},
					{Expr: quantile("0.99", "flaredb_pd_tso_batch_size", inst, "instance"), Legend: "{{instance}} p99"}}},
				{Title: "Logical overflow waits", Unit: "ops", Width: 8, Desc: "Requests that waited for the next physical tick.", Targets: []Target{
					{Expr: rate("flaredb_pd_tso_overflow_waits_total", inst), Legend: "{{instance}}"}}},
				{Title: "Window saves and failures", Unit: "ops", Width: 8, Targets: []Target{
					{Expr: rate("flaredb_pd_tso_saves_total", inst), Legend: "{{instance}} saves"},
					{Expr: rate("flaredb_pd_tso_save_errors_total", inst), Legend: "{{instance}} errors"}}},
				{Title: "Window save latency", Unit: "s", Width: 8, Targets: quantiles("flaredb_pd_tso_save_duration_seconds", inst, "")},
			}},
			{Title: "TSO as PD clients see it (kv stores and SDK applications)", Panels: []Panel{
				{Title: "Tso round trip p99 by client", Unit: "s", Targets: []Target{
					{Expr: quantile("0.99", "flaredb_pdclient_tso_rpc_duration_seconds", "", "job, instance"), Legend: "{{job}} {{instance}}"}}},
				{Title: "GetTS latency p99 by client", Unit: "s", Desc: "As the caller sees it, batching wait included.", Targets: []Target{
					{Expr: quantile("0.99", "flaredb_pdclient_get_ts_duration_seconds", "", "job, instance"), Legend: "{{job}} {{instance}}"}}},
				{Title: "TSO batch size", Desc: "GetTS calls merged into one Tso stream request.", Targets: []Target{
					{Expr: mean("flaredb_pdclient_tso_batch_size", "", "job"), Legend: "{{job}} mean"},
					{Expr: quantile("0.99", "flaredb_pdclient_tso_batch_size", "", "job"), Legend: "{{job}} p99"}}},
				{Title: "PD stream reconnects", Unit: "ops", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (job, stream) (%s)", rate("flaredb_pdclient_stream_reconnects_total", "")), Legend: "{{job}} {{stream}}"}}},
			}},
			processPanels(join(`job="flaredb-pd"`, inst)),
		},
	}
}

func client() Dashboard {
	return Dashboard{
		File: "flaredb-client.json", UID: "flaredb-client", Title: "FlareDB / Client SDK",
		Desc:          "Applications using the FlareDB SDK (libs/client): latency by command, retries, region cache, TSO.",
		InstanceQuery: `label_values(flaredb_client_request_duration_seconds_count, instance)`,
		Rows: []Row{
			{Title: "Requests", Panels: []Panel{
				{Title: "Calls by command", Unit: "ops", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (cmd) (%s)", rate("flaredb_client_request_duration_seconds_count", inst)), Legend: "{{cmd}}"}}},
				{Title: "p99 latency by command", Unit: "s", Desc: "Retries included.", Targets: []Target{
					{Expr: quantile("0.99", "flaredb_client_request_duration_seconds", inst, "cmd"), Legend: "{{cmd}}"}}},
				{Title: "p50 latency by command", Unit: "s", Targets: []Target{
					{Expr: quantile("0.5", "flaredb_client_request_duration_seconds", inst, "cmd"), Legend: "{{cmd}}"}}},
				{Title: "Latency (all commands)", Unit: "s", Targets: quantiles("flaredb_client_request_duration_seconds", inst, "")},
			}},
			{Title: "Retries and routing", Panels: []Panel{
				{Title: "Retries by reason", Unit: "ops", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (reason) (%s)", rate("flaredb_client_retries_total", inst)), Legend: "{{reason}}"}}},
				{Title: "Region cache hit ratio", Unit: "percentunit", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (instance) (%s) / sum by (instance) (%s)",
						rate("flaredb_client_region_cache_total", join(inst, `result="hit"`)), rate("flaredb_client_region_cache_total", inst)),
						Legend: "{{instance}}"}}},
				{Title: "Region cache lookups", Unit: "ops", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (result) (%s)", rate("flaredb_client_region_cache_total", inst)), Legend: "{{result}}"}}},
			}},
			{Title: "Timestamps", Panels: []Panel{
				{Title: "GetTS latency", Unit: "s", Targets: quantiles("flaredb_pdclient_get_ts_duration_seconds", inst, "")},
				{Title: "Tso round trip", Unit: "s", Targets: quantiles("flaredb_pdclient_tso_rpc_duration_seconds", inst, "")},
				{Title: "TSO batch size", Targets: []Target{
					{Expr: mean("flaredb_pdclient_tso_batch_size", inst, "instance"), Legend: "{{instance}} mean"},
					{Expr: quantile("0.99", "flaredb_pdclient_tso_batch_size", inst, "instance"), Legend: "{{instance}} p99"}}},
				{Title: "PD stream reconnects", Unit: "ops", Targets: []Target{
					{Expr: fmt.Sprintf("sum by (stream) (%s)", rate("flaredb_pdclient_stream_reconnects_total", inst)), Legend: "{{stream}}"}}},
			}},
		},
	}
}
