# shellcheck shell=bash disable=SC2034
# Shared helpers for scripts/host-setup.sh and scripts/host-teardown.sh.
# Sourced, never executed. Requires bash with `set -euo pipefail` in the caller.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

BERTH_LOG_DIR=${BERTH_LOG_DIR:-/var/log/berth-host}
BERTH_RUN_DIR=${BERTH_RUN_DIR:-/run/berth-host}
BERTH_STARTED_DIR="$BERTH_RUN_DIR/started.d"
BERTH_WAIT_TIMEOUT=${BERTH_WAIT_TIMEOUT:-60}

# Docker: always the Debian engine's client for our own checks. /usr/local/bin/docker may be a
# newer CLI-only client (it negotiates the API version down, but we do not depend on it).
DOCKER=/usr/bin/docker
DOCKER_SOCK=/var/run/docker.sock
CONTAINERD_SOCK=/run/containerd/containerd.sock
OVS_RUNDIR=/var/run/openvswitch
OVS_DB_SOCK=$OVS_RUNDIR/db.sock
OVS_DB_FILE=/etc/openvswitch/conf.db
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
VIRSH_URI=qemu:///system

# Start/stop order. Teardown walks it backwards.
BERTH_DAEMONS=(containerd dockerd virtlogd libvirtd ovsdb-server ovs-vswitchd)

say()  { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Absolute path of a daemon's executable.
daemon_exe() {
  case "$1" in
    containerd)   echo /usr/bin/containerd ;;
    dockerd)      echo /usr/sbin/dockerd ;;
    virtlogd)     echo /usr/sbin/virtlogd ;;
    libvirtd)     echo /usr/sbin/libvirtd ;;
    ovsdb-server) echo /usr/sbin/ovsdb-server ;;
    ovs-vswitchd) echo /usr/sbin/ovs-vswitchd ;;
    *) die "unknown daemon $1" ;;
  esac
}

daemon_log()     { echo "$BERTH_LOG_DIR/$1.log"; }
started_pidfile() { echo "$BERTH_STARTED_DIR/$1.pid"; }

# True when <pid> is alive and its command name is <name> (guards against pid reuse).
pid_is() {
  local pid=$1 name=$2 comm
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [[ $comm == "${name:0:15}" ]] || return 1
  # A zombie is gone for our purposes.
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

# Pid recorded by us for <daemon> if that process is still alive, else empty (and forget it).
our_pid() {
  local name=$1 f pid
  f=$(started_pidfile "$name")
  [[ -f $f ]] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if pid_is "$pid" "$name"; then
    echo "$pid"
  else
    rm -f "$f"
  fi
}

# Any process named <daemon>?
daemon_running() { pgrep -x "${1:0:15}" >/dev/null 2>&1; }

# Runs "$@" silently with a hard timeout (seconds in $T, default 5).
quiet() { timeout -k 2 "${T:-5}" "$@" >/dev/null 2>&1; }

# ---------------------------------------------------------------- daemon health checks
answers() {
  case "$1" in
    containerd)   [[ -S $CONTAINERD_SOCK ]] && quiet ctr --address "$CONTAINERD_SOCK" version ;;
    dockerd)      [[ -S $DOCKER_SOCK ]] && quiet "$DOCKER" -H "unix://$DOCKER_SOCK" version ;;
    virtlogd)     [[ -S /run/libvirt/virtlogd-sock ]] && quiet virt-admin -c virtlogd:///system server-list ;;
    libvirtd)     quiet virsh -c "$VIRSH_URI" version && quiet virsh -c "$VIRSH_URI" list --all ;;
    ovsdb-server) [[ -S $OVS_DB_SOCK ]] && T=3 quiet ovs-vsctl --db="unix:$OVS_DB_SOCK" show ;;
    ovs-vswitchd) quiet ovs-appctl -t ovs-vswitchd version ;;
    *) die "unknown daemon $1" ;;
  esac
}

# Print the tail of a log to stderr (used in error paths).
log_tail() {
  local log=$1
  if [[ -s $log ]]; then
    printf -- '--- last lines of %s ---\n' "$log" >&2
    tail -n 20 "$log" >&2 || true
    printf -- '---\n' >&2
  fi
}

# wait_answers <daemon> [pid]: wait up to BERTH_WAIT_TIMEOUT s until the daemon answers.
# When pid is given and that process dies, fail at once.
wait_answers() {
  local name=$1 pid=${2:-} log deadline
  log=$(daemon_log "$name")
  deadline=$((SECONDS + BERTH_WAIT_TIMEOUT))
  while ! answers "$name"; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$log"
      die "$name exited during start-up (pid $pid); log: $log"
    fi
    if ((SECONDS >= deadline)); then
      log_tail "$log"
      die "$name did not answer within ${BERTH_WAIT_TIMEOUT}s; log: $log"
    fi
    sleep 0.2
  done
}

# start_daemon <daemon> <args...>: start the daemon in the background (own session, stdout and
# stderr appended to its log), record its pid under started.d/, wait until it answers.
start_daemon() {
  local name=$1; shift
  local exe log pidf pid
  exe=$(daemon_exe "$name")
  log=$(daemon_log "$name")
  pidf=$(started_pidfile "$name")
  [[ -x $exe ]] || die "$name: $exe not found (package not installed?)"
  mkdir -p "$BERTH_LOG_DIR" "$BERTH_STARTED_DIR"
  printf '==== %s berth host-setup starting: %s %s\n' "$(date -Is)" "$exe" "$*" >>"$log"
  start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$pidf" \
    --output "$log" --exec "$exe" -- "$@" \
    || { log_tail "$log"; die "$name: start-stop-daemon failed; log: $log"; }
  pid=$(cat "$pidf")
  wait_answers "$name" "$pid"
}

# stop_daemon <daemon>: stop the process recorded in started.d (only if it is still ours):
# SIGTERM, wait up to BERTH_STOP_TIMEOUT (30) s, then SIGKILL and wait 5 s more.
stop_daemon() {
  local name=$1 pid deadline t=$SECONDS
  pid=$(our_pid "$name")
  if [[ -z $pid ]]; then
    say "$name: not started by berth host-setup (left alone)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + ${BERTH_STOP_TIMEOUT:-30}))
  while pid_is "$pid" "$name" && ((SECONDS < deadline)); do sleep 0.1; done
  if pid_is "$pid" "$name"; then
    warn "$name: pid $pid ignored SIGTERM for ${BERTH_STOP_TIMEOUT:-30}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while pid_is "$pid" "$name" && ((SECONDS < deadline)); do sleep 0.1; done
  fi
  if pid_is "$pid" "$name"; then
    warn "$name: could not stop pid $pid; log: $(daemon_log "$name")"
    return 1
  fi
  rm -f "$(started_pidfile "$name")"
  say "$name: stopped (pid $pid, $((SECONDS - t))s)"
}
