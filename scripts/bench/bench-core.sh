#!/usr/bin/env bash
# Measures the two halves of the pipeline on this machine, each on its own:
#   intake     orders accepted per second by one gateway process (closed loop,
#              many orders in flight, on one connection and on many), with
#              Redis appendfsync always and everysec;
#   validator  orders decided per second by one and by two validator
#              workers, draining a backlog queued beforehand.
# Everything runs on loopback with a private redis-server, and every run is
# bounded in count and time. Prints one JSON line per run and a summary of
# medians. The figures go to docs/BENCHMARKS.md by hand, with the machine.
# Its gateway runs with the per-user rate limit off (LIVEGATE_USER_RATE=0,
# set by lg_bench_env unless already set): one load user sends them all.
#
#   scripts/bench/bench-core.sh [--reps N] [--orders N] [--backlog N]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/redis.sh
. scripts/lib/bench-env.sh

reps=3 orders=100000 backlog=60000
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    --orders) orders=$2; shift 2 ;;
    --backlog) backlog=$2; shift 2 ;;
    *) echo "usage: scripts/bench/bench-core.sh [--reps N] [--orders N] [--backlog N]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh >/dev/null
bin=build-release
cmake -S . -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bin" -j"$(nproc)" --target livegate livegate-validator >/dev/null

redis_port=7911
gw_port=7912
lg_bench_env "$redis_port" "$gw_port"
tmp=$LG_BENCH_TMP
trap lg_bench_cleanup EXIT

start_redis() { # $1: appendfsync; a fresh, empty instance each time
  lg_redis_stop
  rm -rf "$tmp/redis"
  lg_redis_start "$redis_port" "$tmp/redis" yes "$1" --logfile "$tmp/redis.log"
}

start_gateway() { lg_bench_start_gateway "$bin" "$gw_port"; }

stop_gateway() { kill -TERM "$gw_pid"; wait "$gw_pid" 2>/dev/null || true; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

load() { # conns inflight orders
  node scripts/bench/intake-load.mjs --url "ws://127.0.0.1:${gw_port}/v1/ws" --room load \
    --conns "$1" --inflight "$2" --orders "$3" --max-seconds 60
}

echo "# intake: one gateway process, closed loop, ${orders} orders per run, ${reps} runs each"
declare -A intake
for fsync in always everysec; do
  start_redis "$fsync"
  start_gateway
  for shape in "1 200" "100 20" "400 10"; do
    set -- $shape
    results=()
    for _ in $(seq "$reps"); do
      line=$(load "$1" "$2" "$orders")
      echo "{\"appendfsync\":\"$fsync\",$(echo "$line" | cut -c2-)"
      results+=("$line")
    done
    rate=$(printf '%s\n' "${results[@]}" | sed 's/.*"accepted_per_s":\([0-9]*\).*/\1/' | median)
    p50=$(printf '%s\n' "${results[@]}" | sed 's/.*"p50":\([0-9.]*\).*/\1/' | median)
    p99=$(printf '%s\n' "${results[@]}" | sed 's/.*"p99":\([0-9.]*\).*/\1/' | median)
    intake["$fsync $1x$2"]="$rate orders/s, accept p50 ${p50} ms, p99 ${p99} ms"
  done
  stop_gateway
done

echo "# validator: drain a backlog of ${backlog} orders, ${reps} runs each"
declare -A drain
for workers in 1 2; do
  times=()
  for _ in $(seq "$reps"); do
    start_redis everysec
    start_gateway
    load 100 20 "$backlog" >/dev/null
    queued=$(redis-cli -p "$redis_port" XLEN 'lg:{load}:q:normal')
    t0=$(date +%s%N)
    vpids=()
    for _ in $(seq "$workers"); do
      # The backlog is queued before the workers start; a long deadline keeps
      # it from being answered EXPIRED, so full validation is what is timed.
      LIVEGATE_DEADLINE_MS=600000 "$bin/livegate-validator" 2>>"$tmp/validator.log" &
      vpids+=($!)
    done
    lg_bench_wait_drained "$redis_port" 1200
    t1=$(date +%s%N)
    kill -TERM "${vpids[@]}"; wait "${vpids[@]}" 2>/dev/null || true
    stop_gateway
    stock=$(redis-cli -p "$redis_port" HGET 'lg:{load}:sku:sku-1' stock)
    confirmed=$((1000000000 - stock))
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b-a)/1e9}')
    rate=$(awk -v n="$queued" -v s="$secs" 'BEGIN {printf "%d", n/s}')
    echo "{\"validators\":$workers,\"orders\":$queued,\"seconds\":$secs,\"decided_per_s\":$rate,\"confirmed\":$confirmed}"
    times+=("$rate")
  done
  drain["$workers"]=$(printf '%s\n' "${times[@]}" | median)
done

echo
echo "## Summary (medians of ${reps} runs)"
for k in "${!intake[@]}"; do echo "intake appendfsync=${k} conns x in-flight: ${intake[$k]}"; done | sort
for w in 1 2; do echo "validator x${w}: ${drain[$w]} orders decided/s"; done
