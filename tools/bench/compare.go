package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// compare reads JSON result lines (as printed by bench runs) and prints one
// row per (workload, clients) with FlareDB's numbers, etcd's numbers and the
// FlareDB/etcd ratios. Throughput ratio > 1 and p99 ratio < 1 favour FlareDB.
func compare(r io.Reader, w io.Writer) error {
	type key struct {
		workload string
		clients  int
	}
	rows := map[key]map[string]result{}
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
			rows[k] = map[string]result{}
		}
		rows[k][res.Driver] = res
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
	fmt.Fprintf(w, "| workload | clients | flaredb ops/s | etcd ops/s | ops ratio | flaredb p99 ms | etcd p99 ms | p99 ratio | flaredb errors | etcd errors | bench cpu (flaredb/etcd) |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, k := range keys {
		f, fok := rows[k]["flaredb"]
		e, eok := rows[k]["etcd"]
		ratio, p99ratio := "n/a", "n/a"
		if fok && eok && e.OpsPerSec > 0 {
			ratio = fmt.Sprintf("%.2fx", f.OpsPerSec/e.OpsPerSec)
		}
		if fok && eok && e.P99Ms > 0 {
			p99ratio = fmt.Sprintf("%.2fx", f.P99Ms/e.P99Ms)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %s | %.2f | %.2f | %s | %d | %d | %.2f / %.2f |\n",
			k.workload, k.clients, f.OpsPerSec, e.OpsPerSec, ratio, f.P99Ms, e.P99Ms, p99ratio,
			f.Errors, e.Errors, f.BenchCPU, e.BenchCPU)
	}
	return nil
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
