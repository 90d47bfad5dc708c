package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.BlkioStatEntry;
import com.github.dockerjava.api.model.Statistics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

/**
 * {@code stats()} against the real engine: the cgroup and veth figures agree with the engine's own stats API
 * (docker-java's stats command, one sample), a busy container burns a CPU and an idle one nothing, written bytes
 * show on the disk, a bounded ping shows on the VIF, and counters only grow.
 */
class DockerStatsTest extends DockerTestBase {
    private static final long MB = 1 << 20;

    private InstanceSpec spawnWith(Map<String, String> metadata) {
        InstanceSpec spec = spec().withGuest(new GuestConfig("stats-box", metadata, Map.of(), Optional.empty(),
                Optional.of(false), Optional.empty(), "nova"));
        driver.spawn(spec);
        await("the ready marker", Duration.ofSeconds(10), () -> log(spec.uuid()).contains("BERTH-CONTAINER-READY"));
        return spec;
    }

    private static Optional<InstanceStats> of(ComputeDriver d, UUID uuid) {
        return d.stats().stream().filter(s -> s.uuid().equals(uuid)).findFirst();
    }

    /** The engine's stats of the container, one sample (stream=false: it waits for a second sample first). */
    private Statistics engineStats(InstanceSpec spec) throws InterruptedException {
        var cb = new ResultCallback.Adapter<Statistics>() {
            volatile Statistics last;

            @Override
            public void onNext(Statistics s) {
                last = s;
            }
        };
        raw.statsCmd(spec.backendName()).withNoStream(true).exec(cb);
        assertTrue(cb.awaitCompletion(30, TimeUnit.SECONDS), "the engine's stats did not come within 30 s");
        assertTrue(cb.last != null, "the engine sent no stats");
        return cb.last;
    }

    private static long engineIo(Statistics s, String op) {
        List<BlkioStatEntry> entries = s.getBlkioStats().getIoServiceBytesRecursive();
        return entries == null ? 0 : entries.stream().filter(e -> e.getOp().equalsIgnoreCase(op))
                .mapToLong(BlkioStatEntry::getValue).sum();
    }

    private static long writeBytes(InstanceStats s) {
        return s.disks().stream().mapToLong(InstanceStats.DiskStats::writeBytes).sum();
    }

    private static long readBytes(InstanceStats s) {
        return s.disks().stream().mapToLong(InstanceStats.DiskStats::readBytes).sum();
    }

    @Test
    void theFiguresAreTheEnginesAndWritesShowOnTheDisk() throws Exception {
        assertTrue(driver.describe().has(Capability.INSTANCE_STATS));
        InstanceSpec spec = spawnWith(Map.of());
        InstanceStats before = of(driver, spec.uuid()).orElseThrow();
        assertEquals(PowerState.RUNNING, before.state());
        assertEquals(SMALL.vcpus(), before.vcpus());
        assertEquals(List.of(), before.vcpuTimesNs());

        Run dd = run(driver, spec.uuid(), "dd", "if=/dev/zero", "of=/stats-f", "bs=1M", "count=50", "conv=fsync");
        assertEquals(0, dd.exit(), dd.out());
        run(driver, spec.uuid(), "cat", "/stats-f"); // some reads too (from the page cache: may be 0 on the disk)

        // the engine's sample is taken between our two: each counter of it lies between ours
        InstanceStats a = of(driver, spec.uuid()).orElseThrow();
        Statistics e = engineStats(spec);
        InstanceStats b = of(driver, spec.uuid()).orElseThrow();
        long engineCpu = e.getCpuStats().getCpuUsage().getTotalUsage();
        assertTrue(a.cpuTimeNs() <= engineCpu && engineCpu <= b.cpuTimeNs(),
                "cpu ns: ours " + a.cpuTimeNs() + " .. " + b.cpuTimeNs() + ", the engine's " + engineCpu);
        long engineWrite = engineIo(e, "write");
        assertTrue(writeBytes(a) <= engineWrite && engineWrite <= writeBytes(b),
                "write bytes: ours " + writeBytes(a) + " .. " + writeBytes(b) + ", the engine's " + engineWrite);
        long engineRead = engineIo(e, "read");
        assertTrue(readBytes(a) <= engineRead && engineRead <= readBytes(b),
                "read bytes: ours " + readBytes(a) + " .. " + readBytes(b) + ", the engine's " + engineRead);
        assertTrue(writeBytes(b) - writeBytes(before) >= 50 * MB,
                "50 MiB written: write bytes grew by " + (writeBytes(b) - writeBytes(before)));
        assertTrue(b.disks().stream().allMatch(d -> !d.device().contains(":")),
                "devices by their kernel names: " + b.disks());

        // memory as the docker CLI shows it: usage minus inactive page cache; a gauge, so within 1 MiB
        var m = e.getMemoryStats();
        long inactive = m.getStats().getTotalInactiveFile() != null ? m.getStats().getTotalInactiveFile()
                : m.getStats().getInactiveFile() == null ? 0 : m.getStats().getInactiveFile();
        long engineUsed = m.getUsage() - inactive;
        assertTrue(Math.abs(b.memory().usedBytes() - engineUsed) <= MB,
                "memory used: ours " + b.memory().usedBytes() + ", the engine's " + engineUsed);
        assertEquals((long) m.getLimit(), b.memory().limitBytes(), "memory limit");
        assertEquals((long) SMALL.memoryMb() << 20, b.memory().limitBytes(), "the flavor's memory is the limit");
        assertTrue(b.memory().residentBytes() > 0 && b.memory().residentBytes() <= b.memory().limitBytes(),
                b.memory().toString());
        assertCounted(before, a);
        assertCounted(a, b);
        System.out.printf("stats vs engine: cpu %d <= %d <= %d ns; write %d <= %d <= %d B; used %d vs %d B%n",
                a.cpuTimeNs(), engineCpu, b.cpuTimeNs(), writeBytes(a), engineWrite, writeBytes(b),
                b.memory().usedBytes(), engineUsed);
    }

    /** Every counter of {@code later} is at least {@code earlier}'s. */
    private static void assertCounted(InstanceStats earlier, InstanceStats later) {
        assertTrue(later.cpuTimeNs() >= earlier.cpuTimeNs(), "cpu went backwards: " + earlier + " → " + later);
        for (InstanceStats.DiskStats d : earlier.disks()) {
            var n = later.disks().stream().filter(x -> x.device().equals(d.device())).findFirst().orElseThrow();
            assertTrue(n.readBytes() >= d.readBytes() && n.writeBytes() >= d.writeBytes()
                    && n.readRequests() >= d.readRequests() && n.writeRequests() >= d.writeRequests(),
                    "disk counters went backwards: " + d + " → " + n);
        }
        for (InstanceStats.VifStats v : earlier.vifs()) {
            var n = later.vifs().stream().filter(x -> x.portId().equals(v.portId())).findFirst().orElseThrow();
            assertTrue(n.rxBytes() >= v.rxBytes() && n.txBytes() >= v.txBytes() && n.rxPackets() >= v.rxPackets()
                    && n.txPackets() >= v.txPackets(), "VIF counters went backwards: " + v + " → " + n);
        }
    }

    /** A remote engine's path: the engine's one-shot stats in the driver's terms agree with the cgroup files. */
    @Test
    void theRemotePathsOneShotStatsAgree() throws Exception {
        InstanceSpec spec = spawnWith(Map.of());
        Run dd = run(driver, spec.uuid(), "dd", "if=/dev/zero", "of=/stats-g", "bs=1M", "count=8", "conv=fsync");
        assertEquals(0, dd.exit(), dd.out());
        var settings = DockerSettings.from(org.berth.driver.api.DriverConfig.empty("docker"));
        try (Engine engine = new Engine(Engine.connect(settings, Duration.ofSeconds(30)), settings)) {
            List<org.berth.driver.api.InstanceInfo> listed = driver.list().stream()
                    .filter(i -> i.uuid().equals(spec.uuid())).toList();
            InstanceStats a = of(driver, spec.uuid()).orElseThrow();
            long t0 = System.nanoTime();
            InstanceStats r = new EngineStats(engine).sample(listed).getFirst();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            InstanceStats b = of(driver, spec.uuid()).orElseThrow();
            // stream=false waits for two of the engine's 1 s collector ticks; one-shot for at most one
            assertTrue(ms < 1500, "one-shot answers without waiting for a second sample: " + ms + " ms");
            assertTrue(a.cpuTimeNs() <= r.cpuTimeNs() && r.cpuTimeNs() <= b.cpuTimeNs(),
                    "cpu ns: ours " + a.cpuTimeNs() + " .. " + b.cpuTimeNs() + ", one-shot " + r.cpuTimeNs());
            assertTrue(writeBytes(a) <= writeBytes(r) && writeBytes(r) <= writeBytes(b) && writeBytes(r) >= 8 * MB,
                    "write bytes: ours " + writeBytes(a) + " .. " + writeBytes(b) + ", one-shot " + writeBytes(r));
            assertTrue(Math.abs(r.memory().usedBytes() - b.memory().usedBytes()) <= MB, r.memory() + " vs " + b.memory());
            assertEquals(b.memory().limitBytes(), r.memory().limitBytes());
            assertEquals(List.of(), r.vifs());

            driver.powerOff(spec.uuid(), Duration.ofSeconds(2));
            listed = driver.list().stream().filter(i -> i.uuid().equals(spec.uuid())).toList();
            assertEquals(PowerState.SHUTDOWN, new EngineStats(engine).sample(listed).getFirst().state());
            driver.destroy(spec.uuid());
            assertTrue(EngineStats.oneShot(settings, listed.getFirst().backendId(),
                    System.nanoTime() + Duration.ofSeconds(10).toNanos()).isEmpty(), "a removed container: no stats");
        }
    }

    @Test
    void aBusyContainersCpuIsWhatTheKernelChargedItAndAnIdleOneNothing() throws Exception {
        InstanceSpec busy = spawnWith(Map.of("busy", "1"));
        // only "1" is busy, as the VM guest reads it: another non-empty value is idle
        InstanceSpec idle = spawnWith(Map.of("busy", "true"));
        await("the busy marker", Duration.ofSeconds(10), () -> log(busy.uuid()).contains("BERTH-BUSY on"));
        assertFalse(log(idle.uuid()).contains("BERTH-BUSY"), log(idle.uuid()));
        Thread.sleep(500); // past the loop's start
        // The host's 2 CPUs are shared with whatever else runs: how much CPU the loop gets is the host's business
        // (the agent's acceptance test checks the whole CPU through Prometheus on a quiet host). The driver's part is
        // that the figure is what the kernel charged the container's processes, under its 1-CPU ceiling, and that a
        // busy container is told from an idle one.
        List<InstanceStats> first = driver.stats();
        long tasks0 = tasksCpuNs(busy);
        long t0 = System.nanoTime();
        InstanceStats previous = null;
        for (int i = 0; i < 5; i++) { // and a counter never goes backwards between samples
            Thread.sleep(1000);
            InstanceStats now = of(driver, busy.uuid()).orElseThrow();
            if (previous != null) {
                assertCounted(previous, now);
            }
            previous = now;
        }
        List<InstanceStats> last = driver.stats();
        long tasks1 = tasksCpuNs(busy);
        double seconds = (System.nanoTime() - t0) / 1e9;
        double busyRate = rate(first, last, busy.uuid(), seconds);
        double idleRate = rate(first, last, idle.uuid(), seconds);
        String window = String.format(java.util.Locale.ROOT, "%.2f s: busy %.3f, idle %.4f (load %s)", seconds,
                busyRate, idleRate, Files.readString(Path.of("/proc/loadavg")).strip());
        System.out.println("cpu rate over " + window);
        assertTrue(busyRate <= 1.2, "busy container's CPU rate above its 1-CPU ceiling: " + window);
        assertTrue(busyRate > 0.3, "a busy container's CPU rate: " + window);
        assertTrue(idleRate < 0.1, "idle container's CPU rate: " + window);
        // whatever CPU it got, the figure is what the kernel charged its processes (10 ms ticks in /proc)
        double tasksRate = (tasks1 - tasks0) / 1e9 / seconds;
        assertTrue(Math.abs(busyRate - tasksRate) <= 0.1 * tasksRate + 0.03,
                "busy container's rate " + busyRate + " vs its processes' CPU time in /proc " + tasksRate);
    }

    /**
     * CPU time the kernel charged the container's processes, from /proc/PID/stat (utime, stime, and cutime, cstime
     * of the children they reaped): an account independent of the cgroup's.
     */
    private long tasksCpuNs(InstanceSpec spec) throws java.io.IOException {
        long init = raw.inspectContainerCmd(spec.backendName()).exec().getState().getPidLong();
        Path procs = null;
        for (String line : Files.readAllLines(Path.of("/proc/" + init + "/cgroup"))) {
            String[] f = line.split(":", 3);
            if (List.of(f[1].split(",")).contains("cpuacct")) {
                procs = Path.of("/sys/fs/cgroup/cpuacct" + f[2], "cgroup.procs"); // cgroup v1
            } else if (procs == null && f[0].equals("0")) {
                procs = Path.of("/sys/fs/cgroup" + f[2], "cgroup.procs"); // cgroup v2
            }
        }
        long ticks = 0;
        for (String pid : Files.readAllLines(procs)) {
            try {
                String stat = Files.readString(Path.of("/proc", pid.trim(), "stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
            } catch (java.nio.file.NoSuchFileException e) {
                // a sleep that ended meanwhile: its parent's cutime has it
            }
        }
        return ticks * 10_000_000L; // USER_HZ 100
    }

    private static double rate(List<InstanceStats> first, List<InstanceStats> last, UUID uuid, double seconds) {
        long a = first.stream().filter(s -> s.uuid().equals(uuid)).findFirst().orElseThrow().cpuTimeNs();
        long b = last.stream().filter(s -> s.uuid().equals(uuid)).findFirst().orElseThrow().cpuTimeNs();
        return (b - a) / 1e9 / seconds;
    }

    /**
     * Containers stopped, started and removed while stats() runs in a loop: a container going away mid-sample (its
     * cgroup files answering ENOENT or ENODEV) is left out of that sample, never an error of the whole sample.
     */
    @Test
    void containersStoppingAndRemovedMidSampleNeverFailTheSample() throws Exception {
        List<InstanceSpec> specs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            specs.add(spawnWith(Map.of()));
        }
        var churn = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            var done = churn.submit(() -> {
                for (InstanceSpec s : specs) {
                    driver.powerOff(s.uuid(), Duration.ofSeconds(1));
                    driver.powerOn(s.uuid());
                    driver.powerOff(s.uuid(), Duration.ofSeconds(1));
                    driver.powerOn(s.uuid());
                    driver.destroy(s.uuid());
                }
                return null;
            });
            int samples = 0;
            long until = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (!done.isDone() && System.nanoTime() < until) {
                List<InstanceStats> all = driver.stats(); // throws on the defect: the test fails here
                samples++;
                for (InstanceStats st : all) {
                    assertTrue(st.state() != PowerState.RUNNING || st.cpuTimeNs() >= 0, st.toString());
                }
            }
            done.get(10, TimeUnit.SECONDS); // the churn itself succeeded
            System.out.println("stats() samples during the churn of 4 containers: " + samples);
            assertTrue(samples >= 20, "too few samples overlapped the churn to say anything: " + samples);
            for (InstanceSpec s : specs) {
                assertTrue(of(driver, s.uuid()).isEmpty(), "a destroyed instance is absent");
            }
        } finally {
            churn.shutdownNow();
            assertTrue(churn.awaitTermination(30, TimeUnit.SECONDS), "the churn thread ended");
        }
    }

    /**
     * cgroup v1 has no cgroup writeback: a buffered write that the kernel's flusher (or a host {@code sync}) writes
     * out is issued from the flusher's or syncer's context, so the container's blkio counts none of it; an fsync'd
     * write is issued from the container's own context and counted. (cgroup v2 attributes writeback to the
     * page's owner cgroup, so there both count.)
     */
    @Test
    void bufferedWritesCountOnCgroupV2AndNotOnV1() throws Exception {
        String version = String.valueOf(raw.infoCmd().exec().getRawValues().getOrDefault("CgroupVersion", "1"));
        boolean v1 = "1".equals(version);
        InstanceSpec spec = spawnWith(Map.of());
        InstanceStats before = of(driver, spec.uuid()).orElseThrow();
        Run buffered = run(driver, spec.uuid(), "dd", "if=/dev/zero", "of=/stats-buffered", "bs=1M", "count=16");
        assertEquals(0, buffered.exit(), buffered.out());
        VethPlugger.run("sync"); // the host writes the dirty pages out, all of them, before it returns
        InstanceStats flushed = of(driver, spec.uuid()).orElseThrow();
        Run synced = run(driver, spec.uuid(), "dd", "if=/dev/zero", "of=/stats-synced", "bs=1M", "count=16",
                "conv=fsync");
        assertEquals(0, synced.exit(), synced.out());
        InstanceStats after = of(driver, spec.uuid()).orElseThrow();
        long bufferedBytes = writeBytes(flushed) - writeBytes(before);
        long syncedBytes = writeBytes(after) - writeBytes(flushed);
        System.out.printf("cgroup v%s: 16 MiB buffered and flushed by a host sync counted %d B; 16 MiB fsync'd %d B%n",
                version, bufferedBytes, syncedBytes);
        if (v1) {
            assertTrue(bufferedBytes < MB, "buffered 16 MiB flushed by the host: the container's count grew by "
                    + bufferedBytes + " B (v1 has no cgroup writeback, it should be none of them)");
        } else {
            assertTrue(bufferedBytes >= 16 * MB, "buffered 16 MiB flushed by the host: the container's count grew by "
                    + bufferedBytes + " B (v2 charges writeback to the page's cgroup)");
        }
        assertTrue(syncedBytes >= 16 * MB, "16 MiB fsync'd: the container's count grew by " + syncedBytes + " B");
    }

    @Test
    void stoppedIsShutdownAndUnknownOrDestroyedIsAbsent() {
        InstanceSpec spec = spawnWith(Map.of());
        assertTrue(of(driver, spec.uuid()).orElseThrow().cpuTimeNs() > 0);
        driver.pause(spec.uuid());
        assertEquals(PowerState.PAUSED, of(driver, spec.uuid()).orElseThrow().state());
        driver.unpause(spec.uuid());
        driver.powerOff(spec.uuid(), Duration.ofSeconds(2));
        InstanceStats off = of(driver, spec.uuid()).orElseThrow();
        assertEquals(new InstanceStats(spec.uuid(), PowerState.SHUTDOWN, 0, SMALL.vcpus(), List.of(),
                InstanceStats.Memory.NONE, List.of(), List.of()), off);
        driver.powerOn(spec.uuid());
        assertEquals(PowerState.RUNNING, of(driver, spec.uuid()).orElseThrow().state());
        assertTrue(of(driver, UUID.randomUUID()).isEmpty(), "an unknown instance is absent");
        driver.destroy(spec.uuid());
        assertTrue(of(driver, spec.uuid()).isEmpty(), "a destroyed instance is absent");
    }

    @Test
    void aBoundedPingShowsOnTheVif() throws Exception {
        String tag = UUID.randomUUID().toString().substring(0, 6);
        String bridge = "brst" + tag;
        String ns = "berth-st-" + tag;
        String hostEnd = "vst" + tag;
        VifSpec vif = VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:00:07:02");
        VethPlugger plugger = new VethPlugger(bridge, Map.of(vif.portId(), "198.18.77.2/24"));
        ComputeDriver d = null;
        try {
            VethPlugger.run("ip", "link", "add", "dev", bridge, "type", "bridge");
            VethPlugger.noIpv6(bridge);
            VethPlugger.run("ip", "link", "set", "dev", bridge, "up");
            VethPlugger.run("ip", "netns", "add", ns);
            VethPlugger.run("ip", "link", "add", "dev", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", ns);
            VethPlugger.noIpv6(hostEnd);
            VethPlugger.run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
            VethPlugger.run("ip", "-n", ns, "addr", "add", "198.18.77.1/24", "dev", "eth0");
            VethPlugger.run("ip", "-n", ns, "link", "set", "dev", "eth0", "up");
            VethPlugger.run("ip", "link", "set", "dev", hostEnd, "master", bridge, "up");

            d = newDriver(Optional.of(plugger), EventSink.DISCARD);
            InstanceSpec spec = spec().withVifs(List.of(vif));
            d.spawn(spec);
            // one ping first: ARP resolved on both sides, so the measured pings are the only traffic
            VethPlugger.run("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "5", "198.18.77.2");
            InstanceStats before = of(d, spec.uuid()).orElseThrow();
            assertEquals(1, before.vifs().size(), before.toString());
            assertEquals(vif.devName(), before.vifs().getFirst().device());
            int count = 20;
            int payload = 56;
            VethPlugger.run("ip", "netns", "exec", ns, "ping", "-q", "-c", Integer.toString(count), "-i", "0.2",
                    "-s", Integer.toString(payload), "-W", "5", "198.18.77.2");
            InstanceStats after = of(d, spec.uuid()).orElseThrow();
            assertCounted(before, after);
            InstanceStats.VifStats v0 = before.vifs().getFirst();
            InstanceStats.VifStats v1 = after.vifs().getFirst();
            long frames = (long) count * (14 + 20 + 8 + payload); // Ethernet + IPv4 + ICMP headers + payload
            long rx = v1.rxBytes() - v0.rxBytes();
            long tx = v1.txBytes() - v0.txBytes();
            System.out.printf("ping of %d x %d B: the instance received %d B (%d packets), sent %d B (%d packets); "
                    + "expected %d B each way%n", count, payload, rx, v1.rxPackets() - v0.rxPackets(), tx,
                    v1.txPackets() - v0.txPackets(), frames);
            assertTrue(Math.abs(rx - frames) <= frames / 10, "received bytes " + rx + " vs ping bytes " + frames);
            assertTrue(Math.abs(tx - frames) <= frames / 10, "sent bytes " + tx + " vs ping bytes " + frames);
            // every echo request and reply, and at most a stray ARP re-probe or IGMPv3 report (54 B) beside them
            long rxPackets = v1.rxPackets() - v0.rxPackets();
            long txPackets = v1.txPackets() - v0.txPackets();
            assertTrue(rxPackets >= count && rxPackets <= count + 2, "packets received " + rxPackets);
            assertTrue(txPackets >= count && txPackets <= count + 2, "packets sent " + txPackets);

            // the engine reports no interface of a --network none container; the veth's own end inside agrees
            Statistics e = engineStats(spec);
            assertTrue(e.getNetworks() == null || !e.getNetworks().containsKey("eth0"), String.valueOf(e.getNetworks()));
            // a stray ARP may cross meanwhile: the counts inside lie between two samples of ours
            InstanceStats.VifStats x = of(d, spec.uuid()).orElseThrow().vifs().getFirst();
            long inRx = Long.parseLong(run(d, spec.uuid(), "cat", "/sys/class/net/eth0/statistics/rx_bytes").out().trim());
            long inTx = Long.parseLong(run(d, spec.uuid(), "cat", "/sys/class/net/eth0/statistics/tx_bytes").out().trim());
            InstanceStats.VifStats y = of(d, spec.uuid()).orElseThrow().vifs().getFirst();
            assertTrue(x.rxBytes() <= inRx && inRx <= y.rxBytes(), "rx: ours " + x.rxBytes() + " .. " + y.rxBytes()
                    + ", the container's eth0 " + inRx);
            assertTrue(x.txBytes() <= inTx && inTx <= y.txBytes(), "tx: ours " + x.txBytes() + " .. " + y.txBytes()
                    + ", the container's eth0 " + inTx);
            d.destroy(spec.uuid());
            assertFalse(VethPlugger.exists(vif.devName()), "the veth went with the container");
        } finally {
            if (d != null) {
                d.close();
            }
            for (String dev : List.of(hostEnd, bridge)) {
                if (VethPlugger.exists(dev)) {
                    VethPlugger.run("ip", "link", "del", "dev", dev);
                }
            }
            if (Files.exists(Path.of("/run/netns", ns))) {
                VethPlugger.run("ip", "netns", "del", ns);
            }
        }
        assertFalse(VethPlugger.exists(hostEnd) || VethPlugger.exists(bridge), "test links left");
        assertFalse(Files.exists(Path.of("/run/netns", ns)), "test namespace left");
    }
}
