# shellcheck shell=bash
# redis.sh - starts and stops the private redis-server of a script (sourced
# by scripts/run.sh, scripts/bench/bench.sh and scripts/bench/bench-core.sh).
# One instance per script at a time; it runs as a child of the script, in
# a session of its own (so a Ctrl-C meant for the script does not stop it
# before the script's own stop order reaches it), bound to 127.0.0.1 only,
# with no RDB snapshots (--save "").
#
#   lg_redis_start PORT DIR APPENDONLY APPENDFSYNC [REDIS-SERVER OPTION...]
#       APPENDONLY yes|no, APPENDFSYNC always|everysec|no. Data goes to DIR
#       (created if missing), the log to DIR/redis.log unless the options
#       name a --logfile. Returns once the new server answers PING, with its
#       pid in LG_REDIS_PID; fails with a message naming the port if it does
#       not within LG_REDIS_START_S seconds (default 10), or if it exits.
#   lg_redis_stop
#       Shuts down (SIGTERM: AOF flushed, no RDB) the instance lg_redis_start
#       started, and only that one, waiting for it to exit (SIGKILL after
#       LG_REDIS_STOP_S seconds, default 10). Does nothing when none runs.

LG_REDIS_PID=""
LG_REDIS_PORT=""

# Whether process $1 exists and has not exited (a child that exited stays a
# zombie until waited for, and kill -0 still finds it).
_lg_redis_alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

lg_redis_start() {
  if [ $# -lt 4 ]; then
    echo "lg_redis_start: usage: lg_redis_start PORT DIR APPENDONLY APPENDFSYNC [OPTION...]" >&2
    return 2
  fi
  local port=$1 dir=$2 appendonly=$3 appendfsync=$4
  shift 4
  if [ -n "$LG_REDIS_PID" ] && _lg_redis_alive "$LG_REDIS_PID"; then
    echo "lg_redis_start: redis-server $LG_REDIS_PID (port $LG_REDIS_PORT) still runs; lg_redis_stop first" >&2
    return 2
  fi
  local log="$dir/redis.log" prev="" arg
  for arg in "$@"; do
    [ "$prev" = --logfile ] && log=$arg
    prev=$arg
  done
  mkdir -p "$dir" "$(dirname "$log")"
  # Its output too goes to the log (what it says before it opens the log,
  # such as a bad option), and it holds none of the script's descriptors.
  # shellcheck disable=SC2094 # --logfile names the file, it does not read it
  setsid redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" \
    --appendonly "$appendonly" --appendfsync "$appendfsync" \
    --daemonize no --logfile "$log" "$@" </dev/null >>"$log" 2>&1 &
  LG_REDIS_PID=$! LG_REDIS_PORT=$port

  # Up means: the server on the port answers, and it is this one (not some
  # other instance that held the port already, which ours then fails to bind).
  local tries=$(( ${LG_REDIS_START_S:-10} * 10 )) info
  for _ in $(seq "$tries"); do
    if ! _lg_redis_alive "$LG_REDIS_PID"; then
      break
    fi
    if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
      info=$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r')
      if printf '%s\n' "$info" | grep -qx "process_id:$LG_REDIS_PID"; then
        return 0
      fi
    fi
    sleep 0.1
  done
  if _lg_redis_alive "$LG_REDIS_PID"; then
    echo "redis.sh: redis-server on 127.0.0.1:$port did not answer PING within ${LG_REDIS_START_S:-10} s (log: $log)" >&2
  else
    echo "redis.sh: redis-server on 127.0.0.1:$port exited at start (log: $log)" >&2
  fi
  tail -n 5 "$log" >&2 2>/dev/null || true
  lg_redis_stop
  return 1
}

lg_redis_stop() {
  [ -n "$LG_REDIS_PID" ] || return 0
  local pid=$LG_REDIS_PID
  LG_REDIS_PID=""
  if _lg_redis_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    local tries=$(( ${LG_REDIS_STOP_S:-10} * 10 ))
    for _ in $(seq "$tries"); do
      _lg_redis_alive "$pid" || break
      sleep 0.1
    done
    if _lg_redis_alive "$pid"; then
      echo "redis.sh: redis-server $pid (port $LG_REDIS_PORT) did not stop in ${LG_REDIS_STOP_S:-10} s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}
