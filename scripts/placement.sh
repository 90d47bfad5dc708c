#!/usr/bin/env bash
# A real OpenStack Placement (Debian python3-placement, sqlite, noauth2) on loopback, for tests and `make run`.
#   scripts/placement.sh start  DIR [PORT]   start it (idempotent: a running one is left as it is); prints its URL
#   scripts/placement.sh stop   DIR          stop exactly the processes it started (SIGTERM, then SIGKILL), idempotent
#   scripts/placement.sh status DIR          prints "running URL" (exit 0) or "stopped" (exit 3)
# DIR holds everything: placement.conf, placement.sqlite, the WSGI entry file, placement.pid, placement.log, url.
# PORT defaults to 8778; the server listens on 127.0.0.1 unless BERTH_PLACEMENT_BIND names another local IPv4
# address (the lab binds its management bridge's 198.19.200.254, which the lab hosts' agents reach). The WSGI app is served by gunicorn (Debian
# python3-gunicorn) with BERTH_PLACEMENT_WORKERS (default 2) worker processes under /usr/bin/python3 (the
# python3 first on PATH may be another Python without Debian's modules), each in the server's own session, so that
# stop can kill the whole group and nothing else.
# SQLite waits up to 30 s for a lock (pysqlite's timeout, 5 s by default): two workers and several writers (the
# agents' reports, concurrent schedulers) otherwise answer 500 "database is locked" under load.
# Environment: BERTH_PLACEMENT_TIMEOUT (seconds, default 60) bounds the readiness wait and the stop;
# BERTH_PLACEMENT_BIND (default 127.0.0.1) the address it listens on.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

PY=/usr/bin/python3
APP=berth_placement_wsgi
TIMEOUT=${BERTH_PLACEMENT_TIMEOUT:-60}
WORKERS=${BERTH_PLACEMENT_WORKERS:-2}
BIND=${BERTH_PLACEMENT_BIND:-127.0.0.1}

die() { printf 'placement.sh: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { echo "usage: $0 start DIR [PORT] | stop DIR | status DIR" >&2; exit 2; }

# The pid in DIR/placement.pid if that process is still our gunicorn master for DIR (a reused pid is not ours).
server_pid() {
  local dir=$1 pid
  [ -s "$dir/placement.pid" ] || return 1
  pid=$(cat "$dir/placement.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "--chdir $dir .*$APP:application" || return 1
  echo "$pid"
}

answers() {
  # GET / needs no token and names the versions; the only traffic is to the bind address (a local one)
  curl -sf --noproxy '*' --max-time 2 "$1/" 2>/dev/null | grep -q '"max_version"'
}

start() {
  local dir=$1 port=${2:-8778} pid url
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "PORT '$port' must be 1-65535"
  [[ $BIND =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "BERTH_PLACEMENT_BIND '$BIND' must be an IPv4 address"
  # captured first: with pipefail, `ip | grep -q` fails when grep's early exit gives ip a SIGPIPE (many addresses)
  local addrs
  addrs=$(ip -o -4 addr show 2>/dev/null || true)
  grep -qF " $BIND/" <<<"$addrs" \
    || die "BERTH_PLACEMENT_BIND '$BIND' is not an address of this host (ip -4 addr shows none)"
  [ -x "$PY" ] || die "$PY is missing (Debian python3)"
  "$PY" -c 'import placement.wsgi, gunicorn' 2>/dev/null \
    || die "python3-placement and python3-gunicorn must be installed (scripts/host-setup.sh installs them)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  url="http://$BIND:$port"
  if pid=$(server_pid "$dir"); then
    url=$(cat "$dir/url")
    answers "$url" || die "a Placement (pid $pid) runs for $dir but does not answer $url; see $dir/placement.log"
    echo "$url"
    return 0
  fi
  cat > "$dir/placement.conf" <<EOF
[DEFAULT]
debug = False
log_file = $dir/placement-app.log
[api]
auth_strategy = noauth2
[placement_database]
connection = sqlite:///$dir/placement.sqlite?timeout=30
EOF
  # the app reads \$OS_PLACEMENT_CONFIG_DIR/placement.conf and ignores arguments
  cat > "$dir/$APP.py" <<'EOF'
from placement.wsgi import init_application
application = init_application()
EOF
  if [ ! -s "$dir/placement.sqlite" ]; then
    timeout "$TIMEOUT" placement-manage --config-file "$dir/placement.conf" db sync >"$dir/db-sync.log" 2>&1 \
      || die "placement-manage db sync failed; see $dir/db-sync.log: $(tail -3 "$dir/db-sync.log")"
    # The app fills the traits and resource classes tables when it loads. On a fresh database every gunicorn
    # worker would do that at once and SQLite refuses all but one ("database is locked", seen in CI), which fails
    # the worker's boot and makes the master exit: load it once here, alone, so the workers find them filled.
    (cd "$dir" && OS_PLACEMENT_CONFIG_DIR=$dir timeout "$TIMEOUT" "$PY" -c \
      'import sys; sys.path.insert(0, "."); import '"$APP" >>"$dir/db-sync.log" 2>&1) \
      || die "loading Placement once to fill its tables failed; see $dir/db-sync.log: $(tail -3 "$dir/db-sync.log")"
  fi
  if curl -s --noproxy '*' --max-time 2 -o /dev/null "$url/" 2>/dev/null; then
    die "port $port on $BIND is taken by something else"
  fi
  : > "$dir/placement.log"
  OS_PLACEMENT_CONFIG_DIR=$dir setsid "$PY" -m gunicorn --chdir "$dir" --bind "$BIND:$port" \
    --workers "$WORKERS" --timeout 60 --graceful-timeout 5 --pid "$dir/placement.pid" \
    --error-logfile "$dir/placement.log" --access-logfile "$dir/access.log" "$APP:application" \
    </dev/null >>"$dir/placement.log" 2>&1 &
  echo "$url" > "$dir/url"
  local launched=$! deadline=$((SECONDS + TIMEOUT))
  until answers "$url"; do
    if ! kill -0 "$launched" 2>/dev/null; then
      die "Placement exited while starting; see $dir/placement.log: $(tail -5 "$dir/placement.log")"
    fi
    if [ $SECONDS -ge $deadline ]; then
      stop "$dir" >/dev/null 2>&1 || kill -KILL -- "-$launched" 2>/dev/null || true
      die "Placement did not answer $url within ${TIMEOUT}s; see $dir/placement.log: $(tail -5 "$dir/placement.log")"
    fi
    sleep 0.2
  done
  echo "$url"
}

stop() {
  local dir=$1 pid deadline
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  if ! pid=$(server_pid "$dir"); then
    rm -f "$dir/placement.pid"
    return 0
  fi
  # setsid made the master a process group leader: its workers share the group, nothing else does
  kill -TERM -- "-$pid" 2>/dev/null || true
  deadline=$((SECONDS + TIMEOUT))
  while kill -0 -- "-$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
  done
  rm -f "$dir/placement.pid"
}

status() {
  local dir=$1
  if [ -d "$dir" ] && dir=$(cd "$dir" && pwd) && server_pid "$dir" >/dev/null && answers "$(cat "$dir/url")"; then
    echo "running $(cat "$dir/url")"
    return 0
  fi
  echo "stopped"
  return 3
}

[ $# -ge 2 ] || usage
case "$1" in
  start) [ $# -le 3 ] || usage; start "$2" "${3:-8778}" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  status) [ $# -eq 2 ] || usage; status "$2" ;;
  *) usage ;;
esac
