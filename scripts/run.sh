#!/usr/bin/env bash
# Runs a local livegate on this machine: installs what is missing, builds if
# needed, starts a private redis-server (data and AOF under ./var/redis),
# the gateway and, when built, the validator; then prints the URLs, the demo
# secret and how to mint tokens. Ctrl-C stops everything.
#
# Settings are the gateway's environment variables (see the README); values
# not given are generated once for the demo and kept in ./var/demo.env.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib/redis.sh

scripts/setup.sh
# A release build of its own, so the test suite's Debug build in ./build
# and this one never overwrite each other.
bin=build-release
cmake -S . -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bin" -j"$(nproc)" --target livegate livegate-validator

mkdir -p var/redis var/log
if [ ! -f var/demo.env ]; then
  umask 077
  {
    echo "LIVEGATE_JWT_SECRET=$(openssl rand -hex 32)"
    echo "LIVEGATE_DATA_KEY=$(openssl rand -hex 32)"
  } > var/demo.env
fi
# Values from the caller's environment win over the generated ones.
while IFS='=' read -r name value; do
  if [ -z "${!name:-}" ]; then export "$name=$value"; fi
done < var/demo.env

redis_port="${LIVEGATE_RUN_REDIS_PORT:-6390}"
appendfsync="${LIVEGATE_APPENDFSYNC:-always}"
export LIVEGATE_REDIS_URL="${LIVEGATE_REDIS_URL:-redis://127.0.0.1:${redis_port}/0}"
export LIVEGATE_LISTEN="${LIVEGATE_LISTEN:-127.0.0.1:8080}"

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "livegate: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  lg_redis_stop
}
trap stop_all INT TERM EXIT

if [[ "$LIVEGATE_REDIS_URL" == "redis://127.0.0.1:${redis_port}/0" ]]; then
  lg_redis_start "$redis_port" "$root/var/redis" yes "$appendfsync" \
    --logfile "$root/var/log/redis.log"
fi

# Several gateway processes share the port (SO_REUSEPORT); one per core by
# default. A process may hold at most ~20,000 open files here, so more
# connections than that need more processes.
gateways="${LIVEGATE_GATEWAYS:-$(nproc)}"
validators="${LIVEGATE_VALIDATORS:-1}"
for i in $(seq "$gateways"); do
  LIVEGATE_GATEWAY_ID="gw-$i-$$" \
    "$bin/livegate" serve 2>> "var/log/gateway-$i.log" &
  pids+=($!)
done
for i in $(seq "$validators"); do
  "$bin/livegate-validator" 2>> "var/log/validator-$i.log" &
  pids+=($!)
done

host_port="${LIVEGATE_LISTEN/0.0.0.0/127.0.0.1}"
for _ in $(seq 100); do
  curl -fs "http://${host_port}/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

admin_token=$("$bin/livegate" token --sub admin --room '*' --role admin --ttl 86400)
viewer_token=$("$bin/livegate" token --sub viewer-1 --room demo --role viewer --ttl 86400)
operator_token=$("$bin/livegate" token --sub op-1 --room demo --role operator --ttl 86400)

# A demo room with two products, so a viewer can order at once.
api() { curl -fsS -X PUT -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
  "http://${host_port}$1" -d "$2" >/dev/null; }
api /v1/rooms/demo '{"title":"Demo live room","status":"live","high_value_threshold":100000,"payment_methods":["alipay","wechat_pay","card","cod"]}'
api /v1/rooms/demo/skus/sku-1 '{"name":"Tea gift box","price":19900,"stock":500,"limit_per_user":5,"on_sale":true}' || true
api /v1/rooms/demo/skus/sku-2 '{"name":"Jade bracelet","price":128000,"stock":50,"limit_per_user":1,"on_sale":true}' || true

cat <<INFO

livegate is running: ${gateways} gateway process(es), ${validators} validator(s),
redis appendfsync=${appendfsync}, data in ${root}/var
  WebSocket   ws://${host_port}/v1/ws
  HTTP API    http://${host_port}/v1/...   health: http://${host_port}/healthz
  Live room   http://${host_port}/#token=${viewer_token}
  Back office http://${host_port}/dashboard#token=${operator_token}
  Logs        ${root}/var/log/

Demo secret (LIVEGATE_JWT_SECRET, kept in var/demo.env):
  ${LIVEGATE_JWT_SECRET}

Mint tokens (same secret from var/demo.env):
  set -a; . var/demo.env; set +a
  $bin/livegate token --sub viewer-1 --room demo --role viewer
  $bin/livegate token --sub op-1 --room demo --role operator
  $bin/livegate token --sub admin --room '*' --role admin

A viewer token for room "demo" (valid 24 h):
  ${viewer_token}

Press Ctrl-C to stop.
INFO

wait -n "${pids[@]}" || true
