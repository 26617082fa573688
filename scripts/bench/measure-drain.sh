#!/usr/bin/env bash
# measure-drain.sh - the validator's costs on one workload, for
# docs/BENCHMARKS.md ("Batched validation"). Modelled on the validator part
# of scripts/bench/bench-core.sh (same room, SKU, fill and drain), which has
# no validator-only mode and runs scripts/setup.sh: fills a backlog through
# one gateway, then times W validators draining it and reports Redis's CPU
# per order (used_cpu_user+sys), the validators' CPU per order (utime+stime)
# and INFO commandstats per order. Meant to move into bench-core.sh.
#   scripts/bench/measure-drain.sh REPO WORKERS BACKLOG [TAG]
# Environment: VB_VALIDATOR (another validator binary, e.g. a baseline
# build), VB_REDIS_OPTS (extra redis-server options), VB_REDIS_PORT,
# VB_GW_PORT. Needs build-release (livegate, livegate-validator).
set -euo pipefail
repo=$1 workers=$2 backlog=$3 tag=${4:-run}
cd "$repo"
. scripts/lib/redis.sh
. scripts/lib/bench-env.sh
bin=build-release
redis_port=${VB_REDIS_PORT:-7921}
gw_port=${VB_GW_PORT:-7922}
lg_bench_env "$redis_port" "$gw_port"
tmp=$LG_BENCH_TMP
trap lg_bench_cleanup EXIT
lg_redis_start "$redis_port" "$tmp/redis" yes everysec --logfile "$tmp/redis.log" ${VB_REDIS_OPTS:-}
lg_bench_start_gateway "$bin" "$gw_port"
node scripts/bench/intake-load.mjs --url "ws://127.0.0.1:${gw_port}/v1/ws" --room load \
  --conns 100 --inflight 20 --orders "$backlog" --max-seconds 120 >/dev/null
queued=$(redis-cli -p "$redis_port" XLEN 'lg:{load}:q:normal')
rc() { redis-cli -p "$redis_port" "$@"; }
rcpu() { rc INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/{s+=$2} END{printf "%.6f", s}'; }
# An AOF rewrite the fill started must not run into the drain: its fork
# makes the first write to every page a copy, which is the machine's cost,
# not the validator's (total_forks below says whether one ran anyway).
for _ in $(seq 600); do
  rc INFO persistence | tr -d '\r' | grep -q '^aof_rewrite_in_progress:0' && \
    rc INFO persistence | tr -d '\r' | grep -q '^aof_rewrite_scheduled:0' && break
  sleep 0.1
done
forks0=$(rc INFO stats | tr -d '\r' | sed -n 's/^total_forks://p')
rc CONFIG RESETSTAT >/dev/null
c0=$(rcpu)
t0=$(date +%s%N)
vpids=()
for _ in $(seq "$workers"); do
  LIVEGATE_DEADLINE_MS=600000 "${VB_VALIDATOR:-$bin/livegate-validator}" 2>>"$tmp/validator.log" & vpids+=($!)
done
lg_bench_wait_drained "$redis_port" 2400
t1=$(date +%s%N)
c1=$(rcpu)
forks1=$(rc INFO stats | tr -d '\r' | sed -n 's/^total_forks://p')
vcpu=0
for p in "${vpids[@]}"; do
  t=$(awk '{print $14+$15}' /proc/$p/stat); vcpu=$((vcpu + t))
done
rc INFO commandstats | tr -d '\r' > "$tmp/cmdstats"
kill -TERM "${vpids[@]}"; wait "${vpids[@]}" 2>/dev/null || true
stock=$(rc HGET 'lg:{load}:sku:sku-1' stock)
confirmed=$((1000000000 - stock))
hz=$(getconf CLK_TCK)
awk -v n="$queued" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v vt="$vcpu" -v hz="$hz" \
  -v w="$workers" -v conf="$confirmed" -v tag="$tag" -v forks=$((forks1 - forks0)) '
  BEGIN { secs=(t1-t0)/1e9;
    printf "{\"tag\":\"%s\",\"validators\":%d,\"orders\":%d,\"confirmed\":%d,\"seconds\":%.3f,\"decided_per_s\":%d,\"redis_cpu_us_per_order\":%.2f,\"validator_cpu_us_per_order\":%.2f,\"forks_during_drain\":%d}\n",
      tag, w, n, conf, secs, n/secs, (c1-c0)*1e6/n, vt*1e6/hz/n, forks }' 
echo "# commandstats (calls per order, usec per call, usec per order)"
grep '^cmdstat_' "$tmp/cmdstats" | sed 's/^cmdstat_//' | awk -F'[:=,]' -v n="$queued" '
  { printf "%-14s calls/order %7.3f  usec/call %7.2f  usec/order %7.2f\n", $1, $3/n, $7, $5/n }' | sort -k7 -nr
