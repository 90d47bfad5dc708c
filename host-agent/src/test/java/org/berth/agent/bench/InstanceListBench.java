package org.berth.agent.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.agent.TestAgent;
import org.berth.ovs.link.Commands;

/**
 * {@code GET /v1/instances} of a real agent (Netty REST, SQLite store) on 127.0.0.1 under load from {@code wrk}, a
 * second process, with {@value #INSTANCES} instance records: spawned through the REST API on the in-memory fake
 * driver (the records, the store and the API are the real ones; only the backend is in memory). The baseline in the
 * same run is {@code GET /healthz}: the same server path (event loop, request id, worker pool) with a constant body,
 * i.e. the ceiling of the HTTP layer on this machine. Prints requests/s and p99 of both, and the ratios.
 *
 * <p>Usage: {@code InstanceListBench [seconds] [connections,...]} (defaults 10, "8,32": each concurrency in turn). The token goes to wrk through a Lua
 * script reading the token file, never on a command line.
 */
public final class InstanceListBench {
    static final int INSTANCES = 200;
    /** Held here: java.util.logging keeps loggers weakly, a level set on a dropped one is lost. */
    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("org.berth");
    private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
    private static final Pattern P50 = Pattern.compile("\\s50%\\s+([0-9.]+)(us|ms|s)\\b");
    private static final Pattern P99 = Pattern.compile("\\s99%\\s+([0-9.]+)(us|ms|s)\\b");
    private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses:\\s+(\\d+)");
    private static final Pattern ERRORS = Pattern.compile("Socket errors:.*");

    private InstanceListBench() {
    }

    /** What wrk measured for one URL. */
    record Load(String path, double requestsPerSecond, double p50Ms, double p99Ms, long requests) {
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        List<Integer> levels = java.util.Arrays.stream((args.length > 1 ? args[1] : "8,32").split(","))
                .map(Integer::valueOf).toList();
        if (seconds < 1 || seconds > 600 || levels.stream().anyMatch(c -> c < 1 || c > 1000)) {
            throw new IllegalArgumentException("seconds must be 1..600 and each connection count 1..1000, were "
                    + seconds + ", " + levels);
        }
        // 200 spawns log two INFO lines each: keep the bench's output to its numbers.
        QUIET.setLevel(java.util.logging.Level.WARNING);
        try (TestAgent agent = new TestAgent("drivers: {fake: {options: {vcpus: 1000, memory_mb: 1000000}}}\n")) {
            List<UUID> spawned = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < INSTANCES; i++) {
                spawned.add(agent.spawnAndWait("bench-" + i));
            }
            System.out.printf(Locale.ROOT, "agent on 127.0.0.1:%d, %d instances spawned through the API in %.1f s%n",
                    agent.agent.port(), spawned.size(), (System.nanoTime() - t0) / 1e9);
            TestAgent.Reply list = agent.call("GET", "/v1/instances", null);
            JsonNode items = list.json() == null ? null : list.json().get("instances");
            if (list.status() != 200 || items == null || items.size() != INSTANCES) {
                throw new IllegalStateException("GET /v1/instances answered " + list.status() + " with "
                        + (items == null ? "no list" : items.size() + " instances") + ", expected " + INSTANCES);
            }
            System.out.printf(Locale.ROOT, "GET /v1/instances: %d instances, %d bytes per response%n",
                    items.size(), list.body().getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
            Path lua = agent.dir.resolve("wrk-auth.lua");
            Files.writeString(lua, """
                    local f = assert(io.open("%s", "r"))
                    local token = f:read("*l")
                    f:close()
                    wrk.headers["Authorization"] = "Bearer " .. token
                    """.formatted(agent.agent.tokenFile().toAbsolutePath()));
            String base = "http://127.0.0.1:" + agent.agent.port();
            // Warm-up (JIT, pools), then the measured runs back to back, per concurrency.
            wrk(lua, base + "/v1/instances", Math.min(3, seconds), levels.getFirst());
            wrk(lua, base + "/healthz", Math.min(3, seconds), levels.getFirst());
            for (int connections : levels) {
                String load = loadAverage();
                Load instances = wrk(lua, base + "/v1/instances", seconds, connections);
                Load healthz = wrk(lua, base + "/healthz", seconds, connections);
                System.out.printf(Locale.ROOT, "wrk -t2 -c%d -d%ds --latency, loopback; load average before: %s%n",
                        connections, seconds, load);
                for (Load l : List.of(instances, healthz)) {
                    System.out.printf(Locale.ROOT, "  %-20s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%d requests)%n",
                            "GET " + l.path(), l.requestsPerSecond(), l.p50Ms(), l.p99Ms(), l.requests());
                }
                System.out.printf(Locale.ROOT, "  ratio /v1/instances / /healthz: req/s %.3f  p99 %.2f%n",
                        instances.requestsPerSecond() / healthz.requestsPerSecond(), instances.p99Ms() / healthz.p99Ms());
                System.out.printf(Locale.ROOT, "  target >= 10000 req/s and p99 < 10 ms: %s%n",
                        instances.requestsPerSecond() >= 10_000 && instances.p99Ms() < 10 ? "met" : "NOT met");
            }
        }
    }

    /** The 1/5/15-minute load averages: these machines are shared, the numbers mean little without them. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    static Load wrk(Path lua, String url, int seconds, int connections) {
        Commands sh = new Commands(Duration.ofSeconds(seconds + 60L));
        String out = sh.run(List.of("wrk", "-t2", "-c" + connections, "-d" + seconds + "s", "--latency",
                "--timeout", "5s", "-s", lua.toString(), url));
        Matcher non2xx = NON_2XX.matcher(out);
        Matcher errors = ERRORS.matcher(out);
        if (non2xx.find() || errors.find()) {
            throw new IllegalStateException("wrk saw failed requests on " + url + ":\n" + out);
        }
        Matcher rps = RPS.matcher(out);
        Matcher p50 = P50.matcher(out);
        Matcher p99 = P99.matcher(out);
        Matcher total = Pattern.compile("(\\d+) requests in").matcher(out);
        if (!rps.find() || !p50.find() || !p99.find() || !total.find()) {
            throw new IllegalStateException("cannot read wrk's output for " + url + ":\n" + out);
        }
        return new Load(url.substring(url.indexOf('/', url.indexOf("://") + 3)), Double.parseDouble(rps.group(1)),
                millis(p50), millis(p99), Long.parseLong(total.group(1)));
    }

    /** A wrk latency ("277.00us", "11.19ms", "1.02s") in ms. */
    private static double millis(Matcher latency) {
        double scale = switch (latency.group(2)) {
            case "us" -> 1e-3;
            case "ms" -> 1;
            default -> 1e3;
        };
        return Double.parseDouble(latency.group(1)) * scale;
    }
}
