package obs

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"instance": ".*", "__rate_interval": "1m", "job": "flaredb-kv"}
	for _, tc := range []struct {
		in, want string
		unknown  []string
	}{
		{`rate(m{instance=~"$instance"}[$__rate_interval])`, `rate(m{instance=~".*"}[1m])`, nil},
		{`m{instance=~"${instance}",job="${job:raw}"}`, `m{instance=~".*",job="flaredb-kv"}`, nil},
		{`m{instance=~"[[instance]]"}`, `m{instance=~".*"}`, nil},
		{`m{a="$nope", b="$nope", c="${other}"}`, `m{a="$nope", b="$nope", c="${other}"}`, []string{"nope", "other"}},
		{`$instancex`, `$instancex`, []string{"instancex"}},
		{`sum(m)`, `sum(m)`, nil},
	} {
		got, unknown := Substitute(tc.in, vars)
		require.Equal(t, tc.want, got, tc.in)
		require.Equal(t, tc.unknown, unknown, tc.in)
	}
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (method, code) (rate(flaredb_kv_requests_total{code!="OK", method=~"Get|Put"}[1m]))`,
			[]string{"flaredb_kv_requests_total"}},
		{`histogram_quantile(0.99, sum without (instance) (rate(a_bucket[5m])))`, []string{"a_bucket"}},
		{`a / on (instance) group_left (job) b > bool 0.5 unless c offset 5m`, []string{"a", "b", "c"}},
		{`sum(rate(x_total[5m:30s])) or vector(0)`, []string{"x_total"}},
		{`label_replace(m, "dst", "$1", "src", "(.*)")`, []string{"m"}},
		{`1 - m{job="a}b"} / ignoring(x) n`, []string{"m", "n"}},
		{`clamp_min(m, 1e-9) * 0x10 + Inf - NaN`, []string{"m"}},
		{`{__name__="hidden"}`, []string{}},
		{"# comment with word\nfoo:bar:rate5m", []string{"foo:bar:rate5m"}},
		{`sum by(le)(rate(h_bucket[1m]))`, []string{"h_bucket"}},
	} {
		require.Equal(t, tc.want, MetricNames(tc.expr), tc.expr)
	}
}

func TestVariableQuery(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`label_values(flaredb_kv_requests_total, instance)`, `count by (instance) (flaredb_kv_requests_total)`, true},
		{`label_values(up{job=~"flaredb-(kv|pd)"}, instance)`, `count by (instance) (up{job=~"flaredb-(kv|pd)"})`, true},
		{`label_values(instance)`, `count by (instance) ({instance!=""})`, true},
		{`query_result(topk(3, m))`, `topk(3, m)`, true},
		{`metrics(flaredb_.*)`, ``, false},
	} {
		got, ok := VariableQuery(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestParseDashboard(t *testing.T) {
	d, err := ParseDashboard([]byte(`{
	  "__inputs": [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}],
	  "uid": "u", "title": "T",
	  "panels": [
	    {"id": 1, "type": "timeseries", "title": "A", "targets": [
	      {"refId": "A", "expr": "a"}, {"refId": "B", "expr": "hidden", "hide": true}]},
	    {"id": 2, "type": "row", "title": "R", "collapsed": true, "panels": [
	      {"id": 3, "type": "stat", "title": "B", "targets": [{"refId": "A", "expr": "b"}]}]},
	    {"id": 4, "type": "text", "title": "notes"}
	  ],
	  "templating": {"list": [
	    {"name": "datasource", "type": "datasource", "query": "prometheus"},
	    {"name": "instance", "type": "query", "query": {"query": "label_values(m, instance)", "refId": "x"}}
	  ]}
	}`))
	require.NoError(t, err)
	require.Equal(t, []string{"DS_PROMETHEUS"}, d.Inputs)
	require.Equal(t, []Panel{
		{ID: 1, Title: "A", Type: "timeseries", Targets: []Target{{RefID: "A", Expr: "a"}}},
		{ID: 3, Title: "B", Type: "stat", Targets: []Target{{RefID: "A", Expr: "b"}}},
		{ID: 4, Title: "notes", Type: "text"},
	}, d.Panels)
	require.Equal(t, []Variable{
		{Name: "datasource", Type: "datasource", Query: "prometheus"},
		{Name: "instance", Type: "query", Query: "label_values(m, instance)"},
	}, d.Variables)

	_, err = ParseDashboard([]byte(`{"panels": []}`))
	require.Error(t, err)
	_, err = ParseDashboard([]byte(`{"title": "x", "templating": {"list": [{"name": "v", "query": 3}]}}`))
	require.Error(t, err)
}

func TestPrometheusConfigYAML(t *testing.T) {
	y, err := PrometheusConfig{
		Interval:  500 * time.Millisecond,
		Jobs:      []ScrapeJob{{Name: "flaredb-kv", Targets: []string{"127.0.0.1:1", "127.0.0.1:2"}}},
		RuleFiles: []string{"/abs/alerts.yml"},
	}.YAML()
	require.NoError(t, err)
	require.Equal(t, strings.Join([]string{
		"global:",
		"  scrape_interval: 500ms",
		"  scrape_timeout: 500ms",
		"  evaluation_interval: 500ms",
		"rule_files:",
		`  - "/abs/alerts.yml"`,
		"scrape_configs:",
		`  - job_name: "flaredb-kv"`,
		"    static_configs:",
		"      - targets:",
		`          - "127.0.0.1:1"`,
		`          - "127.0.0.1:2"`,
		"",
	}, "\n"), y)
}

func TestExposedNames(t *testing.T) {
	names, err := ExposedNames(strings.NewReader(`# HELP h A histogram.
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.3
h_count 2
# TYPE c counter
c{code="OK"} 5
g 1.5 1700000000000

`))
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"h": true, "h_bucket": true, "h_sum": true, "h_count": true, "c": true, "g": true}, names)
	_, err = ExposedNames(strings.NewReader("{broken} 1\n"))
	require.Error(t, err)
}

func TestQueryValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/v1/query", r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("query") {
		case "v":
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"store":"1"},"value":[1700000000.1,"3"]},{"metric":{"store":"2"},"value":[1700000000.1,"NaN"]}]}}`))
		default:
			_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
		}
	}))
	defer srv.Close()
	p := &Prometheus{URL: srv.URL, client: srv.Client()}
	res, err := p.Query(context.Background(), "v")
	require.NoError(t, err)
	require.Equal(t, "vector", res.Type)
	require.Equal(t, 2, res.Series)
	require.Len(t, res.Values, 2)
	require.Equal(t, 3.0, res.Values[0])
	require.True(t, math.IsNaN(res.Values[1]))

	_, err = p.Query(context.Background(), "bad(")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "bad_data", apiErr.Type)
}
