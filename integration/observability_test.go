package integration

// Bazel: this test needs the service binaries, the monitoring assets and a
// system prometheus (Debian's package; .ci/run and tools/bazel install it).
// Its go_test in integration/BUILD.bazel wants
//
//	args = ["-kv-bin=$(rootpath //services/kv)", "-pd-bin=$(rootpath //services/pd)"],
//	data = ["//services/kv", "//services/pd", "//deploy/grafana:dashboards", "//deploy/prometheus:config"],
//	tags = ["requires-network"],
//
// Without the prometheus binary the test skips.

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/flaredb/flaredb/integration/framework"
	"github.com/flaredb/flaredb/integration/obs"
	"github.com/flaredb/flaredb/libs/client"
)

const (
	dashboardDir = "../deploy/grafana"
	promConfig   = "../deploy/prometheus/prometheus.yml"
	alertRules   = "../deploy/prometheus/alerts.yml"
)

// dashboardVars are the values Grafana template variables take in the test:
// every instance, and a rate window that covers the whole run.
var dashboardVars = map[string]string{
	"instance":        ".*",
	"job":             ".*",
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "1m",
}

// generatedNames are series Prometheus itself creates for every target;
// dashboards may use them although no service exports them.
var generatedNames = map[string]bool{"up": true}

// TestObservability starts PD, three kv stores, an SDK client and a real
// Prometheus scraping all of them every second with the alert rules loaded,
// drives traffic, and then evaluates every dashboard panel, template
// variable and alert rule through Prometheus's HTTP API. Each expression
// must parse and each panel and variable must return data; a metric name
// that no process exports fails the test by name.
func TestObservability(t *testing.T) {
	promBin, err := obs.PrometheusBinary()
	if errors.Is(err, obs.ErrNoPrometheus) {
		t.Skipf("skipping the dashboard test: %v", err)
	}
	require.NoError(t, err)
	checkWithPromtool(t)

	dashboards, err := obs.LoadDashboards(dashboardDir)
	require.NoError(t, err)
	require.NotEmpty(t, dashboards, "no dashboards in %s", dashboardDir)

	pd := framework.StartPD(t, framework.PDOptions{})
	var kvs []*framework.Process
	for i := 0; i < 3; i++ {
		kvs = append(kvs, framework.StartKV(t, framework.KVOptions{PDEndpoints: []string{pd.Addr()}}))
	}

	// The SDK's metrics, served like an application embedding it would.
	reg := prometheus.NewRegistry()
	appMetrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(appMetrics.Close)
	appAddr := strings.TrimPrefix(appMetrics.URL, "http://")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli, err := client.New(ctx, client.Config{PDEndpoints: []string{pd.Addr()}}, client.WithRegisterer(reg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })

	jobs := []obs.ScrapeJob{
		{Name: "flaredb-pd", Targets: []string{pd.StatusAddr()}},
		{Name: "flaredb-kv"},
		{Name: "flaredb-client", Targets: []string{appAddr}},
	}
	for _, kv := range kvs {
		jobs[1].Targets = append(jobs[1].Targets, kv.StatusAddr())
	}
	prom := obs.StartPrometheus(t, promBin, obs.PrometheusConfig{
		Interval: time.Second, Jobs: jobs, RuleFiles: []string{alertRules},
	})

	// Traffic runs until the checks are done, so rates are non-zero.
	var ok, failed atomic.Int64
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		driveTraffic(trafficCtx, cli, &ok, &failed)
	}()
	defer func() { stopTraffic(); <-trafficDone }()

	waitForTargets(ctx, t, prom, len(kvs)+2)
	require.Eventually(t, func() bool { return ok.Load() > 50 }, 30*time.Second, 100*time.Millisecond,
		"SDK traffic does not succeed (%d failed calls)", failed.Load())

	exported := map[string]bool{}
	for _, addr := range append([]string{pd.StatusAddr(), appAddr}, statusAddrs(kvs)...) {
		names, err := obs.ScrapeNames(ctx, "http://"+addr+"/metrics")
		require.NoError(t, err, "scrape %s", addr)
		for n := range names {
			exported[n] = true
		}
	}

	checkDashboards(ctx, t, prom, dashboards, exported)
	checkRules(ctx, t, prom, exported)
	checkClusterView(ctx, t, prom, len(kvs))
	t.Logf("traffic: %d calls ok, %d failed", ok.Load(), failed.Load())
}

func statusAddrs(ps []*framework.Process) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.StatusAddr())
	}
	return out
}

// checkWithPromtool runs promtool's own checks on the shipped config and
// rules when promtool is installed.
func checkWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Logf("promtool not found; skipping promtool check config/rules")
		return
	}
	for _, args := range [][]string{{"check", "rules", alertRules}, {"check", "config", promConfig}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// driveTraffic calls every SDK command in a loop until ctx ends. Failures
// are counted, not fatal: a region may be electing a leader.
func driveTraffic(ctx context.Context, cli *client.Client, ok, failed *atomic.Int64) {
	count := func(err error) {
		if err == nil {
			ok.Add(1)
		} else if ctx.Err() == nil {
			failed.Add(1)
		}
	}
	for i := 0; ctx.Err() == nil; i++ {
		key := []byte(fmt.Sprintf("obs/%04d", i%500))
		ver, err := cli.Put(ctx, key, []byte(fmt.Sprintf("v%d", i)))
		count(err)
		_, err = cli.Get(ctx, key)
		count(err)
		_, err = cli.CompareAndSwap(ctx, key, []byte("cas"), ver)
		count(err)
		_, err = cli.Scan(ctx, []byte("obs/"), []byte("obs0"), 20)
		count(err)
		_, err = cli.ReverseScan(ctx, []byte("obs/"), []byte("obs0"), 20)
		count(err)
		_, err = cli.GetTS(ctx)
		count(err)
		if i%10 == 0 {
			_, err = cli.BatchPut(ctx, []client.KV{{Key: []byte("obs/b1"), Value: []byte("1")}, {Key: []byte("obs/b2"), Value: []byte("2")}})
			count(err)
			_, err = cli.BatchGet(ctx, [][]byte{[]byte("obs/b1"), []byte("obs/b2")})
			count(err)
			count(cli.Delete(ctx, []byte("obs/b1")))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForTargets waits until Prometheus has scraped n targets successfully.
func waitForTargets(ctx context.Context, t *testing.T, prom *obs.Prometheus, n int) {
	t.Helper()
	var last []obs.ScrapeTarget
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ts, err := prom.Targets(ctx)
		require.NoError(t, err)
		last = ts
		up := 0
		for _, tg := range ts {
			if tg.Health == "up" {
				up++
			}
		}
		if up == n && len(ts) == n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("prometheus targets not all up after 30s: %+v", last)
}

// checkClusterView checks that PD's metrics, as Prometheus sees them,
// describe the running cluster: every store up with its disk reported, no
// region without a leader, and the store-down, no-leader and disk alerts
// quiet.
func checkClusterView(ctx context.Context, t *testing.T, prom *obs.Prometheus, stores int) {
	t.Helper()
	want := []struct {
		expr  string
		value float64
	}{
		{`max(flaredb_pd_stores{state="up"})`, float64(stores)},
		{`max(flaredb_pd_stores{state="down"})`, 0},
		{`count(flaredb_pd_store_capacity_bytes > 0)`, float64(stores)},
		{`count(flaredb_pd_store_available_bytes > 0)`, float64(stores)},
		{`count(flaredb_pd_store_regions)`, float64(stores)},
		{`max(flaredb_pd_regions_without_leader)`, 0},
		{`sum(rate(flaredb_pd_region_heartbeats_total{result="ok"}[1m])) > bool 0`, 1},
		{`sum(rate(flaredb_pd_tso_batch_size_count[1m])) > bool 0`, 1},
		{`count(ALERTS{alertname=~"FlareDBStoreDown|FlareDBRegionWithoutLeader|FlareDBDiskAlmostFull"}) or vector(0)`, 0},
	}
	for _, w := range want {
		var last []float64
		ok := false
		deadline := time.Now().Add(30 * time.Second)
		for !ok && time.Now().Before(deadline) {
			res, err := prom.Query(ctx, w.expr)
			require.NoError(t, err, w.expr)
			last = res.Values
			ok = len(res.Values) == 1 && res.Values[0] == w.value
			if !ok {
				time.Sleep(500 * time.Millisecond)
			}
		}
		if !ok {
			t.Errorf("%s = %v, want %v", w.expr, last, w.value)
		}
	}
}

// query is one expression to evaluate, with where it came from.
type query struct {
	where string
	expr  string
}

// checkDashboards checks every panel target and query variable: template
// variables resolve, every metric is exported, the expression parses, and
// (within a deadline that lets rate windows fill) it returns data.
func checkDashboards(ctx context.Context, t *testing.T, prom *obs.Prometheus, ds []*obs.Dashboard, exported map[string]bool) {
	t.Helper()
	var qs []query
	add := func(where, raw string, allowed map[string]bool) {
		expr, unknown := obs.Substitute(raw, dashboardVars)
		if len(unknown) > 0 {
			t.Errorf("%s: unknown template variables %v in %q", where, unknown, raw)
			return
		}
		missing := false
		for _, name := range obs.MetricNames(expr) {
			if !exported[name] && !allowed[name] {
				t.Errorf("%s: metric %s is not exported by any service (expr %q)", where, name, raw)
				missing = true
			}
		}
		if !missing { // it could not return data; reported once is enough
			qs = append(qs, query{where: where, expr: expr})
		}
	}
	for _, d := range ds {
		require.Contains(t, d.Inputs, "DS_PROMETHEUS", "%s: no DS_PROMETHEUS input", d.File)
		hasInstance := false
		for _, v := range d.Variables {
			if v.Type != "query" {
				continue
			}
			hasInstance = hasInstance || v.Name == "instance"
			where := fmt.Sprintf("%s: variable $%s", d.File, v.Name)
			expr, ok := obs.VariableQuery(v.Query)
			if !ok {
				t.Errorf("%s: unsupported variable query %q", where, v.Query)
				continue
			}
			add(where, expr, generatedNames)
		}
		require.True(t, hasInstance, "%s: no $instance template variable", d.File)
		for _, p := range d.Panels {
			if p.Type == "text" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no queries", d.File, p.Title)
			}
			for _, tg := range p.Targets {
				add(fmt.Sprintf("%s: panel %q [%s]", d.File, p.Title, tg.RefID), tg.Expr, generatedNames)
			}
		}
	}
	// Rates need two scrapes inside the window; retry empty results until
	// the deadline, but report parse errors at once.
	pending := qs
	deadline := time.Now().Add(30 * time.Second)
	for len(pending) > 0 {
		var empty []query
		for _, q := range pending {
			res, err := prom.Query(ctx, q.expr)
			var apiErr *obs.APIError
			switch {
			case errors.As(err, &apiErr):
				t.Errorf("%s: prometheus rejects %q: %v", q.where, q.expr, err)
			case err != nil:
				t.Fatalf("query prometheus: %v", err)
			case res.Series == 0:
				empty = append(empty, q)
			}
		}
		pending = empty
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, q := range pending {
		t.Errorf("%s: no data for %q", q.where, q.expr)
	}
	t.Logf("evaluated %d dashboard expressions over %d dashboards", len(qs), len(ds))
}

// ruleLine counts the rules in the rules file, to check Prometheus loaded
// them all.
var ruleLine = regexp.MustCompile(`(?m)^\s*-\s*(alert|record):`)

// checkRules checks that Prometheus loaded every rule, evaluates each one
// without error, and that each rule's metrics are exported.
func checkRules(ctx context.Context, t *testing.T, prom *obs.Prometheus, exported map[string]bool) {
	t.Helper()
	text, err := os.ReadFile(alertRules)
	require.NoError(t, err)
	want := len(ruleLine.FindAll(text, -1))

	rules, err := prom.Rules(ctx)
	require.NoError(t, err)
	require.Len(t, rules, want, "prometheus loaded %d of the %d rules in %s", len(rules), want, alertRules)
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
		where := fmt.Sprintf("rule %s (group %s)", r.Name, r.Group)
		if r.Health == "err" {
			t.Errorf("%s: evaluation error: %s", where, r.LastError)
		}
		for _, name := range obs.MetricNames(r.Query) {
			if !exported[name] && !generatedNames[name] {
				t.Errorf("%s: metric %s is not exported by any service (expr %q)", where, name, r.Query)
			}
		}
		if _, err := prom.Query(ctx, r.Query); err != nil {
			t.Errorf("%s: prometheus rejects %q: %v", where, r.Query, err)
		}
	}
	sort.Strings(names)
	t.Logf("evaluated %d alert rules: %s", len(rules), strings.Join(names, ", "))
}
