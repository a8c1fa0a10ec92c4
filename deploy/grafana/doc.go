// Package grafana generates FlareDB's Grafana dashboards (the *.json files
// in this directory) from compact panel definitions, so that every
// dashboard shares the same datasource input, template variables and
// layout. Edit dashboards.go, then regenerate:
//
//	go test ./deploy/grafana -update
//
// The package's test fails when a checked-in JSON file differs from what
// the definitions produce. integration/observability_test.go evaluates every
// panel against a real Prometheus scraping a running cluster.
package grafana
