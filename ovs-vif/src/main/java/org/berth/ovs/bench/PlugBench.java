package org.berth.ovs.bench;

import org.berth.driver.api.VifSpec;
import org.berth.ovs.OvsVifConfig;
import org.berth.ovs.OvsVifPlugger;
import org.berth.ovs.link.Commands;
import org.berth.ovs.ovsdb.OvsdbClient;
import org.berth.ovs.ovsdb.OvsdbEndpoint;
import org.berth.ovs.ovsdb.VswitchDb;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Plug+unplug of N VM ports on one bridge, Berth's native OVSDB client against one {@code ovs-vsctl} process per
 * port operation (what a naive plugger forks). Taps are created before timing, as os-vif expects them, so both
 * sides time only the OVS work: port with external_ids, vswitchd attaching it, and removal.
 *
 * <p>Usage: {@code PlugBench [N] [bridge]} (defaults 100, br-int). Prints per-port medians and the ratio.
 */
public final class PlugBench {
    private PlugBench() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        String bridge = args.length > 1 ? args[1] : "br-int";
        Commands sh = new Commands(Duration.ofSeconds(30));
        try (OvsVifPlugger plugger = OvsVifPlugger.connect(OvsVifConfig.defaults());
             OvsdbClient client = OvsdbClient.connect(OvsdbEndpoint.parse(OvsdbEndpoint.DEFAULT),
                     OvsdbClient.Options.defaults())) {
            VswitchDb db = new VswitchDb(client);
            List<VifSpec> vifs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                byte[] mac = new byte[3];
                ThreadLocalRandom.current().nextBytes(mac);
                vifs.add(new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:" + HexFormat.ofDelimiter(":").formatHex(mac),
                        bridge, 1500, Optional.empty(), List.of(), Optional.empty()));
            }
            UUID instance = UUID.randomUUID();
            try {
                for (VifSpec vif : vifs) {
                    sh.run(List.of("ip", "tuntap", "add", "dev", vif.devName(), "mode", "tap"));
                    sh.run(List.of("ip", "link", "set", "dev", vif.devName(), "up"));
                }
                long[] berthPlug = new long[n];
                long[] berthUnplug = new long[n];
                long[] vsctlPlug = new long[n];
                long[] vsctlUnplug = new long[n];
                for (int i = 0; i < n; i++) {
                    VifSpec vif = vifs.get(i);
                    long t0 = System.nanoTime();
                    db.addPort(new VswitchDb.PortSpec(bridge, vif.devName(), Map.of("iface-id", vif.portId(),
                            "iface-status", "active", "attached-mac", vif.mac(), "vm-uuid", instance.toString()),
                            Optional.empty(), OptionalInt.of(vif.mtu())));
                    db.waitForOfport(vif.devName(), Duration.ofSeconds(10));
                    long t1 = System.nanoTime();
                    db.deletePort(vif.devName());
                    long t2 = System.nanoTime();
                    sh.run(List.of("ovs-vsctl", "--timeout=30", "--", "--may-exist", "add-port", bridge, vif.devName(),
                            "--", "set", "Interface", vif.devName(),
                            "external_ids:iface-id=" + vif.portId(), "external_ids:iface-status=active",
                            "external_ids:attached-mac=" + vif.mac(), "external_ids:vm-uuid=" + instance,
                            "mtu_request=" + vif.mtu()));
                    long t3 = System.nanoTime();
                    sh.run(List.of("ovs-vsctl", "--timeout=30", "--", "--if-exists", "del-port", bridge, vif.devName()));
                    long t4 = System.nanoTime();
                    berthPlug[i] = t1 - t0;
                    berthUnplug[i] = t2 - t1;
                    vsctlPlug[i] = t3 - t2;
                    vsctlUnplug[i] = t4 - t3;
                }
                double bp = median(berthPlug), bu = median(berthUnplug), vp = median(vsctlPlug), vu = median(vsctlUnplug);
                System.out.printf(Locale.ROOT, "ports: %d on %s (taps pre-created)%n", n, bridge);
                System.out.printf(Locale.ROOT, "berth native OVSDB : plug %.2f ms  unplug %.2f ms  total %.2f ms/port%n",
                        bp, bu, bp + bu);
                System.out.printf(Locale.ROOT, "ovs-vsctl per port : plug %.2f ms  unplug %.2f ms  total %.2f ms/port%n",
                        vp, vu, vp + vu);
                System.out.printf(Locale.ROOT, "ratio berth/ovs-vsctl (plug+unplug medians): %.3f%n", (bp + bu) / (vp + vu));
            } finally {
                for (VifSpec vif : vifs) {
                    plugger.unplug(instance, vif);
                }
            }
            // What a driver sees: OvsVifPlugger.plugTap/unplug including creating and deleting the tap.
            long[] plug = new long[n];
            long[] unplug = new long[n];
            for (int i = 0; i < n; i++) {
                VifSpec vif = vifs.get(i);
                long t0 = System.nanoTime();
                try {
                    plugger.plugTap(instance, vif);
                    plug[i] = System.nanoTime() - t0;
                } finally {
                    long t1 = System.nanoTime();
                    plugger.unplug(instance, vif);
                    unplug[i] = System.nanoTime() - t1;
                }
            }
            System.out.printf(Locale.ROOT, "berth plugTap/unplug incl. tap create/delete: plug %.2f ms  unplug %.2f ms%n",
                    median(plug), median(unplug));
            namespaces(plugger, vifs.subList(0, Math.min(20, n)), instance);
        }
    }

    /** plugNamespace/unplug into a throwaway namespace (a {@code sleep} standing in for a container). */
    private static void namespaces(OvsVifPlugger plugger, List<VifSpec> vifs, UUID instance) throws Exception {
        String ns = "berth-bench-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
        Commands sh = new Commands(Duration.ofSeconds(30));
        sh.run(List.of("ip", "netns", "add", ns));
        Process sleeper = new ProcessBuilder("ip", "netns", "exec", ns, "sleep", "600").start();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (!ProcessHandle.of(sleeper.pid()).flatMap(h -> h.info().command()).orElse("").endsWith("sleep")
                    && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            long[] plug = new long[vifs.size()];
            long[] unplug = new long[vifs.size()];
            for (int i = 0; i < vifs.size(); i++) {
                VifSpec vif = vifs.get(i);
                long t0 = System.nanoTime();
                try {
                    plugger.plugNamespace(instance, vif, sleeper.pid(), "eth0");
                    plug[i] = System.nanoTime() - t0;
                } finally {
                    long t1 = System.nanoTime();
                    plugger.unplug(instance, vif);
                    unplug[i] = System.nanoTime() - t1;
                }
            }
            System.out.printf(Locale.ROOT, "berth plugNamespace/unplug (veth, %d ports): plug %.2f ms  unplug %.2f ms%n",
                    vifs.size(), median(plug), median(unplug));
        } finally {
            sleeper.destroyForcibly().waitFor();
            sh.tryRun(List.of("ip", "netns", "del", ns), null);
        }
    }

    private static double median(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2] / 1e6;
    }
}
