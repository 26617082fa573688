#!/usr/bin/env bash
# Installs everything livegate needs on a fresh Debian machine: the build
# toolchain, clang with its sanitizer and libFuzzer runtimes for the fuzz
# targets (libclang-rt-14-dev holds the libFuzzer that -fsanitize=fuzzer
# links; bookworm's clang is clang 14) and llvm-symbolizer for readable
# crash reports, the libraries of record (through Debian's -dev packages,
# found by pkg-config), redis-server for running and testing, Chromium and CJK fonts
# for the browser tests, the npm packages the integration tests use and the
# charting library the web pages load, and prometheus for its promtool,
# which the tests run on the alert rules. A second run finds everything
# present and does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake pkg-config clang-format
  libwebsockets-dev libwebsockets-evlib-uv
  libhiredis-dev libjansson-dev libssl-dev libuv1-dev libjwt-dev libjemalloc-dev
  libcmocka-dev
  clang libclang-rt-14-dev llvm
  redis-server redis-tools
  nodejs openssl curl
  gnuplot-nox
  prometheus
  systemd
  chromium fonts-noto-cjk
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Debian's redis-server package starts a system-wide instance on 6379; livegate
# always runs its own private one, so the system one is left alone.

if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing npm"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends npm
fi

if [ ! -d tests/node_modules/ws ] || [ ! -d tests/node_modules/playwright-core ] || [ tests/package.json -nt tests/node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages for the tests"
  (cd tests && npm ci --no-audit --no-fund)
fi

# The charting library the web pages load (served from web/node_modules).
if [ ! -d web/node_modules/uplot ] || [ ! -e web/node_modules/@livegate/client ] || [ web/package.json -nt web/node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages for the web pages"
  (cd web && npm ci --no-audit --no-fund)
fi
