#!/usr/bin/env bash
# The run-wide leak guard of `make test`: every test checks its own leftovers, this checks the whole run.
#   scripts/host-artefacts.sh list            the Berth-made artefacts on this host, one per line, sorted
#   scripts/host-artefacts.sh snapshot FILE   write that list to FILE (before the tests)
#   scripts/host-artefacts.sh compare FILE    fail, naming them, if artefacts exist now that FILE does not list
# Artefacts: containers and libvirt domains named berth-*, OVS ports on any bridge, OVS bridges but br-int,
# tap*/ns* links, Prometheus servers of scripts/prometheus.sh (their directories are /var/tmp/berth-*), OVN daemons and the ovn-* keys of Open_vSwitch external_ids, /var/tmp/berth-* directories
# (the tests' Placement databases live in /var/tmp/berth-placement-*), Placement servers of scripts/placement.sh,
# what scripts/lab.sh leaves if its `down` did not run: berth-* network namespaces, berthlab*/blm-* links and
# processes whose command line names /var/tmp/berth-* (ovsdb-server, ovs-vswitchd, ovn-*, agents, QEMU: a lab in any
# BERTH_LAB_DIR, a test's private ovsdb-server), the lab's iptables rule.
set -euo pipefail

list() {
  {
    docker ps -a --format 'container {{.Names}}' 2>/dev/null | grep '^container berth-' || true
    virsh -c qemu:///system list --all --name 2>/dev/null | grep '^berth-' | sed 's/^/domain /' || true
    for br in $(ovs-vsctl --timeout=10 list-br 2>/dev/null); do
      [ "$br" = br-int ] || echo "bridge $br"
      ovs-vsctl --timeout=10 list-ports "$br" | sed "s/^/port $br:/"
    done
    ip -o link show 2>/dev/null | awk -F': ' '{split($2, n, "@"); print n[1]}' | grep -E '^(tap|ns|berthlab|blm-)' \
      | sed 's/^/link /' || true
    pgrep -x 'ovn-northd|ovn-controller' 2>/dev/null | sed 's/^/ovn-process /' || true
    pgrep -f 'berth_placement_wsgi:application' 2>/dev/null | sed 's/^/placement-process /' || true
    ip netns list 2>/dev/null | awk '{print $1}' | grep '^berth-' | sed 's/^/netns /' || true
    pgrep -f '/var/tmp/berth-' 2>/dev/null | xargs -r ps -o pid=,comm= -p 2>/dev/null \
      | awk '$2 ~ /^(ovsdb-server|ovs-vswitchd|ovn-northd|ovn-controller|java|qemu-.*|prometheus)$/ {print "lab-process " $1 " " $2}' || true
    iptables -S FORWARD 2>/dev/null | grep -- '--comment berth-lab' | sed 's/^/iptables /' || true
    ovs-vsctl --timeout=10 get Open_vSwitch . external_ids 2>/dev/null | tr -d '{}' | tr ',' '\n' \
      | sed 's/^ *//' | grep '^ovn-' | sed 's/=.*//; s/^/ovs-external-id /' || true
    find /var/tmp -maxdepth 1 -name 'berth-*' 2>/dev/null | sed 's/^/dir /' || true
  } | sort -u
}

case "${1:-list}" in
  list) list ;;
  snapshot) list > "${2:?snapshot FILE}" ;;
  compare)
    before=${2:?compare FILE}
    new=$(list | comm -13 "$before" - || true)
    if [ -n "$new" ]; then
      echo "make test: the run left these on the host (not there before it):" >&2
      echo "$new" | sed 's/^/  /' >&2
      exit 1
    fi
    echo "make test: host as the run found it (no container, domain, port, link, bridge, netns, OVN, lab or Placement daemon or temp dir left)"
    ;;
  *) echo "usage: $0 list | snapshot FILE | compare FILE" >&2; exit 2 ;;
esac
