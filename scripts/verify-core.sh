#!/usr/bin/env bash
# verify-core.sh: the one-command end-to-end check of FlareDB's core path.
#
# Builds pd-service, kv-service and flarectl with `go build` into a temp dir,
# starts PD and one kv-service (registered with PD) on free loopback ports
# with temp data dirs, drives every flarectl command in text and JSON and
# compares the output exactly, kill -9s and restarts the store to check
# durability, and stops what it started (by PID, on any exit). Exits non-zero
# on the first mismatch.
#
# Usage: scripts/verify-core.sh            (from anywhere inside the repo)
#        KEEP_TMP=1 scripts/verify-core.sh  (keep logs and data for debugging)
#        scripts/verify-core.sh --pd-bin P --kv-bin K --flarectl-bin F
#                                           (use prebuilt binaries; how
#                                           //scripts:verify_core_test runs it)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PD_BIN="" KV_BIN="" CTL_BIN=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --pd-bin=*) PD_BIN=$(realpath "${1#*=}"); shift ;;
    --kv-bin=*) KV_BIN=$(realpath "${1#*=}"); shift ;;
    --flarectl-bin=*) CTL_BIN=$(realpath "${1#*=}"); shift ;;
    --pd-bin) PD_BIN=$(realpath "$2"); shift 2 ;;
    --kv-bin) KV_BIN=$(realpath "$2"); shift 2 ;;
    --flarectl-bin) CTL_BIN=$(realpath "$2"); shift 2 ;;
    *) echo "usage: $0 [--pd-bin P --kv-bin K --flarectl-bin F]" >&2; exit 2 ;;
  esac
done
TMP="$(mktemp -d "${TMPDIR:-/tmp}/flaredb-verify.XXXXXX")"
PIDS=()
FAILED=0

cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $code -ne 0 ]]; then
    for log in "$TMP"/*.log; do
      [[ -f $log ]] || continue
      echo "---- tail of $log" >&2
      tail -n 30 "$log" >&2
    done
  fi
  if [[ -n ${KEEP_TMP:-} ]]; then
    echo "kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$code"
}
trap cleanup EXIT INT TERM

log() { local m="$*"; [[ ${#m} -le 160 ]] || m="${m:0:160}..."; echo "verify-core: $m" >&2; }
die() { log "FAIL: $*"; exit 1; }

# free_port: a random loopback port nothing listens on (bash only, so it
# works in Bazel's test sandbox too).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port"
}

# wait_tcp HOST:PORT: until something accepts connections there (30s).
wait_tcp() {
  local host=${1%:*} port=${1##*:}
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "nothing listening on $1"
}

mkdir -p "$TMP/bin"
if [[ -n $PD_BIN && -n $KV_BIN && -n $CTL_BIN ]]; then
  ln -s "$PD_BIN" "$TMP/bin/pd"
  ln -s "$KV_BIN" "$TMP/bin/kv"
  ln -s "$CTL_BIN" "$TMP/bin/flarectl"
else
  log "building into $TMP/bin"
  (cd "$ROOT" && go build -o "$TMP/bin/pd" ./services/pd \
    && go build -o "$TMP/bin/kv" ./services/kv \
    && go build -o "$TMP/bin/flarectl" ./tools/flarectl)
fi

PD_ADDR="127.0.0.1:$(free_port)"
KV_ADDR="127.0.0.1:$(free_port)"
KV_STATUS="127.0.0.1:$(free_port)"

start_pd() {
  "$TMP/bin/pd" --addr "$PD_ADDR" --status-addr "127.0.0.1:$(free_port)" \
    --data-dir "$TMP/pd-data" >>"$TMP/pd.log" 2>&1 &
  PD_PID=$!
  PIDS+=("$PD_PID")
  wait_tcp "$PD_ADDR"
}

start_kv() {
  "$TMP/bin/kv" --addr "$KV_ADDR" --status-addr "$KV_STATUS" --data-dir "$TMP/kv-data" \
    --pd "$PD_ADDR" >>"$TMP/kv.log" 2>&1 &
  KV_PID=$!
  PIDS+=("$KV_PID")
  wait_tcp "$KV_ADDR"
  # Serving means a write goes through (the region has a leader).
  for _ in $(seq 100); do
    if ctl put verify/ready 1 >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "kv-service at $KV_ADDR never accepted a write"
}

ctl() { "$TMP/bin/flarectl" --pd "$PD_ADDR" --timeout 20s "$@"; }

# expect WANT ARGS...: flarectl ARGS must exit 0 and print exactly WANT.
expect() {
  local want=$1; shift
  local got
  if ! got="$(ctl "$@" 2>"$TMP/stderr")"; then
    die "flarectl $* failed: $(cat "$TMP/stderr")"
  fi
  if [[ "$got" != "$want" ]]; then
    die "flarectl $*
  want: $want
  got:  $got"
  fi
  log "ok: flarectl $*"
}

# expect_match REGEX ARGS...: like expect with an extended regex.
expect_match() {
  local re=$1; shift
  local got
  got="$(ctl "$@" 2>"$TMP/stderr")" || die "flarectl $* failed: $(cat "$TMP/stderr")"
  [[ "$got" =~ $re ]] || die "flarectl $*: output does not match /$re/:
$got"
  log "ok: flarectl $*"
}

# expect_exit CODE STDERR_SUBSTRING ARGS...
expect_exit() {
  local code=$1 msg=$2; shift 2
  local rc=0
  ctl "$@" >"$TMP/stdout" 2>"$TMP/stderr" || rc=$?
  [[ $rc -eq $code ]] || die "flarectl $*: exit $rc, want $code (stderr: $(cat "$TMP/stderr"))"
  grep -qF -- "$msg" "$TMP/stderr" || die "flarectl $*: stderr lacks '$msg': $(cat "$TMP/stderr")"
  log "ok: flarectl $* exits $code"
}

start_pd
start_kv
log "PD $PD_ADDR (pid $PD_PID), kv $KV_ADDR (pid $KV_PID)"

# get / put / delete
expect 'key=k not found' get k
expect '{"key":"k","value":null,"version":0,"found":false}' -o json get k
expect 'OK key=k version=1' put k v1
expect '{"key":"k","version":2}' -o json put k v2
expect 'key=k value=v2 version=2' get k
expect '{"key":"k","value":"v2","version":2,"found":true}' -o json get k
expect 'OK' delete k
expect '{"ok":true}' -o json delete k
expect 'key=k not found' get k

# --hex in and out
expect 'OK key=00ff version=1' --hex put 00ff 0102
expect 'key=00ff value=0102 version=1' --hex get 00ff
expect '{"key":"00ff","value":"0102","version":1,"found":true}' --hex -o json get 00ff

# cas
expect 'OK version=1' cas lock a --expect-version 0
expect 'CONFLICT version=1 value=a' cas lock b --expect-version 0
expect '{"succeeded":false,"version":1,"value":"a"}' -o json cas lock b --expect-version 9
expect '{"succeeded":true,"version":2,"value":"b"}' -o json cas lock b --expect-version 1
expect 'CONFLICT key absent' cas nolock b --expect-version 1

# scan / delete-range
for i in 1 2 3 4; do expect "OK key=s$i version=1" put "s$i" "v$i"; done
expect $'key=s1 value=v1 version=1\nkey=s2 value=v2 version=1\nkey=s3 value=v3 version=1\nkey=s4 value=v4 version=1' scan s t
expect $'key=s4 value=v4 version=1\nkey=s3 value=v3 version=1' scan s t --reverse --limit 2
expect $'key=s2 version=1\nkey=s3 version=1' scan s2 s4 --key-only
expect $'{"key":"s1","value":"v1","version":1}\n{"key":"s2","value":"v2","version":1}' -o json scan s t --limit 2
expect $'{"key":"s4","value":"v4","version":1}\n{"key":"s3","value":"v3","version":1}' -o json scan s t --reverse --limit 2
expect 'OK' delete-range s2 s4
expect '{"ok":true}' -o json delete-range s4 s5
expect $'key=s1 version=1' scan s t --key-only

# tso
expect_match '^ts=[0-9]+ physical=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z logical=[0-9]+$' tso
expect_match '^\{"ts":[0-9]+,"physical_ms":[0-9]+,"logical":[0-9]+\}$' -o json tso
ts_of() { sed -n 's/.*"ts":\([0-9]*\).*/\1/p'; }
ts1="$(ctl -o json tso | ts_of)"
ts2="$(ctl -o json tso | ts_of)"
[[ -n $ts1 && -n $ts2 ]] && (( ts2 > ts1 )) || die "tso not increasing: $ts1 then $ts2"
log "ok: tso increases ($ts1 < $ts2)"

# status
expect_match "STORE +ADDRESS +STATE +LAST HEARTBEAT.*
1 +$KV_ADDR +up +[0-9T:.Z-]+.*REGION +RANGE +EPOCH +PEERS +LEADER.*" status
expect_match "^\{\"type\":\"store\",\"id\":1,\"address\":\"$KV_ADDR\",\"state\":\"up\",\"last_heartbeat\":\"[^\"]+\",\"last_heartbeat_unix_ms\":[0-9]+\}
\{\"type\":\"region\",\"id\":[0-9]+,\"start_key\":\"\",\"end_key\":\"\",\"epoch\":\{\"conf_ver\":[0-9]+,\"version\":[0-9]+\},\"peers\":\[\{\"id\":[0-9]+,\"store_id\":1,\"role\":\"voter\"\}\],\"leader\":\{\"id\":[0-9]+,\"store_id\":1,\"role\":\"voter\"\}\}$" -o json status

# errors and usage
expect_exit 1 "max key size" put "$(printf 'k%.0s' $(seq 4097))" v
expect_exit 1 "must sort before" delete-range b a
expect_exit 2 "usage: flarectl put" put only-key
expect_exit 2 "unknown command" frobnicate
expect_exit 2 "--expect-version is required" cas k v

# durability: kill -9 after acknowledged writes, restart, everything is back
expect 'OK key=durable version=1' put durable yes
expect 'OK key=durable version=2' put durable again
kill -9 "$KV_PID"
wait "$KV_PID" 2>/dev/null || true
log "killed kv (pid $KV_PID) with SIGKILL; restarting"
start_kv
expect 'key=durable value=again version=2' get durable
expect 'key=lock value=b version=2' get lock
expect $'key=s1 version=1' scan s t --key-only
expect 'OK key=durable version=3' put durable third

log "PASS"
