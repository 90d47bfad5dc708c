package org.berth.driver.kvm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Stream;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.kvm.BenchGuest.Run;
import org.berth.lab.TestImages;

/**
 * Spawn-to-running of the kernel test guest on the system libvirtd with a config drive (the default) and without one
 * ({@code config_drive} false in the request), alternating which goes first in each round, plus boot to the guest's
 * marker; then the drive's build cost alone ({@link ConfigDrive#write}: documents, xorriso, rename) for the same
 * request and for one with the largest user data Nova takes (64 KiB). Prints each run, the medians and the ratios.
 * Usage: {@code ConfigDriveSpawnBench [runs]} (default 10).
 */
public final class ConfigDriveSpawnBench {
    private ConfigDriveSpawnBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        if (runs < 1 || runs > 50) {
            throw new IllegalArgumentException("runs must be 1..50, was " + runs);
        }
        Path state = Files.createDirectories(Path.of("/var/lib/berth/kvm-drive-bench-"
                + UUID.randomUUID().toString().substring(0, 8)));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxr-xr-x"));
        ManifestImageStore store = new ManifestImageStore(TestImages.dir(), state.resolve("_store"));
        List<Run> with = new ArrayList<>();
        List<Run> without = new ArrayList<>();
        List<Long> build = new ArrayList<>();
        List<Long> buildMax = new ArrayList<>();
        try (ComputeDriver driver = new KvmDriverProvider().create(new DriverContext(DriverConfig.empty("kvm"), store,
                Optional.empty(), e -> { }, state, "berth-bench"))) {
            String image = store.byName(TestImages.GUEST_KERNEL).id();
            BenchGuest.once(driver, spec(image, Optional.empty(), "echo hi")); // warm-up: base image cache, QEMU probe
            BenchGuest.once(driver, spec(image, Optional.of(false), "echo hi"));
            for (int i = 0; i < runs; i++) {
                boolean driveFirst = i % 2 == 0;
                Run a = BenchGuest.once(driver, spec(image, Optional.of(driveFirst), "echo hi"));
                Run b = BenchGuest.once(driver, spec(image, Optional.of(!driveFirst), "echo hi"));
                with.add(driveFirst ? a : b);
                without.add(driveFirst ? b : a);
                System.out.printf(Locale.ROOT, "run %d (%s first): with drive spawn %d ms boot %d ms | without spawn "
                        + "%d ms boot %d ms%n", i + 1, driveFirst ? "drive" : "no drive", with.getLast().spawnMs(),
                        with.getLast().bootMs(), without.getLast().spawnMs(), without.getLast().bootMs());
            }
            ConfigDrive drive = new ConfigDrive(true, "xorriso", Duration.ofSeconds(60), "bench");
            Path dir = Files.createDirectory(state.resolve("drive-only"));
            InstanceSpec typical = spec(image, Optional.empty(), "echo hi");
            byte[] max = new byte[GuestConfig.MAX_USER_DATA];
            new Random(1).nextBytes(max);
            InstanceSpec largest = typical.withGuest(new GuestConfig("bench", Map.of(), Map.of(),
                    Optional.of(Base64.getEncoder().encodeToString(max)), Optional.empty(), Optional.empty(),
                    GuestConfig.DEFAULT_ZONE));
            drive.write(dir, typical); // warm-up
            for (int i = 0; i < runs; i++) {
                build.add(timed(() -> drive.write(dir, typical)));
                buildMax.add(timed(() -> drive.write(dir, largest)));
            }
            System.out.printf(Locale.ROOT, "drive image: %d bytes (small user data), ", Files.size(
                    drive.write(dir, typical)));
            System.out.printf(Locale.ROOT, "%d bytes (64 KiB user data)%n", Files.size(drive.write(dir, largest)));
        } finally {
            try (Stream<Path> files = Files.walk(state)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        long wSpawn = BenchGuest.median(with.stream().map(Run::spawnMs).toList());
        long oSpawn = BenchGuest.median(without.stream().map(Run::spawnMs).toList());
        long wBoot = BenchGuest.median(with.stream().map(Run::bootMs).toList());
        long oBoot = BenchGuest.median(without.stream().map(Run::bootMs).toList());
        System.out.printf(Locale.ROOT, "spawn-to-running median of %d: with config drive %d ms, without %d ms, "
                + "with/without %.2f (+%d ms)%n", runs, wSpawn, oSpawn, (double) wSpawn / oSpawn, wSpawn - oSpawn);
        System.out.printf(Locale.ROOT, "spawn-to-marker median of %d: with config drive %d ms, without %d ms, "
                + "with/without %.2f%n", runs, wSpawn + wBoot, oSpawn + oBoot,
                (double) (wSpawn + wBoot) / (oSpawn + oBoot));
        System.out.printf(Locale.ROOT, "config drive build alone (documents + xorriso + rename) median of %d: %d ms "
                + "(small user data), %d ms (64 KiB user data)%n", runs, BenchGuest.median(build), BenchGuest.median(buildMax));
        Runtime.getRuntime().halt(0); // libvirt's event loop thread would keep nothing alive, but be quick
    }

    private static InstanceSpec spec(String image, Optional<Boolean> drive, String script) {
        String name = "bench";
        GuestConfig guest = new GuestConfig(name, Map.of("purpose", "bench"), Map.of(),
                Optional.of(Base64.getEncoder().encodeToString(("#!/bin/sh\n" + script + "\n")
                        .getBytes(StandardCharsets.UTF_8))), drive, Optional.empty(), GuestConfig.DEFAULT_ZONE);
        return new InstanceSpec(UUID.randomUUID(), name, EmbedChild.FLAVOR, image, List.of(), Map.of(), true, guest);
    }

    private static long timed(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return (System.nanoTime() - t0) / 1_000_000;
    }
}
