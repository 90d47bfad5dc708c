package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.berth.driver.api.Capability;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.ExecSpec;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.PowerState;
import org.junit.jupiter.api.Test;

/** {@code exec} against the real engine: every test's exec processes must be gone from the container at its end. */
class ExecTest extends DockerTestBase {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration POLL = Duration.ofMillis(200);

    private UUID running() {
        InstanceSpec spec = spec("sleep", "100000");
        assertEquals(PowerState.RUNNING, driver.spawn(spec).powerState());
        return spec.uuid();
    }

    /** The command lines of the container's processes, as {@code docker top} shows them. */
    private List<String> processes(UUID uuid) {
        var top = raw.topContainerCmd(driver.info(uuid).backendId()).exec();
        int cmd = Arrays.asList(top.getTitles()).indexOf("CMD");
        return Arrays.stream(top.getProcesses()).map(p -> p[cmd]).toList();
    }

    private void awaitOnlyInit(UUID uuid) {
        AtomicReference<List<String>> seen = new AtomicReference<>();
        try {
            await("only the container's init left", WAIT, () -> {
                seen.set(processes(uuid));
                return seen.get().equals(List.of("sleep 100000"));
            });
        } catch (AssertionError e) {
            throw new AssertionError("processes left in the container: " + seen.get(), e);
        }
    }

    /** Everything the stream sends until it ends, bounded by {@link #WAIT}. */
    private static byte[] readAll(InstanceStream s) {
        var out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            int n = s.read(buf, 0, buf.length, POLL);
            if (n < 0) {
                return out.toByteArray();
            }
            out.write(buf, 0, n);
            assertTrue(System.nanoTime() < deadline, "stream did not end within " + WAIT + "; got " + out);
        }
    }

    /** Reads until {@code text} has come, bounded by {@link #WAIT}; returns all read. */
    private static String readUntil(InstanceStream s, String text) {
        var out = new StringBuilder();
        byte[] buf = new byte[4096];
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!out.toString().contains(text)) {
            int n = s.read(buf, 0, buf.length, POLL);
            assertTrue(n >= 0, () -> "stream ended before '" + text + "': " + out);
            out.append(new String(buf, 0, n, StandardCharsets.UTF_8));
            assertTrue(System.nanoTime() < deadline, () -> "no '" + text + "' within " + WAIT + ": " + out);
        }
        return out.toString();
    }

    private static void write(InstanceStream s, String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        s.write(b, 0, b.length);
    }

    @Test
    void declaresExecButNotConsole() {
        assertTrue(driver.describe().has(Capability.EXEC));
        assertFalse(driver.describe().has(Capability.CONSOLE));
        UUID uuid = running();
        var e = assertThrows(DriverException.CapabilityMissing.class, () -> driver.openConsole(uuid));
        assertEquals(Capability.CONSOLE, e.capability());
    }

    @Test
    void exitCodeOnceTheStreamEnded() {
        UUID uuid = running();
        try (InstanceStream s = driver.exec(uuid, ExecSpec.of("sh", "-c", "exit 3"))) {
            assertEquals(0, readAll(s).length);
            assertEquals(OptionalInt.of(3), s.exitCode());
            assertEquals(-1, s.read(new byte[1], 0, 1, POLL), "ended stays ended");
        }
    }

    @Test
    void stdoutAndStderrBothCome() {
        UUID uuid = running();
        try (InstanceStream s = driver.exec(uuid, ExecSpec.of("sh", "-c", "echo out; echo err >&2"))) {
            String out = new String(readAll(s), StandardCharsets.UTF_8);
            assertTrue(out.contains("out\n") && out.contains("err\n"), out);
            assertEquals(OptionalInt.of(0), s.exitCode());
        }
    }

    @Test
    void envAndWorkingDirAreApplied() {
        UUID uuid = running();
        var spec = new ExecSpec(List.of("sh", "-c", "echo \"$GREETING\"; pwd"), Map.of("GREETING", "hello there"),
                Optional.of("/etc"), false, 80, 24);
        try (InstanceStream s = driver.exec(uuid, spec)) {
            assertEquals("hello there\n/etc\n", new String(readAll(s), StandardCharsets.UTF_8));
        }
    }

    /** Docker answers a missing program in the stream (runc's message) and with exit code 126, as the CLI. */
    @Test
    void aMissingProgramEndsWith126AndSaysWhy() {
        UUID uuid = running();
        try (InstanceStream s = driver.exec(uuid, ExecSpec.of("no-such-program"))) {
            String out = new String(readAll(s), StandardCharsets.UTF_8);
            assertTrue(out.contains("no-such-program") && out.contains("not found"), out);
            assertEquals(OptionalInt.of(126), s.exitCode());
        }
    }

    @Test
    void aMebibyteThroughCatComesBackIdentical() throws Exception {
        UUID uuid = running();
        byte[] data = random(1 << 20);
        try (InstanceStream s = driver.exec(uuid, ExecSpec.of("cat"))) {
            Thread writer = writer(s, data, new AtomicLong(), new AtomicReference<>());
            byte[] back = readAll(s);
            writer.join(WAIT.toMillis());
            assertArrayEquals(sha256(data), sha256(back), "sha256 of " + back.length + " bytes back");
            assertEquals(OptionalInt.of(0), s.exitCode());
        }
        awaitOnlyInit(uuid);
    }

    /**
     * Nobody reads: the writer stalls once the pipes and socket buffers are full (the driver stopped reading from
     * the engine, so its memory stays one buffer); then a slow reader gets every byte. 8 MiB, since the kernel's
     * pipes and socket buffers on the way hold about 1.8 MiB here: 1 MiB would never stall.
     */
    @Test
    void aSlowReaderHoldsBackTheCommandAndLosesNothing() throws Exception {
        UUID uuid = running();
        byte[] data = random(8 << 20);
        try (InstanceStream s = driver.exec(uuid, ExecSpec.of("cat"))) {
            AtomicLong written = new AtomicLong();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread writer = writer(s, data, written, failed);
            long last = -1;
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (written.get() != last) { // until it made no progress for 500 ms
                last = written.get();
                Thread.sleep(500);
                assertTrue(System.nanoTime() < deadline, "writer never stalled");
            }
            assertTrue(written.get() < data.length, "backpressure: the writer stalled at " + written.get());
            var out = new ByteArrayOutputStream();
            byte[] buf = new byte[64 * 1024];
            long readDeadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            int reads = 0;
            for (int n; (n = s.read(buf, 0, buf.length, POLL)) >= 0; ) {
                out.write(buf, 0, n);
                if (++reads % 16 == 0) {
                    Thread.sleep(5); // slow
                }
                assertTrue(System.nanoTime() < readDeadline, "slow read did not finish");
            }
            writer.join(WAIT.toMillis());
            assertEquals(null, failed.get());
            assertArrayEquals(sha256(data), sha256(out.toByteArray()), "sha256 of " + out.size() + " bytes back");
        }
    }

    @Test
    void aTerminalRunsAnInteractiveShellAndResizes() {
        UUID uuid = running();
        try (InstanceStream s = driver.exec(uuid, ExecSpec.of("sh").withTty(100, 30))) {
            write(s, "echo $((6*7))\n");
            readUntil(s, "42");
            write(s, "stty size\n");
            readUntil(s, "30 100");
            s.resize(132, 43);
            write(s, "stty size\n");
            readUntil(s, "43 132");
            write(s, "exit 5\n");
            readAll(s);
            assertEquals(OptionalInt.of(5), s.exitCode());
        }
    }

    @Test
    void closeInputOnATerminalEndsCat() {
        UUID uuid = running();
        try (InstanceStream s = driver.exec(uuid, ExecSpec.of("cat").withTty(80, 24))) {
            write(s, "hello\n");
            readUntil(s, "hello\r\nhello\r\n"); // the terminal's echo, then cat's
            s.closeInput();
            readAll(s);
            assertEquals(OptionalInt.of(0), s.exitCode());
            assertThrows(DriverException.BackendFailure.class, () -> write(s, "late\n"));
        }
        awaitOnlyInit(uuid);
    }

    @Test
    void closeKillsTheCommandAndWhatItStartedAndEndsABlockedRead() throws Exception {
        UUID uuid = running();
        InstanceStream s = driver.exec(uuid, ExecSpec.of("sh", "-c", "sleep 1001 & sleep 1002; wait"));
        await("the exec's sleeps", WAIT, () -> processes(uuid).containsAll(List.of("sleep 1001", "sleep 1002")));
        AtomicReference<Integer> got = new AtomicReference<>();
        Thread reader = Thread.ofPlatform().start(() -> got.set(s.read(new byte[16], 0, 16, Duration.ofSeconds(30))));
        Thread.sleep(200);
        long t0 = System.nanoTime();
        s.close();
        reader.join(WAIT.toMillis());
        assertEquals(-1, got.get(), "a read blocked in another thread returns -1");
        assertTrue(System.nanoTime() - t0 < WAIT.toNanos());
        awaitOnlyInit(uuid);
        s.close(); // idempotent
        assertEquals(-1, s.read(new byte[1], 0, 1, POLL));
    }

    @Test
    void closingTheDriverEndsItsOpenExecs() {
        UUID uuid = running();
        var other = newDriver(Optional.empty(), org.berth.driver.api.EventSink.DISCARD);
        InstanceStream s;
        try {
            s = other.exec(uuid, ExecSpec.of("sh", "-c", "echo up; exec sleep 1004"));
            readUntil(s, "up");
        } finally {
            other.close();
        }
        assertEquals(-1, s.read(new byte[1], 0, 1, POLL), "the stream ended with its driver");
        awaitOnlyInit(uuid);
    }

    /** A command that never reads its stdin: once the buffers on the way are full, write fails by the call timeout. */
    @Test
    void aWriteNobodyTakesTimesOut() {
        UUID uuid = running();
        var quick = new DockerDriverProvider().create(new org.berth.driver.api.DriverContext(
                new org.berth.driver.api.DriverConfig("docker", Map.of("call_timeout", "1s")), store, Optional.empty(),
                org.berth.driver.api.EventSink.DISCARD, stateDir, TEST_OWNER));
        try (InstanceStream s = quick.exec(uuid, ExecSpec.of("sh", "-c", "echo up; exec sleep 1005"))) {
            readUntil(s, "up");
            byte[] chunk = new byte[64 * 1024];
            long t0 = System.nanoTime();
            var e = assertThrows(DriverException.OperationTimedOut.class, () -> {
                for (int i = 0; i < 1024; i++) { // 64 MiB: far more than any pipe and socket buffer
                    s.write(chunk, 0, chunk.length);
                }
            });
            assertEquals(Duration.ofSeconds(1), e.timeout());
            assertTrue(System.nanoTime() - t0 < WAIT.toNanos(), "bounded");
        } finally {
            quick.close();
        }
        awaitOnlyInit(uuid);
    }

    @Test
    void onlyARunningContainerExecs() {
        UUID off = driver.spawn(spec("sleep", "100000").withPowerOn(false)).uuid();
        var e = assertThrows(DriverException.InvalidInstanceState.class, () -> driver.exec(off, ExecSpec.of("true")));
        assertEquals(PowerState.SHUTDOWN, e.found());
        assertEquals("exec", e.operation());

        UUID paused = running();
        driver.pause(paused);
        e = assertThrows(DriverException.InvalidInstanceState.class, () -> driver.exec(paused, ExecSpec.of("true")));
        assertEquals(PowerState.PAUSED, e.found());
        driver.unpause(paused);

        assertThrows(DriverException.InstanceNotFound.class, () -> driver.exec(UUID.randomUUID(), ExecSpec.of("true")));
    }

    /** Sessions closed mid-stream (a busy one, a blocked one) leave no process, thread or socket behind. */
    @Test
    void fiftySessionsClosedMidStreamLeaveNothing() {
        UUID uuid = running();
        byte[] buf = new byte[4096];
        s(uuid, "yes").close(); // the first exec opens the client's pooled connections: count after it
        long threads = threads();
        long sockets = sockets();
        for (int i = 0; i < 50; i++) {
            ExecSpec spec = i % 2 == 0 ? ExecSpec.of("yes", "berth") : ExecSpec.of("sh", "-c", "echo up; sleep 1003");
            try (InstanceStream s = driver.exec(uuid, spec)) {
                assertTrue(s.read(buf, 0, buf.length, WAIT) > 0, "session " + i + " sends output");
            }
        }
        awaitOnlyInit(uuid);
        await("no thread of ours left", WAIT, () -> threads() <= threads);
        assertTrue(sockets() <= sockets + 4, () -> "open sockets: " + sockets() + ", before " + sockets);
    }

    private InstanceStream s(UUID uuid, String... argv) {
        return driver.exec(uuid, ExecSpec.of(argv));
    }

    /** Live threads, but the engine's call workers (a pool whose idle threads die after 30 s). */
    private static long threads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .filter(t -> !t.getName().startsWith("berth-docker-call-")).count();
    }

    private static long sockets() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith("socket:");
                } catch (IOException e) {
                    return false; // closed meanwhile
                }
            }).count();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Thread writer(InstanceStream s, byte[] data, AtomicLong written, AtomicReference<Throwable> failed) {
        return Thread.ofPlatform().name("exec-test-writer").start(() -> {
            try {
                for (int off = 0; off < data.length; off += 8192) {
                    int n = Math.min(8192, data.length - off);
                    s.write(data, off, n);
                    written.addAndGet(n);
                }
                s.closeInput();
            } catch (Throwable t) {
                failed.set(t);
            }
        });
    }

    private static byte[] random(int size) {
        byte[] b = new byte[size];
        new Random(size).nextBytes(b);
        return b;
    }

    private static byte[] sha256(byte[] b) throws NoSuchAlgorithmException {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }
}
