package org.berth.conformance.images;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecuteResultHandler;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteWatchdog;
import org.berth.conformance.host.HostCommand;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.Image;
import org.berth.image.ManifestImageStore;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The images built by {@code images/build.sh} are what they claim: the manifests match the files, both guest
 * forms boot to the marker under QEMU (TCG) within 60 s, and the container image runs and prints.
 */
class TestImagesTest {
    private static final Duration BOOT_LIMIT = Duration.ofSeconds(60);
    private static ManifestImageStore store;

    @TempDir
    Path tmp;

    @BeforeAll
    static void open(@TempDir Path writable) {
        store = ManifestImageStore.open(List.of(TestImages.dir()),
                writable);
    }

    private static Image named(String name) {
        return store.list().stream().filter(i -> i.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("image " + name + " missing: run images/build.sh"));
    }

    @Test
    void manifestsMatchTheirFiles() throws IOException {
        for (String name : List.of("berth-busybox", "berth-guest-kernel", "berth-guest-initrd", "berth-guest-disk")) {
            Image image = named(name);
            Path file = store.file(image.id());
            assertEquals(image.size(), Files.size(file), name + " size");
            assertEquals(image.sha256(), ManifestImageStore.sha256(file), name + " sha256");
        }
        assertEquals(DiskFormat.QCOW2, named("berth-guest-disk").diskFormat());
        assertEquals(DiskFormat.AKI, named("berth-guest-kernel").diskFormat());
        assertEquals(DiskFormat.ARI, named("berth-guest-initrd").diskFormat());
        assertEquals(ContainerFormat.DOCKER, named("berth-busybox").containerFormat());
        assertEquals(named("berth-guest-initrd").id(), named("berth-guest-kernel").properties().get(Image.RAMDISK_ID),
                "the kernel names its ramdisk");
    }

    @Test
    void qcow2GuestBootsToTheMarker() throws Exception {
        Path disk = store.file(named("berth-guest-disk").id());
        String console = boot("-drive", "file=" + disk + ",format=qcow2,if=virtio,snapshot=on");
        assertTrue(console.contains("BERTH-GUEST-READY"), console);
    }

    @Test
    void kernelAndInitrdBootToTheMarker() throws Exception {
        Image kernel = named("berth-guest-kernel");
        String console = boot("-kernel", store.file(kernel.id()).toString(),
                "-initrd", store.file(kernel.properties().get(Image.RAMDISK_ID)).toString(),
                "-append", kernel.properties().get(Image.OS_COMMAND_LINE));
        assertTrue(console.contains("BERTH-GUEST-READY"), console);
    }

    /** Boots QEMU with TCG and no NIC; returns the serial console once the marker shows, or at the limit. */
    private String boot(String... args) throws Exception {
        Path serial = tmp.resolve("serial.log");
        var cmd = new CommandLine("qemu-system-x86_64");
        for (String a : List.of("-machine", "accel=tcg", "-m", "256", "-display", "none", "-nic", "none",
                "-no-reboot", "-serial", "file:" + serial)) {
            cmd.addArgument(a, false);
        }
        for (String a : args) {
            cmd.addArgument(a, false);
        }
        var watchdog = ExecuteWatchdog.builder().setTimeout(BOOT_LIMIT.plusSeconds(10)).get();
        DefaultExecutor executor = DefaultExecutor.builder().get();
        executor.setWatchdog(watchdog);
        var done = new DefaultExecuteResultHandler();
        executor.execute(cmd, done);
        long deadline = System.nanoTime() + BOOT_LIMIT.toNanos();
        String console = "";
        try {
            while (System.nanoTime() < deadline && !done.hasResult()) {
                if (Files.exists(serial)) {
                    console = Files.readString(serial, StandardCharsets.ISO_8859_1);
                    if (console.contains("BERTH-GUEST-READY")) {
                        break;
                    }
                }
                Thread.sleep(200);
            }
        } finally {
            watchdog.destroyProcess();
            done.waitFor(Duration.ofSeconds(10));
        }
        assertTrue(done.hasResult(), "QEMU did not exit after being killed");
        return console;
    }

    @Test
    void containerImageRunsAndPrints() {
        String docker = HostCommand.find("docker").orElseThrow(() -> new AssertionError("docker CLI missing")).toString();
        Path tar = store.file(named("berth-busybox").id());
        var load = HostCommand.run(Duration.ofSeconds(120), docker, "load", "-i", tar.toString());
        assertTrue(load.ok(), "docker load: " + load.stderr());
        String name = "berth-imagetest-" + UUID.randomUUID();
        try {
            var run = HostCommand.run(Duration.ofSeconds(60), docker, "run", "-d", "--name", name, "--network", "none",
                    "berth/busybox:test");
            assertTrue(run.ok(), "docker run: " + run.stderr());
            String logs = "";
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline && !logs.contains("BERTH-CONTAINER-READY")) {
                logs = HostCommand.run(Duration.ofSeconds(20), docker, "logs", name).stdout();
            }
            assertTrue(logs.contains("BERTH-CONTAINER-READY"), "container output: " + logs);
            var echo = HostCommand.run(Duration.ofSeconds(60), docker, "run", "--rm", "--network", "none",
                    "berth/busybox:test", "/bin/echo", "hello from berth");
            assertEquals("hello from berth", echo.stdout().strip(), echo.stderr());
        } finally {
            HostCommand.run(Duration.ofSeconds(60), docker, "rm", "-f", name);
        }
        var left = HostCommand.run(Duration.ofSeconds(20), docker, "ps", "-a", "--filter", "name=" + name, "--format", "{{.Names}}");
        assertEquals("", left.stdout().strip(), "the test container is gone");
    }
}
