package org.berth.driver.docker;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceStats;

/**
 * The engine's own stats API, for an engine that is not on this host (its cgroups are not ours to read):
 * {@code GET /containers/{id}/stats?stream=false&one-shot=true} (API 1.41), which answers at once with one sample
 * instead of waiting a second for a second one. docker-java's stats command cannot ask for one-shot, so the request
 * goes over a {@link Wire} as HTTP/1.0 (the body ends where the engine closes). At most {@link #PARALLEL} requests
 * at a time, each within the driver's call timeout. VIFs are not reported: their veths are on the engine's host.
 */
final class EngineStats {
    static final int PARALLEL = 8;
    private static final int MAX_BODY = 1 << 20;

    private final Engine engine;

    EngineStats(Engine engine) {
        this.engine = engine;
    }

    /**
     * The listed instances' figures, all within one call timeout: a slot is waited for only until the deadline,
     * and when it passes every request still going is cancelled (interrupting its virtual thread closes its
     * connection) before the pool is closed, so the call returns at the deadline, not when the slowest one ends.
     */
    List<InstanceStats> sample(List<InstanceInfo> listed) {
        Semaphore slots = new Semaphore(PARALLEL);
        long deadline = System.nanoTime() + engine.callTimeout().toNanos();
        List<Future<Optional<InstanceStats>>> futures = new ArrayList<>(listed.size());
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try {
            for (InstanceInfo i : listed) {
                futures.add(pool.submit(() -> {
                    if (!ContainerStats.running(i.powerState())) {
                        return Optional.of(ContainerStats.stopped(i));
                    }
                    if (!slots.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                        throw new TimeoutException("no request slot before the deadline");
                    }
                    try {
                        if (System.nanoTime() - deadline >= 0) { // a slot freed by a request that timed out
                            throw new TimeoutException("no request slot before the deadline");
                        }
                        return oneShot(engine.settings(), i.backendId(), deadline).map(n -> of(i, n));
                    } finally {
                        slots.release();
                    }
                }));
            }
            List<InstanceStats> out = new ArrayList<>(listed.size());
            for (Future<Optional<InstanceStats>> f : futures) {
                long left = Math.max(0, deadline - System.nanoTime());
                f.get(left, TimeUnit.NANOSECONDS).ifPresent(out::add);
            }
            return out;
        } catch (TimeoutException e) {
            throw timedOut("the engine did not answer");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw timedOut("interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TimeoutException || e.getCause() instanceof java.net.SocketTimeoutException) {
                throw timedOut("the engine did not answer");
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new DriverException.BackendFailure(Engine.BACKEND, "stats", String.valueOf(e.getCause()), e.getCause());
        } finally {
            futures.forEach(f -> f.cancel(true)); // no-op for the finished ones
            pool.shutdownNow();
        }
    }

    private DriverException.OperationTimedOut timedOut(String why) {
        return new DriverException.OperationTimedOut("docker stats", engine.callTimeout(), why);
    }

    /** The engine's figures in the driver's terms; memory as the docker CLI computes it (see {@link Cgroups#read}). */
    static InstanceStats of(InstanceInfo i, JsonNode s) {
        long cpu = s.path("cpu_stats").path("cpu_usage").path("total_usage").asLong(0);
        JsonNode mem = s.path("memory_stats");
        JsonNode ms = mem.path("stats");
        long usage = mem.path("usage").asLong(InstanceStats.UNKNOWN);
        long inactive = ms.has("total_inactive_file") ? ms.path("total_inactive_file").asLong()
                : ms.path("inactive_file").asLong(0);
        long resident = ms.has("total_rss") ? ms.path("total_rss").asLong() : ms.path("anon").asLong(InstanceStats.UNKNOWN);
        long used = usage < 0 ? InstanceStats.UNKNOWN : inactive < usage ? usage - inactive : usage;
        long limit = mem.path("limit").asLong(InstanceStats.UNKNOWN);
        return new InstanceStats(i.uuid(), i.powerState(), Math.max(0, cpu), i.spec().flavor().vcpus(), List.of(),
                new InstanceStats.Memory(used, resident, limit), List.of(), disks(s.path("blkio_stats")));
    }

    /** {@code io_service_bytes_recursive}/{@code io_serviced_recursive} entries: op Read/Write (v1) or read/write (v2). */
    private static List<InstanceStats.DiskStats> disks(JsonNode blkio) {
        Map<String, long[]> dev = new LinkedHashMap<>();
        collect(blkio.path("io_service_bytes_recursive"), dev, 0);
        collect(blkio.path("io_serviced_recursive"), dev, 2);
        List<InstanceStats.DiskStats> out = new ArrayList<>();
        dev.forEach((k, v) -> out.add(new InstanceStats.DiskStats(k, v[0], v[2], v[1], v[3], InstanceStats.UNKNOWN,
                InstanceStats.UNKNOWN)));
        return out;
    }

    private static void collect(JsonNode entries, Map<String, long[]> dev, int offset) {
        for (JsonNode e : entries) {
            long[] v = dev.computeIfAbsent(e.path("major").asLong() + ":" + e.path("minor").asLong(), k -> new long[4]);
            switch (e.path("op").asText().toLowerCase(java.util.Locale.ROOT)) {
                case "read" -> v[offset] = Math.max(0, e.path("value").asLong());
                case "write" -> v[offset + 1] = Math.max(0, e.path("value").asLong());
                default -> { }
            }
        }
    }

    /** The container's one-shot stats; empty when the engine no longer has it (404) or it stopped (no figures). */
    static Optional<JsonNode> oneShot(DockerSettings settings, String containerId, long deadline) throws IOException {
        URI uri = URI.create(settings.host());
        String host = "tcp".equals(uri.getScheme()) ? uri.getAuthority() : "docker";
        String head = "GET /v" + settings.apiVersion() + "/containers/" + containerId
                + "/stats?stream=false&one-shot=true HTTP/1.0\r\nHost: " + host + "\r\nUser-Agent: berth\r\n\r\n";
        var all = new ByteArrayOutputStream();
        try (Wire wire = Wire.open(settings.host(), deadline)) {
            if (!wire.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)), deadline)) {
                throw new IOException("the engine took no request for the stats of " + containerId);
            }
            ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
            for (int n; (n = wire.read(buf.clear(), deadline)) != -1; ) {
                if (n == 0) {
                    throw new java.net.SocketTimeoutException("stats of " + containerId + ": no answer in time");
                }
                all.write(buf.array(), 0, n);
                if (all.size() > MAX_BODY) {
                    throw new IOException("stats of " + containerId + ": answer longer than " + MAX_BODY + " bytes");
                }
            }
        }
        String text = all.toString(StandardCharsets.UTF_8);
        int end = text.indexOf("\r\n\r\n");
        if (end < 0 || !text.startsWith("HTTP/1.")) {
            throw new IOException("stats of " + containerId + ": not an HTTP answer");
        }
        int code = Integer.parseInt(text.substring(9, 12));
        if (code == 404) {
            return Optional.empty();
        }
        if (code != 200) {
            throw new IOException("stats of " + containerId + ": HTTP " + code);
        }
        JsonNode body = SpecLabels.json().readTree(text.substring(end + 4));
        // a container that stopped meanwhile answers 200 with an empty sample ("read" of the zero time)
        return body.path("read").asText("").startsWith("0001-") ? Optional.empty() : Optional.of(body);
    }
}
