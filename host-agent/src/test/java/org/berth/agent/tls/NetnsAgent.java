package org.berth.agent.tls;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.berth.ovs.link.Commands;

/**
 * The real agent as a child JVM inside a network namespace ({@code ip netns exec NS java … org.berth.agent.Main
 * --config FILE}, which execs: the process is the JVM), with the fake driver and no OVS. Its output goes to
 * {@code agent.log} in its directory.
 */
final class NetnsAgent implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    final Path dir;
    final Path stateDir;
    final Path log;
    final String address;
    final int port;
    private final Process process;

    private NetnsAgent(Path dir, String address, int port, Process process) {
        this.dir = dir;
        this.stateDir = dir.resolve("state");
        this.log = dir.resolve("agent.log");
        this.address = address;
        this.port = port;
        this.process = process;
    }

    /** Writes the configuration ({@code extraYaml} appended) and launches the JVM; see {@link #awaitListening}. */
    static NetnsAgent launch(String netns, Path dir, String address, int port, String extraYaml) throws IOException {
        Files.createDirectories(dir.resolve("images"));
        Path config = dir.resolve("agent.yaml");
        Files.writeString(config, """
                listen_address: %s
                listen_port: %d
                state_dir: %s
                instances_path: %s
                image_dirs: [%s]
                ovs: {enabled: false}
                drivers: {fake: {}}
                shutdown_timeout: 5s
                """.formatted(address, port, dir.resolve("state"), dir.resolve("instances"), dir.resolve("images"))
                + extraYaml);
        Process p = new ProcessBuilder(List.of("ip", "netns", "exec", netns, javaBin(), "-Xmx256m",
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                "org.berth.agent.Main", "--config", config.toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile()).start();
        return new NetnsAgent(dir, address, port, p);
    }

    static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    void awaitListening() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                fail("the agent exited with " + process.exitValue() + " while starting; log:\n" + log());
            }
            if (log().matches("(?s).*berth agent listening on https?://" + java.util.regex.Pattern.quote(address + ":"
                    + port) + "\\b.*")) {
                return;
            }
            Thread.sleep(100);
        }
        fail("the agent did not listen within " + START_TIMEOUT.toSeconds() + " s; log:\n" + log());
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive();
    }

    String token() throws IOException {
        return Files.readString(stateDir.resolve("token")).trim();
    }

    void sighup() {
        new Commands(Duration.ofSeconds(10)).run(List.of("kill", "-HUP", Long.toString(process.pid())));
    }

    String log() throws IOException {
        return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
    }

    /** Lines of the log that contain {@code fragment}. */
    long count(String fragment) throws IOException {
        return log().lines().filter(l -> l.contains(fragment)).count();
    }

    /** Waits until the log has more than {@code before} lines with {@code fragment}; returns the newest one. */
    String awaitLine(String fragment, long before, Duration limit) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            List<String> lines = log().lines().filter(l -> l.contains(fragment)).toList();
            if (lines.size() > before) {
                return lines.getLast();
            }
            Thread.sleep(50);
        }
        return fail("no new log line with '" + fragment + "' within " + limit.toMillis() + " ms; log:\n" + log());
    }

    /** SIGTERM, bounded; SIGKILL after 30 s. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
