#!/usr/bin/env bash
# Runs FlareDB and etcd side by side on this machine and prints one table of
# FlareDB/etcd ratios. Both run 3 replicas on loopback with fsync on (etcd's
# default; FlareDB syncs its Raft log before acknowledging).
#
#   scripts/bench-vs-etcd.sh                      # defaults below
#   DURATION=20s CLIENTS="64 256" WORKLOADS="put get" scripts/bench-vs-etcd.sh
#   KV_FLAGS="--read-mode lease" WORKLOADS=get scripts/bench-vs-etcd.sh   # lease reads
#   REPEAT=3 scripts/bench-vs-etcd.sh             # 3 etcd/FlareDB pairs per row, median shown
#
# Results (JSON lines) and server logs stay in $OUT (default: a new temp dir).
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CLIENTS=${CLIENTS:-"1 16 64 256"}
WORKLOADS=${WORKLOADS:-"put get"}
KEYS=${KEYS:-10000}
VALUE_SIZE=${VALUE_SIZE:-100}
CONNS=${CONNS:-4}
BASE_PORT=${BASE_PORT:-32000}
KV_FLAGS=${KV_FLAGS:-}   # extra kv-service flags, e.g. KV_FLAGS="--read-mode lease"
# REPEAT runs each row's etcd/FlareDB pair that many times, back to back, so
# that both see the machine's slow and fast minutes; the table shows each
# driver's median run and lists every run.
REPEAT=${REPEAT:-1}

root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d /tmp/flaredb-bench.XXXXXX)}
mkdir -p "$OUT/bin"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

if ! command -v etcd >/dev/null 2>&1; then
  echo "== installing Debian's etcd-server"
  (apt-get install -y -q etcd-server >/dev/null 2>&1) || (apt-get update -q >/dev/null && apt-get install -y -q etcd-server >/dev/null)
fi
echo "== etcd: $(etcd --version | head -1)"

echo "== building FlareDB binaries into $OUT/bin"
(cd "$root" && go build -o "$OUT/bin/pd" ./services/pd && go build -o "$OUT/bin/kv" ./services/kv \
  && go build -o "$OUT/bin/flarectl" ./tools/flarectl && go build -o "$OUT/bin/bench" ./tools/bench)

port() { echo $((BASE_PORT + $1)); }

echo "== starting etcd (3 members)"
cluster=""
for i in 1 2 3; do cluster+="${cluster:+,}m$i=http://127.0.0.1:$(port $((10 + i)))"; done
etcd_eps=""
for i in 1 2 3; do
  cport=$(port $i); pport=$(port $((10 + i)))
  etcd --name "m$i" --data-dir "$OUT/etcd-$i" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token flaredb-bench \
    --logger zap --log-level warn >"$OUT/etcd-$i.log" 2>&1 &
  pids+=($!)
  etcd_eps+="${etcd_eps:+,}127.0.0.1:$cport"
done

echo "== starting FlareDB (1 PD + 3 KV)"
pd_addr="127.0.0.1:$(port 20)"
"$OUT/bin/pd" --addr "$pd_addr" --status-addr "127.0.0.1:$(port 21)" --data-dir "$OUT/pd" \
  --log-level warn >"$OUT/pd.log" 2>&1 &
pids+=($!)
for i in 1 2 3; do
  "$OUT/bin/kv" --pd "$pd_addr" --addr "127.0.0.1:$(port $((30 + i)))" \
    --status-addr "127.0.0.1:$(port $((40 + i)))" --data-dir "$OUT/kv-$i" \
    --log-level warn $KV_FLAGS >"$OUT/kv-$i.log" 2>&1 &
  pids+=($!)
done

wait_for() { # description, command...
  local what=$1; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "timed out waiting for $what; logs in $OUT" >&2
  exit 1
}
# Readiness: a write goes through on each system, then FlareDB's region has
# its three replicas (PD adds them as the stores join).
wait_for "etcd" "$OUT/bin/bench" --driver etcd --endpoints "$etcd_eps" --workload put --clients 1 --duration 200ms --warmup 0s --keys 10
wait_for "flaredb" "$OUT/bin/flarectl" --pd "$pd_addr" put bench-ready 1
replicated() {
  "$OUT/bin/flarectl" --pd "$pd_addr" -o json status | grep -q '"peers":\[[^]]*},{[^]]*},{'
}
wait_for "flaredb region with 3 replicas" replicated

results="$OUT/results.jsonl"
: >"$results"
for w in $WORKLOADS; do
  for c in $CLIENTS; do
    for r in $(seq 1 "$REPEAT"); do
      for d in etcd flaredb; do
        eps=$pd_addr; [ $d = etcd ] && eps=$etcd_eps
        echo "== $d $w clients=$c run=$r/$REPEAT"
        "$OUT/bin/bench" --driver $d --endpoints "$eps" --workload "$w" --clients "$c" --conns "$CONNS" \
          --keys "$KEYS" --value-size "$VALUE_SIZE" --duration "$DURATION" --warmup "$WARMUP" \
          --prefix "bench-$w/" 2>>"$OUT/progress.log" | tee -a "$OUT/results.txt" | grep '^{' >>"$results"
      done
    done
  done
done

echo
echo "== FlareDB vs etcd ($(nproc) cores, $(date -u +%Y-%m-%d), duration $DURATION, value $VALUE_SIZE B, keys $KEYS, conns $CONNS, runs per row $REPEAT)"
"$OUT/bin/bench" compare "$results"
echo "results: $results"
