#!/usr/bin/env bash
# Builds livegate and runs the whole test suite through ctest: the cmocka
# unit tests and the integration tests, which start their own redis-server
# on a free loopback port and the real gateway binary, and stop them after.
#
#   scripts/test.sh              Debug build in ./build
#   scripts/test.sh --asan       AddressSanitizer + UBSan build in ./build-asan
#   scripts/test.sh -- -L unit   anything after -- goes to ctest
#
# The whole suite (no ctest arguments) ends with the fuzz stage: the
# libFuzzer targets of tests/fuzz/, built with clang in ./build-fuzz, each
# run for 20 s (ctest -L fuzz; scripts/fuzz.sh runs them for long).
set -euo pipefail
cd "$(dirname "$0")/.."

build_type=Debug
build_dir=build
while [ $# -gt 0 ]; do
  case "$1" in
    --asan) build_type=Asan; build_dir=build-asan; shift ;;
    --) shift; break ;;
    *) echo "usage: scripts/test.sh [--asan] [-- ctest args]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j2 "$@"

if [ $# -eq 0 ]; then
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_C_COMPILER=clang >/dev/null
  cmake --build build-fuzz --target lg_fuzz -j"$(nproc)"
  ctest --test-dir build-fuzz -L fuzz --output-on-failure --no-tests=error -j2
fi
