#!/usr/bin/env bash
# A small cloud on one machine: one OVN central and N simulated compute hosts, each in its own network namespace
# with its own ovsdb-server, ovs-vswitchd (userspace datapath), ovn-controller and Berth agent; Geneve between the
# hosts over a veth underlay; a management network that the root namespace reaches. Run as root.
#   scripts/lab.sh up N     bring up (or repair, or grow to) N hosts (1-8); prints the time it took
#   scripts/lab.sh down     stop and remove everything of the lab (a no-op when there is none)
#   scripts/lab.sh status   one line per component; exit 1 if one is down
# Everything lives under $BERTH_LAB_DIR (default /var/tmp/berth-lab; must be /var/tmp/berth-*), which `up` describes
# in lab.json. Names on the host are fixed (netns berth-lab-*, links berthlab-mgmt and blm-h*): one lab per machine.
# Addresses: underlay 198.18.200.<i>/24 (on each host's br-phy), management 198.19.200.<i>/24 (mgmt0 in each host,
# the root namespace is 198.19.200.254 on bridge berthlab-mgmt); agent i answers https://198.19.200.<i>:8774.
# TLS: a CA in $LAB/ca (scripts/tls-ca.sh), a server certificate per host (SANs IP:198.19.200.<i>, DNS:lab-h<i>) and
# one client certificate ($LAB/ca/client.{crt,key,p12}); each agent requires a client certificate from that CA
# besides its token (tls.client_ca_file).
# Environment:
#   BERTH_AGENT_CLASSPATH   run the agents as `java -cp THIS org.berth.agent.Main` (tests); else the shaded jar
#   BERTH_LAB_AGENTS=0      no agents (an OVN-only lab)
#   BERTH_LAB_TLS=0         agents over plain http:// (allow_insecure_http: true), for debugging; fixed at the
#                           lab's first up (lab.sh down to change it)
#   BERTH_LAB_VIF_PLUGGING_TIMEOUT (default 300s), BERTH_IMAGES_DIR (default /var/cache/berth/images)
#   BERTH_LAB_TIMEOUT       seconds for each wait (agent health, chassis registration, daemons' start; default 60)
# Each agent's config is written when that agent starts; an agent already running keeps the config it has.
set -Eeuo pipefail
# a command that fails outside a check names itself (the checks name what failed and where its log is)
trap 'rc=$?; echo "lab.sh: ERROR: line $LINENO: \`$BASH_COMMAND\` failed (exit $rc)" >&2; exit "$rc"' ERR
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
LAB=${BERTH_LAB_DIR:-/var/tmp/berth-lab}
TIMEOUT=${BERTH_LAB_TIMEOUT:-60}
MAX_HOSTS=8
TLS=${BERTH_LAB_TLS:-1}
CA=$LAB/ca
NS_UL=berth-lab-ul
MGMT_BR=berthlab-mgmt
MGMT_ROOT_IP=198.19.200.254
IPT_COMMENT=berth-lab
CENTRAL=$LAB/central
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
OVN_SCHEMA_DIR=/usr/share/ovn

die() { printf 'lab.sh: ERROR: %s\n' "$*" >&2; exit 1; }
say() { printf 'lab.sh: %s\n' "$*"; }
usage() { echo "usage: $0 up N (1-$MAX_HOSTS) | down | status" >&2; exit 2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log_tail() { [ -f "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/    /' >&2 || echo "    (no log at $1)" >&2; }

[[ $LAB =~ ^/var/tmp/berth-[A-Za-z0-9._-]+$ ]] \
  || die "BERTH_LAB_DIR '$LAB' must be /var/tmp/berth-NAME (letters, digits, . _ -) so the leak guard sees it"
[[ $TIMEOUT =~ ^[0-9]+$ ]] && [ "$TIMEOUT" -ge 1 ] || die "BERTH_LAB_TIMEOUT '$TIMEOUT' must be a whole number of seconds"

ns_of() { echo "berth-lab-h$1"; }
dir_of() { echo "$LAB/h$1"; }
ul_ip() { echo "198.18.200.$1"; }
mgmt_ip() { echo "198.19.200.$1"; }
api_url() { if [ "$TLS" = 1 ]; then echo "https://$(mgmt_ip "$1"):8774"; else echo "http://$(mgmt_ip "$1"):8774"; fi; }

# The pid in pidfile $1 if that process still runs and its command line names the lab (a reused pid is not ours).
pid_of() {
  local file=$1 pid
  [ -s "$file" ] || return 1
  pid=$(tr -d ' \n' < "$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$LAB/" || return 1
  echo "$pid"
}

# HOST_ENV: `env` with host $1's OVS/OVN directories (pidfiles, logs, unixctl sockets, br-int.mgmt);
# IN_HOST: the same inside the host's network namespace. Arrays, so that `timeout` can run them.
host_cmd() {
  local d; d=$(dir_of "$1")
  HOST_ENV=(env OVS_RUNDIR="$d" OVS_LOGDIR="$d" OVS_DBDIR="$d" OVS_SYSCONFDIR="$d" OVN_RUNDIR="$d" OVN_SYSCONFDIR="$d")
  IN_HOST=(ip netns exec "$(ns_of "$1")" "${HOST_ENV[@]}")
}
ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$1"; }
vsctl() { local i=$1; shift; ovs-vsctl --db="unix:$(dir_of "$i")/db.sock" --timeout=10 "$@"; }
sbctl() { ovn-sbctl --db="unix:$CENTRAL/sb.sock" --timeout=10 "$@"; }

# Waits up to TIMEOUT seconds for "$@" to succeed.
wait_for() {
  local what=$1 deadline=$((SECONDS + TIMEOUT)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# Starts an OVS/OVN daemon that detaches (it returns once ready) unless its pidfile names a live one.
#   daemon NAME PIDFILE LOG [ip netns exec ... ] COMMAND...
daemon() {
  local name=$1 pidfile=$2 logfile=$3; shift 3
  pid_of "$pidfile" >/dev/null && return 0
  rm -f "$pidfile"
  if ! timeout "$TIMEOUT" "$@" --pidfile="$pidfile" --log-file="$logfile" -vconsole:err --detach --no-chdir 2>>"$logfile.stderr" 9>&-; then
    echo "lab.sh: ERROR: $name did not start; see $logfile and $logfile.stderr:" >&2
    log_tail "$logfile"; log_tail "$logfile.stderr" 5
    exit 1
  fi
  pid_of "$pidfile" >/dev/null || { echo "lab.sh: ERROR: $name started but $pidfile names no live process; see $logfile" >&2
    log_tail "$logfile"; exit 1; }
  # the daemon's console before it detached: kept only if it said more than that it opened its log
  grep -qv 'opened log file' "$logfile.stderr" 2>/dev/null || rm -f "$logfile.stderr"
  STARTED+=("$name")
}

# ---------------------------------------------------------------------------------------------------- central
central_up() {
  mkdir -p "$CENTRAL"
  local db
  for db in nb sb; do
    if [ ! -s "$CENTRAL/$db.db" ]; then
      ovsdb-tool create "$CENTRAL/$db.db" "$OVN_SCHEMA_DIR/ovn-$db.ovsschema" \
        || die "ovsdb-tool create $CENTRAL/$db.db from $OVN_SCHEMA_DIR/ovn-$db.ovsschema failed"
    fi
    daemon "central ovsdb-server ($db)" "$CENTRAL/$db.pid" "$CENTRAL/$db.log" \
      env OVS_RUNDIR="$CENTRAL" OVS_LOGDIR="$CENTRAL" ovsdb-server "$CENTRAL/$db.db" \
      --remote="punix:$CENTRAL/$db.sock" --unixctl="$CENTRAL/$db.ctl"
  done
  timeout "$TIMEOUT" ovn-nbctl --db="unix:$CENTRAL/nb.sock" --timeout=10 init \
    || die "ovn-nbctl init on unix:$CENTRAL/nb.sock failed; see $CENTRAL/nb.log"
  timeout "$TIMEOUT" ovn-sbctl --db="unix:$CENTRAL/sb.sock" --timeout=10 init \
    || die "ovn-sbctl init on unix:$CENTRAL/sb.sock failed; see $CENTRAL/sb.log"
  daemon "ovn-northd" "$CENTRAL/northd.pid" "$CENTRAL/northd.log" \
    env OVN_RUNDIR="$CENTRAL" OVS_RUNDIR="$CENTRAL" ovn-northd --ovnnb-db="unix:$CENTRAL/nb.sock" \
    --ovnsb-db="unix:$CENTRAL/sb.sock" --unixctl="$CENTRAL/northd.ctl"
}

# -------------------------------------------------------------------------------------------- networks (root)
underlay_up() {
  ns_exists "$NS_UL" || ip netns add "$NS_UL" || die "ip netns add $NS_UL failed"
  ip -n "$NS_UL" link set lo up
  ip -n "$NS_UL" link show ulbr >/dev/null 2>&1 || ip -n "$NS_UL" link add ulbr type bridge \
    || die "cannot make bridge ulbr in netns $NS_UL"
  ip -n "$NS_UL" link set ulbr mtu 9000 up
}

mgmt_up() {
  ip link show "$MGMT_BR" >/dev/null 2>&1 || ip link add "$MGMT_BR" type bridge || die "cannot make bridge $MGMT_BR"
  ip addr replace "$MGMT_ROOT_IP/24" dev "$MGMT_BR"
  ip link set "$MGMT_BR" up
  # Docker sets FORWARD's policy to DROP and loads br_netfilter, which runs bridged frames through FORWARD: let
  # the hosts talk to each other on the management bridge (root <-> host traffic is not forwarded, so it is not
  # affected). Only then, only this rule, marked by its comment; down removes it.
  if iptables -S FORWARD 2>/dev/null | grep -qx -- '-P FORWARD DROP' \
     && ! iptables -C FORWARD -i "$MGMT_BR" -o "$MGMT_BR" -m comment --comment "$IPT_COMMENT" -j ACCEPT 2>/dev/null; then
    iptables -I FORWARD 1 -i "$MGMT_BR" -o "$MGMT_BR" -m comment --comment "$IPT_COMMENT" -j ACCEPT \
      || die "iptables: cannot let $MGMT_BR forward between lab hosts (FORWARD policy is DROP)"
  fi
}

# ----------------------------------------------------------------------------------------------------- host i
host_up() {
  local i=$1 ns d ip mac
  ns=$(ns_of "$i"); d=$(dir_of "$i"); ip=$(ul_ip "$i")
  host_cmd "$i"
  mkdir -p "$d"; chmod 0755 "$LAB" "$d"
  ns_exists "$ns" || ip netns add "$ns" || die "ip netns add $ns failed"
  ip -n "$ns" link set lo up

  # management: blm-h<i> (root, on the bridge) <-> mgmt0 (host)
  if ! ip -n "$ns" link show mgmt0 >/dev/null 2>&1; then
    ip link del "blm-h$i" 2>/dev/null || true
    ip link add "blm-h$i" type veth peer name mgmt0 netns "$ns" || die "cannot make veth blm-h$i <-> $ns/mgmt0"
  fi
  ip link set "blm-h$i" master "$MGMT_BR" up
  ip -n "$ns" addr replace "$(mgmt_ip "$i")/24" dev mgmt0
  ip -n "$ns" link set mgmt0 up

  # underlay: ul0 (host) <-> ul-h<i> (underlay netns, on ulbr); MTU 9000 as the userspace tunnel never fragments;
  # TX offloads off on both ends (OVS 3.1's userspace datapath mishandles partial checksums and GSO)
  if ! ip -n "$ns" link show ul0 >/dev/null 2>&1; then
    ip -n "$NS_UL" link del "ul-h$i" 2>/dev/null || true
    ip -n "$ns" link add ul0 type veth peer name "ul-h$i" netns "$NS_UL" || die "cannot make veth $ns/ul0 <-> $NS_UL/ul-h$i"
  fi
  ip -n "$ns" link set ul0 mtu 9000 up
  ip -n "$NS_UL" link set "ul-h$i" mtu 9000 master ulbr up
  ip netns exec "$ns" ethtool -K ul0 tx off tso off gso off >/dev/null 2>&1 || die "ethtool -K ul0 in $ns failed"
  ip netns exec "$NS_UL" ethtool -K "ul-h$i" tx off tso off gso off >/dev/null 2>&1 \
    || die "ethtool -K ul-h$i in $NS_UL failed"
  mac=$(ip -n "$ns" -o link show ul0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  [ -n "$mac" ] || die "cannot read the MAC of $ns/ul0"

  # the host's switch
  if [ ! -s "$d/conf.db" ]; then
    ovsdb-tool create "$d/conf.db" "$OVS_SCHEMA" || die "ovsdb-tool create $d/conf.db failed"
  fi
  daemon "lab-h$i ovsdb-server" "$d/ovsdb-server.pid" "$d/ovsdb-server.log" \
    "${IN_HOST[@]}" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
    --unixctl="$d/ovsdb-server.ctl"
  vsctl "$i" --no-wait init || die "ovs-vsctl init on unix:$d/db.sock failed; see $d/ovsdb-server.log"
  daemon "lab-h$i ovs-vswitchd" "$d/ovs-vswitchd.pid" "$d/ovs-vswitchd.log" \
    "${IN_HOST[@]}" ovs-vswitchd "unix:$d/db.sock" --disable-system --unixctl="$d/ovs-vswitchd.ctl"

  vsctl "$i" --may-exist add-br br-phy \
    -- set Bridge br-phy datapath_type=netdev fail_mode=standalone other_config:hwaddr="\"$mac\"" \
    -- --may-exist add-port br-phy ul0 \
    || die "ovs-vsctl: cannot set up br-phy on lab-h$i; see $d/ovs-vswitchd.log"
  wait_for "br-phy" ip -n "$ns" link show br-phy \
    || die "br-phy did not appear in netns $ns within ${TIMEOUT}s; see $d/ovs-vswitchd.log"
  ip -n "$ns" addr replace "$ip/24" dev br-phy
  ip -n "$ns" link set br-phy mtu 9000 up
  vsctl "$i" --may-exist add-br br-int \
    -- set Bridge br-int datapath_type=netdev fail_mode=secure other_config:disable-in-band=true \
    -- set Open_vSwitch . external_ids:system-id="lab-h$i" external_ids:hostname="lab-h$i" \
       external_ids:ovn-remote="\"unix:$CENTRAL/sb.sock\"" external_ids:ovn-encap-type=geneve \
       external_ids:ovn-encap-ip="\"$ip\"" external_ids:ovn-bridge-datapath-type=netdev \
    || die "ovs-vsctl: cannot set up br-int on lab-h$i; see $d/ovs-vswitchd.log"
  daemon "lab-h$i ovn-controller" "$d/ovn-controller.pid" "$d/ovn-controller.log" \
    "${IN_HOST[@]}" ovn-controller "unix:$d/db.sock"
}

# Every host's kernel pings every other host's underlay address: checks the underlay, and fills each vswitchd's
# tunnel neighbour cache (it snoops the ARP replies on br-phy), else the first Geneve packet to a host is dropped
# while OVS resolves that host's MAC (the cache ages out after some minutes of silence; traffic refills it).
underlay_check() {
  local n=$1 i j k
  for i in $(seq 1 "$n"); do
    for j in $(seq 1 "$n"); do
      [ "$i" != "$j" ] || continue
      # an ARP reply is what OVS learns from: the kernel asks again only without an entry
      ip -n "$(ns_of "$i")" neigh flush to "$(ul_ip "$j")" dev br-phy 2>/dev/null || true
      for k in 1 2 3; do
        ip netns exec "$(ns_of "$i")" ping -c 1 -W 2 -q "$(ul_ip "$j")" >/dev/null 2>&1 && continue 2
      done
      die "underlay: lab-h$i (br-phy, $(ul_ip "$i")) cannot ping lab-h$j ($(ul_ip "$j")); see $(dir_of "$i")/ovs-vswitchd.log"
    done
  done
}

chassis_ok() { [ "$(sbctl --bare --columns=name find Chassis name="lab-h$1" 2>/dev/null)" = "lab-h$1" ]; }

# ------------------------------------------------------------------------------------------------------ agents
agent_config() {
  local i=$1 d; d=$(dir_of "$i")
  {
    echo "listen_address: $(mgmt_ip "$i")"
    echo "listen_port: 8774"
    echo "state_dir: $d/agent"
    echo "instances_path: $d/instances"
    echo "host: lab-h$i"
    echo "owner: lab-h$i"
    echo "bridge: br-int"
    echo "ovs: {enabled: true, ovsdb: \"unix:$d/db.sock\"}"
    echo "vif_plugging_timeout: ${BERTH_LAB_VIF_PLUGGING_TIMEOUT:-300s}"
    echo "vif_plugging_is_fatal: true"
    if [ "$TLS" = 1 ]; then
      echo "tls: {cert_file: \"$CA/lab-h$i.crt\", key_file: \"$CA/lab-h$i.key\", client_ca_file: \"$CA/ca.crt\"}"
    else
      echo "allow_insecure_http: true"
    fi
    echo "drivers:"
    echo "  docker: {enabled: true, options: {container_name_prefix: \"berth-lab-h$i-\"}}"
    echo "  kvm: {enabled: true, options: {uri: \"qemu:///embed?root=$d/libvirt\", guest_offloads: \"off\"}}"
  } > "$d/agent.yaml"
}

JAVA=""
agent_start() {
  local i=$1 d ns pid
  d=$(dir_of "$i"); ns=$(ns_of "$i")
  if [ -z "$JAVA" ]; then
    JAVA="$("$REPO/scripts/java-home.sh")/bin/java" || die "no JDK >= 21 (scripts/java-home.sh failed)"
  fi
  local -a main
  if [ -n "${BERTH_AGENT_CLASSPATH:-}" ]; then
    main=(-cp "$BERTH_AGENT_CLASSPATH" org.berth.agent.Main)
  else
    [ -f "$REPO/host-agent/target/berth-agent.jar" ] \
      || die "$REPO/host-agent/target/berth-agent.jar is missing: make build first (or set BERTH_AGENT_CLASSPATH)"
    main=(-jar "$REPO/host-agent/target/berth-agent.jar")
  fi
  mkdir -p "$d/agent" "$d/instances" "$d/libvirt"
  chmod 0755 "$d/agent" "$d/instances" "$d/libvirt"
  # A running agent is kept only if it runs what this up would start (same config, class path or jar); else it
  # is stopped (TERM, bounded) and started again, so a lab never serves stale code or options.
  agent_config "$i"
  local want_cmd
  want_cmd=$(printf '%s\n' "${main[@]}"; [ -z "${BERTH_AGENT_CLASSPATH:-}" ] && stat -c '%Y %s' "${main[1]}"; cat "$d/agent.yaml")
  if pid=$(pid_of "$d/agent.pid"); then
    if [ "$want_cmd" = "$(cat "$d/agent.cmd" 2>/dev/null)" ]; then
      return 0
    fi
    say "lab-h$i: the agent's config or code changed; restarting it"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 40))
    while [ -d "/proc/$pid" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$d/agent.pid"
  printf '%s' "$want_cmd" > "$d/agent.cmd"
  printf '\n==== lab.sh: starting the agent of lab-h%s at %s\n' "$i" "$(date -Is)" >> "$d/agent.log"
  # ip netns exec and setsid exec (no fork: a background job of this script is no process-group leader), so $!
  # is the JVM, in a session of its own, inside the host's namespace
  ip netns exec "$ns" env OVS_RUNDIR="$d" OVN_RUNDIR="$d" setsid "$JAVA" --enable-native-access=ALL-UNNAMED \
    -Xmx384m -XX:+UseSerialGC -Dberth.images.dir="${BERTH_IMAGES_DIR:-/var/cache/berth/images}" \
    "${main[@]}" --config "$d/agent.yaml" </dev/null >>"$d/agent.log" 2>&1 9>&- &
  pid=$!
  echo "$pid" > "$d/agent.pid"
  STARTED+=("lab-h$i agent")
}

healthy() {
  local -a tls=()
  [ "$TLS" = 1 ] && tls=(--cacert "$CA/ca.crt" --cert "$CA/client.crt" --key "$CA/client.key")
  curl -sf --noproxy '*' --max-time 2 "${tls[@]}" -o /dev/null "$(api_url "$1")/healthz"
}

# The lab's CA, a server certificate per host and the client certificate (kept when they are there).
tls_up() {
  local n=$1 i
  [ "$TLS" = 1 ] || return 0
  "$REPO/scripts/tls-ca.sh" init "$CA" >/dev/null || die "scripts/tls-ca.sh init $CA failed"
  for i in $(seq 1 "$n"); do
    "$REPO/scripts/tls-ca.sh" issue "$CA" "lab-h$i" "IP:$(mgmt_ip "$i")" "DNS:lab-h$i" >/dev/null \
      || die "scripts/tls-ca.sh issue $CA lab-h$i failed"
  done
  "$REPO/scripts/tls-ca.sh" issue "$CA" client --client >/dev/null || die "scripts/tls-ca.sh issue $CA client failed"
}

agents_wait() {
  local n=$1 i deadline=$((SECONDS + TIMEOUT)) pending
  while :; do
    pending=""
    for i in $(seq 1 "$n"); do
      healthy "$i" && continue
      if ! pid_of "$(dir_of "$i")/agent.pid" >/dev/null; then
        echo "lab.sh: ERROR: the agent of lab-h$i exited; its log, $(dir_of "$i")/agent.log, ends:" >&2
        log_tail "$(dir_of "$i")/agent.log" 30
        exit 1
      fi
      pending+=" $i"
    done
    [ -z "$pending" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      for i in $pending; do
        echo "lab.sh: ERROR: the agent of lab-h$i does not answer $(api_url "$i")/healthz after" \
          "${TIMEOUT}s; its log, $(dir_of "$i")/agent.log, ends:" >&2
        log_tail "$(dir_of "$i")/agent.log" 30
      done
      exit 1
    fi
    sleep 0.3
  done
}

# ------------------------------------------------------------------------------------------------------ lab.json
write_json() {
  local n=$1 i d sep=""
  {
    printf '{"dir":"%s","nb":"unix:%s/nb.sock","sb":"unix:%s/sb.sock",' "$LAB" "$CENTRAL" "$CENTRAL"
    if [ "$TLS" = 1 ] && [ -s "$CA/ca.crt" ]; then # (an OVN-only lab has no CA)
      printf '"ca":"%s/ca.crt","client_cert":"%s/client.crt","client_key":"%s/client.key","client_p12":"%s/client.p12",' \
        "$CA" "$CA" "$CA" "$CA"
    fi
    printf '"hosts":['
    for i in $(seq 1 "$n"); do
      d=$(dir_of "$i")
      printf '%s\n {"name":"lab-h%s","netns":"%s","dir":"%s","api":"%s","token_file":"%s/agent/token",' \
        "$sep" "$i" "$(ns_of "$i")" "$d" "$(api_url "$i")" "$d"
      printf '"ovsdb":"unix:%s/db.sock","ovs_rundir":"%s","underlay_ip":"%s","mgmt_ip":"%s","agent_log":"%s/agent.log"}' \
        "$d" "$d" "$(ul_ip "$i")" "$(mgmt_ip "$i")" "$d"
      sep=","
    done
    printf '\n]}\n'
  } > "$LAB/lab.json.tmp"
  mv "$LAB/lab.json.tmp" "$LAB/lab.json"
}

hosts_count() { # hosts of the lab as it is: the largest recorded
  local n=0
  [ -s "$LAB/hosts" ] && n=$(cat "$LAB/hosts")
  [[ $n =~ ^[0-9]+$ ]] || n=0
  echo "$n"
}

up() {
  local want=$1 t0 n i have
  [[ $want =~ ^[0-9]+$ ]] && [ "$want" -ge 1 ] && [ "$want" -le $MAX_HOSTS ] || usage
  [ "$(id -u)" = 0 ] || die "run as root (netns, veths, bridges)"
  local tool
  for tool in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovn-northd ovn-controller ovn-nbctl ovn-sbctl ethtool curl openssl; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/host-setup.sh installs OVS and OVN)"
  done
  # what the agents need is checked before anything is made, so a missing build does not leave half a lab
  if [ "${BERTH_LAB_AGENTS:-1}" != 0 ]; then
    JAVA="$("$REPO/scripts/java-home.sh")/bin/java" || die "no JDK >= 21 (scripts/java-home.sh failed)"
    if [ -z "${BERTH_AGENT_CLASSPATH:-}" ] && [ ! -f "$REPO/host-agent/target/berth-agent.jar" ]; then
      die "$REPO/host-agent/target/berth-agent.jar is missing: make build first (or set BERTH_AGENT_CLASSPATH)"
    fi
  fi
  UP_DONE=0
  trap '[ "$UP_DONE" = 1 ] || echo "lab.sh: up did not finish; what it started is still there: scripts/lab.sh" \
    "status shows it, scripts/lab.sh up repairs it, scripts/lab.sh down removes it" >&2' EXIT
  t0=$(now)
  mkdir -p "$LAB"; chmod 0755 "$LAB"
  # fd 9 is closed for every daemon started below: one that inherited it would hold the lock for ever
  exec 9>"$LAB/lock"
  flock -w "$TIMEOUT" 9 || die "another lab.sh holds $LAB/lock"
  have=$(hosts_count)
  n=$(( want > have ? want : have ))
  [[ $TLS =~ ^[01]$ ]] || die "BERTH_LAB_TLS '$TLS' must be 1 (TLS, the default) or 0 (plain http://)"
  if [ -s "$LAB/tls" ] && [ "$(cat "$LAB/tls")" != "$TLS" ]; then
    die "the lab runs with BERTH_LAB_TLS=$(cat "$LAB/tls"), not $TLS: scripts/lab.sh down first to change it"
  fi
  echo "$TLS" > "$LAB/tls"
  if [ "$n" -gt "$want" ]; then say "the lab has $have hosts; keeping all of them"; fi
  echo "$n" > "$LAB/hosts"
  STARTED=()
  central_up
  underlay_up
  mgmt_up
  for i in $(seq 1 "$n"); do host_up "$i"; done
  underlay_check "$n"
  for i in $(seq 1 "$n"); do
    wait_for "chassis" chassis_ok "$i" || die "chassis lab-h$i is not in the southbound database after ${TIMEOUT}s;" \
      "see $(dir_of "$i")/ovn-controller.log and $CENTRAL/sb.log"
  done
  if [ "${BERTH_LAB_AGENTS:-1}" != 0 ]; then
    echo 1 > "$LAB/agents"
    tls_up "$n"
    for i in $(seq 1 "$n"); do agent_start "$i"; done
    agents_wait "$n"
  else
    echo 0 > "$LAB/agents"
  fi
  write_json "$n"
  if [ ${#STARTED[@]} -gt 0 ]; then
    say "started: $(IFS=,; echo "${STARTED[*]}" | sed 's/,/, /g')"
  else
    say "everything was already running"
  fi
  UP_DONE=1
  echo "lab: up $n hosts in $(since "$t0") s ($LAB/lab.json)"
}

# --------------------------------------------------------------------------------------------------------- down
lab_netns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^berth-lab-(ul|h[0-9]+)$' || true; }

ancestors() { # this script and the processes above it: never killed
  local p=$$
  while [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != 1 ]; do
    echo "$p"
    p=$(sed -e 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $2}' || true)
  done
}

lab_pids() {
  local ns f
  {
    for ns in $(lab_netns); do ip netns pids "$ns" 2>/dev/null || true; done
    if [ -d "$LAB" ]; then
      while IFS= read -r f; do pid_of "$f" || true; done < <(find "$LAB" -name '*.pid' -type f 2>/dev/null)
    fi
    # processes started with a path under $LAB (embedded QEMU, a daemon whose pidfile is gone), by name only: an
    # operator's `tail -f $LAB/h1/agent.log` is not the lab's
    local p
    for p in $(pgrep -f -- "$LAB/" 2>/dev/null || true); do
      case "$(cat "/proc/$p/comm" 2>/dev/null)" in
        ovsdb-server|ovs-vswitchd|ovn-northd|ovn-controller|java|qemu-*|setsid) echo "$p" ;;
      esac
    done
  } | sort -un | grep -vxF -f <(ancestors) || true
}

down() {
  local t0 pids deadline left ns i
  [ "$(id -u)" = 0 ] || die "run as root"
  t0=$(now)
  if [ -d "$LAB" ]; then
    exec 9>>"$LAB/lock"
    flock -w 10 9 || say "another lab.sh holds $LAB/lock; taking the lab down anyway"
  fi
  pids=$(lab_pids)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086 # pids are digits
    kill -TERM $pids 2>/dev/null || true
    deadline=$((SECONDS + 20))
    while :; do
      left=""
      for i in $pids; do [ -d "/proc/$i" ] && left+=" $i"; done
      [ -z "$left" ] && break
      if [ $SECONDS -ge $deadline ]; then
        say "killing what did not stop on TERM within 20 s:$left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        sleep 0.5
        break
      fi
      sleep 0.2
    done
    # what a dying process may have started meanwhile
    pids=$(lab_pids)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || { kill -KILL $pids 2>/dev/null || true; sleep 0.5; }
  fi
  # the agents' containers live under the system dockerd, not in the lab's namespaces: each carries its agent's
  # owner label (lab-h<i>), so they go by that label, and nothing else does
  local ids
  if command -v docker >/dev/null; then
    for i in $(seq 1 "$MAX_HOSTS"); do
      ids=$(timeout 30 docker ps -aq --filter "label=org.berth.owner=lab-h$i" 2>/dev/null || true)
      # shellcheck disable=SC2086 # ids are hex
      [ -z "$ids" ] || timeout 60 docker rm -f $ids >/dev/null || say "could not remove the containers of lab-h$i"
    done
  fi
  for ns in $(lab_netns); do ip netns del "$ns" || say "could not delete netns $ns"; done
  for i in $(ip -o link show 2>/dev/null | awk -F': ' '{split($2, n, "@"); print n[1]}' | grep -E '^blm-h[0-9]+$' || true); do
    ip link del "$i" 2>/dev/null || true
  done
  ip link show "$MGMT_BR" >/dev/null 2>&1 && ip link del "$MGMT_BR"
  while iptables -C FORWARD -i "$MGMT_BR" -o "$MGMT_BR" -m comment --comment "$IPT_COMMENT" -j ACCEPT 2>/dev/null; do
    iptables -D FORWARD -i "$MGMT_BR" -o "$MGMT_BR" -m comment --comment "$IPT_COMMENT" -j ACCEPT
  done
  rm -rf "$LAB"
  echo "lab: down in $(since "$t0") s"
}

# ------------------------------------------------------------------------------------------------------- status
status() {
  local bad=0 n i d pid
  line() { # line NAME OK(0/1) DETAIL
    if [ "$2" = 0 ]; then printf '%-34s up   %s\n' "$1" "$3"; else printf '%-34s down %s\n' "$1" "$3"; bad=1; fi
  }
  check_pid() { if pid=$(pid_of "$2"); then line "$1" 0 "pid $pid"; else line "$1" 1 "(no live process in $2)"; fi; }
  if [ ! -d "$LAB" ]; then
    echo "lab: no lab in $LAB"
    return 1
  fi
  check_pid "central ovsdb-server nb" "$CENTRAL/nb.pid"
  check_pid "central ovsdb-server sb" "$CENTRAL/sb.pid"
  check_pid "central ovn-northd" "$CENTRAL/northd.pid"
  if ns_exists "$NS_UL"; then line "underlay netns $NS_UL" 0 ""; else line "underlay netns $NS_UL" 1 ""; fi
  if ip link show "$MGMT_BR" >/dev/null 2>&1; then line "management bridge $MGMT_BR" 0 "$MGMT_ROOT_IP/24"
  else line "management bridge $MGMT_BR" 1 ""; fi
  n=$(hosts_count)
  [ -s "$LAB/tls" ] && TLS=$(cat "$LAB/tls")
  for i in $(seq 1 "$n"); do
    d=$(dir_of "$i")
    if ns_exists "$(ns_of "$i")"; then line "lab-h$i netns" 0 "$(ns_of "$i")"
    else line "lab-h$i netns" 1 "$(ns_of "$i")"; fi
    check_pid "lab-h$i ovsdb-server" "$d/ovsdb-server.pid"
    check_pid "lab-h$i ovs-vswitchd" "$d/ovs-vswitchd.pid"
    check_pid "lab-h$i ovn-controller" "$d/ovn-controller.pid"
    if chassis_ok "$i"; then line "lab-h$i chassis" 0 "geneve $(ul_ip "$i")"; else line "lab-h$i chassis" 1 "not in the SB"; fi
    if [ "$(cat "$LAB/agents" 2>/dev/null || echo 1)" != 0 ]; then
      if ! pid=$(pid_of "$d/agent.pid"); then line "lab-h$i agent" 1 "(no live process; see $d/agent.log)"
      elif healthy "$i"; then line "lab-h$i agent" 0 "pid $pid $(api_url "$i")"
      else line "lab-h$i agent" 1 "pid $pid does not answer /healthz; see $d/agent.log"; fi
    fi
  done
  return "$bad"
}

case "${1:-}" in
  up) [ $# -eq 2 ] || usage; up "$2" ;;
  down) [ $# -eq 1 ] || usage; down ;;
  status) [ $# -eq 1 ] || usage; status || exit $? ;;
  *) usage ;;
esac
