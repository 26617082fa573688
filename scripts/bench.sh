#!/usr/bin/env bash
# Runs livegate-bench's standard scenarios and records them in
# docs/BENCHMARKS.md (between the "bench.sh" markers) with the machine, the
# date, the commands, the figures and a chart per scenario.
#
# Without --url it starts its own system on loopback: a private redis-server
# (AOF, appendfsync everysec), $GATEWAYS gateway processes on one port
# (SO_REUSEPORT) and $VALIDATORS validators, and stops them afterwards.
#
#   scripts/bench.sh [--url ws://host:port --secret S] [--quick] [--no-docs]
#     --quick    small versions of the scenarios (a minute in all)
#     --no-docs  print the results, leave docs/ alone
set -euo pipefail
cd "$(dirname "$0")/.."

url="" secret="" quick=0 docs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --secret) secret=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-docs) docs=0; shift ;;
    *) echo "usage: scripts/bench.sh [--url URL --secret S] [--quick] [--no-docs]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh >/dev/null
bin=build-release
cmake -S . -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bin" -j"$(nproc)" >/dev/null

out=var/bench
mkdir -p "$out"
tmp=$(mktemp -d)
pids=()
gw_pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${redis_port:-}" ] && redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "$url" ]; then
  GATEWAYS=${GATEWAYS:-4} VALIDATORS=${VALIDATORS:-2}
  redis_port=7921 gw_port=7922
  secret=$(openssl rand -hex 16)
  export LIVEGATE_JWT_SECRET=$secret LIVEGATE_DATA_KEY=$(openssl rand -hex 32)
  export LIVEGATE_REDIS_URL="redis://127.0.0.1:${redis_port}/0" LIVEGATE_LISTEN="127.0.0.1:${gw_port}"
  export LIVEGATE_LOG_LEVEL=warn
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly yes \
    --appendfsync everysec --dir "$tmp" --daemonize yes --logfile "$tmp/redis.log" --maxclients 1000
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  for i in $(seq "$GATEWAYS"); do
    LIVEGATE_GATEWAY_ID="bench-gw-$i-$$" "$bin/livegate" serve 2>>"$tmp/gateway.log" &
    pids+=($!); gw_pids+=($!)
  done
  for i in $(seq "$VALIDATORS"); do
    "$bin/livegate-validator" 2>>"$tmp/validator.log" &
    pids+=($!)
  done
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${gw_port}/healthz" >/dev/null && break; sleep 0.1; done
  url="ws://127.0.0.1:${gw_port}"
fi
[ -n "$secret" ] || { echo "bench.sh: --secret is needed with --url" >&2; exit 2; }
pid_args=()
for p in "${gw_pids[@]}"; do pid_args+=(--gateway-pid "$p"); done

if [ "$quick" = 1 ]; then
  steady=(--shape steady --conns 200 --procs 2 --rate 1000 --duration 5)
  burst=(--shape burst --conns 2000 --procs 2 --ramp 2 --window 1 --stock 500 --limit-per-user 2)
  max=(--shape max --conns 100 --procs 2 --inflight 10 --duration 5)
else
  steady=(--shape steady --conns 2000 --procs 2 --rate 3000 --duration 30)
  burst=(--shape burst --conns 20000 --procs 2 --ramp 10 --window 1 --stock 5000 --limit-per-user 2)
  max=(--shape max --conns 200 --procs 2 --inflight 20 --duration 20)
fi

status=0
for name in steady burst max; do
  declare -n args=$name
  cmd=("$bin/bench/livegate-bench" --url "$url" "${args[@]}" "${pid_args[@]}"
       --json "$out/$name.json" --csv "$out/$name.csv")
  echo "== $name: ${cmd[*]}"
  "${cmd[@]}" --secret "$secret" || status=1
  printf '%s\n' "${cmd[*]}" > "$out/$name.cmd"
  scripts/plot-bench "$out/$name.csv" "$out/$name.png" "livegate-bench $name" >/dev/null
done

if [ "$docs" = 1 ]; then
  node scripts/bench-report.mjs "$out" docs/BENCHMARKS.md "${#gw_pids[@]}"
  mkdir -p docs/img
  for name in steady burst max; do cp "$out/$name.png" "docs/img/bench-$name.png"; done
  echo "docs/BENCHMARKS.md updated"
fi
exit $status
