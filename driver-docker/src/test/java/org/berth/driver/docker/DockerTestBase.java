package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.dockerjava.api.DockerClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.ExecSpec;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.VifPlugger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Real dockerd: each test gets a driver, a temp state dir and an image store; after each test every instance it
 * spawned is destroyed, and no container named {@code berth-<uuid>} of those instances, nor its metadata directory,
 * may remain. The state dir is a {@code /var/tmp/berth-*} directory, so a run cut off before the clean-up leaves
 * something the run-wide leak guard (scripts/host-artefacts.sh) names.
 */
abstract class DockerTestBase {
    /** Not the agent's owner: an agent running on the same host does not adopt this test's containers. */
    protected static final String TEST_OWNER = "berth-test";

    protected static final Duration EXEC_WAIT = Duration.ofSeconds(30);
    protected static final Flavor SMALL = new Flavor("m1.micro", 1, 64, 0, 0, 0);

    protected Path stateDir;
    protected TestImageStore store;
    protected Image busybox;
    protected ComputeDriver driver;
    protected DockerClient raw;
    protected final Set<UUID> spawned = ConcurrentHashMap.newKeySet();
    /** Engine image ids a test made (snapshots spawned again) that must not stay in the shared engine. */
    protected final List<String> engineImages = new ArrayList<>();

    @BeforeEach
    void setUpDocker() throws IOException {
        assumeTrue(Files.exists(TestImageStore.IMAGES.resolve("berth-busybox.tar")),
                "run images/build.sh first: no berth-busybox.tar");
        stateDir = Files.createTempDirectory(Path.of("/var/tmp"), "berth-docker-test-");
        store = new TestImageStore(stateDir);
        busybox = store.busybox();
        raw = Engine.connect(DockerSettings.from(DriverConfig.empty("docker")), Duration.ofSeconds(30));
        driver = newDriver(Optional.empty(), EventSink.DISCARD);
    }

    protected ComputeDriver newDriver(Optional<VifPlugger> plugger, EventSink sink) {
        return new DockerDriverProvider().create(new DriverContext(
                new DriverConfig("docker", Map.of("stop_timeout", "2s", "call_timeout", "30s")), store, plugger,
                sink, stateDir, TEST_OWNER));
    }

    @AfterEach
    void tearDownDocker() throws IOException {
        if (driver == null) {
            return;
        }
        try {
            for (UUID uuid : spawned) {
                driver.destroy(uuid);
                var left = raw.listContainersCmd().withShowAll(true)
                        .withNameFilter(List.of(InstanceSpec.backendName(uuid))).exec();
                assertEquals(List.of(), left, "container of " + uuid + " leaked");
                assertEquals(List.of(), metadataDirs(uuid), "metadata directory of " + uuid + " leaked");
            }
            for (String id : engineImages) {
                try {
                    raw.removeImageCmd(id).withForce(true).exec();
                } catch (RuntimeException e) {
                    // already gone
                }
            }
        } finally {
            driver.close();
            raw.close();
            try (var files = Files.walk(stateDir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** The instance's metadata directory and any staging directory of it in the state dir. */
    protected List<Path> metadataDirs(UUID uuid) throws IOException {
        if (!Files.isDirectory(stateDir.resolve("metadata"))) {
            return List.of();
        }
        try (var dirs = Files.newDirectoryStream(stateDir.resolve("metadata"), "*" + uuid + ".metadata*")) {
            List<Path> out = new ArrayList<>();
            dirs.forEach(out::add);
            return out;
        }
    }

    protected InstanceSpec spec(String... command) {
        UUID uuid = UUID.randomUUID();
        spawned.add(uuid);
        InstanceSpec s = InstanceSpec.of(uuid, "t-" + uuid.toString().substring(0, 8), SMALL, busybox.id());
        return command.length == 0 ? s : s.withProperties(Map.of(InstanceSpec.COMMAND, String.join("\n", command)));
    }

    /** A finished command's exit code and its output (stdout and stderr). */
    protected record Run(int exit, String out) {
    }

    /** Runs a command in the container to its end, within {@link #EXEC_WAIT}. */
    protected static Run run(ComputeDriver d, UUID uuid, String... argv) {
        try (InstanceStream s = d.exec(uuid, ExecSpec.of(argv))) {
            var out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            long deadline = System.nanoTime() + EXEC_WAIT.toNanos();
            for (int n; (n = s.read(buf, 0, buf.length, Duration.ofMillis(200))) >= 0; ) {
                out.write(buf, 0, n);
                assertTrue(System.nanoTime() < deadline, List.of(argv) + " did not end within " + EXEC_WAIT);
            }
            return new Run(s.exitCode().orElseThrow(), out.toString(StandardCharsets.UTF_8));
        }
    }

    protected String log(UUID uuid) {
        return new String(driver.consoleLog(uuid, 64 * 1024), StandardCharsets.UTF_8);
    }

    protected static void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
