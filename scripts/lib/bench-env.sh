# shellcheck shell=bash
# bench-env.sh - what the bench helpers that run their own gateway share
# (sourced by scripts/bench/bench-core.sh and scripts/bench/measure-drain.sh,
# after scripts/lib/redis.sh): fresh secrets and loopback addresses for the
# programs they start, a scratch folder, and a clean-up that stops only what
# the script started.
#
#   lg_bench_env REDIS_PORT GW_PORT
#       Exports the programs' settings (a random JWT secret and data key,
#       the private Redis, the gateway on 127.0.0.1:GW_PORT, warn logs, the
#       per-user rate limit off unless LIVEGATE_USER_RATE is set: load tests
#       have few users; admission and the deadline out of the way, see
#       below) and sets LG_BENCH_TMP to a new scratch folder.
#   LG_BENCH_PIDS+=("$pid")
#       A process for the clean-up to stop.
#   lg_bench_cleanup
#       SIGTERM to each process in LG_BENCH_PIDS and a wait for it, then the
#       private Redis, then the scratch folder. Meant for `trap ... EXIT`.
#   lg_bench_start_gateway BIN GW_PORT
#       Starts BIN/livegate (its log in the scratch folder), sets gw_pid,
#       waits for /healthz and sets up the live room "load" with one SKU,
#       "sku-1", of unlimited stock.
#   lg_bench_wait_drained REDIS_PORT TRIES
#       Waits (TRIES times 50 ms at most) until the validators have read and
#       acknowledged everything in room "load"'s normal stream.

LG_BENCH_PIDS=()
LG_BENCH_TMP=""

lg_bench_env() {
  LG_BENCH_TMP=$(mktemp -d)
  LIVEGATE_JWT_SECRET=$(openssl rand -hex 16)
  LIVEGATE_DATA_KEY=$(openssl rand -hex 32)
  export LIVEGATE_JWT_SECRET LIVEGATE_DATA_KEY
  export LIVEGATE_REDIS_URL="redis://127.0.0.1:$1/0"
  export LIVEGATE_LISTEN="127.0.0.1:$2"
  export LIVEGATE_LOG_LEVEL=warn
  export LIVEGATE_USER_RATE=${LIVEGATE_USER_RATE:-0}
  # These scripts measure the raw pipeline, each half on its own: a backlog
  # queued with no validator running must stay queued (no BUSY after the
  # stall, no EXPIRED from the gateways' deadline sweep), and a closed loop
  # may keep more submits in flight than a viewer would.
  export LIVEGATE_DEADLINE_MS=600000 LIVEGATE_ADMIT_WAIT_MS=599000 LIVEGATE_ADMIT_STALL_MS=60000
  export LIVEGATE_CONN_INFLIGHT=1000000 LIVEGATE_INTAKE_IN_FLIGHT=1000000
}

lg_bench_cleanup() {
  local p
  for p in "${LG_BENCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${LG_BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  lg_redis_stop
  wait 2>/dev/null || true
  if [ -n "$LG_BENCH_TMP" ]; then rm -rf "$LG_BENCH_TMP"; fi
}

lg_bench_start_gateway() {
  local bin=$1 port=$2 admin
  "$bin/livegate" serve 2>>"$LG_BENCH_TMP/gateway.log" &
  gw_pid=$!
  LG_BENCH_PIDS+=("$gw_pid")
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:${port}/healthz" >/dev/null && break; sleep 0.1; done
  admin=$("$bin/livegate" token --sub bench --room '*' --role admin)
  curl -fs -X PUT -H "Authorization: Bearer $admin" "http://127.0.0.1:${port}/v1/rooms/load" \
    -d '{"status":"live","high_value_threshold":100000000,"payment_methods":["alipay"]}' >/dev/null
  curl -fs -X PUT -H "Authorization: Bearer $admin" "http://127.0.0.1:${port}/v1/rooms/load/skus/sku-1" \
    -d '{"name":"bench","price":19900,"stock":1000000000,"on_sale":true}' >/dev/null
}

lg_bench_wait_drained() {
  local info lag pending
  for _ in $(seq "$2"); do
    info=$(redis-cli -p "$1" XINFO GROUPS 'lg:{load}:q:normal' 2>/dev/null | tr '\n' ' ')
    lag=$(echo "$info" | sed -n 's/.*lag \([0-9]*\).*/\1/p')
    pending=$(echo "$info" | sed -n 's/.*pending \([0-9]*\).*/\1/p')
    [ "${lag:-1}" = 0 ] && [ "${pending:-1}" = 0 ] && return 0
    sleep 0.05
  done
}
