#!/usr/bin/env bash
# Stops, in reverse start order, exactly the daemons that scripts/host-setup.sh started (as
# recorded in /run/berth-host/started.d/<daemon>.pid). Daemons started by anyone else are left
# alone. Packages, configuration, the OVS database (with br-int) and images are kept, so
# host-setup.sh brings everything back.
#
# Note: stopping dockerd stops its running containers; stopping libvirtd leaves running QEMU
# guests alive (libvirtd reconnects to them when it starts again).
#
#   BERTH_STOP_TIMEOUT=30   seconds to wait after SIGTERM before SIGKILL, per daemon
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/host-common.sh
. "$HERE/lib/host-common.sh"

[[ $(id -u) -eq 0 ]] || die "host-teardown.sh must run as root"

if [[ ! -d $BERTH_STARTED_DIR ]]; then
  say "host-teardown: nothing recorded in $BERTH_STARTED_DIR"
  exit 0
fi
exec 9>"$BERTH_RUN_DIR/lock"
flock -w 900 9 || die "another host-setup/teardown holds $BERTH_RUN_DIR/lock"

rc=0
for ((i = ${#BERTH_DAEMONS[@]} - 1; i >= 0; i--)); do
  stop_daemon "${BERTH_DAEMONS[i]}" || rc=1
done
say "host-teardown: done"
exit "$rc"
