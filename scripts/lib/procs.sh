# shellcheck shell=bash
# procs.sh - the processes a script starts, watches and stops (sourced by
# scripts/run.sh, after scripts/lib/redis.sh).
#
# Each process runs in a session of its own (setsid), so the terminal's
# Ctrl-C (SIGINT to the foreground process group) reaches the script only,
# and the script stops them in its own order; and each is a child of the
# script, so it is stopped by its pid and nothing else is ever signalled.
#
#   lg_port_holder PORT
#       Succeeds when something listens on TCP PORT (any address) and
#       prints what, as "pid N (name)" when ss can see it.
#   lg_proc_start NAME LOG COMMAND...
#       Starts COMMAND (stdin from /dev/null, stdout and stderr appended to
#       LOG) in its own session; records NAME and the pid in LG_PROC_NAMES /
#       LG_PROC_PIDS and sets LG_PROC_PID.
#   lg_proc_name PID
#       The NAME a pid was started under.
#   lg_proc_stop TIMEOUT_S PID...
#       SIGTERM to each, then waits for all; SIGKILL to those still running
#       after TIMEOUT_S seconds. Each is reaped.
#   lg_alive PID
#       Whether PID runs (a child that exited is a zombie until reaped).

LG_PROC_NAMES=()
LG_PROC_PIDS=()
LG_PROC_PID=""

lg_alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

lg_port_holder() {
  local port=$1 lines who
  if command -v ss >/dev/null 2>&1; then
    lines=$(ss -ltnpH "( sport = :$port )" 2>/dev/null) || lines=""
    [ -n "$lines" ] || return 1
    who=$(printf '%s\n' "$lines" | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/pid \2 (\1)/p' | head -n 1)
    echo "${who:-a process this user cannot see}"
    return 0
  fi
  # Without ss: a listener on the loopback address answers a connect.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "unknown process"
    return 0
  fi
  return 1
}

lg_proc_start() {
  local name=$1 log=$2
  shift 2
  # A background job of a shell without job control is no group leader,
  # so setsid makes the session in place: $! is the program's own pid.
  setsid "$@" </dev/null >>"$log" 2>&1 &
  LG_PROC_PID=$!
  LG_PROC_NAMES+=("$name")
  LG_PROC_PIDS+=("$LG_PROC_PID")
}

lg_proc_name() {
  local i
  for i in "${!LG_PROC_PIDS[@]}"; do
    if [ "${LG_PROC_PIDS[$i]}" = "$1" ]; then
      echo "${LG_PROC_NAMES[$i]}"
      return 0
    fi
  done
  echo "pid $1"
}

lg_proc_stop() {
  local timeout=$1 pid tries left
  shift
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  tries=$((timeout * 10))
  for _ in $(seq "$tries"); do
    left=0
    for pid in "$@"; do lg_alive "$pid" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for pid in "$@"; do
    if lg_alive "$pid"; then
      echo "livegate: $(lg_proc_name "$pid") (pid $pid) did not stop in ${timeout} s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
