package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecuteResultHandler;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.PumpStreamHandler;
import org.berth.agent.TestAgent;
import org.berth.agent.TestAgent.Reply;
import org.berth.lab.TestImages;

/**
 * The real agent as a child JVM ({@code java -cp <this JVM's class path> org.berth.agent.Main --config FILE}) with
 * the docker and kvm drivers, OVS on br-int, a temp directory under /var/tmp and an ephemeral loopback port. The
 * state directory is under a 0700 {@code home/} (as a clone under /root is); instances_path ({@code instances/},
 * which QEMU must reach) is not. Its log goes to {@code agent.log} in that directory and is printed when it fails to start.
 */
final class AgentProcess implements AutoCloseable {
    static final Duration START_TIMEOUT = Duration.ofSeconds(150);
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern LISTENING = Pattern.compile("berth agent listening on http://127\\.0\\.0\\.1:(\\d+)");

    final Path root;
    final Path stateDir;
    /** instances_path: the drivers' instance files, {@code <this>/<driver>/<uuid>}. */
    final Path instancesPath;
    final Path log;
    private final Path config;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private Process process;
    private int port;
    private String token;

    private AgentProcess(Path root, String extraYaml) throws IOException {
        this.root = root;
        // the state under a directory QEMU's user cannot enter, as in a clone under /root: instances_path is the
        // only place QEMU needs to reach
        Path home = Files.createDirectories(root.resolve("home"));
        Files.setPosixFilePermissions(home, PosixFilePermissions.fromString("rwx------"));
        this.stateDir = home.resolve("state");
        this.instancesPath = root.resolve("instances");
        this.log = root.resolve("agent.log");
        this.config = root.resolve("agent.yaml");
        Path images = TestImages.dir();
        Files.writeString(config, """
                listen_address: 127.0.0.1
                listen_port: 0
                state_dir: %s
                instances_path: %s
                image_dirs: [%s]
                bridge: br-int
                drivers:
                  docker: {enabled: true, options: {stop_timeout: 2s}}
                  kvm: {enabled: true}
                shutdown_timeout: 30s
                driver_retry_max_backoff: 2s
                """.formatted(stateDir, instancesPath, images) + extraYaml);
    }

    /**
     * Writes the configuration ({@code extraYaml} is appended: it may set {@code sync_power_state_interval}) and
     * starts the agent.
     */
    static AgentProcess start(String extraYaml) throws IOException, InterruptedException {
        Path root = Files.createTempDirectory(Path.of("/var/tmp"), "berth-it-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        AgentProcess a = new AgentProcess(root, extraYaml);
        try {
            a.start();
        } catch (IOException | InterruptedException | RuntimeException | AssertionError e) {
            a.close();
            throw e;
        }
        return a;
    }

    /** Starts (or restarts, on the same state) the child JVM and waits for /healthz, bounded by START_TIMEOUT. */
    void start() throws IOException, InterruptedException {
        if (alive()) {
            throw new IllegalStateException("the agent is already running (pid " + process.pid() + ")");
        }
        long logStart = Files.exists(log) ? Files.size(log) : 0;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        CommandLine cmd = new CommandLine(java);
        for (String arg : new String[] {"--enable-native-access=ALL-UNNAMED", "-Xmx384m", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), "org.berth.agent.Main", "--config", config.toString()}) {
            cmd.addArgument(arg, false);
        }
        OutputStream out = Files.newOutputStream(log, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        AtomicReference<Process> launched = new AtomicReference<>();
        @SuppressWarnings("deprecation") // the builder offers no way to get at the Process (needed for SIGKILL)
        DefaultExecutor executor = new DefaultExecutor() {
            @Override
            protected Process launch(CommandLine command, Map<String, String> env, Path dir) throws IOException {
                Process p = super.launch(command, env, dir);
                launched.set(p);
                return p;
            }

            @Override
            protected Process launch(CommandLine command, Map<String, String> env, java.io.File dir) throws IOException {
                Process p = super.launch(command, env, dir);
                launched.set(p);
                return p;
            }
        };
        executor.setStreamHandler(new PumpStreamHandler(out, out));
        executor.setExitValues(null);
        executor.execute(cmd, new DefaultExecuteResultHandler() {
            @Override
            public void onProcessComplete(int exitValue) {
                closeQuietly(out);
                super.onProcessComplete(exitValue);
            }

            @Override
            public void onProcessFailed(org.apache.commons.exec.ExecuteException e) {
                closeQuietly(out);
                super.onProcessFailed(e);
            }
        });
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (launched.get() == null && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        process = launched.get();
        if (process == null) {
            fail("the agent JVM did not launch within " + START_TIMEOUT.toSeconds() + " s");
        }
        port = 0;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                fail("the agent exited with " + process.exitValue() + " while starting; log:\n" + logTail(8000));
            }
            if (port == 0) {
                port = listeningPort(logStart);
            }
            if (port > 0 && healthy()) {
                token = Files.readString(stateDir.resolve("token")).trim();
                awaitFirstSweep(deadline);
                return;
            }
            Thread.sleep(200);
        }
        process.destroyForcibly().waitFor();
        fail("the agent did not answer /healthz within " + START_TIMEOUT.toSeconds() + " s; log:\n" + logTail(8000));
    }

    /** Tests never race with the start-up reconcile (adoption, interrupted tasks): waits for its end. */
    private void awaitFirstSweep(long deadline) throws IOException, InterruptedException {
        Pattern sweeps = Pattern.compile("(?m)^berth_reconcile_sweeps_total (\\d+)$");
        String last = "";
        while (System.nanoTime() < deadline) {
            Reply r = call("GET", "/metrics", null);
            last = r.body();
            Matcher m = sweeps.matcher(last);
            if (r.status() == 200 && m.find() && Long.parseLong(m.group(1)) >= 1) {
                return;
            }
            Thread.sleep(200);
        }
        fail("the agent's start-up reconcile sweep did not end within " + START_TIMEOUT.toSeconds() + " s; metrics:\n"
                + last + "\nlog:\n" + logTail(4000));
    }

    private int listeningPort(long from) throws IOException {
        byte[] all = Files.readAllBytes(log);
        String since = new String(all, (int) Math.min(from, all.length), all.length - (int) Math.min(from, all.length),
                StandardCharsets.UTF_8);
        Matcher m = LISTENING.matcher(since);
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    private boolean healthy() {
        try {
            return TestAgent.send(http, port, "GET", "/healthz", null, null, Duration.ofSeconds(5)).status() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    boolean alive() {
        return process != null && process.isAlive();
    }

    long pid() {
        return process.pid();
    }

    /** SIGTERM, then waits (bounded); a JVM still running after STOP_TIMEOUT gets SIGKILL and the call fails. */
    int stop() throws InterruptedException {
        if (!alive()) {
            return process == null ? 0 : process.exitValue();
        }
        if (!terminate()) {
            fail("the agent did not stop within " + STOP_TIMEOUT.toSeconds() + " s of SIGTERM; log:\n" + logTail(4000));
        }
        return process.exitValue();
    }

    /** SIGTERM and a wait of STOP_TIMEOUT; false when the JVM had to be SIGKILLed (a bounded wait) after that. */
    private boolean terminate() throws InterruptedException {
        process.destroy();
        if (process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
            return true;
        }
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        return false;
    }

    /** kill -9: no shutdown hook runs, in-flight tasks stay journaled as they were. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            fail("the agent (pid " + process.pid() + ") survived SIGKILL for 30 s");
        }
    }

    String token() {
        return token;
    }

    int port() {
        return port;
    }

    Reply call(String method, String path, String body) throws IOException, InterruptedException {
        return callWithToken(method, path, body, token);
    }

    Reply callWithToken(String method, String path, String body, String bearer) throws IOException, InterruptedException {
        return TestAgent.send(http, port, method, path, body, bearer, CALL_TIMEOUT);
    }

    /** GET /v1/instances/{uuid}: the instance, or null when the agent says 404. */
    JsonNode instance(UUID uuid) throws IOException, InterruptedException {
        Reply r = call("GET", "/v1/instances/" + uuid, null);
        if (r.status() == 404) {
            return null;
        }
        if (r.status() != 200) {
            fail("GET /v1/instances/" + uuid + " answered " + r.status() + ": " + r.body());
        }
        return r.json().get("instance");
    }

    /** Polls the instance (null = 404) until {@code condition} holds, at most {@code limit}. */
    JsonNode awaitInstance(UUID uuid, Duration limit, String what, Predicate<JsonNode> condition)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            last = instance(uuid);
            if (condition.test(last)) {
                return last;
            }
            Thread.sleep(500);
        }
        return fail("instance " + uuid + " not " + what + " within " + limit.toSeconds() + " s; last: " + last);
    }

    /** Waits until the instance's task is over and it is ACTIVE/RUNNING (fails early if it went to error). */
    JsonNode awaitRunning(UUID uuid, Duration limit) throws IOException, InterruptedException {
        JsonNode i = awaitInstance(uuid, limit, "running", n -> n == null || n.get("task_state").isNull()
                && (n.path("power_state").asText().equals("RUNNING") || n.path("vm_state").asText().equals("error")));
        if (i == null || !i.path("power_state").asText().equals("RUNNING")) {
            fail("instance " + uuid + " did not reach RUNNING: " + i);
        }
        return i;
    }

    /** The last {@code max} characters of the agent's log. */
    String logTail(int max) {
        try {
            String all = Files.readString(log, StandardCharsets.UTF_8);
            return all.length() <= max ? all : all.substring(all.length() - max);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /** Stops the agent if it runs (SIGTERM, bounded) and deletes the directory. */
    @Override
    public void close() {
        try {
            if (alive()) {
                terminate();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            try (Stream<Path> walk = Files.walk(root)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete " + root, e);
            }
        }
    }

    private static void closeQuietly(OutputStream out) {
        try {
            out.close();
        } catch (IOException ignored) {
            // the log file is best effort
        }
    }
}
