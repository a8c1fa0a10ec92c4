package obs

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var prometheusBinFlag = flag.String("prometheus-bin", "",
	"path to the prometheus binary (default: prometheus on $PATH, then /usr/bin/prometheus)")

// ErrNoPrometheus is returned by PrometheusBinary when no binary is found.
var ErrNoPrometheus = errors.New("prometheus binary not found (install Debian's prometheus package or pass -prometheus-bin)")

// PrometheusBinary locates the prometheus server binary.
func PrometheusBinary() (string, error) {
	if *prometheusBinFlag != "" {
		return filepath.Abs(*prometheusBinFlag)
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus", nil
	}
	return "", ErrNoPrometheus
}

// ScrapeJob is one scrape_configs entry with static targets (host:port,
// scraped at /metrics over plain HTTP).
type ScrapeJob struct {
	Name    string
	Targets []string
}

// PrometheusConfig is what StartPrometheus writes into prometheus.yml.
type PrometheusConfig struct {
	// Interval is the scrape and rule evaluation interval (default 1s).
	Interval time.Duration
	Jobs     []ScrapeJob
	// RuleFiles are paths of rule files, made absolute.
	RuleFiles []string
}

// YAML renders c as a Prometheus configuration file. Names and addresses
// are quoted, so any printable value is safe.
func (c PrometheusConfig) YAML() (string, error) {
	iv := c.Interval
	if iv <= 0 {
		iv = time.Second
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n",
		promDuration(iv), promDuration(iv), promDuration(iv))
	if len(c.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range c.RuleFiles {
			abs, err := filepath.Abs(f)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "  - %q\n", abs)
		}
	}
	b.WriteString("scrape_configs:\n")
	for _, j := range c.Jobs {
		fmt.Fprintf(&b, "  - job_name: %q\n    static_configs:\n      - targets:\n", j.Name)
		for _, t := range j.Targets {
			fmt.Fprintf(&b, "          - %q\n", t)
		}
	}
	return b.String(), nil
}

// promDuration formats d in Prometheus's duration syntax (ms granularity).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// Prometheus is a running prometheus server started by StartPrometheus.
type Prometheus struct {
	URL     string // http://127.0.0.1:port
	LogPath string
	client  *http.Client
}

// StartPrometheus runs the prometheus binary bin with cfg on a free loopback
// port and a temporary storage directory, waits until it is ready, and
// stops it at cleanup. Failures end the test; the server's log is printed
// when the test fails.
func StartPrometheus(t testing.TB, bin string, cfg PrometheusConfig) *Prometheus {
	t.Helper()
	dir := t.TempDir()
	text, err := cfg.YAML()
	if err != nil {
		t.Fatalf("render prometheus config: %v", err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=info",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p := &Prometheus{URL: "http://" + addr, LogPath: logPath, client: &http.Client{Timeout: 10 * time.Second}}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("prometheus log:\n%s\nprometheus config:\n%s", tail(string(b), 16<<10), text)
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("prometheus exited before becoming ready:\n%s", tail(string(b), 16<<10))
		default:
		}
		resp, err := p.client.Get(p.URL + "/-/ready")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready at %s after 30s (last error: %v)", p.URL, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// APIError is an error answer of the Prometheus HTTP API, e.g. a PromQL
// parse error (Type "bad_data").
type APIError struct {
	Type, Msg string
}

func (e *APIError) Error() string { return e.Type + ": " + e.Msg }

// get calls a /api/v1 endpoint and decodes its data field into out.
func (p *Prometheus) get(ctx context.Context, path string, q url.Values, out any) error {
	u := p.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: HTTP %d, undecodable body: %w", path, resp.StatusCode, err)
	}
	if env.Status != "success" {
		return &APIError{Type: env.ErrorType, Msg: env.Error}
	}
	return json.Unmarshal(env.Data, out)
}

// QueryResult summarizes an instant query's answer.
type QueryResult struct {
	Type   string // vector, matrix, scalar, string
	Series int    // number of series (1 for scalar and string)
	// Values are the sample values of a vector result, in the order
	// Prometheus returned the series (NaN for "NaN").
	Values []float64
}

// Query evaluates expr at the current time. A PromQL syntax or evaluation
// error comes back as *APIError.
func (p *Prometheus) Query(ctx context.Context, expr string) (QueryResult, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return QueryResult{}, err
	}
	r := QueryResult{Type: data.ResultType}
	switch data.ResultType {
	case "vector":
		var series []struct {
			Value [2]any `json:"value"` // [unix time, "value"]
		}
		if err := json.Unmarshal(data.Result, &series); err != nil {
			return r, err
		}
		r.Series = len(series)
		for _, s := range series {
			str, _ := s.Value[1].(string)
			v, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return r, fmt.Errorf("query %q: sample value %v: %w", expr, s.Value[1], err)
			}
			r.Values = append(r.Values, v)
		}
	case "matrix":
		var series []json.RawMessage
		if err := json.Unmarshal(data.Result, &series); err != nil {
			return r, err
		}
		r.Series = len(series)
	default:
		r.Series = 1
	}
	return r, nil
}

// MetricNames returns every metric name Prometheus has samples for (the
// values of the __name__ label), including its synthetic up and scrape_*
// series.
func (p *Prometheus) MetricNames(ctx context.Context) (map[string]bool, error) {
	var names []string
	if err := p.get(ctx, "/api/v1/label/__name__/values", nil, &names); err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set, nil
}

// ScrapeTarget is one scrape target's state.
type ScrapeTarget struct {
	Job       string
	ScrapeURL string
	Health    string // up, down, unknown
	LastError string
}

// Targets returns the active scrape targets.
func (p *Prometheus) Targets(ctx context.Context) ([]ScrapeTarget, error) {
	var data struct {
		ActiveTargets []struct {
			Labels    map[string]string `json:"labels"`
			ScrapeURL string            `json:"scrapeUrl"`
			Health    string            `json:"health"`
			LastError string            `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := p.get(ctx, "/api/v1/targets", url.Values{"state": {"active"}}, &data); err != nil {
		return nil, err
	}
	ts := make([]ScrapeTarget, 0, len(data.ActiveTargets))
	for _, a := range data.ActiveTargets {
		ts = append(ts, ScrapeTarget{Job: a.Labels["job"], ScrapeURL: a.ScrapeURL, Health: a.Health, LastError: a.LastError})
	}
	return ts, nil
}

// Rule is a loaded alerting or recording rule.
type Rule struct {
	Group     string
	Name      string
	Type      string // alerting, recording
	Query     string
	Health    string // ok, err, unknown
	LastError string
}

// Rules returns every rule Prometheus loaded from its rule files.
func (p *Prometheus) Rules(ctx context.Context) ([]Rule, error) {
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string `json:"name"`
				Type      string `json:"type"`
				Query     string `json:"query"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get(ctx, "/api/v1/rules", nil, &data); err != nil {
		return nil, err
	}
	var rs []Rule
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			rs = append(rs, Rule{Group: g.Name, Name: r.Name, Type: r.Type, Query: r.Query, Health: r.Health, LastError: r.LastError})
		}
	}
	return rs, nil
}
