#!/usr/bin/env bash
# Runs livegate-bench's standard scenarios, prints their figures and keeps
# the reports in var/bench/. With --write-docs it also records them in
# docs/BENCHMARKS.md (between the "bench.sh" markers) with the machine, the
# date, the commands, the figures (medians over --reps runs) and a chart per
# scenario (docs/img/bench-*.png); without it, nothing tracked is written.
#
# Without --url it starts its own system on loopback: a private redis-server
# (AOF, appendfsync everysec), $GATEWAYS gateway processes on one port
# (SO_REUSEPORT) and $VALIDATORS validators, on free ports, and stops them
# afterwards. It also reads the CPU time each of those processes used during
# each run (from /proc), so the report says which one saturated first.
#
#   scripts/bench/bench.sh [--url ws://host:port --secret S] [--quick] [--write-docs]
#                          [--keep-rooms] [--reps N] [--scenarios "hold steady burst max"]
#                          [--flood-rate N]
#     --quick      small versions of the scenarios (a minute in all); not
#                  with --write-docs (quick figures are no benchmark)
#     --write-docs record the results in docs/BENCHMARKS.md and docs/img/
#     --no-docs    the default now (leave docs/ alone); still accepted
#     --keep-rooms leave the bench's rooms as they are after each run; by
#                  default every run passes --cleanup, which closes and
#                  deletes the rooms it made (so a system given with --url
#                  does not count them in the back office's "*" GMV)
#     --reps N     run each scenario N times (default 1); the report gives
#                  medians and the range
#     --hold-reps N  runs of the 50,000-connection hold (default: --reps); it
#                  takes most of the shared machine's CPU while it ramps
#     --scenarios  which ones, in this order (default: all four)
#     --flood-rate N  the flood's rate, orders/s (also FLOOD_RATE=N), when
#                  max does not run before it
#
# The gateways it starts get LIVEGATE_USER_RATE=0 (the per-user rate limit
# off) unless it is set already: load tests have few users, and the
# default of 10 submits/s a user would refuse most of their orders.
#
# The scenarios:
#   hold    50,000 viewers (4 worker processes, 5 loopback source addresses)
#           connect over 20 s and stay; the gateways' resident memory is read
#           with the connections idle, then a light steady load (200/s for
#           5 s) checks they all still work. Needs 4 or more gateways.
#   steady  2,000 viewers, 3,000 orders/s for 30 s (open loop)
#   burst   20,000 viewers, each submits once within 1 s; 5,000 stock a SKU
#   max     200 viewers x 20 orders in flight until their final result, 20 s
#   flood   (not run by default) overload: an open-loop steady run at 3x the
#           max scenario's confirmed/s of this same bench.sh run, for 10 s
#           over 2,000 viewers, per-user limits off. The gateway must shed
#           what it cannot decide in time (BUSY, RATE_LIMITED); the bench
#           waits retry_after_ms and resubmits the same client_order_id.
#           Without max before it, give the rate: --flood-rate N.
#   flood-closed  (not run by default) max with orders in flight only until
#           order.accepted: intake alone, faster than the validators decide
#           (called "flood" before the open-loop flood came)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/redis.sh

url="" secret="" quick=0 docs=0 cleanup=(--cleanup) reps=1 hold_reps="" scenarios="hold steady burst max"
flood_rate=${FLOOD_RATE:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --secret) secret=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --write-docs) docs=1; shift ;;
    --no-docs) docs=0; shift ;;
    --keep-rooms) cleanup=(); shift ;;
    --reps) reps=$2; shift 2 ;;
    --hold-reps) hold_reps=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    --flood-rate) flood_rate=$2; shift 2 ;;
    *) echo "usage: scripts/bench/bench.sh [--url URL --secret S] [--quick] [--write-docs] [--keep-rooms] [--reps N] [--scenarios LIST] [--flood-rate N]" >&2; exit 2 ;;
  esac
done
if [ "$docs" = 1 ] && [ "$quick" = 1 ]; then
  echo "bench.sh: --write-docs with --quick would record quick-run figures as the benchmarks: drop one" >&2; exit 2
fi

for name in $scenarios; do
  case "$name" in
    hold|steady|burst|max|flood|flood-closed) ;;
    *) echo "bench.sh: unknown scenario '$name' (hold steady burst max flood flood-closed)" >&2; exit 2 ;;
  esac
done
# The flood's rate comes from max's figure of this run, so max must come
# first; said now, not after the other scenarios ran.
if [ -n "$flood_rate" ] && ! [[ "$flood_rate" =~ ^[1-9][0-9]*$ ]]; then
  echo "bench.sh: --flood-rate must be a whole number of orders/s, got '$flood_rate'" >&2; exit 2
fi
seen_max=0
for name in $scenarios; do
  [ "$name" = max ] && seen_max=1
  if [ "$name" = flood ] && [ "$seen_max" = 0 ] && [ -z "$flood_rate" ]; then
    echo "bench.sh: the flood runs at 3x the max scenario's confirmed/s: put max before flood in --scenarios, or give the rate with --flood-rate N (orders/s)" >&2; exit 2
  fi
done

scripts/setup.sh >/dev/null
bin=build-release
cmake -S . -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bin" -j"$(nproc)" >/dev/null

out=var/bench
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.csv "$out"/*.cmd "$out"/*.cpu "$out"/*.png "$out"/*.median-run
tmp=$(mktemp -d)
pids=()
gw_pids=()
cleanup() {
  for p in "${pids[@]}" "${gw_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}" "${gw_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  lg_redis_stop
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime of a process, in clock ticks (0 when it is gone)
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

declare -A server=() # name -> pid of every server process we started, for the CPU figures

start_gateways() {
  gw_pids=()
  for i in $(seq "$GATEWAYS"); do
    LIVEGATE_GATEWAY_ID="bench-gw-$i-$$" "$bin/livegate" serve 2>>"$tmp/gateway.log" &
    gw_pids+=($!); server[gateway-$i]=$!
  done
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${gw_port}/healthz" >/dev/null && break; sleep 0.1; done
}

# Fresh gateway processes, so their resident memory starts from scratch: glibc
# keeps what an earlier run's connections used, and the next run's growth
# per connection would read as zero.
restart_gateways() {
  for p in "${gw_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${gw_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  start_gateways
}

own_system=0
if [ -z "$url" ]; then
  own_system=1
  GATEWAYS=${GATEWAYS:-4} VALIDATORS=${VALIDATORS:-2}
  redis_port=$(free_port) gw_port=$(free_port)
  secret=$(openssl rand -hex 16)
  export LIVEGATE_JWT_SECRET=$secret LIVEGATE_DATA_KEY=$(openssl rand -hex 32)
  export LIVEGATE_REDIS_URL="redis://127.0.0.1:${redis_port}/0" LIVEGATE_LISTEN="127.0.0.1:${gw_port}"
  export LIVEGATE_LOG_LEVEL=warn
  export LIVEGATE_USER_RATE=${LIVEGATE_USER_RATE:-0}
  lg_redis_start "$redis_port" "$tmp" yes everysec --maxclients 1000
  server[redis]=$LG_REDIS_PID
  start_gateways
  for i in $(seq "$VALIDATORS"); do
    "$bin/livegate-validator" 2>>"$tmp/validator.log" &
    pids+=($!); server[validator-$i]=$!
  done
  url="ws://127.0.0.1:${gw_port}"
fi
hold_reps=${hold_reps:-$reps}
[ -n "$secret" ] || { echo "bench.sh: --secret is needed with --url" >&2; exit 2; }

# Samples the CPU of every server process, of bench $1 with its workers and
# of the whole machine once a second, to stdout (CSV: time,name,percent of
# one core), until killed. Bounded anyway: at most 600 samples.
sample_cpu() {
  local hz prev_idle prev_total; hz=$(getconf CLK_TCK)
  declare -A last=()
  for _ in $(seq 600); do
    for name in "${!server[@]}"; do last[$name]=$(cpu_ticks "${server[$name]}"); done
    local bench_before; bench_before=$(bench_ticks "$1")
    read -r _ u n sy id io irq sirq st _ < /proc/stat
    prev_idle=$((id + io)) prev_total=$((u + n + sy + id + io + irq + sirq + st))
    sleep 1
    local t; t=$(date +%s)
    for name in "${!server[@]}"; do
      echo "$t,$name,$(( ($(cpu_ticks "${server[$name]}") - ${last[$name]}) * 100 / hz ))"
    done
    echo "$t,bench,$(( ($(bench_ticks "$1") - bench_before) * 100 / hz ))"
    read -r _ u n sy id io irq sirq st _ < /proc/stat
    local total=$((u + n + sy + id + io + irq + sirq + st - prev_total))
    echo "$t,machine,$(( (total - (id + io - prev_idle)) * 100 * $(nproc) / (total > 0 ? total : 1) ))"
  done
}

# utime + stime of livegate-bench $1 and its worker processes
bench_ticks() {
  local sum=0 p
  for p in "$1" $(pgrep -P "$1" || true); do sum=$((sum + $(cpu_ticks "$p"))); done
  echo "$sum"
}

if [ "$quick" = 1 ]; then
  hold=(--shape steady --conns 4000 --procs 2 --ramp 2 --rate 200 --duration 2)
  steady=(--shape steady --conns 200 --procs 2 --rate 1000 --duration 5)
  burst=(--shape burst --conns 2000 --procs 2 --ramp 2 --window 1 --stock 500 --limit-per-user 2)
  max=(--shape max --conns 100 --procs 2 --inflight 10 --duration 5 --limit-per-user 1000000)
  flood_closed=(--shape max --conns 100 --procs 2 --inflight 10 --duration 5 --limit-per-user 1000000 --inflight-until accept)
  flood_shape=(--shape steady --conns 200 --procs 2 --duration 5 --limit-per-user 1000000)
else
  hold=(--shape steady --conns 50000 --procs 4 --ramp 20 --rate 200 --duration 5)
  steady=(--shape steady --conns 2000 --procs 2 --rate 3000 --duration 30)
  burst=(--shape burst --conns 20000 --procs 2 --ramp 10 --window 1 --stock 5000 --limit-per-user 2)
  max=(--shape max --conns 200 --procs 2 --inflight 20 --duration 20 --limit-per-user 1000000)
  flood_closed=(--shape max --conns 200 --procs 2 --inflight 20 --duration 15 --limit-per-user 1000000 --inflight-until accept)
  flood_shape=(--shape steady --conns 2000 --procs 2 --duration 10 --limit-per-user 1000000)
fi

# The median confirmed/s of this run's max scenario, from its JSON reports.
max_confirmed_per_s() {
  node -e '
    const fs = require("fs");
    const xs = process.argv.slice(1).filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, "utf8")).confirmed_per_s).sort((a, b) => a - b);
    const m = xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
    process.stdout.write(String(Math.round(m || 0)));' "$out"/max-*.json
}

# The flood's arguments, once its rate is known: 3x max's confirmed/s, or
# --flood-rate as given.
flood_args() {
  local rate=$flood_rate
  if [ -z "$rate" ]; then
    local m; m=$(max_confirmed_per_s || echo 0)
    [ "${m:-0}" -gt 0 ] || { echo "bench.sh: the max scenario confirmed nothing: no rate for the flood (give --flood-rate N)" >&2; return 1; }
    rate=$((3 * m))
    echo "== flood at 3 x $m confirmed/s (max, median of this run) = $rate orders/s"
  fi
  flood=("${flood_shape[@]}" --rate "$rate")
}

status=0
for name in $scenarios; do
  if [ "$name" = flood ]; then flood_args || { status=1; continue; }; fi
  declare -n args=${name//-/_}
  n=$reps
  [ "$name" = hold ] && n=$hold_reps
  for rep in $(seq "$n"); do
    tag="$name-$rep"
    # Memory per idle connection is the hold scenario's: measured on fresh
    # gateway processes (the other scenarios' gateways have grown already).
    pid_args=()
    if [ "$name" = hold ] && [ "$own_system" = 1 ]; then
      restart_gateways
      for p in "${gw_pids[@]}"; do pid_args+=(--gateway-pid "$p"); done
    fi
    cmd=("$bin/bench/livegate-bench" --url "$url" "${args[@]}" "${pid_args[@]}" "${cleanup[@]}"
         --json "$out/$tag.json" --csv "$out/$tag.csv")
    echo "== $name (run $rep of $n): ${cmd[*]}"
    declare -A before=()
    for sp in "${!server[@]}"; do before[$sp]=$(cpu_ticks "${server[$sp]}"); done
    t0=$(date +%s.%N)
    "${cmd[@]}" --secret "$secret" &
    bench_pid=$!
    sample_cpu "$bench_pid" > "$out/$tag.cpu.csv" &
    sampler=$!
    wait "$bench_pid" || status=1
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    t1=$(date +%s.%N)
    # CPU seconds each server process used over the whole run
    {
      printf '{"wall_s":%s,"processes":{' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
      sep=""
      for sp in "${!server[@]}"; do
        used=$(( $(cpu_ticks "${server[$sp]}") - ${before[$sp]} ))
        printf '%s"%s":%s' "$sep" "$sp" "$(awk -v u="$used" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", u / hz }')"
        sep=","
      done
      printf '}}\n'
    } > "$out/$tag.cpu"
    printf '%s\n' "${cmd[*]}" > "$out/$tag.cmd"
    scripts/bench/plot-bench "$out/$tag.csv" "$out/$tag.png" "livegate-bench $name (run $rep)" >/dev/null
  done
done

if [ "$docs" = 1 ]; then
  node scripts/bench/bench-report.mjs "$out" docs/BENCHMARKS.md "${#gw_pids[@]}" "${VALIDATORS:-?}" "$reps" $scenarios
  mkdir -p docs/img
  for name in $scenarios; do
    # the chart of the median run (by confirmed orders/s), as named by the report
    best=$(cat "$out/$name.median-run" 2>/dev/null || echo 1)
    cp "$out/$name-$best.png" "docs/img/bench-$name.png"
  done
  echo "docs/BENCHMARKS.md updated"
else
  echo "reports in $out/; docs/ left alone (--write-docs records a full run there)"
fi
exit $status
