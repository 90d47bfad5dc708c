package org.berth.driver.kvm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
import org.berth.driver.kvm.BenchGuest.Run;
import org.berth.lab.TestImages;

/**
 * Spawn-to-running of the kernel test guest (no VIF) on the system libvirtd ({@code qemu:///system}) and on the
 * embedded driver ({@code qemu:///embed?root=DIR}) in this process, alternating, plus boot to the guest's marker.
 * Prints each run, the medians and embed/system ratios. Usage: {@code EmbedSpawnBench [runs]} (default 5).
 */
public final class EmbedSpawnBench {
    private EmbedSpawnBench() {
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
            BenchGuest.once(sys, spec(store)); // warm-up: base image cache, QEMU capabilities probe of each driver
            BenchGuest.once(emb, spec(store));
            for (int i = 0; i < runs; i++) {
                system.add(BenchGuest.once(sys, spec(store)));
                embed.add(BenchGuest.once(emb, spec(store)));
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
        long sSpawn = BenchGuest.median(system.stream().map(Run::spawnMs).toList());
        long eSpawn = BenchGuest.median(embed.stream().map(Run::spawnMs).toList());
        long sBoot = BenchGuest.median(system.stream().map(Run::bootMs).toList());
        long eBoot = BenchGuest.median(embed.stream().map(Run::bootMs).toList());
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

    private static InstanceSpec spec(ManifestImageStore store) {
        return new InstanceSpec(UUID.randomUUID(), "bench", EmbedChild.FLAVOR,
                store.byName(TestImages.GUEST_KERNEL).id(), List.of(), Map.of(), true);
    }
}
