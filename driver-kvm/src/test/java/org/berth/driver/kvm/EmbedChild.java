package org.berth.driver.kvm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.VifSpec;
import org.berth.lab.TestImages;

/**
 * Another process on an embedded root, for {@link EmbeddedLibvirtTest} (libvirt's embedded driver is per process):
 * {@code spawn ROOT STATE_DIR UUID MAC} spawns the kernel guest with one tap, waits for its marker and exits,
 * leaving QEMU running; {@code destroy ROOT STATE_DIR UUID} lists it (printing {@code LISTED <power state>}) and
 * destroys it; {@code open ROOT STATE_DIR} only opens the driver. Prints {@code OK} or
 * {@code FAILED <exception class> <message>}.
 */
final class EmbedChild {
    static final String OWNER = "berth-embed-test";
    static final Flavor FLAVOR = new Flavor("t.small", 1, 256, 1, 0, 0);

    private EmbedChild() {
    }

    static KvmDriver open(Path root, Path stateDir, TapPlugger taps, org.berth.driver.api.EventSink events)
            throws java.io.IOException {
        DriverContext ctx = new DriverContext(new DriverConfig("kvm", Map.of("uri", "qemu:///embed?root=" + root,
                "guest_offloads", "off", "shutdown_timeout", "30s", "soft_reboot_timeout", "20s")),
                new ManifestImageStore(TestImages.dir(), stateDir.resolve("_store")), Optional.of(taps), events,
                stateDir, OWNER);
        return (KvmDriver) new KvmDriverProvider().create(ctx);
    }

    static InstanceSpec spec(UUID uuid, String mac) {
        return new InstanceSpec(uuid, "embedded", FLAVOR, TestImages.id(TestImages.GUEST_KERNEL),
                List.of(VifSpec.of(UUID.nameUUIDFromBytes(mac.getBytes(StandardCharsets.UTF_8)).toString(), mac)),
                Map.of(), true);
    }

    public static void main(String[] args) {
        try (KvmDriver driver = open(Path.of(args[1]), Path.of(args[2]), new TapPlugger(), e -> { })) {
            if (args[0].equals("spawn")) {
                UUID uuid = UUID.fromString(args[3]);
                driver.spawn(spec(uuid, args[4]));
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (!new String(driver.consoleLog(uuid, 65536), StandardCharsets.UTF_8).contains("BERTH-GUEST-READY")) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("no marker within 60 s");
                    }
                    Thread.sleep(200);
                }
            } else if (args[0].equals("destroy")) {
                UUID uuid = UUID.fromString(args[3]);
                var found = driver.list().stream().filter(i -> i.uuid().equals(uuid)).findFirst().orElseThrow(
                        () -> new IllegalStateException(uuid + " not listed"));
                System.out.println("LISTED " + found.powerState());
                driver.destroy(uuid);
            }
            System.out.println("OK");
        } catch (Exception e) {
            System.out.println("FAILED " + e.getClass().getName() + " " + e.getMessage());
        }
        System.out.flush();
        Runtime.getRuntime().halt(0); // what an agent's crash or restart does: no libvirt teardown
    }

    /** Runs {@code args} in a new JVM (this one's class path), at most {@code limit}; returns its last line. */
    static String run(Duration limit, Path output, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "-Dberth.images.dir=" + TestImages.dir(),
                "-cp", System.getProperty("java.class.path"), EmbedChild.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        if (!p.waitFor(limit.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            throw new AssertionError("child " + args[0] + " did not end within " + limit);
        }
        List<String> lines = Files.readAllLines(output).stream().filter(l -> l.startsWith("OK")
                || l.startsWith("FAILED")).toList();
        if (lines.isEmpty()) {
            throw new AssertionError("child " + args[0] + " said nothing:\n" + Files.readString(output));
        }
        return lines.getLast();
    }
}
