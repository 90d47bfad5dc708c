package org.berth.agent.bench;

import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.UUID;
import org.berth.agent.TestAgent;

/**
 * {@code GET /metrics} of a real agent (Netty REST, SQLite store, the Prometheus client's text writer) with
 * {@value #INSTANCES} instances on the in-memory fake driver, each with one VIF and one disk, sampled by the agent's
 * own sampler (so every instance has its 16 per-instance series), against {@code GET /v1/instances} of the same
 * agent: the request every poller already makes. Requests one at a time from one client on loopback, the two
 * interleaved so both see the same machine; prints p50/p95/p99 of each and the ratio. The target of issue 18:
 * /metrics in under 10 ms p50 (it took 66-78 ms when it called every driver's resources() per scrape).
 *
 * <p>Usage: {@code MetricsBench [requests]} (default 2000 of each, after 300 of each to warm up).
 */
public final class MetricsBench {
    static final int INSTANCES = 210;
    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("org.berth");

    private MetricsBench() {
    }

    public static void main(String[] args) throws Exception {
        int requests = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        if (requests < 10 || requests > 1_000_000) {
            throw new IllegalArgumentException("requests must be 10..1000000, was " + requests);
        }
        QUIET.setLevel(java.util.logging.Level.WARNING);
        try (TestAgent agent = new TestAgent("drivers: {fake: {options: {vcpus: 1000, memory_mb: 1000000}}}\n"
                + "instance_stats_interval: 10s\n")) {
            long t0 = System.nanoTime();
            for (int i = 0; i < INSTANCES; i++) {
                TestAgent.Reply r = agent.call("POST", "/v1/instances", """
                        {"driver": "fake", "name": "bench-%d", "image_id": "%s",
                         "flavor": {"name": "m1.test", "vcpus": 1, "memory_mb": 256, "root_gb": 1},
                         "vifs": [{"port_id": "%s", "mac": "fa:16:3e:00:%02x:%02x"}]}
                        """.formatted(i, TestAgent.IMAGE_ID, UUID.randomUUID(), i >> 8, i & 0xff));
                if (r.status() != 202) {
                    throw new IllegalStateException("spawn " + i + " answered " + r.status() + ": " + r.body());
                }
                agent.awaitInstance(UUID.fromString(r.json().at("/instance/uuid").asText()),
                        n -> n.get("task_state").isNull());
            }
            System.out.printf(Locale.ROOT, "agent on 127.0.0.1:%d, %d instances (1 VIF, 1 disk each) spawned in %.1f s%n",
                    agent.agent.port(), INSTANCES, (System.nanoTime() - t0) / 1e9);
            double[] rounds = new double[20];
            for (int i = 0; i < rounds.length; i++) {
                long s0 = System.nanoTime();
                agent.agent.stats().sampleNow(Duration.ofSeconds(30));
                rounds[i] = (System.nanoTime() - s0) / 1e6;
            }
            double first = rounds[0];
            Arrays.sort(rounds);
            System.out.printf(Locale.ROOT, "one sampling round of %d fake instances on the sampler thread (stats(), "
                    + "join with the store, writing /metrics' per-instance text): first %.1f ms, median of %d %.1f ms%n",
                    INSTANCES, first, rounds.length, rounds[rounds.length / 2]);
            TestAgent.Reply metrics = agent.call("GET", "/metrics", null);
            long series = metrics.body().lines().filter(l -> l.startsWith("berth_instance_") && !l.startsWith("#"))
                    .count();
            if (metrics.status() != 200 || series < INSTANCES * 16L) {
                throw new IllegalStateException("/metrics answered " + metrics.status() + " with " + series
                        + " per-instance series, expected at least " + INSTANCES * 16);
            }
            TestAgent.Reply list = agent.call("GET", "/v1/instances", null);
            System.out.printf(Locale.ROOT, "GET /metrics: %d bytes, %d per-instance series; GET /v1/instances: %d "
                    + "bytes%n", metrics.body().length(), series, list.body().length());
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            String token = agent.token();
            String load = InstanceListBench.loadAverage();
            measure(http, agent.agent.port(), token, 300); // warm-up: JIT, pools, the list's cache
            double[][] ms = measure(http, agent.agent.port(), token, requests);
            System.out.printf(Locale.ROOT, "%d requests of each, one at a time, interleaved, loopback; load average "
                    + "before: %s%n", requests, load);
            double[] m = stats(ms[0]);
            double[] l = stats(ms[1]);
            System.out.printf(Locale.ROOT, "  %-20s p50 %6.2f ms  p95 %6.2f ms  p99 %6.2f ms%n", "GET /metrics",
                    m[0], m[1], m[2]);
            System.out.printf(Locale.ROOT, "  %-20s p50 %6.2f ms  p95 %6.2f ms  p99 %6.2f ms%n", "GET /v1/instances",
                    l[0], l[1], l[2]);
            System.out.printf(Locale.ROOT, "  ratio /metrics / /v1/instances: p50 %.2f  p95 %.2f%n", m[0] / l[0],
                    m[1] / l[1]);
            System.out.printf(Locale.ROOT, "  target /metrics p50 < 10 ms with %d instances: %s%n", INSTANCES,
                    m[0] < 10 ? "met" : "NOT met");
        }
    }

    /** Latencies in ms: [0] of /metrics, [1] of /v1/instances, alternating. */
    private static double[][] measure(HttpClient http, int port, String token, int n) throws Exception {
        double[][] out = new double[2][n];
        String[] paths = {"/metrics", "/v1/instances"};
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < 2; p++) {
                long t0 = System.nanoTime();
                TestAgent.Reply r = TestAgent.send(http, port, "GET", paths[p], null, token, Duration.ofSeconds(10));
                out[p][i] = (System.nanoTime() - t0) / 1e6;
                if (r.status() != 200) {
                    throw new IllegalStateException(paths[p] + " answered " + r.status());
                }
            }
        }
        return out;
    }

    /** p50, p95, p99. */
    private static double[] stats(double[] ms) {
        double[] s = ms.clone();
        Arrays.sort(s);
        return new double[] {s[(int) (s.length * 0.50)], s[(int) (s.length * 0.95)], s[(int) (s.length * 0.99)]};
    }
}
