#!/usr/bin/env bash
# cluster.sh start|stop|status: a local FlareDB cluster of 1 PD and 3 KV
# stores on loopback, data and logs under ./flaredb-cluster (override with
# CLUSTER_DIR). Binaries are built with `go build` into $CLUSTER_DIR/bin.
# KV_FLAGS adds flags to every kv store (e.g. KV_FLAGS="-config kv.toml").
set -euo pipefail
DIR=${CLUSTER_DIR:-./flaredb-cluster}
PD_ADDR=127.0.0.1:2379
PD_STATUS=127.0.0.1:2380
KV_BASE=20160

start() {
  mkdir -p "$DIR/bin"
  go build -o "$DIR/bin/pd" ./services/pd
  go build -o "$DIR/bin/kv" ./services/kv
  mkdir -p "$DIR/pd"
  "$DIR/bin/pd" -addr "$PD_ADDR" -status-addr "$PD_STATUS" -data-dir "$DIR/pd" >"$DIR/pd.log" 2>&1 &
  echo $! >"$DIR/pd.pid"
  sleep 1
  for i in 1 2 3; do
    mkdir -p "$DIR/kv$i"
    "$DIR/bin/kv" -pd "$PD_ADDR" -addr "127.0.0.1:$((KV_BASE + i))" -status-addr "127.0.0.1:$((KV_BASE + 100 + i))" \
      -data-dir "$DIR/kv$i" ${KV_FLAGS:-} >"$DIR/kv$i.log" 2>&1 &
    echo $! >"$DIR/kv$i.pid"
    sleep 1
  done
  status
  echo "PD: $PD_ADDR  KV: 127.0.0.1:$((KV_BASE + 1))..$((KV_BASE + 3))"
}

stop() {
  for f in "$DIR"/kv*.pid "$DIR"/pd.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$f"
  done
}

status() {
  for f in "$DIR"/pd.pid "$DIR"/kv*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then echo "$(basename "$f" .pid): running (pid $pid)"; else echo "$(basename "$f" .pid): dead"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
