package org.berth.ovs.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.berth.driver.api.VifSpec;
import org.berth.ovs.OvsVifConfig;
import org.berth.ovs.OvsVifPlugger;
import org.berth.ovs.link.Commands;
import org.berth.ovs.ovsdb.OvsdbClient;
import org.berth.ovs.ovsdb.OvsdbEndpoint;
import org.berth.ovs.ovsdb.VswitchDb;

import java.nio.file.Files;
import java.nio.file.Path;
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
 * Plug+unplug of N VM ports on one bridge, in one run: Berth's native OVSDB path, one {@code ovs-vsctl} process per
 * port operation, and os-vif 3.0's OVS plugin (Debian's python3-os-vif under {@code /usr/bin/python3}, driven by
 * {@code ovs-vif/src/bench/python/osvif_plug.py}). os-vif does not create taps for VIFOpenVSwitch, so every path
 * finds its taps created beforehand (untimed). The ports go in chunks of 10, each chunk through the three paths, which
 * path goes first rotating (load drifting on a shared machine falls on all alike); os-vif runs in one Python process per chunk, its OVSDB
 * connection and privsep daemon brought up before timing, as in a running nova-compute. Between two paths'
 * chunks the bench lets the host settle, untimed (Berth's background tap deletions finished, vswitchd idle), so no
 * path pays for another's leftovers. Two rounds:
 * <ul>
 *   <li><b>API</b>: what each caller gets from one plug and one unplug call. Berth: {@code plugTap} on the existing
 *   tap (MTU + up, Port/Interface with external_ids committed), {@code unplug} (Port deleted, tap handed to the
 *   background reaper). Berth waited out: the same plus {@code awaitAttached} (vswitchd's ofport) after the plug
 *   and until the tap is gone after the unplug, i.e. every effect finished, as os-vif's calls return.
 *   os-vif: {@code os_vif.plug} (bridge ensured, Port/Interface with external_ids, vswitchd's cur_cfg waited for,
 *   device MTU through privsep), {@code os_vif.unplug} (Port, then tap through privsep). ovs-vsctl: {@code add-port}
 *   with external_ids and mtu_request; {@code del-port} then {@code ip link del}.</li>
 *   <li><b>OVS only</b>: the same without touching the tap on unplug (it stays; removed untimed afterwards).
 *   Berth: add Port/Interface; delete Port. Berth waited out: add + wait for the ofport; delete. os-vif:
 *   {@code os_vif.plug}; the OVSDB deletion its unplug makes ({@code delete_ovs_vif_port(delete_netdev=False)}).
 *   ovs-vsctl: {@code add-port}; {@code del-port}.</li>
 * </ul>
 * Then Berth alone: {@code plugTap}/{@code unplug} creating the tap itself, and {@code plugNamespace} (veth into a
 * namespace). Everything created is removed at the end and checked (no port, no tap left).
 *
 * <p>Usage: {@code PlugBench [N] [bridge]} (defaults 100, br-int); {@code -Dberth.bench.osvif=PATH} overrides where
 * the os-vif driver script is. Prints per-port medians and the ratios.
 */
public final class PlugBench {
    static final String SYSTEM_PYTHON = "/usr/bin/python3";
    private static final int CHUNK = 10;
    private static final int WARM_UP = 5;
    private static final List<Path> OSVIF_SCRIPT = List.of(Path.of("ovs-vif/src/bench/python/osvif_plug.py"),
            Path.of("src/bench/python/osvif_plug.py"));

    private PlugBench() {
    }

    /** Per-port times (ns) of one path; {@link #plus} joins the chunks of one round. */
    record Timing(String path, long[] plugNanos, long[] unplugNanos) {
        double plug() {
            return median(plugNanos);
        }

        double unplug() {
            return median(unplugNanos);
        }

        double total() {
            return plug() + unplug();
        }

        Timing plus(Timing more) {
            return new Timing(path, concat(plugNanos, more.plugNanos), concat(unplugNanos, more.unplugNanos));
        }

        private static long[] concat(long[] a, long[] b) {
            long[] all = Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, all, a.length, b.length);
            return all;
        }
    }

    /** One path over a chunk of ports (each path creates its taps first). */
    @FunctionalInterface
    private interface PathRun {
        Timing run(List<VifSpec> ports) throws Exception;
    }

    /**
     * The ports in chunks of {@value #CHUNK}, each chunk through every path, the path that goes first rotating from
     * chunk to chunk: load drifting on a shared machine, and vswitchd still busy with the previous path's last
     * port, fall on all paths alike. The samples of all chunks make each path's medians (in {@code paths} order).
     */
    private static List<Timing> interleaved(List<VifSpec> vifs, List<PathRun> paths, Runnable settle)
            throws Exception {
        Timing[] all = new Timing[paths.size()];
        for (int from = 0, chunk = 0; from < vifs.size(); from += CHUNK, chunk++) {
            List<VifSpec> part = vifs.subList(from, Math.min(vifs.size(), from + CHUNK));
            for (int k = 0; k < paths.size(); k++) {
                int p = (chunk + k) % paths.size();
                Timing t = paths.get(p).run(part);
                all[p] = all[p] == null ? t : all[p].plus(t);
                settle.run();
            }
        }
        return List.of(all);
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        String bridge = args.length > 1 ? args[1] : "br-int";
        if (n < 1 || n > 1000) {
            throw new IllegalArgumentException("N must be 1..1000, was " + n);
        }
        Path osvif = osvifScript();
        Commands sh = new Commands(Duration.ofSeconds(30));
        UUID instance = UUID.randomUUID();
        List<VifSpec> all = new ArrayList<>();
        for (int i = 0; i < n + WARM_UP; i++) {
            byte[] mac = new byte[3];
            ThreadLocalRandom.current().nextBytes(mac);
            all.add(new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:" + HexFormat.ofDelimiter(":").formatHex(mac),
                    bridge, 1500, Optional.empty(), List.of(), Optional.empty()));
        }
        List<VifSpec> warm = all.subList(0, WARM_UP);
        List<VifSpec> vifs = all.subList(WARM_UP, all.size());
        try (OvsVifPlugger plugger = OvsVifPlugger.connect(OvsVifConfig.defaults());
             OvsdbClient client = OvsdbClient.connect(OvsdbEndpoint.parse(OvsdbEndpoint.DEFAULT),
                     OvsdbClient.Options.defaults())) {
            VswitchDb db = new VswitchDb(client);
            String datapath = db.bridgeDatapathType(bridge)
                    .orElseThrow(() -> new IllegalStateException("bridge " + bridge + " does not exist"));
            datapath = datapath.isEmpty() ? "system" : datapath;
            Baselines base = new Baselines(sh, osvif, bridge, datapath, instance);
            try {
                System.out.printf(Locale.ROOT, "ports: %d on %s (datapath %s), taps created before each path; "
                        + "load average before: %s%n", n, bridge, datapath,
                        Files.readString(Path.of("/proc/loadavg")).strip());
                // Untimed: Berth's code paths through the JIT, as os-vif's connection and privsep daemon are up.
                berthApi(plugger, warm, instance, sh, false);
                settle(plugger);
                berthApi(plugger, warm, instance, sh, true);
                berthOvsOnly(db, warm, instance, bridge, sh, false);
                berthOvsOnly(db, warm, instance, bridge, sh, true);
                deleteTaps(sh, warm);
                Runnable settle = () -> settle(plugger);
                List<Timing> api = interleaved(vifs, List.of(
                        part -> berthApi(plugger, part, instance, sh, false),
                        part -> berthApi(plugger, part, instance, sh, true),
                        part -> base.vsctl(part, true),
                        part -> base.osvif(part, true)), settle);
                print("API round (unplug removes port and tap)", api);
                List<Timing> ovsOnly = interleaved(vifs, List.of(
                        part -> berthOvsOnly(db, part, instance, bridge, sh, false),
                        part -> berthOvsOnly(db, part, instance, bridge, sh, true),
                        part -> base.vsctl(part, false),
                        part -> base.osvif(part, false)), settle);
                print("OVS-only round (taps stay on unplug)", ovsOnly);
                deleteTaps(sh, vifs);
                fullBerth(plugger, vifs, instance);
                namespaces(plugger, vifs.subList(0, Math.min(20, n)), instance);
            } finally {
                for (VifSpec vif : all) {
                    plugger.unplug(instance, vif);
                }
                plugger.awaitDevicesDeleted(Duration.ofSeconds(30));
                checkNothingLeft(db, all, instance);
            }
        }
    }

    /**
     * Berth's plugger; {@code waitedOut}: plus {@code awaitAttached} after each plug and the tap's deletion waited for
     * after each unplug, so every effect has happened when the timer stops (what os-vif's calls wait for).
     */
    private static Timing berthApi(OvsVifPlugger plugger, List<VifSpec> vifs, UUID instance, Commands sh,
                                   boolean waitedOut) throws Exception {
        createTaps(sh, vifs);
        if (!waitedOut) {
            return time("Berth", vifs, vif -> plugger.plugTap(instance, vif), vif -> plugger.unplug(instance, vif));
        }
        return time("Berth waited out", vifs, vif -> {
            plugger.plugTap(instance, vif);
            plugger.awaitAttached(instance, vif);
        }, vif -> {
            plugger.unplug(instance, vif);
            if (!plugger.awaitDevicesDeleted(Duration.ofSeconds(30))) {
                throw new IllegalStateException("taps still being deleted: " + plugger.devicesBeingDeleted());
            }
        });
    }

    private static Timing berthOvsOnly(VswitchDb db, List<VifSpec> vifs, UUID instance, String bridge, Commands sh,
                                       boolean waitedOut) throws Exception {
        createTaps(sh, vifs);
        return time(waitedOut ? "Berth waited out" : "Berth", vifs, vif -> {
            db.addPort(new VswitchDb.PortSpec(bridge, vif.devName(), Map.of("iface-id", vif.portId(),
                    "iface-status", "active", "attached-mac", vif.mac(), "vm-uuid", instance.toString()),
                    Optional.empty(), OptionalInt.of(vif.mtu())));
            if (waitedOut) {
                db.waitForOfport(vif.devName(), Duration.ofSeconds(10));
            }
        }, vif -> db.deletePort(vif.devName()));
    }

    /**
     * Untimed, between two paths: Berth's background tap deletions done, then a short pause in which vswitchd
     * finishes reconfiguring for the last port change (a path must not pay for the previous path's last unplug).
     */
    private static void settle(OvsVifPlugger plugger) {
        if (!plugger.awaitDevicesDeleted(Duration.ofSeconds(30))) {
            throw new IllegalStateException("taps still being deleted: " + plugger.devicesBeingDeleted());
        }
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** One operation on one port. */
    @FunctionalInterface
    private interface PortOp {
        void apply(VifSpec vif) throws Exception;
    }

    /** Plug then unplug each port in turn (unplug even after a failed plug); per-port medians. */
    private static Timing time(String path, List<VifSpec> vifs, PortOp plug, PortOp unplug) throws Exception {
        long[] plugged = new long[vifs.size()];
        long[] unplugged = new long[vifs.size()];
        for (int i = 0; i < vifs.size(); i++) {
            VifSpec vif = vifs.get(i);
            long t0 = System.nanoTime();
            try {
                plug.apply(vif);
                plugged[i] = System.nanoTime() - t0;
            } finally {
                long t1 = System.nanoTime();
                unplug.apply(vif);
                unplugged[i] = System.nanoTime() - t1;
            }
        }
        return new Timing(path, plugged, unplugged);
    }

    /** The two baselines: one ovs-vsctl per operation, and os-vif's plugin in a Python process. */
    private record Baselines(Commands sh, Path osvifScript, String bridge, String datapath, UUID instance) {
        private static final ObjectMapper JSON = new ObjectMapper();

        Timing vsctl(List<VifSpec> vifs, boolean deleteTap) throws Exception {
            createTaps(sh, vifs);
            return time("ovs-vsctl per port", vifs, vif -> sh.run(List.of("ovs-vsctl", "--timeout=30", "--",
                    "--may-exist", "add-port", bridge, vif.devName(), "--", "set", "Interface", vif.devName(),
                    "external_ids:iface-id=" + vif.portId(), "external_ids:iface-status=active",
                    "external_ids:attached-mac=" + vif.mac(), "external_ids:vm-uuid=" + instance,
                    "mtu_request=" + vif.mtu())), vif -> {
                        sh.run(List.of("ovs-vsctl", "--timeout=30", "--", "--if-exists", "del-port", bridge,
                                vif.devName()));
                        if (deleteTap) {
                            sh.run(List.of("ip", "link", "del", "dev", vif.devName()));
                        }
                    });
        }

        /** Runs osvif_plug.py over all ports (one process, as a nova-compute keeps os-vif loaded) and parses its JSON. */
        Timing osvif(List<VifSpec> vifs, boolean deleteTap) throws Exception {
            createTaps(sh, vifs);
            List<String> argv = new ArrayList<>(List.of(SYSTEM_PYTHON, osvifScript.toString(), "--bridge", bridge,
                    "--datapath-type", datapath, "--instance", instance.toString(),
                    "--ovsdb", OvsdbEndpoint.DEFAULT, "--unplug", deleteTap ? "api" : "ovs-only"));
            vifs.forEach(vif -> argv.add(vif.portId() + "=" + vif.mac()));
            String out = new Commands(Duration.ofSeconds(60 + 2L * vifs.size())).run(argv);
            JsonNode result = JSON.readTree(out);
            if (result.path("ports").asInt() != vifs.size()) {
                throw new IllegalStateException("osvif_plug.py timed " + result.path("ports") + " ports of "
                        + vifs.size() + ": " + out);
            }
            return new Timing("os-vif " + result.path("os_vif").asText(), nanos(result.path("plug_ms")),
                    nanos(result.path("unplug_ms")));
        }
    }

    /** Per-port medians, then each Berth path against each baseline (the paths not named Berth). */
    private static void print(String round, List<Timing> timings) {
        System.out.println("-- " + round + ", per-port medians");
        for (Timing t : timings) {
            System.out.printf(Locale.ROOT, "  %-22s plug %7.2f ms  unplug %7.2f ms  plug+unplug %7.2f ms%n",
                    t.path(), t.plug(), t.unplug(), t.total());
        }
        List<Timing> berths = timings.stream().filter(t -> t.path().startsWith("Berth")).toList();
        List<Timing> baselines = timings.stream().filter(t -> !t.path().startsWith("Berth")).toList();
        for (Timing berth : berths) {
            for (Timing t : baselines) {
                System.out.printf(Locale.ROOT, "  ratio %-16s / %-18s plug %.3f  unplug %.3f  plug+unplug %.3f%n",
                        berth.path(), t.path(), berth.plug() / t.plug(), berth.unplug() / t.unplug(),
                        berth.total() / t.total());
            }
        }
        baselines.stream().filter(t -> t.path().startsWith("os-vif")).findFirst().ifPresent(t -> {
            for (Timing berth : berths) {
                double ratio = berth.total() / t.total();
                System.out.printf(Locale.ROOT, "  target plug+unplug <= 0.25 of os-vif's, %-16s: %s (%.3f)%n",
                        berth.path(), ratio <= 0.25 ? "met" : "NOT met", ratio);
            }
        });
    }

    /** Berth alone, as a driver uses it: plugTap creating the tap (then awaitAttached), unplug. */
    private static void fullBerth(OvsVifPlugger plugger, List<VifSpec> vifs, UUID instance) throws Exception {
        Timing t = time("plugTap", vifs, vif -> {
            plugger.plugTap(instance, vif);
            plugger.awaitAttached(instance, vif);
        }, vif -> plugger.unplug(instance, vif));
        settle(plugger);
        System.out.printf(Locale.ROOT, "berth plugTap creating the tap + awaitAttached / unplug: plug %.2f ms  "
                + "unplug %.2f ms%n", t.plug(), t.unplug());
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
            Timing t = time("plugNamespace", vifs, vif -> {
                plugger.plugNamespace(instance, vif, sleeper.pid(), "eth0");
                plugger.awaitAttached(instance, vif);
            }, vif -> plugger.unplug(instance, vif));
            System.out.printf(Locale.ROOT, "berth plugNamespace+awaitAttached/unplug (veth, %d ports): plug %.2f ms  "
                    + "unplug %.2f ms%n",
                    vifs.size(), t.plug(), t.unplug());
        } finally {
            sleeper.destroyForcibly().waitFor();
            sh.tryRun(List.of("ip", "netns", "del", ns), null);
        }
    }

    /**
     * All taps afresh (a leftover of the previous path is deleted first), in one {@code ip -batch} process, up with
     * the VIF's MTU: what a hypervisor hands to os-vif.
     */
    private static void createTaps(Commands sh, List<VifSpec> vifs) {
        deleteTaps(sh, vifs);
        StringBuilder lines = new StringBuilder();
        for (VifSpec vif : vifs) {
            lines.append("tuntap add dev ").append(vif.devName()).append(" mode tap\n")
                    .append("link set dev ").append(vif.devName()).append(" mtu ").append(vif.mtu()).append(" up\n");
        }
        sh.run(List.of("ip", "-batch", "-"), lines.toString());
    }

    private static void deleteTaps(Commands sh, List<VifSpec> vifs) {
        for (VifSpec vif : vifs) {
            if (Files.exists(Path.of("/sys/class/net", vif.devName()))) {
                sh.run(List.of("ip", "link", "del", "dev", vif.devName()));
            }
        }
    }

    private static void checkNothingLeft(VswitchDb db, List<VifSpec> vifs, UUID instance) {
        List<String> left = new ArrayList<>();
        db.findInterfaces("vm-uuid", instance.toString()).forEach(row -> left.add("OVS interface " + row.name()));
        for (VifSpec vif : vifs) {
            db.findInterface(vif.devName()).ifPresent(row -> left.add("OVS interface " + row.name()));
            if (Files.exists(Path.of("/sys/class/net", vif.devName()))) {
                left.add("link " + vif.devName());
            }
        }
        if (!left.isEmpty()) {
            throw new IllegalStateException("bench left behind: " + left);
        }
        System.out.printf(Locale.ROOT, "cleanup checked: no OVS port or tap of the %d bench ports left%n", vifs.size());
    }

    private static Path osvifScript() {
        String override = System.getProperty("berth.bench.osvif");
        List<Path> candidates = override != null ? List.of(Path.of(override)) : OSVIF_SCRIPT;
        return candidates.stream().filter(Files::isRegularFile).findFirst().map(Path::toAbsolutePath)
                .orElseThrow(() -> new IllegalStateException("os-vif driver script not found at " + candidates
                        + " (run from the repository root or set -Dberth.bench.osvif)"));
    }

    private static long[] nanos(JsonNode millis) {
        long[] nanos = new long[millis.size()];
        for (int i = 0; i < nanos.length; i++) {
            nanos[i] = Math.round(millis.get(i).asDouble() * 1e6);
        }
        return nanos;
    }

    private static double median(long[] nanos) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2] / 1e6;
    }
}
