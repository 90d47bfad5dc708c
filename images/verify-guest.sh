#!/usr/bin/env bash
# Boots the built guest images under QEMU (TCG: KVM is unusable on these hosts) and checks them:
#   1. kernel+initrd, no NIC: BERTH-GUEST-READY on the serial console      (boot time)
#   2. qcow2 disk (SYSLINUX), no NIC: BERTH-GUEST-READY                     (boot time)
#   3. kernel+initrd with two virtio NICs: NIC picked by berth.mac, IP + MTU applied (BERTH-NET); berth.busy=1: BERTH-BUSY on
#   4. qcow2 with a virtio NIC configured through SMBIOS OEM strings
#   5. two guests on a loopback socket link (127.0.0.1 only): BERTH-PING from one to the other
#   6. ACPI power button (monitor `system_powerdown`): clean poweroff, QEMU exits
#   7. Ctrl-Alt-Del (monitor `sendkey ctrl-alt-delete`): clean reboot, guest comes back
#   8. Nova config drive (ISO 9660 config-2 on an IDE cdrom) with two links, one static, one without a
#      network: BERTH-CONFIG-DRIVE, hostname from meta_data.json, one BERTH-NET per NIC, meta busy: BERTH-BUSY on
#   9. (--cloud) berth-cloud-guest with a config drive: static address, key, hostname, user_data
#      (#cloud-config write_files + runcmd); cloud-init's ConfigDrive datasource did it all; a busybox
#      guest on the same (loopback socket) link pings its address
# Only 198.18.0.0/15 addresses inside the guests and 127.0.0.1 on the host are used; NICs are QEMU
# socket netdevs on 127.0.0.1 between our own QEMUs (or with no peer at all).
# Usage: images/verify-guest.sh [--cloud]   (after images/build.sh; ~1 minute, --cloud ~1 more)
set -euo pipefail
CLOUD=0
for arg in "$@"; do
  case $arg in
    --cloud) CLOUD=1 ;;
    *) echo "verify: unknown argument $arg (usage: $0 [--cloud])" >&2; exit 2 ;;
  esac
done

OUT=${BERTH_IMAGES_DIR:-/var/cache/berth/images}
KERNEL=$OUT/berth-guest-kernel.vmlinuz
INITRD=$OUT/berth-guest-initrd.img
DISK=$OUT/berth-guest-disk.qcow2
command -v xorriso >/dev/null || { echo "verify: xorriso not found (run scripts/host-setup.sh)" >&2; exit 1; }
for f in "$KERNEL" "$INITRD" "$DISK"; do [[ -s $f ]] || { echo "verify: $f missing: run images/build.sh" >&2; exit 1; }; done
command -v qemu-system-x86_64 >/dev/null || { echo "verify: qemu-system-x86_64 not found" >&2; exit 1; }

T=$(mktemp -d /tmp/berth-verify.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
PASS=0 FAIL=0
ok() { printf 'verify: ok   %s\n' "$*"; PASS=$((PASS + 1)); }
bad() { printf 'verify: FAIL %s\n' "$*"; FAIL=$((FAIL + 1)); }
now_ms() { printf '%s' $(( $(date +%s%N) / 1000000 )); }

# wait_for FILE PATTERN SECONDS: 0 when PATTERN shows up in FILE in time.
wait_for() {
  local end=$(( $(date +%s) + $3 ))
  while (( $(date +%s) < end )); do
    grep -aq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# start NAME QEMU-ARGS...: QEMU in the background (hard limit: $LIMIT s, 90 unless set), serial to
# $T/NAME.log, monitor on the unix socket $T/NAME.mon. Sets STARTED_MS.
start() {
  local name=$1
  shift
  STARTED_MS=$(now_ms)
  timeout "${LIMIT:-90}" qemu-system-x86_64 -machine accel=tcg -m "${MEM:-256}" -display none -no-user-config -nodefaults \
    -serial "file:$T/$name.log" -monitor "unix:$T/$name.mon,server=on,wait=off" "$@" \
    >"$T/$name.qemu" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# monitor NAME COMMAND: one HMP command through the unix socket (python3, else socat).
monitor() {
  local sock="$T/$1.mon"
  if command -v python3 >/dev/null; then
    python3 - "$sock" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
time.sleep(0.2); s.recv(4096)
s.sendall(sys.argv[2].encode() + b"\n"); time.sleep(0.3); s.close()
PY
  elif command -v socat >/dev/null; then
    { sleep 0.3; printf '%s\n' "$2"; sleep 0.3; } | timeout 5 socat - "UNIX-CONNECT:$sock" >/dev/null
  else
    echo "verify: need python3 or socat to talk to the QEMU monitor" >&2
    return 1
  fi
}

boot_test() {
  local name=$1 label=$2
  shift 2
  start "$name" "$@"
  if wait_for "$T/$name.log" BERTH-GUEST-READY 60; then
    ok "$label: BERTH-GUEST-READY after $(( $(now_ms) - STARTED_MS )) ms"
  else
    bad "$label: no BERTH-GUEST-READY within 60 s (see serial log below)"; tail -20 "$T/$name.log"
  fi
  stop "$LAST_PID"
}

# make_drive ISO META_JSON NETWORK_JSON [USER_DATA]: a config drive laid out as Nova writes it
# (openstack/{latest,2018-08-27}/..., ISO 9660 with Rock Ridge and Joliet, volume label config-2).
make_drive() {
  local iso=$1 d="$T/drive.$$" v
  rm -rf "$d"
  for v in latest 2018-08-27; do
    mkdir -p "$d/openstack/$v"
    printf '%s' "$2" >"$d/openstack/$v/meta_data.json"
    printf '%s' "$3" >"$d/openstack/$v/network_data.json"
    printf '{}' >"$d/openstack/$v/vendor_data.json"
    printf '{}' >"$d/openstack/$v/vendor_data2.json"
    [[ -n ${4:-} ]] && printf '%s' "$4" >"$d/openstack/$v/user_data"
  done
  xorriso -as genisoimage -quiet -o "$iso" -V config-2 -J -R "$d" 2>/dev/null
  rm -rf "$d"
}

DIRECT=(-kernel "$KERNEL" -initrd "$INITRD")
cp "$DISK" "$T/disk.qcow2"   # never write to the cached image
DISKARGS=(-drive "file=$T/disk.qcow2,format=qcow2,if=virtio")

# 1 + 2: plain boots
boot_test direct "kernel+initrd (-nic none)" "${DIRECT[@]}" -append console=ttyS0 -nic none
boot_test disk "qcow2 via SYSLINUX (-nic none)" "${DISKARGS[@]}" -nic none

# 3: NIC selection by MAC, IP, MTU
start nic "${DIRECT[@]}" \
  -netdev socket,id=n0,listen=127.0.0.1:18765 -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01 \
  -netdev socket,id=n1,listen=127.0.0.1:18766 -device virtio-net-pci,netdev=n1,mac=fa:16:3e:00:00:02 \
  -append "console=ttyS0 berth.ip=198.18.0.10/24 berth.gw=198.18.0.1 berth.mac=fa:16:3e:00:00:02 berth.mtu=1400 berth.busy=1"
if wait_for "$T/nic.log" 'BERTH-NET eth1 198.18.0.10/24 mac fa:16:3e:00:00:02 mtu 1400' 60 \
   && wait_for "$T/nic.log" '^BERTH-BUSY on' 30; then
  ok "NIC by MAC, busy by berth.busy=1: $(grep -a '^BERTH-\(NET\|BUSY\)' "$T/nic.log" | paste -sd'|')"
else bad "NIC by MAC: $(grep -a 'BERTH-NET' "$T/nic.log" || echo 'no BERTH-NET line')"; fi
stop "$LAST_PID"

# 4: disk guest configured through SMBIOS OEM strings
start smbios "${DISKARGS[@]}" \
  -netdev socket,id=n0,listen=127.0.0.1:18767 -device virtio-net-pci,netdev=n0,mac=fa:16:3e:00:00:03 \
  -smbios type=11,value=berth.ip=198.18.0.12/24,value=berth.hostname=diskvm
if wait_for "$T/smbios.log" 'BERTH-GUEST-READY diskvm' 60 && grep -aq 'BERTH-NET eth0 198.18.0.12/24' "$T/smbios.log"; then
  ok "SMBIOS parameters: $(grep -a '^BERTH-NET' "$T/smbios.log")"
else bad "SMBIOS parameters: $(grep -a 'BERTH' "$T/smbios.log" | tr '\n' ' ')"; fi
stop "$LAST_PID"

# 5: two guests linked by a loopback TCP socket; B pings A
start pinga "${DIRECT[@]}" -netdev socket,id=n0,listen=127.0.0.1:18770 \
  -device virtio-net-pci,netdev=n0,mac=fa:16:3e:00:00:20 -append "console=ttyS0 berth.ip=198.18.0.20/24"
A=$LAST_PID
sleep 0.5
start pingb "${DIRECT[@]}" -netdev socket,id=n0,connect=127.0.0.1:18770 \
  -device virtio-net-pci,netdev=n0,mac=fa:16:3e:00:00:21 \
  -append "console=ttyS0 berth.ip=198.18.0.21/24 berth.ping=198.18.0.20"
if wait_for "$T/pingb.log" '^BERTH-PING 198.18.0.20 ok' 80; then ok "guest-to-guest ping over virtio-net"
else bad "guest-to-guest ping: $(grep -a BERTH-PING "$T/pingb.log" || echo 'no result')"; fi
stop "$LAST_PID"; stop "$A"

# 6: ACPI power button -> clean poweroff -> QEMU exits by itself
start acpi "${DISKARGS[@]}" -nic none
if wait_for "$T/acpi.log" BERTH-GUEST-READY 60; then
  t0=$(now_ms)
  monitor acpi system_powerdown || true
  end=$(( $(date +%s) + 30 ))
  while kill -0 "$LAST_PID" 2>/dev/null && (( $(date +%s) < end )); do sleep 0.05; done
  if ! kill -0 "$LAST_PID" 2>/dev/null && grep -aq '^BERTH-GUEST-SHUTDOWN' "$T/acpi.log" \
     && grep -aq 'reboot: Power down' "$T/acpi.log"; then
    ok "ACPI power button: clean poweroff, QEMU exited $(( $(now_ms) - t0 )) ms after system_powerdown"
  else
    bad "ACPI power button: guest still running or no clean shutdown"; tail -15 "$T/acpi.log"
  fi
else bad "ACPI test: guest did not boot"; fi
stop "$LAST_PID"

# 7: Ctrl-Alt-Del -> clean reboot -> second BERTH-GUEST-READY
start cad "${DIRECT[@]}" -append console=ttyS0 -nic none
if wait_for "$T/cad.log" BERTH-GUEST-READY 60; then
  t0=$(now_ms)
  monitor cad "sendkey ctrl-alt-delete" || true
  end=$(( $(date +%s) + 60 ))
  while (( $(grep -ac '^BERTH-GUEST-READY' "$T/cad.log") < 2 )) && (( $(date +%s) < end )); do sleep 0.1; done
  if (( $(grep -ac '^BERTH-GUEST-READY' "$T/cad.log") >= 2 )) && grep -aq '^BERTH-GUEST-SHUTDOWN' "$T/cad.log" \
     && grep -aq 'reboot: Restarting system' "$T/cad.log"; then
    ok "Ctrl-Alt-Del: clean reboot, ready again $(( $(now_ms) - t0 )) ms later"
  else
    bad "Ctrl-Alt-Del: no clean reboot"; tail -15 "$T/cad.log"
  fi
else bad "Ctrl-Alt-Del test: guest did not boot"; fi
stop "$LAST_PID"

# 8: config drive: two links (static IPv4 with a default route; no network), MACs in upper case
make_drive "$T/cd.iso" \
  '{"uuid":"6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f","name":"cd vm","hostname":"cdvm","availability_zone":"nova","launch_index":0,"project_id":"p1","public_keys":{"k1":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBerth k1"},"keys":[{"name":"k1","type":"ssh","data":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBerth k1"}],"meta":{"a":"b","busy":"1"},"devices":[]}' \
  '{"links":[{"id":"tapa0000000001","vif_id":"a","type":"ovs","mtu":1450,"ethernet_mac_address":"FA:16:3E:00:00:31"},{"id":"tapb0000000002","vif_id":"b","type":"ovs","mtu":1400,"ethernet_mac_address":"fa:16:3e:00:00:32"}],"networks":[{"id":"network0","type":"ipv4","link":"tapa0000000001","ip_address":"198.18.5.10","netmask":"255.255.255.0","routes":[{"network":"0.0.0.0","netmask":"0.0.0.0","gateway":"198.18.5.1"}],"network_id":"n1","services":[]}],"services":[{"type":"dns","address":"198.18.5.2"}]}'
start cdrive "${DIRECT[@]}" -append console=ttyS0 -drive "file=$T/cd.iso,format=raw,if=ide,media=cdrom,readonly=on" \
  -netdev socket,id=n0,listen=127.0.0.1:18771 -device virtio-net-pci,netdev=n0,mac=fa:16:3e:00:00:32 \
  -netdev socket,id=n1,listen=127.0.0.1:18772 -device virtio-net-pci,netdev=n1,mac=fa:16:3e:00:00:31
if wait_for "$T/cdrive.log" BERTH-GUEST-READY 60 \
   && grep -aqx $'BERTH-CONFIG-DRIVE uuid=6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f hostname=cdvm links=2\r\\{0,1\\}' "$T/cdrive.log" \
   && grep -aq '^BERTH-NET eth1 198.18.5.10/24 mac fa:16:3e:00:00:31 mtu 1450' "$T/cdrive.log" \
   && grep -aq '^BERTH-NET eth0 none mac fa:16:3e:00:00:32 mtu 1400' "$T/cdrive.log" \
   && grep -aq '^BERTH-GUEST-READY cdvm ' "$T/cdrive.log" && wait_for "$T/cdrive.log" '^BERTH-BUSY on' 10; then
  ok "config drive after $(( $(now_ms) - STARTED_MS )) ms: $(grep -a '^BERTH-\(CONFIG\|NET\)' "$T/cdrive.log" | tr -d '\r' | paste -sd'|')"
else bad "config drive: $(grep -a 'BERTH' "$T/cdrive.log" | tr '\n' ' ')"; fi
stop "$LAST_PID"
# and without one, the guest says so (and is not busy)
if grep -aq '^BERTH-CONFIG-DRIVE none' "$T/direct.log" && ! grep -aq '^BERTH-BUSY' "$T/direct.log"; then
  ok "no config drive: BERTH-CONFIG-DRIVE none, not busy"
else bad "no config drive: $(grep -a BERTH-CONFIG "$T/direct.log" || echo 'no BERTH-CONFIG-DRIVE line')"; fi

# 9: the cloud-init guest, from the qcow2 alone (no kernel, no command line), with a config drive
if [[ $CLOUD == 1 ]]; then
  CLOUDDISK=$OUT/berth-cloud-guest.qcow2
  if [[ ! -s $CLOUDDISK ]]; then
    bad "cloud guest: $CLOUDDISK missing (images/build.sh builds it unless BERTH_CLOUD_IMAGE=0)"
  else
    key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlcnRoYmVydGhiZXJ0aGJlcnRoYmVydGhiZXJ0aA berth@verify'
    make_drive "$T/cloud.iso" \
      '{"uuid":"7a1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e60","name":"cloud vm","hostname":"cloudvm","availability_zone":"nova","launch_index":0,"project_id":"p1","public_keys":{"k1":"'"$key"'"},"keys":[{"name":"k1","type":"ssh","data":"'"$key"'"}],"meta":{"a":"b"},"devices":[]}' \
      '{"links":[{"id":"tapc0000000001","vif_id":"c","type":"ovs","mtu":1450,"ethernet_mac_address":"fa:16:3e:00:00:41"}],"networks":[{"id":"network0","type":"ipv4","link":"tapc0000000001","ip_address":"198.18.6.10","netmask":"255.255.255.0","routes":[{"network":"0.0.0.0","netmask":"0.0.0.0","gateway":"198.18.6.1"}],"network_id":"n1","services":[]}],"services":[{"type":"dns","address":"198.18.6.2"}]}' \
      $'#cloud-config\nwrite_files:\n  - path: /run/berth-written\n    content: "written by cloud-init"\nruncmd:\n  - [ sh, -c, \'echo "BERTH-CLOUD-RUNCMD $(cat /run/berth-written) host=$(hostname)" >/dev/ttyS0\' ]\n'
    qemu-img create -q -f qcow2 -F qcow2 -b "$CLOUDDISK" "$T/cloud.qcow2"   # never write to the cached image
    LIMIT=300 MEM=512 start cloud -drive "file=$T/cloud.qcow2,format=qcow2,if=virtio" \
      -drive "file=$T/cloud.iso,format=raw,if=ide,media=cdrom,readonly=on" \
      -netdev socket,id=n0,listen=127.0.0.1:18773 -device virtio-net-pci,netdev=n0,mac=fa:16:3e:00:00:41
    if wait_for "$T/cloud.log" 'BERTH-CLOUD-RUNCMD' 240; then
      ms=$(( $(now_ms) - STARTED_MS ))
      wait_for "$T/cloud.log" 'BERTH-CLOUD-FINAL' 30 || true
      c=$(tr -d '\r' <"$T/cloud.log")
      fails=()
      grep -q '^BERTH-CLOUD-RUNCMD written by cloud-init host=cloudvm$' <<<"$c" || fails+=("runcmd/write_files/hostname")
      grep -q 'BERTH-CLOUD-HOST cloudvm datasource=DataSourceConfigDrive ' <<<"$c" || fails+=("hostname/datasource")
      grep -qE 'BERTH-CLOUD-NET [a-z0-9]+ 198\.18\.6\.10/24 mac fa:16:3e:00:00:41 mtu 1450$' <<<"$c" || fails+=("NIC from network_data.json")
      grep -q 'BERTH-CLOUD-ROUTE default via 198.18.6.1 dev ' <<<"$c" || fails+=("default route")
      grep -q 'BERTH-CLOUD-KEYS debian 1$' <<<"$c" || fails+=("public key of the default user")
      grep -q 'BERTH-CLOUD-FINAL datasource=DataSourceConfigDrive ' <<<"$c" || fails+=("final message")
      # and the address works: a busybox guest on the same link (loopback socket) pings it
      cloudpid=$LAST_PID
      start cloudpeer "${DIRECT[@]}" -netdev socket,id=n0,connect=127.0.0.1:18773 \
        -device virtio-net-pci,netdev=n0,mac=fa:16:3e:00:00:42 \
        -append "console=ttyS0 berth.ip=198.18.6.20/24 berth.ping=198.18.6.10"
      wait_for "$T/cloudpeer.log" '^BERTH-PING 198.18.6.10 ok' 80 || fails+=("ping from a peer: $(grep -a BERTH-PING "$T/cloudpeer.log" || echo 'no result')")
      stop "$LAST_PID"
      LAST_PID=$cloudpid
      if [[ ${#fails[@]} == 0 ]]; then
        ok "cloud guest: runcmd marker after $ms ms, a peer pings it; $(grep -o 'BERTH-CLOUD-\(HOST\|NET\|ROUTE\|KEYS debian\|FINAL\).*' <<<"$c" | paste -sd'|')"
      else
        bad "cloud guest: ${fails[*]}: $(grep -o 'BERTH-CLOUD.*' <<<"$c" | paste -sd'|')"
      fi
    else
      bad "cloud guest: no BERTH-CLOUD-RUNCMD within 240 s"; grep -a -E 'BERTH|FAILED|rror' "$T/cloud.log" | tail -20
    fi
    stop "$LAST_PID"
  fi
fi

printf '%d passed, %d failed\n' "$PASS" "$FAIL"
(( FAIL == 0 ))
