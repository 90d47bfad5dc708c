#!/usr/bin/env bash
# A real Prometheus (Debian prometheus) on loopback that scrapes a Berth agent's /metrics, for tests and by hand.
#   scripts/prometheus.sh start  DIR PORT TARGET TOKEN_FILE   start it (idempotent); prints its URL
#   scripts/prometheus.sh stop   DIR                          stop exactly the process it started, idempotent
#   scripts/prometheus.sh status DIR                          prints "running URL" (exit 0) or "stopped" (exit 3)
# TARGET is the agent's host:port on loopback (127.0.0.1:N); TOKEN_FILE holds its bearer token, copied into DIR
# (0600) so that Prometheus reads it there (credentials_file; the token never appears on a command line or in the
# configuration). DIR holds prometheus.yml, token, data/, prometheus.pid, prometheus.log, url. The scrape and
# evaluation interval is BERTH_PROMETHEUS_SCRAPE (default 2s: a rate over [30s] then has 15 points).
# Never the system service: own directory, own port, 127.0.0.1 only, run in its own session.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

BIN=/usr/bin/prometheus
TIMEOUT=${BERTH_PROMETHEUS_TIMEOUT:-60}
SCRAPE=${BERTH_PROMETHEUS_SCRAPE:-2s}

die() { printf 'prometheus.sh: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { echo "usage: $0 start DIR PORT TARGET TOKEN_FILE | stop DIR | status DIR" >&2; exit 2; }

# The pid in DIR/prometheus.pid if that process is still our Prometheus for DIR (a reused pid is not ours).
server_pid() {
  local dir=$1 pid
  [ -s "$dir/prometheus.pid" ] || return 1
  pid=$(cat "$dir/prometheus.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "--config.file=$dir/prometheus.yml" || return 1
  echo "$pid"
}

answers() {
  curl -sf --noproxy '*' --max-time 2 "$1/-/ready" >/dev/null 2>&1
}

start() {
  local dir=$1 port=$2 target=$3 token=$4 pid url
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "PORT '$port' must be 1-65535"
  [[ $target =~ ^127\.0\.0\.1:[0-9]{1,5}$ ]] || die "TARGET '$target' must be 127.0.0.1:PORT (loopback only)"
  [[ $SCRAPE =~ ^[0-9]+(ms|s|m)$ ]] || die "BERTH_PROMETHEUS_SCRAPE '$SCRAPE' must be a duration such as 2s"
  [ -r "$token" ] || die "TOKEN_FILE '$token' is not readable"
  [ -x "$BIN" ] || die "$BIN is missing (scripts/host-setup.sh installs Debian's prometheus)"
  [[ $dir =~ ^[A-Za-z0-9/._-]+$ ]] || die "DIR '$dir' must be a path of letters, digits and / . _ - (it goes into YAML)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  url="http://127.0.0.1:$port"
  if pid=$(server_pid "$dir"); then
    url=$(cat "$dir/url")
    answers "$url" || die "a Prometheus (pid $pid) runs for $dir but does not answer $url; see $dir/prometheus.log"
    echo "$url"
    return 0
  fi
  install -m 0600 "$token" "$dir/token"
  cat > "$dir/prometheus.yml" <<YAML
global:
  scrape_interval: $SCRAPE
  scrape_timeout: $SCRAPE
  evaluation_interval: $SCRAPE
scrape_configs:
  - job_name: berth
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: '$dir/token'
    static_configs:
      - targets: ['$target']
YAML
  if curl -s --noproxy '*' --max-time 2 -o /dev/null "$url/" 2>/dev/null; then
    die "port $port on 127.0.0.1 is taken by something else"
  fi
  : > "$dir/prometheus.log"
  setsid "$BIN" "--config.file=$dir/prometheus.yml" "--storage.tsdb.path=$dir/data" \
    "--web.listen-address=127.0.0.1:$port" --storage.tsdb.retention.time=1h \
    </dev/null >>"$dir/prometheus.log" 2>&1 &
  local launched=$!
  echo "$launched" > "$dir/prometheus.pid"
  echo "$url" > "$dir/url"
  local deadline=$((SECONDS + TIMEOUT))
  until answers "$url"; do
    if ! kill -0 "$launched" 2>/dev/null; then
      die "Prometheus exited while starting; see $dir/prometheus.log: $(tail -5 "$dir/prometheus.log")"
    fi
    if [ $SECONDS -ge $deadline ]; then
      stop "$dir" >/dev/null 2>&1 || kill -KILL "$launched" 2>/dev/null || true
      die "Prometheus did not answer $url within ${TIMEOUT}s; see $dir/prometheus.log: $(tail -5 "$dir/prometheus.log")"
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
    rm -f "$dir/prometheus.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
  done
  rm -f "$dir/prometheus.pid"
}

status() {
  local dir=$1
  if [ -d "$dir" ] && dir=$(cd "$dir" && pwd) && server_pid "$dir" >/dev/null && answers "$(cat "$dir/url")"; then
    echo "running $(cat "$dir/url")"
    return 0
  fi
  echo stopped
  return 3
}

case "${1:-}" in
  start) [ $# -eq 5 ] || usage; start "$2" "$3" "$4" "$5" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  status) [ $# -eq 2 ] || usage; status "$2" ;;
  *) usage ;;
esac
