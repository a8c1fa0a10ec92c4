package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// compare reads JSON result lines (as printed by bench runs) and prints one
// row per (workload, clients) with FlareDB's numbers, etcd's numbers and the
// FlareDB/etcd ratios. Throughput ratio > 1 and p99 ratio < 1 favour FlareDB.
//
// When a driver has several runs of a row (REPEAT in bench-vs-etcd.sh), the
// row shows its median run by ops/s, whole (its p99, errors and CPU too, so
// the numbers of a row come from one run), and a last column lists the
// ops/s of every run in order.
func compare(r io.Reader, w io.Writer) error {
	type key struct {
		workload string
		clients  int
	}
	rows := map[key]map[string][]result{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var res result
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		if err := json.Unmarshal(line, &res); err != nil {
			return fmt.Errorf("bad result line %q: %w", line, err)
		}
		k := key{res.Workload, res.Clients}
		if rows[k] == nil {
			rows[k] = map[string][]result{}
		}
		rows[k][res.Driver] = append(rows[k][res.Driver], res)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	keys := make([]key, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].workload != keys[j].workload {
			return keys[i].workload < keys[j].workload
		}
		return keys[i].clients < keys[j].clients
	})
	repeated := false
	for _, byDriver := range rows {
		for _, runs := range byDriver {
			repeated = repeated || len(runs) > 1
		}
	}
	header := "| workload | clients | flaredb ops/s | etcd ops/s | ops ratio | flaredb p99 ms | etcd p99 ms | p99 ratio | flaredb errors | etcd errors | bench cpu (flaredb/etcd) |"
	rule := "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	if repeated {
		header += " runs ops/s (flaredb; etcd) |"
		rule += "---|"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, rule)
	for _, k := range keys {
		f, fok := median(rows[k]["flaredb"])
		e, eok := median(rows[k]["etcd"])
		ratio, p99ratio := "n/a", "n/a"
		if fok && eok && e.OpsPerSec > 0 {
			ratio = fmt.Sprintf("%.2fx", f.OpsPerSec/e.OpsPerSec)
		}
		if fok && eok && e.P99Ms > 0 {
			p99ratio = fmt.Sprintf("%.2fx", f.P99Ms/e.P99Ms)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %s | %.2f | %.2f | %s | %d | %d | %.2f / %.2f |",
			k.workload, k.clients, f.OpsPerSec, e.OpsPerSec, ratio, f.P99Ms, e.P99Ms, p99ratio,
			f.Errors, e.Errors, f.BenchCPU, e.BenchCPU)
		if repeated {
			fmt.Fprintf(w, " %s; %s |", opsList(rows[k]["flaredb"]), opsList(rows[k]["etcd"]))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// median returns the run with the median ops/s (the lower of the middle
// two for an even count), and false if there is none.
func median(runs []result) (result, bool) {
	if len(runs) == 0 {
		return result{}, false
	}
	sorted := append([]result(nil), runs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].OpsPerSec < sorted[j].OpsPerSec })
	return sorted[(len(sorted)-1)/2], true
}

func opsList(runs []result) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = fmt.Sprintf("%.0f", r.OpsPerSec)
	}
	return strings.Join(parts, ", ")
}

func runCompare(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: bench compare RESULTS.jsonl")
		return 2
	}
	f, err := os.Open(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	defer f.Close()
	if err := compare(f, stdout); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}
