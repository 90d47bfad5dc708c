package org.berth.agent.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.berth.agent.TestAgent;
import org.berth.agent.TestAgent.Reply;
import org.berth.agent.placement.PlacementApi;
import org.berth.agent.placement.PlacementServer;

/**
 * What reporting to a real Placement (scripts/placement.sh, its own, on loopback) costs the agent, side by side
 * with its baseline in one run. The agents run in this JVM on the fake driver (the API, store, admission and the
 * reporter are the real ones; only the backend is in memory, so the spawn path is the agent's own cost):
 * <ol>
 * <li>spawn: POST → 202 (admission) and → active, on an agent without Placement and one with it, interleaved; plus
 * how long after the 202 Placement holds the allocation;</li>
 * <li>an idle host with {@value #INSTANCES} instances: requests per full sync (goal: 0 writes, at most 3 reads);</li>
 * <li>heal: {@value #INSTANCES} allocations deleted behind the agent's back, time until Placement has them all
 * again, against the baseline of the same {@value #INSTANCES} {@code PUT /allocations} sent by a plain client.</li>
 * </ol>
 * Usage: {@code PlacementBench [spawns]} (default 100).
 */
public final class PlacementBench {
    static final int INSTANCES = 200;
    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("org.berth");

    private PlacementBench() {
    }

    public static void main(String[] args) throws Exception {
        int spawns = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        if (spawns < 1 || spawns > 1000) {
            throw new IllegalArgumentException("spawns must be 1..1000, was " + spawns);
        }
        QUIET.setLevel(java.util.logging.Level.WARNING);
        System.out.println("load average: " + Files.readString(Path.of("/proc/loadavg")).strip());
        try (PlacementServer placement = PlacementServer.own()) {
            PlacementApi api = new PlacementApi(placement.url);
            String big = "drivers: {fake: {options: {vcpus: 1000, memory_mb: 1000000, local_gb: 100000}}}\n";
            String report = "host: bench-%s\nupdate_resources_interval: 1s\nplacement: {enabled: true, url: '"
                    + placement.url + "'}\n";
            try (TestAgent plain = new TestAgent(big);
                 TestAgent reporting = new TestAgent(big + report.formatted(UUID.randomUUID().toString().substring(0, 8)))) {
                UUID rp = reporting.agent.placement().providerUuid();
                spawnCost(plain, reporting, api, rp, spawns);
                for (int i = spawns; i < INSTANCES; i++) {
                    reporting.spawnAndWait("fill-" + i);
                }
                idle(reporting, api, rp);
                heal(reporting, api, rp);
                api.deleteProvider(rp);
            }
        }
    }

    private static void spawnCost(TestAgent plain, TestAgent reporting, PlacementApi api, UUID rp, int n)
            throws Exception {
        for (int i = 0; i < 5; i++) { // JIT, connections
            spawn(plain, "warm-" + i);
            spawn(reporting, "warm-" + i);
        }
        awaitAllocations(api, rp, 5, Duration.ofSeconds(30));
        long[][] plainMs = new long[2][n];
        long[][] reportMs = new long[2][n];
        long[] placedMs = new long[n];
        for (int i = 0; i < n; i++) {
            boolean plainFirst = i % 2 == 0; // alternate so drifting load falls on both alike
            Timing a = plainFirst ? spawn(plain, "p-" + i) : null;
            Timing b = spawn(reporting, "r-" + i);
            if (!plainFirst) {
                a = spawn(plain, "p-" + i);
            }
            // polled after both spawns, so the bench's own polling of Placement never competes with them
            placedMs[i] = awaitAllocation(api, rp, b.uuid(), b.acceptedAt());
            plainMs[0][i] = a.acceptedUs();
            plainMs[1][i] = a.activeUs();
            reportMs[0][i] = b.acceptedUs();
            reportMs[1][i] = b.activeUs();
        }
        System.out.printf(Locale.ROOT, "spawn (%d each, fake driver), median / p90 in ms:%n", n);
        row("  to 202 (admission)", plainMs[0], reportMs[0]);
        row("  to active", plainMs[1], reportMs[1]);
        Arrays.sort(placedMs);
        System.out.printf(Locale.ROOT, "  allocation in Placement after the 202: median %.1f ms, p90 %.1f ms%n",
                placedMs[n / 2] / 1000.0, placedMs[n * 9 / 10] / 1000.0);
    }

    private static void row(String what, long[] plainUs, long[] reportUs) {
        long[] p = plainUs.clone();
        long[] r = reportUs.clone();
        Arrays.sort(p);
        Arrays.sort(r);
        double pm = p[p.length / 2] / 1000.0;
        double rm = r[r.length / 2] / 1000.0;
        System.out.printf(Locale.ROOT, "%s: without Placement %.2f / %.2f, with Placement %.2f / %.2f, ratio %.2f%n",
                what, pm, p[p.length * 9 / 10] / 1000.0, rm, r[r.length * 9 / 10] / 1000.0, rm / pm);
    }

    /** One spawn: µs to the 202 and to active, and when (nanoTime) the 202 came. */
    private record Timing(UUID uuid, long acceptedUs, long activeUs, long acceptedAt) {
    }

    private static Timing spawn(TestAgent t, String name) throws Exception {
        long t0 = System.nanoTime();
        Reply r = t.call("POST", "/v1/instances", TestAgent.spawnBody("fake", name, 64));
        long accepted = System.nanoTime();
        if (r.status() != 202) {
            throw new IllegalStateException("spawn answered " + r.status() + ": " + r.body());
        }
        UUID uuid = UUID.fromString(r.json().at("/instance/uuid").asText());
        String path = "/v1/instances/" + uuid;
        while (true) {
            JsonNode i = t.call("GET", path, null).json().get("instance");
            if (i.get("task_state").isNull()) {
                if (!i.get("vm_state").asText().equals("active")) {
                    throw new IllegalStateException(name + " ended " + i);
                }
                break;
            }
            Thread.onSpinWait();
        }
        long done = System.nanoTime();
        return new Timing(uuid, (accepted - t0) / 1000, (done - t0) / 1000, accepted);
    }

    /** µs from {@code acceptedAt} (nanoTime) until Placement has the consumer. */
    private static long awaitAllocation(PlacementApi api, UUID rp, UUID consumer, long acceptedAt) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (api.get("/allocations/" + consumer).get("allocations").has(rp.toString())) {
                return (System.nanoTime() - acceptedAt) / 1000;
            }
            Thread.sleep(2);
        }
        throw new IllegalStateException("allocation of " + consumer + " not in Placement within 30 s");
    }

    private static void awaitAllocations(PlacementApi api, UUID rp, int n, Duration limit) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        while (api.allocations(rp).size() != n) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Placement does not hold " + n + " allocations within " + limit);
            }
            Thread.sleep(10);
        }
    }

    private static JsonNode report(TestAgent t) throws Exception {
        return t.call("GET", "/v1/host", null).json().at("/host/placement");
    }

    /** The report after {@code syncs} more full syncs. */
    private static JsonNode afterSyncs(TestAgent t, long syncs) throws Exception {
        long target = report(t).get("syncs").asLong() + syncs;
        long deadline = System.nanoTime() + Duration.ofSeconds(syncs * 5 + 10).toNanos();
        JsonNode now;
        while ((now = report(t)).get("syncs").asLong() < target) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no " + syncs + " syncs in time: " + now);
            }
            Thread.sleep(50);
        }
        return now;
    }

    private static void idle(TestAgent t, PlacementApi api, UUID rp) throws Exception {
        awaitAllocations(api, rp, INSTANCES + 5, Duration.ofSeconds(60));
        JsonNode before = afterSyncs(t, 1);
        JsonNode after = afterSyncs(t, 10);
        long syncs = after.get("syncs").asLong() - before.get("syncs").asLong();
        System.out.printf(Locale.ROOT, "idle host, %d instances: %.2f reads and %.2f writes per sync (%d syncs; goal "
                        + "0 writes, at most 3 reads)%n", INSTANCES + 5,
                (after.get("reads").asLong() - before.get("reads").asLong()) / (double) syncs,
                (after.get("writes").asLong() - before.get("writes").asLong()) / (double) syncs, syncs);
    }

    private static void heal(TestAgent t, PlacementApi api, UUID rp) throws Exception {
        Map<String, Map<String, Long>> all = api.allocations(rp);
        List<UUID> consumers = new ArrayList<>();
        all.keySet().stream().limit(INSTANCES).forEach(c -> consumers.add(UUID.fromString(c)));
        // baseline: as many new consumers written by a plain client, one PUT each, on a provider of its own (the
        // agent's would race with its sync)
        UUID other = api.createProvider("bench-baseline-" + UUID.randomUUID().toString().substring(0, 8));
        long b0 = System.nanoTime();
        for (int i = 0; i < consumers.size(); i++) {
            api.allocate(UUID.randomUUID(), Map.of(other, Map.of("MEMORY_MB", 64L)));
        }
        double baseline = (System.nanoTime() - b0) / 1e6;
        api.deleteProvider(other);
        afterSyncs(t, 1); // the agent saw them all in place
        long writes0 = report(t).get("writes").asLong();
        consumers.forEach(api::deleteAllocations);
        long h0 = System.nanoTime();
        awaitAllocations(api, rp, all.size(), Duration.ofSeconds(120));
        double healed = (System.nanoTime() - h0) / 1e6;
        long writes = report(t).get("writes").asLong() - writes0;
        System.out.printf(Locale.ROOT, "heal %d missing allocations: agent %.0f ms (%d writes; includes the wait for "
                        + "the next sync, at most 1 s), a plain client's %d PUT /allocations %.0f ms, ratio %.2f%n",
                consumers.size(), healed, writes, consumers.size(), baseline, healed / baseline);
    }
}
