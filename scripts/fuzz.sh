#!/usr/bin/env bash
# Runs livegate's libFuzzer targets (tests/fuzz/fuzz_<target>.c), one after
# the other, each for a fixed time over its own corpus, and prints per target
# the executions, their rate and the coverage reached. Any crash, leak,
# timeout or failed property stops with a non-zero status and leaves the
# input under <build>/fuzz-artifacts/<target>/.
#
#   scripts/fuzz.sh                     every target, 10 minutes each
#   scripts/fuzz.sh --time 60 token     one target for a minute
#   scripts/fuzz.sh --build DIR --no-build ...   an existing Fuzz build (ctest uses this)
#
# The corpus a run grows lives in <build>/corpus/<target> (outside the tree)
# and is read again by the next run, beside the seeds in tests/fuzz/<target>/,
# which are never written to. Extra libFuzzer flags: LG_FUZZ_FLAGS="-jobs=2".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

seconds=600
build="$root/build-fuzz"
do_build=1
targets=()
usage() { echo "usage: scripts/fuzz.sh [--time S] [--build DIR] [--no-build] [target...]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --time) [ $# -ge 2 ] || usage; seconds="$2"; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --time takes whole seconds" >&2; exit 2 ;; esac

if [ "$do_build" = 1 ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_C_COMPILER=clang >/dev/null
  cmake --build "$build" --target lg_fuzz -j"$(nproc)"
fi

if [ "${#targets[@]}" -eq 0 ]; then
  for src in "$root"/tests/fuzz/fuzz_*.c; do
    name="$(basename "$src" .c)"
    targets+=("${name#fuzz_}")
  done
fi

# A leak or a UB report is a failure like a crash.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

summary=()
failed=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz_$t"
  seeds="$root/tests/fuzz/$t"
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "fuzz.sh: no target '$t' (want $bin and $seeds)" >&2
    exit 2
  fi
  corpus="$build/corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
         -artifact_prefix="$artifacts/")
  [ -f "$root/tests/fuzz/$t.dict" ] && flags+=(-dict="$root/tests/fuzz/$t.dict")
  # shellcheck disable=SC2206  # LG_FUZZ_FLAGS is a list of flags
  flags+=(${LG_FUZZ_FLAGS:-})
  echo "fuzz.sh: $t for ${seconds}s (log: $log)"
  rc=0
  "$bin" "${flags[@]}" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  # (A run that failed while loading its corpus has no stats: no match is no figure.)
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  cov="$(grep -o ' cov: [0-9]*' "$log" | tail -1 | tr -dc 0-9 || true)"
  ft="$(grep -o ' ft: [0-9]*' "$log" | tail -1 | tr -dc 0-9 || true)"
  units="$(find "$corpus" -type f | wc -l)"
  status=ok
  if [ "$rc" -ne 0 ]; then
    status="FAILED (exit $rc)"
    failed=1
    # What broke, and which input: the sanitizer's or the check's report.
    grep -E 'ERROR: |fuzz check failed|SUMMARY: |Test unit written to' "$log" | head -20 >&2 || true
    echo "fuzz.sh: $t failed; full log: $log; rerun the input with: $bin <file>" >&2
  fi
  summary+=("$(printf '%-10s %-18s %12s %10s %8s %8s %8s' "$t" "$status" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "$units")")
done

printf '\n%-10s %-18s %12s %10s %8s %8s %8s\n' target result executions exec/s cov ft corpus
printf '%s\n' "${summary[@]}"
exit "$failed"
