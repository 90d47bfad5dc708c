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
 * what a poller without the bulk call makes), in rounds that rotate which goes first. Prints the medians of wall time and the ratios. Usage: {@code StatsBench [vms] [rounds]}
 * (default 10 and 15).
 */
public final class StatsBench {
    private static final Duration CMD = Duration.ofSeconds(60);

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
        List<Long> bulk = new ArrayList<>();
        List<Long> virshEach = new ArrayList<>();
        List<Long> virshAll = new ArrayList<>();
        List<Long> perDomainCalls = new ArrayList<>();
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
                        case 0 -> bulk.add(timed(() -> {
                            if (driver.stats().size() < vms) {
                                throw new IllegalStateException("stats() lost a domain");
                            }
                        }));
                        case 1 -> virshEach.add(timed(() -> spawned.forEach(u -> virsh(InstanceSpec.backendName(u)))));
                        case 2 -> virshAll.add(timed(() -> virsh(null)));
                        default -> perDomainCalls.add(timed(() -> spawned.forEach(u -> perDomain(c, u, tapOf.get(u)))));
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
        long b = BenchGuest.median(bulk);
        long p = BenchGuest.median(virshEach);
        long a = BenchGuest.median(virshAll);
        long j = BenchGuest.median(perDomainCalls);
        System.out.printf(Locale.ROOT, "one sample of %d running VMs, median of %d (wall, µs): stats() %d | %d x "
                + "virsh domstats <dom> %d | virsh domstats (all) %d | per-domain libvirt-java calls %d%n", vms, rounds,
                b, vms, p, a, j);
        System.out.printf(Locale.ROOT, "ratios: per-domain virsh / stats() %.1f, virsh all / stats() %.1f, "
                + "per-domain calls / stats() %.1f%n", (double) p / b, (double) a / b, (double) j / b);
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

    /** Wall time of {@code r} in µs. */
    private static long timed(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return (System.nanoTime() - t0) / 1_000;
    }
}
