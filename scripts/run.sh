#!/usr/bin/env bash
# Runs a local livegate on this machine: installs what is missing, builds
# every program (the bench included), starts a private redis-server (data
# and AOF under ./var/redis), the gateways and the validators; then prints
# the URLs, the demo secret and how to mint tokens. Ctrl-C stops everything.
#
# It refuses to start when a port it needs is taken (a second run.sh, a
# Redis of someone else's), so it never joins another instance's gateway
# port nor stops a Redis it did not start. It watches what it started: if a
# process exits, it says which and stops the rest. It stops in order:
# gateways first (they close viewers with 1001 once their orders are
# answered), then validators, then Redis; each runs in its own session, so
# Ctrl-C reaches this script only. Its own steps, timestamped, go to
# var/log/run.log; each process logs its start and stop in its own log.
#
# Settings are the gateway's environment variables (see the README); values
# not given are generated once for the demo and kept in ./var/demo.env.
# For tests and side-by-side runs: LIVEGATE_RUN_DIR (instead of ./var),
# LIVEGATE_RUN_REDIS_PORT, LIVEGATE_LISTEN, LIVEGATE_RUN_BUILD_DIR (instead
# of ./build-release) and LIVEGATE_RUN_NO_BUILD=1 (no setup, no build: the
# programs must be in the build folder already).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib/redis.sh
. scripts/lib/procs.sh

run_dir="${LIVEGATE_RUN_DIR:-$root/var}"
# A release build of its own, so the test suite's Debug build in ./build
# and this one never overwrite each other.
bin="${LIVEGATE_RUN_BUILD_DIR:-build-release}"
redis_port="${LIVEGATE_RUN_REDIS_PORT:-6390}"
appendfsync="${LIVEGATE_APPENDFSYNC:-always}"
export LIVEGATE_REDIS_URL="${LIVEGATE_REDIS_URL:-redis://127.0.0.1:${redis_port}/0}"
export LIVEGATE_LISTEN="${LIVEGATE_LISTEN:-127.0.0.1:8080}"
gw_port="${LIVEGATE_LISTEN##*:}"
host_port="${LIVEGATE_LISTEN/0.0.0.0/127.0.0.1}"
host_port="${host_port/#:/127.0.0.1:}"
own_redis=0
[[ "$LIVEGATE_REDIS_URL" == "redis://127.0.0.1:${redis_port}/0" ]] && own_redis=1
start_s="${LIVEGATE_RUN_START_S:-30}"
# Several gateway processes share the port (SO_REUSEPORT); one per core by
# default. A process may hold at most ~20,000 open files here, so more
# connections than that need more processes.
gateways="${LIVEGATE_GATEWAYS:-$(nproc)}"
validators="${LIVEGATE_VALIDATORS:-1}"
# Each process's own /metrics (LIVEGATE_METRICS_LISTEN): gateway i on
# base + i, validator j on base + 100 + j, listed for Prometheus in
# $run_dir/prometheus-targets.json (file_sd; the job names are the ones
# deploy/prometheus/livegate-rules.yml and the Grafana dashboard use).
metrics_base="${LIVEGATE_RUN_METRICS_BASE:-9100}"
gw_metrics_port() { echo $((metrics_base + $1)); }
val_metrics_port() { echo $((metrics_base + 100 + $1)); }

mkdir -p "$run_dir/redis" "$run_dir/log"
run_log="$run_dir/log/run.log"
say() { echo "$*"; echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) [$$] $*" >> "$run_log"; }
fail() { say "livegate: $*" >&2; exit 1; }

# Every port this run would listen on, checked before anything starts;
# what holds one is named, and nothing of it is touched.
check_ports() {
  local taken=0 who
  if [ "$own_redis" = 1 ] && who=$(lg_port_holder "$redis_port"); then
    say "livegate: port $redis_port (its Redis, LIVEGATE_RUN_REDIS_PORT) is taken by $who" >&2
    taken=1
  fi
  if who=$(lg_port_holder "$gw_port"); then
    say "livegate: port $gw_port (the gateways, LIVEGATE_LISTEN) is taken by $who" >&2
    taken=1
  fi
  local i port
  for i in $(seq "$gateways"); do
    port=$(gw_metrics_port "$i")
    if who=$(lg_port_holder "$port"); then
      say "livegate: port $port (gateway $i's /metrics, LIVEGATE_RUN_METRICS_BASE) is taken by $who" >&2
      taken=1
    fi
  done
  for i in $(seq "$validators"); do
    port=$(val_metrics_port "$i")
    if who=$(lg_port_holder "$port"); then
      say "livegate: port $port (validator $i's /metrics, LIVEGATE_RUN_METRICS_BASE) is taken by $who" >&2
      taken=1
    fi
  done
  if [ "$taken" = 1 ]; then
    fail "not starting: another livegate (or another program) runs on these ports. Stop it, or choose other ports (LIVEGATE_RUN_REDIS_PORT, LIVEGATE_LISTEN, LIVEGATE_RUN_METRICS_BASE) and LIVEGATE_RUN_DIR."
  fi
}

check_ports
if [ "${LIVEGATE_RUN_NO_BUILD:-0}" != 1 ]; then
  scripts/setup.sh
  cmake -S . -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$bin" -j"$(nproc)" --target livegate livegate-validator livegate-bench
  # The build may take minutes: the ports are looked at again.
  check_ports
fi
for prog in livegate livegate-validator bench/livegate-bench; do
  [ -x "$bin/$prog" ] || fail "$bin/$prog is missing (build it, or drop LIVEGATE_RUN_NO_BUILD)"
done

if [ ! -f "$run_dir/demo.env" ]; then
  (
    umask 077
    {
      echo "LIVEGATE_JWT_SECRET=$(openssl rand -hex 32)"
      echo "LIVEGATE_DATA_KEY=$(openssl rand -hex 32)"
    } > "$run_dir/demo.env"
  )
fi
# Values from the caller's environment win over the generated ones.
while IFS='=' read -r name value; do
  if [ -z "${!name:-}" ]; then export "$name=$value"; fi
done < "$run_dir/demo.env"

gw_pids=()
val_pids=()
stopping=0

# Gateways, then validators, then Redis: a gateway stopping drains its
# viewers and in-flight orders through Redis, and a validator finishing its
# batch writes its results there.
stop_all() {
  [ "$stopping" = 1 ] && return 0
  stopping=1
  trap '' INT TERM HUP
  echo
  if [ "${#gw_pids[@]}" -gt 0 ]; then
    say "livegate: stopping ${#gw_pids[@]} gateway(s) (pids ${gw_pids[*]})"
    lg_proc_stop 15 "${gw_pids[@]}"
    say "livegate: gateways stopped"
  fi
  if [ "${#val_pids[@]}" -gt 0 ]; then
    say "livegate: stopping ${#val_pids[@]} validator(s) (pids ${val_pids[*]})"
    lg_proc_stop 15 "${val_pids[@]}"
    say "livegate: validators stopped"
  fi
  if [ -n "$LG_REDIS_PID" ]; then
    say "livegate: stopping redis-server (pid $LG_REDIS_PID, port $redis_port)"
    lg_redis_stop
    say "livegate: redis-server stopped"
  fi
}
on_signal() {
  say "livegate: $1 received"
  stop_all
  exit 0
}
trap 'on_signal SIGINT' INT
trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGHUP' HUP
trap stop_all EXIT

say "livegate: starting (run folder $run_dir, redis port $redis_port, listen $LIVEGATE_LISTEN)"
if [ "$own_redis" = 1 ]; then
  lg_redis_start "$redis_port" "$run_dir/redis" yes "$appendfsync" \
    --logfile "$run_dir/log/redis.log" || fail "redis-server did not start (log: $run_dir/log/redis.log)"
  LG_PROC_NAMES+=("redis-server") LG_PROC_PIDS+=("$LG_REDIS_PID")
  say "livegate: redis-server started (pid $LG_REDIS_PID, port $redis_port)"
fi

# Where each log ends now: readiness is judged on what this run writes.
log_mark() { stat -c %s "$1" 2>/dev/null || echo 0; }
logged_since() { tail -c +"$(($2 + 1))" "$1" 2>/dev/null | grep -q "$3"; }

gw_marks=()
val_marks=()
for i in $(seq "$gateways"); do
  log="$run_dir/log/gateway-$i.log"
  gw_marks+=("$(log_mark "$log")")
  LIVEGATE_GATEWAY_ID="gw-$i-$$" LIVEGATE_METRICS_LISTEN="127.0.0.1:$(gw_metrics_port "$i")" \
    lg_proc_start "gateway $i" "$log" "$bin/livegate" serve
  gw_pids+=("$LG_PROC_PID")
  say "livegate: gateway $i started (pid $LG_PROC_PID, log $log)"
done
for i in $(seq "$validators"); do
  log="$run_dir/log/validator-$i.log"
  val_marks+=("$(log_mark "$log")")
  LIVEGATE_METRICS_LISTEN="127.0.0.1:$(val_metrics_port "$i")" \
    lg_proc_start "validator $i" "$log" "$bin/livegate-validator"
  val_pids+=("$LG_PROC_PID")
  say "livegate: validator $i started (pid $LG_PROC_PID, log $log)"
done

# Running means: every process alive and past its start, and /healthz
# (the gateway's view of Redis) answering ok.
ready() {
  local i pid
  for pid in "${LG_PROC_PIDS[@]}"; do
    if ! lg_alive "$pid"; then
      local name log
      name=$(lg_proc_name "$pid")
      log="$run_dir/log/${name// /-}.log"
      [ -f "$log" ] && tail -n 3 "$log" | sed 's/^/  /' >&2
      fail "$name (pid $pid) exited while starting; see $run_dir/log/"
    fi
  done
  for i in "${!gw_pids[@]}"; do
    logged_since "$run_dir/log/gateway-$((i + 1)).log" "${gw_marks[$i]}" '"gateway.listening"' || return 1
  done
  for i in "${!val_pids[@]}"; do
    logged_since "$run_dir/log/validator-$((i + 1)).log" "${val_marks[$i]}" '"validator.started"' || return 1
  done
  curl -fs --max-time 2 "http://${host_port}/healthz" >/dev/null 2>&1
}
up=0
for _ in $(seq $((start_s * 10))); do
  if ready; then up=1; break; fi
  sleep 0.1
done
[ "$up" = 1 ] || fail "not every process answered within ${start_s} s; see $run_dir/log/"

# Prometheus's file_sd list of what this run serves, rewritten each run.
write_targets() {
  local i gws=() vals=()
  for i in $(seq "$gateways"); do gws+=("\"127.0.0.1:$(gw_metrics_port "$i")\""); done
  for i in $(seq "$validators"); do vals+=("\"127.0.0.1:$(val_metrics_port "$i")\""); done
  local IFS=,
  cat > "$run_dir/prometheus-targets.json.tmp" <<JSON
[
  {"labels": {"job": "livegate-gateway"}, "targets": [${gws[*]}]},
  {"labels": {"job": "livegate-validator"}, "targets": [${vals[*]}]},
  {"labels": {"job": "livegate-rooms"}, "targets": ["${host_port}"]}
]
JSON
  mv "$run_dir/prometheus-targets.json.tmp" "$run_dir/prometheus-targets.json"
}
write_targets

admin_token=$("$bin/livegate" token --sub admin --room '*' --role admin --ttl 86400)
viewer_token=$("$bin/livegate" token --sub viewer-1 --room demo --role viewer --ttl 86400)
operator_token=$("$bin/livegate" token --sub op-1 --room demo --role operator --ttl 86400)

# A demo room with two products, so a viewer can order at once.
api() { curl -fsS -X PUT -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
  "http://${host_port}$1" -d "$2" >/dev/null; }
api /v1/rooms/demo '{"title":"Demo live room","status":"live","high_value_threshold":100000,"payment_methods":["alipay","wechat_pay","card","cod"]}'
api /v1/rooms/demo/skus/sku-1 '{"name":"Tea gift box","price":19900,"stock":500,"limit_per_user":5,"on_sale":true}' || true
api /v1/rooms/demo/skus/sku-2 '{"name":"Jade bracelet","price":128000,"stock":50,"limit_per_user":1,"on_sale":true}' || true

say "livegate: running"
cat <<INFO

livegate is running: ${gateways} gateway process(es), ${validators} validator(s),
redis appendfsync=${appendfsync}, data in ${run_dir}
  WebSocket   ws://${host_port}/v1/ws
  HTTP API    http://${host_port}/v1/...   health: http://${host_port}/healthz
  Live room   http://${host_port}/#token=${viewer_token}
  Back office http://${host_port}/dashboard#token=${operator_token}
  Logs        ${run_dir}/log/
  Metrics     gateways 127.0.0.1:$(gw_metrics_port 1)..$(gw_metrics_port "$gateways"), validators 127.0.0.1:$(val_metrics_port 1)..$(val_metrics_port "$validators"), rooms http://${host_port}/metrics
              (Prometheus targets: ${run_dir}/prometheus-targets.json)

Demo secret (LIVEGATE_JWT_SECRET, kept in ${run_dir}/demo.env):
  ${LIVEGATE_JWT_SECRET}

Mint tokens (same secret from ${run_dir}/demo.env):
  set -a; . ${run_dir}/demo.env; set +a
  $bin/livegate token --sub viewer-1 --room demo --role viewer
  $bin/livegate token --sub op-1 --room demo --role operator
  $bin/livegate token --sub admin --room '*' --role admin

A viewer token for room "demo" (valid 24 h):
  ${viewer_token}

Press Ctrl-C to stop.
INFO

# Watching: any process that exits ends the run (a signal to this script
# interrupts the wait and runs on_signal instead).
done_pid=""
status=0
wait -n -p done_pid "${LG_PROC_PIDS[@]}" || status=$?
say "livegate: $(lg_proc_name "$done_pid") (pid $done_pid) exited with status $status; stopping the rest" >&2
# It is reaped: keep it out of the stop lists.
drop_pid() {
  local -n list=$1
  local keep=() p
  for p in "${list[@]}"; do [ "$p" = "$2" ] || keep+=("$p"); done
  list=(${keep[@]+"${keep[@]}"})
}
drop_pid gw_pids "$done_pid"
drop_pid val_pids "$done_pid"
if [ "$done_pid" = "$LG_REDIS_PID" ]; then LG_REDIS_PID=""; fi
stop_all
exit 1
