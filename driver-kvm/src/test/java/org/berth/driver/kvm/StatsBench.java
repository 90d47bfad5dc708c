package org.berth.driver.kvm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifSpec;
import org.berth.lab.Cmd;
import org.berth.lab.TestImages;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;

/**
 * One sample of N running test guests (one VIF on a plain tap each, config drive): the driver's {@code stats()} (one
 * virConnectGetAllDomainStats) against N {@code virsh domstats <domain>} runs one after another (a per-domain poller)
 * against one {@code virsh domstats} of every domain (the same bulk call plus virsh's start-up), and against the
 * per-domain calls of libvirt-java in this process (lookup, info, memory, block and interface stats of each domain:
 * what a poller without the bulk call makes), in rounds that rotate which goes first. Prints the medians of wall time
 * and the means of CPU time (each CPU figure counts in 10 ms steps here, so only a mean over the rounds says something): this JVM's ({@code getProcessCpuTime}, every thread: the libvirt pool's, JNA's copying, GC), the
 * reaped children's ({@code virsh}: cutime + cstime of /proc/self/stat, clock ticks of 10 ms) and libvirtd's
 * (utime + stime of its /proc/PID/stat: the daemon does the monitor work for every way alike). Usage:
 * {@code StatsBench [vms] [rounds]} (default 10 and 15).
 */
public final class StatsBench {
    private static final Duration CMD = Duration.ofSeconds(60);
    /** USER_HZ: the unit of the times in /proc/PID/stat (100 on every Linux this runs on: getconf CLK_TCK). */
    private static final long TICK_US = 10_000;
    private static final com.sun.management.OperatingSystemMXBean OS = (com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /** One measured run, µs: wall, this JVM's CPU, reaped children's CPU, libvirtd's CPU. */
    private record Cost(long wall, long own, long children, long daemon) {
    }

    private StatsBench() {
    }

    public static void main(String[] args) throws Exception {
        int vms = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
        if (vms < 1 || vms > 20 || rounds < 1 || rounds > 100) {
            throw new IllegalArgumentException("vms must be 1..20 and rounds 1..100, were " + vms + ", " + rounds);
        }
        Path state = Files.createDirectories(Path.of("/var/lib/berth/kvm-stats-bench-"
                + UUID.randomUUID().toString().substring(0, 8)));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxr-xr-x"));
        ManifestImageStore store = new ManifestImageStore(TestImages.dir(), state.resolve("_store"));
        TapPlugger taps = new TapPlugger();
        List<Cost> bulk = new ArrayList<>();
        List<Cost> virshEach = new ArrayList<>();
        List<Cost> virshAll = new ArrayList<>();
        List<Cost> perDomainCalls = new ArrayList<>();
        Path daemon = Path.of("/proc", Files.readString(Path.of("/run/libvirtd.pid")).strip(), "stat");
        Connect c = new Connect("qemu:///system");
        List<UUID> spawned = new ArrayList<>();
        Map<UUID, String> tapOf = new java.util.HashMap<>();
        KvmDriver driver = (KvmDriver) new KvmDriverProvider().create(new DriverContext(DriverConfig.empty("kvm"),
                store, Optional.of(taps), e -> { }, state, "berth-bench"));
        try {
            String image = store.byName(TestImages.GUEST_KERNEL).id();
            for (int i = 0; i < vms; i++) {
                InstanceSpec spec = spec(image, i);
                spawned.add(spec.uuid());
                tapOf.put(spec.uuid(), spec.vifs().getFirst().devName());
                driver.spawn(spec);
            }
            awaitReady(driver, spawned);
            for (int i = 0; i < 3; i++) {
                driver.stats(); // warm-up: each domain's definition is read once, JIT
            }
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < 4; k++) {
                    switch ((r + k) % 4) {
                        case 0 -> bulk.add(measured(daemon, () -> {
                            if (driver.stats().size() < vms) {
                                throw new IllegalStateException("stats() lost a domain");
                            }
                        }));
                        case 1 -> virshEach.add(measured(daemon,
                                () -> spawned.forEach(u -> virsh(InstanceSpec.backendName(u)))));
                        case 2 -> virshAll.add(measured(daemon, () -> virsh(null)));
                        default -> perDomainCalls.add(measured(daemon,
                                () -> spawned.forEach(u -> perDomain(c, u, tapOf.get(u)))));
                    }
                }
            }
        } finally {
            for (UUID uuid : spawned) {
                driver.destroy(uuid);
            }
            driver.close();
            c.close();
            InstanceFiles.deleteTree(state);
        }
        long b = median(bulk, Cost::wall);
        long p = median(virshEach, Cost::wall);
        long a = median(virshAll, Cost::wall);
        long j = median(perDomainCalls, Cost::wall);
        System.out.printf(Locale.ROOT, "one sample of %d running VMs, median of %d (wall, µs): stats() %d | %d x "
                + "virsh domstats <dom> %d | virsh domstats (all) %d | per-domain libvirt-java calls %d%n", vms, rounds,
                b, vms, p, a, j);
        System.out.printf(Locale.ROOT, "ratios: per-domain virsh / stats() %.1f, virsh all / stats() %.1f, "
                + "per-domain calls / stats() %.1f%n", (double) p / b, (double) a / b, (double) j / b);
        System.out.println("CPU time per sample, means (ms): this JVM / virsh children / libvirtd");
        print("stats()", bulk);
        print(vms + " x virsh domstats <dom>", virshEach);
        print("virsh domstats (all)", virshAll);
        print("per-domain libvirt-java calls", perDomainCalls);
        Runtime.getRuntime().halt(0);
    }

    private static InstanceSpec spec(String image, int i) {
        String name = "stats-bench-" + i;
        VifSpec vif = new VifSpec(UUID.randomUUID().toString(), String.format(Locale.ROOT, "fa:16:3e:18:01:%02x", i),
                "br-int", 1500, Optional.empty(), List.of(IpAddress.parseCidr("198.18.92." + (i + 10) + "/24", "ip")),
                Optional.empty());
        GuestConfig guest = new GuestConfig(name, Map.of(), Map.of(), Optional.empty(), Optional.empty(),
                Optional.empty(), GuestConfig.DEFAULT_ZONE);
        return new InstanceSpec(UUID.randomUUID(), name, EmbedChild.FLAVOR, image, List.of(vif), Map.of(), true, guest);
    }

    private static void awaitReady(KvmDriver driver, List<UUID> uuids) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
        for (UUID uuid : uuids) {
            while (!new String(driver.consoleLog(uuid, 65536), StandardCharsets.UTF_8).contains("BERTH-GUEST-READY")) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("guests not ready within 300 s");
                }
                Thread.sleep(200);
            }
        }
    }

    /** One domain's figures the way a poller without the bulk call reads them: five calls. */
    private static void perDomain(Connect c, UUID uuid, String tap) {
        try {
            Domain d = c.domainLookupByName(InstanceSpec.backendName(uuid));
            d.getInfo();
            d.memoryStats(13); // VIR_DOMAIN_MEMORY_STAT_NR
            d.blockStats("vda");
            d.interfaceStats(tap);
        } catch (LibvirtException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code virsh domstats --raw [domain]}: one domain, or every domain with {@code null}. */
    private static void virsh(String domain) {
        List<String> argv = new ArrayList<>(List.of("virsh", "-c", "qemu:///system", "domstats", "--raw"));
        if (domain != null) {
            argv.add(domain);
        }
        Cmd.run(CMD, argv).orThrow();
    }

    private static void print(String what, List<Cost> costs) {
        System.out.printf(Locale.ROOT, "  %-30s %6.1f / %6.1f / %6.1f%n", what, meanMs(costs, Cost::own),
                meanMs(costs, Cost::children), meanMs(costs, Cost::daemon));
    }

    private static double meanMs(List<Cost> costs, java.util.function.ToLongFunction<Cost> figure) {
        return costs.stream().mapToLong(figure).average().orElse(0) / 1_000;
    }

    private static long median(List<Cost> costs, java.util.function.ToLongFunction<Cost> figure) {
        return BenchGuest.median(costs.stream().map(figure::applyAsLong).toList());
    }

    /** {@code r}'s wall time and the CPU time it cost this JVM, its reaped children and libvirtd, in µs. */
    private static Cost measured(Path daemon, Runnable r) {
        long children = childrenTicks();
        long libvirtd = ownTicks(daemon);
        long own = OS.getProcessCpuTime();
        long t0 = System.nanoTime();
        r.run();
        long wall = System.nanoTime() - t0;
        return new Cost(wall / 1_000, (OS.getProcessCpuTime() - own) / 1_000,
                (childrenTicks() - children) * TICK_US, (ownTicks(daemon) - libvirtd) * TICK_US);
    }

    /**
     * Fields of /proc/PID/stat after the command name (which may hold spaces, so the split is after its ')'): index
     * 0 is field 3 (state), so utime (14) is 11, stime 12, cutime 13, cstime 14.
     */
    private static String[] statFields(Path stat) {
        try {
            String line = Files.readString(stat);
            return line.substring(line.lastIndexOf(')') + 2).split(" ");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** utime + stime of a process. */
    private static long ownTicks(Path stat) {
        String[] f = statFields(stat);
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** cutime + cstime of this process: the CPU of the children it has waited for (Process.waitFor reaps them). */
    private static long childrenTicks() {
        String[] f = statFields(Path.of("/proc/self/stat"));
        return Long.parseLong(f[13]) + Long.parseLong(f[14]);
    }
}
