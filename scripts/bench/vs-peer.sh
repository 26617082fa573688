#!/usr/bin/env bash
# vs-peer.sh - livegate against the Node peer (../shared/peer), driven by the
# same livegate-bench options, to put one number on "how much faster".
#
# Both systems are started the same way for every run, and stopped after it:
# a fresh redis-server (AOF, appendfsync everysec, loopback only, via
# scripts/lib/redis.sh), 2 gateway processes on one port, 1 validator. The
# runs alternate (livegate, peer, livegate, ...) so a change in the shared
# machine's load falls on both. The report gives each run's confirmed
# orders/s and cost table (CPU µs per confirmed order of the bench and of
# every process of the system under test), then the medians and the ratio.
#
#   scripts/bench/vs-peer.sh [--runs N] [--quick] [--peer DIR] [--out DIR]
#                            [-- BENCH OPTIONS...]
#     --runs N    runs of each system (default 3)
#     --quick     1 run each, 5 s of sending: checks the script end to end
#     --peer DIR  the peer's sources (default: ../shared/peer beside the repo
#                 root, or beside the main checkout when this is a worktree)
#     --out DIR   keep each run's text and JSON report there (default: a
#                 temporary folder, removed afterwards)
#     after --     livegate-bench options replacing the default shape:
#                 --shape max --conns 200 --procs 2 --inflight 8 --duration 20
#                 --limit-per-user 1000000 (the traffic mix is the default one)
#
# The peer is copied to a temporary folder and installed there with npm ci
# (the shared folder is read-only); that folder is removed on exit. Nothing
# tracked is written. Each bench run passes --cleanup (it deletes the rooms
# it made; the peer has no room delete, so there it closes them and clears
# their totals). Every process started here is stopped on exit, and
# each step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
. scripts/lib/redis.sh

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }

runs=3 quick=0 peer_src="" out="" bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --peer) peer_src=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    --) shift; bench_args=("$@"); break ;;
    *) echo "vs-peer.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) echo "vs-peer.sh: --runs wants a positive number" >&2; exit 2 ;; esac

duration=20
[ "$quick" = 1 ] && { runs=1; duration=5; }
if [ ${#bench_args[@]} -eq 0 ]; then
  bench_args=(--shape max --conns 200 --procs 2 --inflight 8 --duration "$duration"
              --limit-per-user 1000000)
fi
# Bound on one bench run: its own duration options plus ramp, drain and set-up.
bench_limit_s=$(( duration + 120 ))
for ((i = 0; i < ${#bench_args[@]}; i++)); do
  if [ "${bench_args[$i]}" = --duration ] && [ $((i + 1)) -lt ${#bench_args[@]} ]; then
    bench_limit_s=$(( ${bench_args[$((i + 1))]%.*} + 120 ))
  fi
done

if [ -z "$peer_src" ]; then
  for cand in "$root/../shared/peer" \
      "$(dirname "$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo .)")/../shared/peer"; do
    if [ -f "$cand/gateway.js" ]; then peer_src=$(cd "$cand" && pwd); break; fi
  done
fi
if [ -z "$peer_src" ] || [ ! -f "$peer_src/gateway.js" ]; then
  echo "vs-peer.sh: no peer found (../shared/peer beside the repo root); give --peer DIR" >&2
  exit 2
fi
for tool in node npm redis-server redis-cli curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "vs-peer.sh: $tool is needed" >&2; exit 2; }
done

tmp=$(mktemp -d)
keep_out=1
[ -n "$out" ] || { out="$tmp/out"; keep_out=0; }
mkdir -p "$out"
procs=()
cleanup() {
  trap - EXIT INT TERM
  stop_system
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops every process of the system under test (children first: the peer's
# cluster workers), then its Redis.
stop_system() {
  local p c
  for p in "${procs[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null || true); do kill -TERM "$c" 2>/dev/null || true; done
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${procs[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  procs=()
  lg_redis_stop
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_healthy() { # port, what
  for _ in $(seq 150); do
    curl -fs "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "vs-peer.sh: $2 did not answer /healthz on 127.0.0.1:$1 within 15 s" >&2
  return 1
}

echo "vs-peer.sh: building build-release/ ..."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
timeout 900 cmake --build build-release -j"$(nproc)" >/dev/null
bin=$root/build-release

echo "vs-peer.sh: installing the peer (npm ci) in a temporary copy of $peer_src ..."
peer="$tmp/peer"
cp -r "$peer_src" "$peer"
rm -rf "$peer/node_modules" "$peer/.run"
(cd "$peer" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# Each start sets: port, secret, pid_args (--gateway-pid / --pid for every
# process of the system).
start_redis() {
  local rport; rport=$(free_port)
  lg_redis_start "$rport" "$tmp/redis-$1" yes everysec --maxclients 2000
  export LIVEGATE_REDIS_URL="redis://127.0.0.1:${rport}/0"
  pid_args+=(--pid "$LG_REDIS_PID")
}

start_livegate() {
  pid_args=()
  port=$(free_port) secret=$(openssl rand -hex 16)
  start_redis "livegate-$1"
  LIVEGATE_DATA_KEY=$(openssl rand -hex 32)
  export LIVEGATE_JWT_SECRET=$secret LIVEGATE_DATA_KEY
  export LIVEGATE_LISTEN="127.0.0.1:$port" LIVEGATE_LOG_LEVEL=warn
  # Per-user rate limit off unless set, as the peer runs (few users, many
  # orders each; the default 10/s a user would refuse most of them).
  export LIVEGATE_USER_RATE=${LIVEGATE_USER_RATE:-0}
  local i
  for i in 1 2; do
    LIVEGATE_GATEWAY_ID="vs-peer-gw-$i-$$" "$bin/livegate" serve 2>>"$out/livegate-$1.log" &
    procs+=($!); pid_args+=(--gateway-pid "$!")
  done
  "$bin/livegate-validator" 2>>"$out/livegate-$1.log" &
  procs+=($!); pid_args+=(--pid "$!")
  legend="gateways ${procs[*]:0:2}, validator $!, redis $LG_REDIS_PID"
  wait_healthy "$port" "livegate"
}

start_peer() {
  pid_args=()
  port=$(free_port) secret=$(openssl rand -hex 16)
  start_redis "peer-$1"
  local primary workers=()
  (cd "$peer" && LIVEGATE_JWT_SECRET=$secret LIVEGATE_LISTEN="127.0.0.1:$port" \
     LIVEGATE_WORKERS=2 LIVEGATE_USER_RATE=0 exec node gateway.js) >>"$out/peer-$1.log" 2>&1 &
  primary=$!; procs+=("$primary")
  (cd "$peer" && LIVEGATE_JWT_SECRET=$secret exec node validator.js) >>"$out/peer-$1.log" 2>&1 &
  procs+=($!)
  local validator=$!
  wait_healthy "$port" "the peer"
  for _ in $(seq 100); do
    mapfile -t workers < <(pgrep -P "$primary" || true)
    [ ${#workers[@]} -ge 2 ] && break
    sleep 0.1
  done
  local w
  for w in "${workers[@]}"; do pid_args+=(--gateway-pid "$w"); done
  pid_args+=(--pid "$primary" --pid "$validator")
  legend="gateway workers ${workers[*]}, cluster primary $primary, validator $validator, redis $LG_REDIS_PID"
}

# Runs the bench once against the system just started; prints its figures.
run_bench() { # tag
  local tag=$1 rc=0
  local cmd=("$bin/bench/livegate-bench" --url "ws://127.0.0.1:$port" "${bench_args[@]}"
             "${pid_args[@]}" --cleanup --json "$out/$tag.json")
  echo "== $tag: ${cmd[*]}"
  echo "   processes: $legend"
  # A gateway may answer /healthz before its store connection is up (the
  # peer's cluster workers start one by one): a set-up that failed ran
  # nothing, so it is tried again, up to 3 times.
  local try
  for try in 1 2 3; do
    rc=0
    timeout "$bench_limit_s" "${cmd[@]}" --secret "$secret" >"$out/$tag.txt" 2>"$out/$tag.err" || rc=$?
    [ "$rc" = 2 ] && grep -q 'set-up failed' "$out/$tag.err" || break
    echo "   set-up failed (try $try): $(grep 'set-up failed' "$out/$tag.err" | head -1)"
    sleep 2
  done
  if [ ! -s "$out/$tag.json" ]; then
    echo "   no report (exit $rc):"; tail -n 5 "$out/$tag.err" "$out/$tag.txt" | sed 's/^/   /'
    return 1
  fi
  grep -E '^throughput:|^audit (passed|FAILED)' "$out/$tag.txt" | sed 's/^/   /'
  sed -n '/^cost per confirmed order/,/^[^ ]/p' "$out/$tag.txt" | sed '$d' | sed 's/^/   /'
  [ "$rc" = 0 ] || echo "   (bench exit status $rc)"
}

# confirmed/s of a run's JSON report
rate_of() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).confirmed_per_s)' "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "vs-peer.sh: $runs run(s) of each, alternating; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
lg_rates=() peer_rates=() failed=0
for r in $(seq "$runs"); do
  for sys in livegate peer; do
    "start_$sys" "$r"
    if run_bench "$sys-$r"; then
      rate=$(rate_of "$out/$sys-$r.json")
      if [ "$sys" = livegate ]; then lg_rates+=("$rate"); else peer_rates+=("$rate"); fi
    else
      failed=1
    fi
    stop_system
  done
done

lg_med=$(median "${lg_rates[@]}") peer_med=$(median "${peer_rates[@]}")
echo
echo "confirmed orders/s, median of ${#lg_rates[@]} and ${#peer_rates[@]} runs:"
printf '  livegate %10.0f   (runs: %s)\n' "$lg_med" "${lg_rates[*]}"
printf '  peer     %10.0f   (runs: %s)\n' "$peer_med" "${peer_rates[*]}"
awk -v a="$lg_med" -v b="$peer_med" 'BEGIN { if (b > 0) printf "  ratio livegate / peer: %.2f\n", a / b; else print "  ratio: n/a" }'
echo "bench options: ${bench_args[*]}"
[ "$keep_out" = 1 ] && echo "reports in $out"
exit "$failed"
