package org.berth.agent.placement;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;

/**
 * A real Placement started by {@code scripts/placement.sh} in {@code /var/tmp/berth-placement-<pid>-*} on a free
 * loopback port. {@link #shared()} is one per test JVM, started on first use and stopped (its directory removed)
 * by a shutdown hook when the JVM ends; a test that stops Placement on purpose takes its own with {@link #own()}.
 * Directories of JVMs that died without their hook (kill -9) are cleaned by the next {@link #shared()}.
 */
public final class PlacementServer implements AutoCloseable {
    private static final Duration SCRIPT_TIMEOUT = Duration.ofSeconds(120);
    private static final Pattern DIR = Pattern.compile("berth-placement-(\\d+)-.*");
    private static PlacementServer shared;

    public final Path dir;
    public final URI url;
    private final int port;

    private PlacementServer(Path dir, int port) {
        this.dir = dir;
        this.port = port;
        this.url = URI.create("http://127.0.0.1:" + port);
    }

    /** The JVM's Placement, started on first use. */
    public static synchronized PlacementServer shared() {
        if (shared != null && !shared.answers()) {
            // not expected: say so with its log, and start it again on the same database
            System.err.println("PlacementServer: the shared Placement in " + shared.dir + " stopped answering; "
                    + "starting it again. Its log ends:\n" + shared.logTail());
            shared.start();
        }
        if (shared == null) {
            reapOrphans();
            shared = own();
            PlacementServer s = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(s::close, "berth-placement-stop"));
        }
        return shared;
    }

    /** A Placement of the caller's own (close it). */
    public static PlacementServer own() {
        try {
            Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "berth-placement-" + ProcessHandle.current().pid() + "-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            PlacementServer s = new PlacementServer(dir, freePort());
            try {
                s.start();
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts it again on the same directory and port (the database is kept). */
    public void start() {
        script("start", dir.toString(), Integer.toString(port));
    }

    /** {@code scripts/placement.sh status}: running and answering. */
    public boolean answers() {
        try {
            return script("status", dir.toString()).startsWith("running");
        } catch (IllegalStateException e) {
            return false;
        }
    }

    String logTail() {
        try {
            java.util.List<String> lines = Files.readAllLines(dir.resolve("placement.log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Stops the server; the directory stays (start again, or close). */
    public void stop() {
        script("stop", dir.toString());
    }

    /** Stops it and removes its directory. */
    @Override
    public void close() {
        try {
            stop();
        } finally {
            delete(dir);
        }
    }

    /** A free loopback port now (the server binds it a moment later; a clash fails the start loudly). */
    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static void reapOrphans() {
        try (Stream<Path> dirs = Files.list(Path.of("/var/tmp"))) {
            dirs.forEach(d -> {
                Matcher m = DIR.matcher(d.getFileName().toString());
                if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
                    script("stop", d.toString());
                    delete(d);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path script() {
        Path here = Path.of("").toAbsolutePath();
        for (Path p = here; p != null; p = p.getParent()) {
            Path s = p.resolve("scripts/placement.sh");
            if (Files.isExecutable(s)) {
                return s;
            }
        }
        throw new IllegalStateException("scripts/placement.sh not found above " + here);
    }

    private static String script(String... args) {
        CommandLine cmd = new CommandLine(script().toString());
        for (String a : args) {
            cmd.addArgument(a, false);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DefaultExecutor ex = DefaultExecutor.builder().get();
        ex.setStreamHandler(new PumpStreamHandler(out));
        ex.setWatchdog(ExecuteWatchdog.builder().setTimeout(SCRIPT_TIMEOUT).get());
        try {
            ex.execute(cmd);
            return out.toString(StandardCharsets.UTF_8).strip();
        } catch (ExecuteException e) {
            throw new IllegalStateException("placement.sh " + String.join(" ", args) + " failed (" + e.getExitValue()
                    + "): " + out.toString(StandardCharsets.UTF_8).strip(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }
}
