package org.berth.agent.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.berth.agent.cli.ApiClient;
import org.berth.agent.cloud.CloudCli;
import org.berth.agent.cloud.CloudCommand;
import org.berth.agent.cloud.CloudHosts;
import org.berth.agent.cloud.CloudPlacement;
import org.berth.agent.cloud.Scheduler;
import org.berth.lab.Lab;
import org.berth.lab.TestImages;

/**
 * Issue 16's scheduling benchmarks on the 3-host lab ({@code make bench}), side by side in one run:
 * <ol>
 * <li>latency per instance of a scheduled spawn (allocation candidates + weighing + claim + the POST to the chosen
 * agent) against the baseline, the same POST sent straight to a fixed host; interleaved, warm clients, medians and
 * p90, and the ratio;</li>
 * <li>{@value #MANY} small containers from {@value #THREADS} concurrent {@code berth cloud spawn --wait} CLIs: wall
 * time, reschedules and lost claims, and each host's final usage against its capacity.</li>
 * </ol>
 * Then everything is deleted ({@code berth cloud delete}) and checked gone. Usage: {@code ScheduleBench [pairs]}
 * (default 20).
 */
public final class ScheduleBench {
    static final int MANY = 100;
    static final int THREADS = 4;
    /** The lab tests' vif_plugging_timeout (OvnAcrossHostsTest's): the same everywhere, or the agents restart. */
    private static final Duration VIF_PLUGGING_TIMEOUT = Duration.ofSeconds(12);
    private static final Duration LIMIT = Duration.ofSeconds(120);

    private ScheduleBench() {
    }

    public static void main(String[] args) throws Exception {
        int pairs = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        if (pairs < 1 || pairs > 200) {
            throw new IllegalArgumentException("pairs must be 1..200, was " + pairs);
        }
        System.out.println("load average: " + Files.readString(Path.of("/proc/loadavg")).strip());
        Lab lab = Lab.shared(3, VIF_PLUGGING_TIMEOUT);
        CloudCommand.Cloud cloud = new CloudCommand.Cloud(CloudHosts.load(lab.hostsFile()), Duration.ofSeconds(30));
        CloudCli cli = new CloudCli(lab.hostsFile());
        String image = TestImages.id(TestImages.BUSYBOX);
        Set<UUID> made = Collections.synchronizedSet(new java.util.TreeSet<>());
        try {
            latency(cloud, image, pairs, made);
            many(cloud, cli, made);
        } finally {
            int left = cleanUp(cloud, cli, made);
            System.out.println("cleanup: " + made.size() + " instances deleted through berth cloud delete; left: " + left);
        }
        System.exit(0); // the lab goes down in its shutdown hook
    }

    private static ObjectNode body(String image, int memoryMb) {
        ObjectNode b = ApiClient.JSON.createObjectNode().put("driver", "docker").put("image_id", image)
                .put("name", "bench-" + UUID.randomUUID().toString().substring(0, 8));
        b.putObject("flavor").put("name", "bench.c").put("vcpus", 1).put("memory_mb", memoryMb);
        return b;
    }

    /** Scheduled spawn vs direct POST, interleaved; each instance waited for and deleted outside the timing. */
    private static void latency(CloudCommand.Cloud cloud, String image, int pairs, Set<UUID> made) {
        Scheduler scheduler = new Scheduler(cloud.placement(), cloud.hosts().hosts().stream().map(CloudHosts.Host::name)
                .collect(Collectors.toSet()), Scheduler.Hosts.of(cloud), new SecureRandom());
        String fixed = cloud.hosts().hosts().get(0).name();
        List<Double> scheduled = new ArrayList<>();
        List<Double> direct = new ArrayList<>();
        List<Double> cands = new ArrayList<>();
        List<Double> checks = new ArrayList<>();
        List<Double> claims = new ArrayList<>();
        for (int i = -2; i < pairs; i++) { // two warm-up pairs, not counted
            UUID s = UUID.randomUUID();
            made.add(s);
            long t0 = System.nanoTime();
            Scheduler.Placed p = scheduler.schedule(new Scheduler.Request(s, body(image, 64), Scheduler.MAX_ATTEMPTS,
                    false, LIMIT, (h, b) -> { }));
            long t1 = System.nanoTime();
            UUID d = UUID.randomUUID();
            made.add(d);
            long t2 = System.nanoTime();
            cloud.agent(fixed).spawn(body(image, 64).put("uuid", d.toString()));
            long t3 = System.nanoTime();
            if (i >= 0) {
                scheduled.add((t1 - t0) / 1e6);
                direct.add((t3 - t2) / 1e6);
            }
            if (i >= 0) {
                parts(cloud, p.host(), cands, checks, claims);
            }
            cloud.agent(p.host()).await(s, LIMIT, false);
            cloud.agent(fixed).await(d, LIMIT, false);
            cloud.agent(p.host()).deleteAndWait(s, LIMIT);
            cloud.agent(fixed).deleteAndWait(d, LIMIT);
            cloud.placement().release(s);
            cloud.placement().release(d);
        }
        double ms = median(scheduled);
        double md = median(direct);
        System.out.printf("spawn hand-off latency (%d pairs, interleaved): scheduled (candidates + claim + POST) median "
                + "%.1f ms, p90 %.1f ms; direct POST to %s median %.1f ms, p90 %.1f ms; ratio %.2fx (+%.1f ms)%n",
                pairs, ms, p90(scheduled), fixed, md, p90(direct), ms / md, ms - md);
        System.out.printf("  its Placement calls alone (medians): GET /allocation_candidates %.1f ms, GET /allocations/{c} "
                + "(the uuid is new) %.1f ms, PUT /allocations/{c} (claim) %.1f ms%n", median(cands), median(checks),
                median(claims));
    }

    /** The scheduler's Placement calls, each timed alone (a throwaway consumer, released after). */
    private static void parts(CloudCommand.Cloud cloud, String host, List<Double> cands, List<Double> checks,
                              List<Double> claims) {
        Map<String, Long> res = Scheduler.resources(body("unused", 64));
        UUID c = UUID.randomUUID();
        long t0 = System.nanoTime();
        cloud.placement().candidates(res, List.of("CUSTOM_BERTH_DRIVER_DOCKER"), 100);
        long t1 = System.nanoTime();
        cloud.placement().consumer(c);
        long t2 = System.nanoTime();
        cloud.placement().claim(c, cloud.placement().provider(host).orElseThrow().uuid(), res);
        long t3 = System.nanoTime();
        cloud.placement().release(c);
        cands.add((t1 - t0) / 1e6);
        checks.add((t2 - t1) / 1e6);
        claims.add((t3 - t2) / 1e6);
    }

    /** MANY containers from THREADS concurrent CLIs, each with --wait. */
    private static void many(CloudCommand.Cloud cloud, CloudCli cli, Set<UUID> made) throws Exception {
        AtomicInteger next = new AtomicInteger();
        AtomicInteger reschedules = new AtomicInteger();
        AtomicInteger lostClaims = new AtomicInteger();
        Map<String, Integer> refusals = Collections.synchronizedMap(new TreeMap<>());
        Map<String, Integer> perHost = Collections.synchronizedMap(new TreeMap<>());
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        long t0 = System.nanoTime();
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                fs.add(pool.submit(() -> {
                    while (next.getAndIncrement() < MANY) {
                        UUID u = UUID.randomUUID();
                        made.add(u);
                        CloudCli.Run r = cli.json("spawn", "--uuid", u.toString(), "--driver", "docker", "--image",
                                TestImages.BUSYBOX, "--vcpus", "1", "--memory-mb", "48", "--name",
                                "bench-" + u.toString().substring(0, 8), "--wait");
                        if (r.code() == 0) {
                            JsonNode j = r.json();
                            perHost.merge(j.path("host").asText(), 1, Integer::sum);
                            j.path("attempts").forEach(a -> {
                                switch (a.path("outcome").asText()) {
                                    case "error", "refused" -> reschedules.incrementAndGet();
                                    case "lost_claim" -> lostClaims.incrementAndGet();
                                    default -> { }
                                }
                            });
                        } else {
                            String why = r.err().replaceAll("requested.*", "").strip();
                            refusals.merge(why, 1, Integer::sum);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(600, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(60, TimeUnit.SECONDS);
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        int placed = perHost.values().stream().mapToInt(Integer::intValue).sum();
        System.out.printf("%d containers (1 VCPU, 48 MB) from %d concurrent CLIs (--wait): %.1f s wall, %.2f s per "
                + "instance; placed %d %s, refused %d %s; reschedules %d, lost claims %d%n", MANY, THREADS, wall,
                wall / MANY, placed, perHost, MANY - placed, refusals, reschedules.get(), lostClaims.get());
        for (CloudHosts.Host h : cloud.hosts().hosts()) {
            UUID rp = cloud.placement().provider(h.name()).orElseThrow().uuid();
            Map<String, CloudPlacement.Usage> u = cloud.placement().usages(rp);
            System.out.printf("  %s: %s%n", h.name(), u.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()
                    .used() + "/" + e.getValue().capacity()).collect(Collectors.joining(", ")));
        }
    }

    /** Deletes every instance made through berth cloud delete (4 at a time); the number left anywhere. */
    private static int cleanUp(CloudCommand.Cloud cloud, CloudCli cli, Set<UUID> made) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<CloudCli.Run>> fs = new ArrayList<>();
            for (UUID u : List.copyOf(made)) {
                fs.add(pool.submit(() -> cli.text("delete", u.toString())));
            }
            for (Future<CloudCli.Run> f : fs) {
                f.get(600, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(60, TimeUnit.SECONDS);
        }
        int left = 0;
        for (CloudHosts.Host h : cloud.hosts().hosts()) {
            for (JsonNode i : cloud.agent(h.name()).instances()) {
                if (made.contains(UUID.fromString(i.path("uuid").asText()))) {
                    left++;
                }
            }
        }
        for (UUID u : made) {
            if (cloud.placement().consumer(u).exists()) {
                left++;
            }
        }
        return left;
    }

    private static double median(List<Double> xs) {
        List<Double> s = xs.stream().sorted().toList();
        return s.get(s.size() / 2);
    }

    private static double p90(List<Double> xs) {
        List<Double> s = xs.stream().sorted().toList();
        return s.get(Math.min(s.size() - 1, (int) Math.ceil(s.size() * 0.9) - 1));
    }
}
