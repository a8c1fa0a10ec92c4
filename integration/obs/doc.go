// Package obs proves FlareDB's monitoring assets against a real Prometheus:
// it reads Grafana dashboard JSON, pulls out every panel and template
// variable query, substitutes Grafana's template variables so the query is
// plain PromQL, finds the metric names a query references, and starts and
// talks to a Prometheus server (Debian's prometheus binary) on loopback.
//
// The helpers are deliberately small and dependency-free (no Prometheus
// parser library): the authoritative PromQL parse is the real Prometheus's
// /api/v1/query, which the integration test calls for every expression.
package obs
