package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.UUID;
import java.util.stream.Stream;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.PowerState;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.libvirt.Connect;

/**
 * The serial console through libvirt's console stream, against the host's libvirtd + QEMU (TCG) and the busybox test
 * guest, whose init offers a shell on the console once Enter is pressed. One guest is booted for the whole class;
 * the last test powers it off.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KvmConsoleTest {
    private static final String TEST_OWNER = "berth-test";
    private static final String MARKER = "BERTH-GUEST-READY";
    private static final Flavor FLAVOR = new Flavor("t.small", 1, 256, 1, 0, 0);
    private static final Duration SHELL_WAIT = Duration.ofSeconds(30);

    private static Path stateDir;
    private static KvmDriver driver;
    private static ComputeDriverProvider provider;
    private static DriverContext context;
    private static UUID guest;

    @BeforeAll
    static void bootGuest() throws Exception {
        Files.createDirectories(Path.of("/var/lib/berth"));
        stateDir = Files.createDirectories(Path.of("/var/lib/berth/kvm-console-test-" + UUID.randomUUID()));
        Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        ManifestImageStore store = new ManifestImageStore(TestImages.dir(), stateDir.resolve("_store"));
        provider = ServiceLoader.load(ComputeDriverProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(p -> p.name().equals("kvm")).findFirst().orElseThrow();
        context = new DriverContext(new DriverConfig("kvm", Map.of("shutdown_timeout", "20s")), store,
                Optional.empty(), e -> { }, stateDir, TEST_OWNER);
        driver = (KvmDriver) provider.create(context);
        guest = UUID.randomUUID();
        driver.spawn(new InstanceSpec(guest, "console-guest", FLAVOR, store.byName("berth-guest-kernel").id(),
                List.of(), Map.of(), true));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!log().contains(MARKER)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(MARKER + " not in the console log within 60 s:\n" + log());
            }
            Thread.sleep(200);
        }
    }

    @AfterAll
    static void destroyGuest() throws Exception {
        try {
            if (guest != null) {
                driver.destroy(guest);
                assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(guest));
                Connect c = new Connect("qemu:///system");
                try {
                    assertFalse(List.of(c.listDefinedDomains()).contains("berth-" + guest), "domain left");
                } finally {
                    c.close();
                }
            }
        } finally {
            driver.close();
            assertEquals(0, readerThreads(), "console reader threads after the driver closed");
            try (Stream<Path> files = Files.walk(stateDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static String log() {
        return new String(driver.consoleLog(guest, 64 * 1024), StandardCharsets.UTF_8);
    }

    private static long readerThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith(ConsoleStream.THREAD_PREFIX)).count();
    }

    private static void type(InstanceStream console, String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        console.write(b, 0, b.length);
    }

    /** Reads until {@code needle} appeared or {@code max} passed; returns everything read. */
    private static String readUntil(InstanceStream console, String needle, Duration max) {
        StringBuilder seen = new StringBuilder();
        byte[] buf = new byte[4096];
        long deadline = System.nanoTime() + max.toNanos();
        while (seen.indexOf(needle) < 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError(needle.strip() + " not read within " + max + "; read:\n" + seen);
            }
            int n = console.read(buf, 0, buf.length, Duration.ofNanos(Math.min(left, 500_000_000L)));
            if (n < 0) {
                throw new AssertionError("console ended before " + needle.strip() + "; read:\n" + seen);
            }
            seen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
        return seen.toString();
    }

    /** Asks the shell for {@code a*b} and waits for the answer on a line of its own (not the echoed command). */
    private static void multiply(InstanceStream console, int a, int b) {
        type(console, "echo $((" + a + "*" + b + "))\r");
        readUntil(console, "\n" + a * b + "\r\n", SHELL_WAIT);
    }

    @Test
    @Order(1)
    void aShellAnswersOnTheConsoleOneSessionAtATimeAndReopens() {
        assertTrue(driver.describe().has(Capability.CONSOLE));
        long t0 = System.nanoTime();
        try (InstanceStream console = driver.openConsole(guest)) {
            long openMs = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(1, readerThreads());
            type(console, "\r"); // askfirst: Enter starts the shell
            long s0 = System.nanoTime();
            multiply(console, 6, 7);
            long answerMs = (System.nanoTime() - s0) / 1_000_000;
            System.out.printf("kvm console: open %d ms, Enter + echo $((6*7)) answered in %d ms%n", openMs, answerMs);
            assertTrue(console.exitCode().isEmpty(), "a console has no exit code");
            console.resize(120, 40); // ignored by a serial line, must not fail
            console.closeInput();
            long m0 = System.nanoTime();
            multiply(console, 3, 5); // still writable after closeInput: a console ignores it
            System.out.printf("kvm console: a command's round trip in the running shell %d ms%n",
                    (System.nanoTime() - m0) / 1_000_000);

            var second = assertThrows(DriverException.BackendFailure.class, () -> driver.openConsole(guest));
            assertTrue(second.getMessage().contains("another console session"), second.getMessage());
        }
        assertEquals(0, readerThreads(), "reader thread after close");

        try (InstanceStream again = driver.openConsole(guest)) {
            multiply(again, 7, 8); // the same shell, still running on ttyS0
        }
        long c0 = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            long o0 = System.nanoTime();
            InstanceStream s = driver.openConsole(guest);
            long o1 = System.nanoTime();
            s.close();
            long closeMs = (System.nanoTime() - o1) / 1_000_000;
            // well under libvirt's 5 s keepalive, which a blocked receive used to wait for; slack for a loaded machine
            assertTrue(closeMs < 3000, "close took " + closeMs + " ms (open " + (o1 - o0) / 1_000_000 + " ms)");
            s.close(); // idempotent
            assertEquals(-1, s.read(new byte[16], 0, 16, Duration.ofMillis(10)), "read after close");
            assertThrows(DriverException.BackendFailure.class, () -> type(s, "x"));
        }
        long cycleMs = (System.nanoTime() - c0) / 1_000_000;
        System.out.printf("kvm console: 20 open/close cycles in %d ms%n", cycleMs);
        assertEquals(0, readerThreads(), "reader threads after 20 cycles");
        try (InstanceStream last = driver.openConsole(guest)) {
            multiply(last, 9, 9); // no libvirt session left locked by the cycles
        }
    }

    @Test
    @Order(2)
    void aReaderThatFallsBehindKeepsTheNewestOutputWithinTheBuffer() throws Exception {
        try (InstanceStream console = driver.openConsole(guest)) {
            // ~1 MiB of output while nobody reads: libvirt would queue it all in this process; the reader drops
            // the oldest bytes once the buffer stayed full for STALL, so the buffer holds at most CAPACITY
            int total = 1024 * 1024;
            type(console, "yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c " + total
                    + "; echo; echo END-$((20*20))\r");
            long t0 = System.nanoTime();
            while (!log().contains("END-400") && System.nanoTime() - t0 < Duration.ofSeconds(60).toNanos()) {
                Thread.sleep(200);
            }
            long producedMs = (System.nanoTime() - t0) / 1_000_000;
            Thread.sleep(ConsoleBuffer.STALL.toMillis() + 1000); // the reader drains libvirt's queue meanwhile
            ConsoleStream raw = (ConsoleStream) console;
            assertTrue(raw.buffered() <= ConsoleBuffer.CAPACITY, "buffered " + raw.buffered());
            String all = readUntil(console, "\nEND-400\r\n", SHELL_WAIT);
            System.out.printf("kvm console: guest wrote %d bytes unread in %d ms; %d bytes dropped, %d kept%n", total,
                    producedMs, raw.dropped(), all.length());
            assertTrue(raw.dropped() > 0, "the oldest output was dropped");
            assertTrue(all.length() <= ConsoleBuffer.CAPACITY + 4096, "kept " + all.length());
            assertTrue(raw.dropped() + all.length() >= total, "every byte either read or counted as dropped");
            multiply(console, 11, 11); // the session still works after the overrun
        }
    }

    @Test
    @Order(3)
    void closingTheDriverEndsItsConsoleSessions() {
        var other = provider.create(context);
        InstanceStream console;
        try {
            console = other.openConsole(guest);
        } finally {
            other.close();
        }
        assertEquals(-1, console.read(new byte[16], 0, 16, Duration.ofSeconds(1)), "read after the driver closed");
        assertEquals(0, readerThreads(), "reader thread after the driver closed");
        try (InstanceStream again = driver.openConsole(guest)) { // libvirt's session was released
            multiply(again, 12, 12);
        }
    }

    @Test
    @Order(4)
    void unknownInstanceIsNotFound() {
        assertThrows(DriverException.InstanceNotFound.class, () -> driver.openConsole(UUID.randomUUID()));
        assertThrows(IllegalArgumentException.class, () -> driver.openConsole(null));
    }

    @Test
    @Order(5)
    void powerOffEndsTheStreamAndAStoppedInstanceHasNoConsole() {
        InstanceStream console = driver.openConsole(guest);
        try {
            long p0 = System.nanoTime();
            driver.powerOff(guest, Duration.ZERO); // forced: the stream must end however the domain stops
            long offMs = (System.nanoTime() - p0) / 1_000_000;
            byte[] buf = new byte[4096];
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            int n;
            do {
                n = console.read(buf, 0, buf.length, Duration.ofMillis(500));
            } while (n >= 0 && System.nanoTime() < deadline);
            assertEquals(-1, n, "read after power off");
            System.out.printf("kvm console: forced power off %d ms, stream ended %d ms after it began%n", offMs,
                    (System.nanoTime() - p0) / 1_000_000);
            assertThrows(DriverException.BackendFailure.class, () -> type(console, "x"));
            assertEquals(PowerState.SHUTDOWN, driver.info(guest).powerState());
            var stopped = assertThrows(DriverException.InvalidInstanceState.class, () -> driver.openConsole(guest));
            assertTrue(stopped.getMessage().contains("SHUTDOWN"), stopped.getMessage());
        } finally {
            console.close();
        }
        assertEquals(0, readerThreads(), "reader thread after the stream ended and closed");
    }
}
