#!/usr/bin/env bash
# Berth real-host setup: installs the Debian packages Berth needs and starts containerd, dockerd,
# virtlogd, libvirtd, ovsdb-server and ovs-vswitchd (without systemd when it is not running),
# then creates the OVS integration bridge br-int. OVN (ovn-central, ovn-host) is installed but
# never started here: the OVN end-to-end test starts its own NB/SB databases, ovn-northd and
# ovn-controller on loopback and stops them again.
#
# Idempotent: a second run changes nothing and only checks. Run as root. Safe with CI=true and
# no stdin. Sends no network traffic except apt's (Debian mirrors) and loopback/unix sockets;
# configures no IP address on any host interface.
#
# Environment knobs (all optional):
#   BERTH_WAIT_TIMEOUT=60            seconds to wait for each daemon to answer
#   BERTH_DOCKER_STORAGE_DRIVER=...  force a docker storage driver (default: probe)
#   BERTH_OVS_DATAPATH=system|netdev force br-int's datapath type (default: probe kernel module)
#   BERTH_SKIP_PACKAGES=1            do not check/install packages
#   BERTH_DOCKER_NO_PULL=0           let dockerd reach registries (default: loopback dead proxy)
#   BERTH_OVS_USERSPACE_TSO=0        do not set other_config:userspace-tso-enable on netdev hosts
#
# Daemons started here are recorded in /run/berth-host/started.d/<daemon>.pid and logged to
# /var/log/berth-host/<daemon>.log; scripts/host-teardown.sh stops exactly those.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/host-common.sh
. "$HERE/lib/host-common.sh"

[[ $(id -u) -eq 0 ]] || die "host-setup.sh must run as root"

T0=$SECONDS
mkdir -p "$BERTH_LOG_DIR" "$BERTH_STARTED_DIR"
# One setup/teardown at a time on this host.
exec 9>"$BERTH_RUN_DIR/lock"
flock -w 900 9 || die "another host-setup/teardown holds $BERTH_RUN_DIR/lock"

# ------------------------------------------------------------------------------ 1. packages
PACKAGES=(
  docker.io containerd runc iptables
  libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils
  openvswitch-switch openvswitch-common uuid-runtime
  ovn-central ovn-host
  busybox-static syslinux syslinux-common mtools dosfstools cpio debootstrap xorriso e2fsprogs
  iproute2 iputils-ping kmod procps ethtool jq maven
  python3-os-vif wrk
  python3-placement python3-gunicorn curl
  python3-websockets tmux
  prometheus
)

missing_packages() {
  local p st
  for p in "$@"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $st == ii* ]] || echo "$p"
  done
}

apt_update() {
  say "packages: apt-get update"
  apt-get -o DPkg::Lock::Timeout=600 -qq update || warn "apt-get update failed; trying with the current package lists"
}

apt_install() {
  apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold -y -q \
    --no-install-recommends install "$@"
}

ensure_packages() {
  if [[ ${BERTH_SKIP_PACKAGES:-0} == 1 ]]; then
    say "packages: skipped (BERTH_SKIP_PACKAGES=1)"
    return
  fi
  local missing=() p
  mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
  if ((${#missing[@]} == 0)); then
    say "packages: all ${#PACKAGES[@]} installed (already)"
    return
  fi
  # Without systemd as init, pick libvirt's sysv glue instead of pulling systemd-sysv in.
  if [[ " ${missing[*]} " == *" libvirt-daemon-system "* ]] && ! systemd_running \
     && [[ -n $(missing_packages libvirt-daemon-system-systemd) ]]; then
    missing+=(libvirt-daemon-system-sysv)
  fi
  say "packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the lists first only when some package has no candidate in the current ones.
  local need_update=0
  for p in "${missing[@]}"; do
    apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || { need_update=1; break; }
  done
  ((need_update == 0)) || apt_update
  # Package maintainer scripts must not start services (there is no init to hand them to, and
  # openvswitch-switch's init script fails without the kernel module): deny via policy-rc.d.
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, written by berth host-setup.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local log="$BERTH_LOG_DIR/apt.log" ok=0
  if apt_install "${missing[@]}" >>"$log" 2>&1; then
    ok=1
  else
    # Stale lists (a .deb gone from the mirror) or a missing candidate: refresh once, retry.
    say "packages: install failed with the current lists, refreshing them"
    apt_update >>"$log" 2>&1
    apt_install "${missing[@]}" >>"$log" 2>&1 && ok=1
  fi
  if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  ((ok)) || { log_tail "$log"; die "packages: apt-get install failed; log: $log"; }
  mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
  ((${#missing[@]} == 0)) || die "packages: still missing after install: ${missing[*]}; log: $log"
  say "packages: installed (log: $log)"
}

systemd_running() {
  [[ -d /run/systemd/system ]] || return 1
  [[ $(timeout 5 systemctl is-system-running 2>/dev/null || true) =~ ^(running|degraded|starting)$ ]]
}

# ------------------------------------------------------------------------------ 2. /dev/kvm
ensure_kvm() {
  local accel="no vmx/svm: guests run with TCG (virt_type=qemu)"
  grep -qE '\b(vmx|svm)\b' /proc/cpuinfo && accel="vmx/svm present"
  if [[ ! -e /dev/kvm ]]; then
    say "kvm: /dev/kvm absent; $accel"
    return
  fi
  getent group kvm >/dev/null || groupadd --system kvm
  local cur
  cur=$(stat -c '%U:%G %a' /dev/kvm)
  if [[ $cur == "root:kvm 660" ]]; then
    say "kvm: /dev/kvm root:kvm 0660 (already); $accel"
  else
    chown root:kvm /dev/kvm
    chmod 0660 /dev/kvm
    say "kvm: /dev/kvm root:kvm 0660 (was $cur); $accel"
  fi
}

# ------------------------------------------------------------------------------ daemons
# Pid file a daemon writes itself, to recognise one started by someone else that is still
# coming up (containerd writes none).
own_pidfile() {
  case "$1" in
    dockerd)      echo /var/run/docker.pid ;;
    virtlogd)     echo /run/virtlogd.pid ;;
    libvirtd)     echo /run/libvirtd.pid ;;
    ovsdb-server) echo "$OVS_RUNDIR/ovsdb-server.pid" ;;
    ovs-vswitchd) echo "$OVS_RUNDIR/ovs-vswitchd.pid" ;;
    *)            echo "" ;;
  esac
}

# ensure_daemon <daemon> <start function>
ensure_daemon() {
  local name=$1 start_fn=$2 pid pf fpid
  pid=$(our_pid "$name")
  if answers "$name"; then
    if [[ -n $pid ]]; then say "$name: running (already, started by berth, pid $pid)"
    else say "$name: running (already)"; fi
    return
  fi
  # Ours or someone else's, alive but not answering yet: give it the usual time.
  pf=$(own_pidfile "$name")
  fpid=""
  [[ -n $pf && -f $pf ]] && fpid=$(cat "$pf" 2>/dev/null || true)
  if [[ -n $pid ]] || pid_is "$fpid" "$name"; then
    wait_answers "$name" "${pid:-$fpid}"
    say "$name: running (already, was starting)"
    return
  fi
  local t=$SECONDS
  "$start_fn"
  say "$name: started (pid $(our_pid "$name"), $((SECONDS - t))s, log $(daemon_log "$name"))"
}

# --- containerd
start_containerd() {
  mkdir -p /run/containerd
  start_daemon containerd --address "$CONTAINERD_SOCK"
}

# --- dockerd
docker_storage_driver() {
  if [[ -n ${BERTH_DOCKER_STORAGE_DRIVER:-} ]]; then
    echo "$BERTH_DOCKER_STORAGE_DRIVER"; return
  fi
  local root=/var/lib/docker d
  # Keep the driver a previous engine used (its images live there).
  for d in overlay2 fuse-overlayfs vfs; do
    if [[ -d $root/$d/l || ( $d != overlay2 && -d $root/$d && -n $(ls -A "$root/$d" 2>/dev/null) ) ]]; then
      echo "$d"; return
    fi
  done
  # Probe a real overlay mount on the filesystem that will hold /var/lib/docker.
  mkdir -p "$root"
  local p
  p=$(mktemp -d "$root/.berth-overlay-probe.XXXXXX")
  mkdir -p "$p/lower" "$p/upper" "$p/work" "$p/merged"
  echo x >"$p/lower/f"
  local drv=vfs
  if mount -t overlay overlay -o "lowerdir=$p/lower,upperdir=$p/upper,workdir=$p/work" "$p/merged" 2>/dev/null; then
    if echo y >"$p/merged/f" 2>/dev/null && [[ $(cat "$p/upper/f" 2>/dev/null) == y ]]; then
      drv=overlay2
    fi
    umount "$p/merged" 2>/dev/null || umount -l "$p/merged" 2>/dev/null || true
  fi
  if [[ $drv == vfs ]] && command -v fuse-overlayfs >/dev/null 2>&1 && [[ -c /dev/fuse ]]; then
    drv=fuse-overlayfs
  fi
  rm -rf "$p"
  echo "$drv"
}

start_dockerd() {
  local drv args=() conf=/etc/docker/daemon.json
  drv=$(docker_storage_driver)
  # Flags also set in daemon.json would make dockerd refuse to start: leave those to the file.
  has_key() { [[ -f $conf ]] && jq -e --arg k "$1" 'has($k)' "$conf" >/dev/null 2>&1; }
  has_key hosts          || args+=(--host "unix://$DOCKER_SOCK")
  has_key containerd     || args+=(--containerd "$CONTAINERD_SOCK")
  has_key storage-driver || args+=(--storage-driver "$drv")
  has_key bridge         || args+=(--bridge none)
  has_key iptables       || args+=(--iptables=false)
  has_key ip6tables      || args+=(--ip6tables=false)
  has_key ip-masq        || args+=(--ip-masq=false)
  has_key ip-forward     || args+=(--ip-forward=false)
  say "dockerd: options ${args[*]}"
  if [[ ${BERTH_DOCKER_NO_PULL:-1} == 1 ]]; then
    # No registry is reachable, and a `docker run` of a missing image would otherwise make
    # dockerd resolve registry-1.docker.io through the host's DNS server. A dead loopback proxy
    # makes every pull fail at once without any packet leaving the host.
    HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY='' \
    http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy='' \
      start_daemon dockerd "${args[@]}"
  else
    start_daemon dockerd "${args[@]}"
  fi
}

# --- virtlogd / libvirtd
start_virtlogd() { start_daemon virtlogd; }

disable_libvirt_default_network() {
  # libvirt-daemon-config-network autostarts "default" (virbr0 with 192.168.122.1/24 + NAT):
  # Berth must not put addresses on host interfaces, so turn its autostart off.
  local l=/etc/libvirt/qemu/networks/autostart/default.xml
  if [[ -L $l || -e $l ]]; then
    rm -f "$l"
    say "libvirt: autostart of network 'default' (virbr0 192.168.122.1) disabled"
  fi
}

start_libvirtd() { start_daemon libvirtd; }

# --- Open vSwitch
ensure_ovs_db() {
  mkdir -p /etc/openvswitch "$OVS_RUNDIR" /var/lib/openvswitch
  if [[ ! -s $OVS_DB_FILE ]]; then
    ovsdb-tool create "$OVS_DB_FILE" "$OVS_SCHEMA"
    say "ovsdb: created $OVS_DB_FILE"
  elif [[ $(ovsdb-tool needs-conversion "$OVS_DB_FILE" "$OVS_SCHEMA") == yes ]] && ! daemon_running ovsdb-server; then
    ovsdb-tool convert "$OVS_DB_FILE" "$OVS_SCHEMA"
    say "ovsdb: converted $OVS_DB_FILE to the installed schema"
  fi
}

start_ovsdb_server() {
  ensure_ovs_db
  local log
  log=$(daemon_log ovsdb-server)
  start_daemon ovsdb-server "$OVS_DB_FILE" \
    --remote="punix:$OVS_DB_SOCK" \
    --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
    --pidfile="$OVS_RUNDIR/ovsdb-server.pid" \
    --log-file="$log" -vconsole:emer -vsyslog:off -vfile:info
}

ovs_vsctl() { ovs-vsctl --db="unix:$OVS_DB_SOCK" --timeout=10 "$@"; }

ensure_ovs_init() {
  # Like ovs-ctl: make sure the Open_vSwitch row exists and carries a stable system-id (OVN's
  # chassis name). An existing system-id is never changed.
  ovs_vsctl --no-wait init
  local sid_file=/etc/openvswitch/system-id.conf sid cur
  cur=$(ovs_vsctl --no-wait get Open_vSwitch . external_ids:system-id 2>/dev/null | tr -d '"' || true)
  if [[ -z $cur ]]; then
    [[ -s $sid_file ]] || uuidgen >"$sid_file"
    sid=$(cat "$sid_file")
    ovs_vsctl --no-wait set Open_vSwitch . external_ids:system-id="$sid" \
      external_ids:hostname="$(hostname)" \
      ovs_version="$(ovs-vswitchd --version | awk 'NR==1{print $NF}')" \
      db_version="$(ovsdb-tool schema-version "$OVS_SCHEMA")"
    say "ovsdb: system-id $sid"
  elif [[ ! -s $sid_file ]]; then
    echo "$cur" >"$sid_file"
  fi
  # Userspace datapath + veth/tap with the kernel's default TX checksum offload: packets reach
  # ovs-vswitchd (AF_PACKET) with partial checksums and TCP between ports never connects (ICMP
  # works). OVS's userspace TSO support reads/writes virtio-net headers and fixes that. It is
  # read when ovs-vswitchd starts, so set it before. An explicit value from anyone is kept.
  if [[ $(ovs_datapath_type) == netdev && ${BERTH_OVS_USERSPACE_TSO:-1} == 1 ]] \
     && ! ovs_vsctl --no-wait get Open_vSwitch . other_config:userspace-tso-enable >/dev/null 2>&1; then
    ovs_vsctl --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true
    say "ovsdb: other_config:userspace-tso-enable=true (netdev datapath checksum offload)"
  fi
}

start_ovs_vswitchd() {
  local log
  log=$(daemon_log ovs-vswitchd)
  start_daemon ovs-vswitchd "unix:$OVS_DB_SOCK" \
    --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" \
    --log-file="$log" -vconsole:emer -vsyslog:off -vfile:info
}

OVS_DATAPATH=${BERTH_OVS_DATAPATH:-}
ovs_datapath_type() {
  if [[ -z $OVS_DATAPATH ]]; then
    if [[ -d /sys/module/openvswitch ]] || modprobe -q openvswitch 2>/dev/null; then
      OVS_DATAPATH=system
    else
      OVS_DATAPATH=netdev
    fi
  fi
  echo "$OVS_DATAPATH"
}

ensure_br_int() {
  local br=br-int dp cur ofport deadline
  dp=$(ovs_datapath_type)
  if ! ovs_vsctl br-exists "$br"; then
    ovs_vsctl add-br "$br" -- set Bridge "$br" datapath_type="$dp"
    say "br-int: created (datapath_type=$dp)"
  else
    cur=$(ovs_vsctl get Bridge "$br" datapath_type | tr -d '"')
    if [[ $dp == netdev && $cur != netdev ]]; then
      # The kernel datapath is unavailable: a system bridge would never get a port.
      ovs_vsctl set Bridge "$br" datapath_type=netdev
      say "br-int: datapath_type ${cur:-system} -> netdev (no openvswitch kernel module)"
    else
      say "br-int: exists (already, datapath_type=${cur:-system})"
    fi
  fi
  # ovs-vswitchd must really have built it: the LOCAL port gets ofport 65534.
  deadline=$((SECONDS + BERTH_WAIT_TIMEOUT))
  while :; do
    ofport=$(ovs_vsctl get Interface "$br" ofport 2>/dev/null || true)
    [[ $ofport =~ ^[0-9]+$ && $ofport != 0 ]] && break
    if ((SECONDS >= deadline)); then
      log_tail "$(daemon_log ovs-vswitchd)"
      die "br-int: ovs-vswitchd did not realise the bridge (ofport=${ofport:-none}, error=$(ovs_vsctl get Interface "$br" error 2>/dev/null || true)); log: $(daemon_log ovs-vswitchd)"
    fi
    sleep 0.2
  done
  deadline=$((SECONDS + 10))
  until ip link show dev "$br" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "br-int: no kernel device $br appeared; log: $(daemon_log ovs-vswitchd)"
    sleep 0.2
  done
  # No addresses on host interfaces: keep IPv6 (link-local autoconf, RS/MLD) off the bridge port.
  if [[ -e /proc/sys/net/ipv6/conf/$br/disable_ipv6 && $(cat "/proc/sys/net/ipv6/conf/$br/disable_ipv6") != 1 ]]; then
    echo 1 >"/proc/sys/net/ipv6/conf/$br/disable_ipv6" || warn "br-int: could not disable IPv6"
  fi
  if ip -o link show dev "$br" | grep -q '[<,]UP[,>]'; then
    say "br-int: link up (already), ofport $ofport"
  else
    ip link set dev "$br" up
    say "br-int: link set up, ofport $ofport"
  fi
}

# ------------------------------------------------------------------------------ main
ensure_packages
ensure_kvm
OVS_DATAPATH=$(ovs_datapath_type)

if systemd_running; then
  # A real systemd host: let the distribution's units own the daemons (with their own
  # configuration; untested on the systemd-less machines this project runs on).
  disable_libvirt_default_network
  for u in containerd docker virtlogd libvirtd openvswitch-switch; do
    if systemctl is-active --quiet "$u"; then say "$u: running (already, systemd)"
    else systemctl start "$u"; say "$u: started (systemd)"; fi
  done
  wait_answers dockerd; wait_answers libvirtd; wait_answers ovsdb-server; wait_answers ovs-vswitchd
  ensure_ovs_init
else
  if answers dockerd && ! answers containerd; then
    say "containerd: not needed (dockerd already running with its own)"
  else
    ensure_daemon containerd start_containerd
  fi
  ensure_daemon dockerd start_dockerd
  ensure_daemon virtlogd start_virtlogd
  disable_libvirt_default_network
  ensure_daemon libvirtd start_libvirtd
  ensure_daemon ovsdb-server start_ovsdb_server
  ensure_ovs_init
  ensure_daemon ovs-vswitchd start_ovs_vswitchd
fi
ensure_br_int

ours=()
for d in "${BERTH_DAEMONS[@]}"; do [[ -z $(our_pid "$d") ]] || ours+=("$d"); done
say "host-setup: done in $((SECONDS - T0))s (started by berth: ${ours[*]:-none}; logs: $BERTH_LOG_DIR)"
