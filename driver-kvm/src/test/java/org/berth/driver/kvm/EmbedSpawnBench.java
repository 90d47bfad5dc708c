package org.berth.driver.kvm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.berth.lab.TestImages;

/**
 * Spawn-to-running of the kernel test guest (no VIF) on the system libvirtd ({@code qemu:///system}) and on the
 * embedded driver ({@code qemu:///embed?root=DIR}) in this process, alternating, plus boot to the guest's marker.
 * Prints each run, the medians and embed/system ratios. Usage: {@code EmbedSpawnBench [runs]} (default 5).
 */
public final class EmbedSpawnBench {
    private EmbedSpawnBench() {
    }

    record Run(long spawnMs, long bootMs) {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        if (runs < 1 || runs > 50) {
            throw new IllegalArgumentException("runs must be 1..50, was " + runs);
        }
        String id = UUID.randomUUID().toString().substring(0, 8);
        Path state = Files.createDirectories(Path.of("/var/lib/berth/kvm-bench-" + id));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path root = Path.of("/var/lib/berth/eb-" + id);
        ManifestImageStore store = new ManifestImageStore(TestImages.dir(), state.resolve("_store"));
        List<Run> system = new ArrayList<>();
        List<Run> embed = new ArrayList<>();
        try (ComputeDriver sys = open("qemu:///system", store, state);
             ComputeDriver emb = open("qemu:///embed?root=" + root, store, state)) {
            once(sys, store); // warm-up: base image cache, QEMU capabilities probe of each driver
            once(emb, store);
            for (int i = 0; i < runs; i++) {
                system.add(once(sys, store));
                embed.add(once(emb, store));
                System.out.printf(Locale.ROOT, "run %d: system spawn %d ms boot %d ms | embed spawn %d ms boot %d ms%n",
                        i + 1, system.getLast().spawnMs(), system.getLast().bootMs(), embed.getLast().spawnMs(),
                        embed.getLast().bootMs());
            }
        } finally {
            for (Path dir : new Path[] {root, state}) {
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
        long sSpawn = median(system.stream().map(Run::spawnMs).toList());
        long eSpawn = median(embed.stream().map(Run::spawnMs).toList());
        long sBoot = median(system.stream().map(Run::bootMs).toList());
        long eBoot = median(embed.stream().map(Run::bootMs).toList());
        System.out.printf(Locale.ROOT, "spawn-to-running median of %d: qemu:///system %d ms, qemu:///embed %d ms, "
                + "embed/system %.2f%n", runs, sSpawn, eSpawn, (double) eSpawn / sSpawn);
        System.out.printf(Locale.ROOT, "spawn-to-marker median of %d: qemu:///system %d ms, qemu:///embed %d ms, "
                + "embed/system %.2f%n", runs, sSpawn + sBoot, eSpawn + eBoot,
                (double) (eSpawn + eBoot) / (sSpawn + sBoot));
        Runtime.getRuntime().halt(0); // libvirt's event loop thread would keep nothing alive, but be quick
    }

    private static ComputeDriver open(String uri, ManifestImageStore store, Path state) {
        return new KvmDriverProvider().create(new DriverContext(new DriverConfig("kvm", Map.of("uri", uri)), store,
                Optional.empty(), e -> { }, state, "berth-bench"));
    }

    private static Run once(ComputeDriver driver, ManifestImageStore store) throws InterruptedException {
        InstanceSpec spec = new InstanceSpec(UUID.randomUUID(), "bench", EmbedChild.FLAVOR,
                store.byName(TestImages.GUEST_KERNEL).id(), List.of(), Map.of(), true);
        try {
            long t0 = System.nanoTime();
            if (driver.spawn(spec).powerState() != PowerState.RUNNING) {
                throw new IllegalStateException("not running after spawn");
            }
            long t1 = System.nanoTime();
            long deadline = t1 + Duration.ofSeconds(60).toNanos();
            while (!new String(driver.consoleLog(spec.uuid(), 65536), StandardCharsets.UTF_8)
                    .contains("BERTH-GUEST-READY")) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("no marker within 60 s");
                }
                Thread.sleep(20);
            }
            return new Run((t1 - t0) / 1_000_000, (System.nanoTime() - t1) / 1_000_000);
        } finally {
            driver.destroy(spec.uuid());
        }
    }

    private static long median(List<Long> values) {
        List<Long> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }
}
