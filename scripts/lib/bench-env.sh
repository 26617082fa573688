# shellcheck shell=bash
# bench-env.sh - what the bench helpers that run their own gateway share
# (sourced by scripts/bench/bench-core.sh and scripts/bench/measure-drain.sh,
# after scripts/lib/redis.sh): fresh secrets and loopback addresses for the
# programs they start, a scratch folder, and a clean-up that stops only what
# the script started.
#
#   lg_bench_env REDIS_PORT GW_PORT
#       Exports the programs' settings (a random JWT secret and data key,
#       the private Redis, the gateway on 127.0.0.1:GW_PORT, warn logs) and
#       sets LG_BENCH_TMP to a new scratch folder.
#   LG_BENCH_PIDS+=("$pid")
#       A process for the clean-up to stop.
#   lg_bench_cleanup
#       SIGTERM to each process in LG_BENCH_PIDS and a wait for it, then the
#       private Redis, then the scratch folder. Meant for `trap ... EXIT`.

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
}

lg_bench_cleanup() {
  local p
  for p in "${LG_BENCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${LG_BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  lg_redis_stop
  wait 2>/dev/null || true
  if [ -n "$LG_BENCH_TMP" ]; then rm -rf "$LG_BENCH_TMP"; fi
}
