package org.berth.driver.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Statistics;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;

/**
 * One {@code stats()} sample of N running containers (cgroup files and veth counters, one engine list call) against
 * what a sampler without it would do: N calls of the engine's stats API, {@code stream=false} through docker-java
 * (the engine waits for a second sample, about a second, before it answers) and {@code one-shot=true} (API 1.41,
 * the driver's remote-engine path, {@link EngineStats}), each {@value EngineStats#PARALLEL} at a time. Timed per
 * sample: wall, this process's CPU time (all its threads), and the CPU time dockerd, containerd and the containers'
 * shims spent meanwhile (from /proc); medians of several rounds, ratios printed.
 *
 * <p>Usage: {@code StatsBench [containers] [rounds]} (defaults 50 and 9; stream=false gets 3 rounds at most: each is
 * several seconds). Containers are 1-vCPU 64 MiB busybox ones of {@code -Dberth.images.dir}'s berth-busybox.tar,
 * removed at the end.
 */
public final class StatsBench {
    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("org.berth");
    private static final long TICK_NS = 10_000_000L; // USER_HZ 100: /proc/<pid>/stat counts in 10 ms ticks
    private static final int BATCH = 20;

    private StatsBench() {
    }

    /** One timed sample. */
    record Sample(double wallMs, double cpuMs, double engineCpuMs) {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        if (n < 1 || n > 500 || rounds < 1 || rounds > 100) {
            throw new IllegalArgumentException("containers must be 1..500 and rounds 1..100, were " + n + ", " + rounds);
        }
        QUIET.setLevel(java.util.logging.Level.WARNING);
        Path state = Files.createTempDirectory(Path.of("/var/tmp"), "berth-stats-bench-");
        TestImageStore store = new TestImageStore(state);
        var settings = DockerSettings.from(DriverConfig.empty("docker"));
        List<UUID> spawned = new ArrayList<>();
        try (ComputeDriver driver = new DockerDriverProvider().create(new DriverContext(
                new DriverConfig("docker", Map.of("stop_timeout", "2s", "call_timeout", "60s")), store,
                Optional.empty(), EventSink.DISCARD, state, "berth-bench"));
             Engine engine = new Engine(Engine.connect(settings, Duration.ofSeconds(60)), settings)) {
            String image = store.busybox().id();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                UUID uuid = UUID.randomUUID();
                spawned.add(uuid);
                driver.spawn(InstanceSpec.of(uuid, "bench-" + i, new Flavor("m1.micro", 1, 64, 0, 0, 0), image));
            }
            System.out.printf(Locale.ROOT, "%d containers spawned in %.1f s; load average %s%n", n,
                    (System.nanoTime() - t0) / 1e9, Files.readString(Path.of("/proc/loadavg")).strip());
            List<InstanceInfo> listed = driver.list();
            EngineStats oneShot = new EngineStats(engine);
            DockerClient client = engine.client();
            for (int i = 0; i < 3; i++) { // warm-up: JIT, the cgroup directories found, connections open
                check(n, driver.stats().size());
            }
            check(n, oneShot.sample(listed).size());
            List<Sample> ours = new ArrayList<>();
            List<Sample> shot = new ArrayList<>();
            List<Sample> stream = new ArrayList<>();
            for (int r = 0; r < rounds; r++) { // interleaved, so load drifting on the shared host falls on all
                // a batch of samples per timing: one is a few ms, below the 10 ms tick of the CPU clocks
                ours.add(time(BATCH, () -> {
                    for (int k = 0; k < BATCH; k++) {
                        check(n, driver.stats().size());
                    }
                }));
                shot.add(time(1, () -> check(n, oneShot.sample(listed).size())));
                if (r < 3) {
                    stream.add(time(1, () -> check(n, streamFalse(client, listed))));
                }
            }
            Sample o = median(ours);
            Sample s1 = median(shot);
            Sample s2 = median(stream);
            System.out.printf(Locale.ROOT, "%-44s %10s %12s %16s%n", "one sample of " + n + " containers (median)",
                    "wall ms", "our CPU ms", "engine CPU ms");
            print("stats(): cgroup files + veths, 1 list call", o, ours.size() * BATCH);
            print("engine stats one-shot=true, N calls (x" + EngineStats.PARALLEL + ")", s1, shot.size());
            print("engine stats stream=false, N calls (x" + EngineStats.PARALLEL + ")", s2, stream.size());
            System.out.printf(Locale.ROOT, "ratios: one-shot/stats() wall %.1fx, CPU %.1fx (+engine %.1fx); "
                            + "stream=false/stats() wall %.1fx, CPU %.1fx (+engine %.1fx)%n",
                    s1.wallMs() / o.wallMs(), s1.cpuMs() / o.cpuMs(),
                    (s1.cpuMs() + s1.engineCpuMs()) / (o.cpuMs() + o.engineCpuMs()),
                    s2.wallMs() / o.wallMs(), s2.cpuMs() / o.cpuMs(),
                    (s2.cpuMs() + s2.engineCpuMs()) / (o.cpuMs() + o.engineCpuMs()));
        } finally {
            try (ComputeDriver driver = new DockerDriverProvider().create(new DriverContext(
                    new DriverConfig("docker", Map.of("stop_timeout", "2s")), store, Optional.empty(),
                    EventSink.DISCARD, state, "berth-bench"))) {
                for (UUID uuid : spawned) {
                    driver.destroy(uuid);
                }
                check(0, (int) driver.list().stream().filter(i -> spawned.contains(i.uuid())).count());
            }
            try (var files = Files.walk(state)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void check(int want, int got) {
        if (want != got) {
            throw new IllegalStateException("expected " + want + " containers' figures, got " + got);
        }
    }

    /** The stats of every container through docker-java, stream=false, {@link EngineStats#PARALLEL} at a time. */
    private static int streamFalse(DockerClient client, List<InstanceInfo> listed) throws Exception {
        List<Callable<Statistics>> calls = new ArrayList<>();
        for (InstanceInfo i : listed) {
            calls.add(() -> {
                var cb = new ResultCallback.Adapter<Statistics>() {
                    volatile Statistics last;

                    @Override
                    public void onNext(Statistics s) {
                        last = s;
                    }
                };
                client.statsCmd(i.backendId()).withNoStream(true).exec(cb);
                if (!cb.awaitCompletion(30, TimeUnit.SECONDS) || cb.last == null) {
                    throw new IllegalStateException("no stats of " + i.backendId() + " within 30 s");
                }
                return cb.last;
            });
        }
        ExecutorService pool = Executors.newFixedThreadPool(EngineStats.PARALLEL);
        try {
            int ok = 0;
            for (Future<Statistics> f : pool.invokeAll(calls, 120, TimeUnit.SECONDS)) {
                ok += f.get() != null ? 1 : 0;
            }
            return ok;
        } finally {
            pool.shutdownNow();
        }
    }

    private interface Work {
        void run() throws Exception;
    }

    /** Times {@code work}, which takes {@code samples} samples, and returns the figures per sample. */
    private static Sample time(int samples, Work work) throws Exception {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long engine0 = engineCpuNs();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        work.run();
        long wall = System.nanoTime() - t0;
        long cpu = os.getProcessCpuTime() - cpu0;
        long engine = engineCpuNs() - engine0;
        return new Sample(wall / 1e6 / samples, cpu / 1e6 / samples, engine / 1e6 / samples);
    }

    /** CPU time (user + system) of dockerd, containerd and every containerd-shim, from /proc/<pid>/stat. */
    private static long engineCpuNs() throws IOException {
        long ticks = 0;
        try (var procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path p : procs) {
                String stat;
                try {
                    stat = Files.readString(p.resolve("stat"));
                } catch (IOException e) {
                    continue; // ended meanwhile
                }
                int open = stat.indexOf('(');
                int close = stat.lastIndexOf(')');
                String comm = stat.substring(open + 1, close);
                if (comm.equals("dockerd") || comm.equals("containerd") || comm.startsWith("containerd-shim")) {
                    String[] f = stat.substring(close + 2).split(" ");
                    ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14, 15)
                }
            }
        }
        return ticks * TICK_NS;
    }

    private static Sample median(List<Sample> s) {
        return new Sample(median(s.stream().mapToDouble(Sample::wallMs).toArray()),
                median(s.stream().mapToDouble(Sample::cpuMs).toArray()),
                median(s.stream().mapToDouble(Sample::engineCpuMs).toArray()));
    }

    private static double median(double[] v) {
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static void print(String what, Sample s, int rounds) {
        System.out.printf(Locale.ROOT, "%-44s %10.2f %12.2f %16.2f   (%d samples)%n", what, s.wallMs(), s.cpuMs(),
                s.engineCpuMs(), rounds);
    }
}
