#!/usr/bin/python3
"""Plug and unplug VIFs through os-vif's OVS plugin, one port at a time, and print per-port timings as JSON.

Driven by org.berth.ovs.bench.PlugBench (the baseline of Berth's plug benchmark); runs under Debian's
/usr/bin/python3 with python3-os-vif (3.0), as root.

Each port's tap must exist before the run: os-vif does not create taps for VIFOpenVSwitch (the hypervisor does).
Per port: OvsPlugin.plug() with port_profile.create_port=True and the bridge's datapath_type (ensure bridge, add
Port + Interface with iface-id/iface-status/attached-mac/vm-uuid in one OVSDB transaction, wait for vswitchd's
cur_cfg, set the device MTU through privsep), then
  --unplug api       OvsPlugin.unplug(): delete the Port, then delete the tap through privsep (what Nova calls)
  --unplug ovs-only  the same OVSDB deletion os-vif's unplug makes (BaseOVS.delete_ovs_vif_port) without the tap
                     deletion (delete_netdev=False), so the tap stays and only the OVS work is timed.

Before timing, the OVSDB connection and the privsep daemon are brought up (see warm_up): a nova-compute keeps both.

Output on stdout: {"plug_ms": [...], "unplug_ms": [...], "ports": N, "os_vif": "<version>"}; logs on stderr.
"""
import argparse
import json
import os
import sys
import tempfile
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bridge", required=True)
    p.add_argument("--instance", required=True, help="instance uuid (vm-uuid)")
    p.add_argument("--ovsdb", required=True, help="os-vif ovsdb_connection, e.g. unix:/var/run/openvswitch/db.sock")
    p.add_argument("--unplug", choices=("api", "ovs-only"), required=True)
    p.add_argument("--datapath-type", required=True, choices=("system", "netdev"),
                   help="the bridge's datapath type: os-vif's plug sets it on the bridge (its default, system, "
                        "would switch a netdev bridge over)")
    p.add_argument("--mtu", type=int, default=1500)
    p.add_argument("ports", nargs="+", metavar="PORT_ID=MAC", help="Neutron port id and MAC of each VIF")
    return p.parse_args()


def configure(ovsdb):
    """os-vif reads [os_vif_ovs] and the privsep context reads [vif_plug_ovs_privileged] from oslo.config."""
    from oslo_config import cfg
    conf = tempfile.NamedTemporaryFile("w", prefix="berth-bench-osvif-", suffix=".conf", delete=False)
    with conf:
        conf.write("[os_vif_ovs]\n"
                   "ovsdb_connection = %s\n"
                   "[vif_plug_ovs_privileged]\n"
                   "helper_command = privsep-helper\n" % ovsdb)
    cfg.CONF(args=[], project="berth-bench", default_config_files=[conf.name])
    return conf.name


def main():
    args = parse_args()
    if os.geteuid() != 0:
        sys.exit("osvif_plug.py: must run as root (privsep-helper needs CAP_NET_ADMIN)")
    conf_file = configure(args.ovsdb)
    try:
        import os_vif
        from os_vif import objects
        from os_vif.objects import fields  # noqa: F401 (registers field types)
        os_vif.initialize()
        plugin = os_vif._EXT_MANAGER["ovs"].obj
        network = objects.network.Network(id="00000000-0000-4000-8000-00000000be57", bridge=args.bridge,
                                          mtu=args.mtu)
        instance = objects.instance_info.InstanceInfo(uuid=args.instance, name="berth-bench")
        warm_up(plugin, args.ports[0], args.mtu)
        plug_ms, unplug_ms = [], []
        for spec in args.ports:
            port_id, _, mac = spec.partition("=")
            if not mac:
                sys.exit("osvif_plug.py: port %r: expected PORT_ID=MAC" % spec)
            vif = objects.vif.VIFOpenVSwitch(
                id=port_id, address=mac, network=network, plugin="ovs", vif_name="tap" + port_id[:11],
                bridge_name=args.bridge, has_traffic_filtering=True, preserve_on_delete=False, active=True,
                port_profile=objects.vif.VIFPortProfileOpenVSwitch(interface_id=port_id, create_port=True,
                                                                    datapath_type=args.datapath_type))
            if not os.path.exists("/sys/class/net/" + vif.vif_name):
                sys.exit("osvif_plug.py: tap %s must exist before the run" % vif.vif_name)
            t0 = time.perf_counter_ns()
            os_vif.plug(vif, instance)
            t1 = time.perf_counter_ns()
            if args.unplug == "api":
                os_vif.unplug(vif, instance)
            else:
                plugin.ovsdb.delete_ovs_vif_port(args.bridge, vif.vif_name, delete_netdev=False)
            t2 = time.perf_counter_ns()
            plug_ms.append((t1 - t0) / 1e6)
            unplug_ms.append((t2 - t1) / 1e6)
        json.dump({"ports": len(plug_ms), "os_vif": _version(), "plug_ms": plug_ms, "unplug_ms": unplug_ms},
                  sys.stdout)
        sys.stdout.write("\n")
    finally:
        os.unlink(conf_file)


def warm_up(plugin, first_port, mtu):
    """Untimed: what a running nova-compute has already, os-vif's OVSDB connection (IDL with its schema) and the
    privsep daemon (started by the first privileged call; the MTU set here is the one plug sets again)."""
    from vif_plug_ovs import linux_net
    plugin.ovsdb.ovsdb.has_table_column("Interface", "mtu_request")
    linux_net.set_device_mtu("tap" + first_port.partition("=")[0][:11], mtu)


def _version():
    try:
        from importlib.metadata import version
        return version("os-vif")
    except Exception:  # metadata missing: report rather than fail the run
        return "unknown"


if __name__ == "__main__":
    main()
