package org.berth.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * An ovsdb-server of its own on a unix socket under a temporary directory, with an empty Open_vSwitch row and no
 * ovs-vswitchd: for tests that change the Open_vSwitch row or play ovn-controller, which must not touch the host's
 * switch that other tests share. Closing stops the server and deletes the directory.
 */
public final class PrivateOvsdb implements AutoCloseable {
    private static final String SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
    private final Path dir;

    public PrivateOvsdb() throws IOException, InterruptedException {
        // under /var/tmp/berth-*: make test's run-wide leak guard sees a server a failed close left behind
        dir = Files.createTempDirectory(Path.of("/var/tmp"), "berth-ovsdb-");
        try {
            run("ovsdb-tool", "create", dir.resolve("conf.db").toString(), SCHEMA);
            run("ovsdb-server", dir.resolve("conf.db").toString(), "--remote=punix:" + socket(),
                    "--pidfile=" + dir.resolve("ovsdb-server.pid"), "--unixctl=" + dir.resolve("ovsdb-server.ctl"),
                    "--log-file=" + dir.resolve("ovsdb-server.log"), "--detach", "--no-chdir");
            vsctl("init");
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The server's directory (its database, socket and log), for the test's own files too. */
    public Path dir() {
        return dir;
    }

    public Path socket() {
        return dir.resolve("db.sock");
    }

    /** The endpoint in ovsdb-server's notation. */
    public String endpoint() {
        return "unix:" + socket();
    }

    /** {@code ovs-vsctl --no-wait} against this server (no vswitchd to wait for). */
    public String vsctl(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ovs-vsctl", "--db=" + endpoint(), "--no-wait", "--timeout=10"));
        cmd.addAll(List.of(args));
        return run(cmd.toArray(String[]::new)).strip();
    }

    /** Runs {@code cmd} (no shell), at most 20 s; its output, or an exception with it when it fails. */
    private static String run(String... cmd) {
        Cmd.Result r = Cmd.run(java.time.Duration.ofSeconds(20), List.of(cmd));
        return r.orThrow();
    }

    @Override
    public void close() throws IOException {
        Path pidfile = dir.resolve("ovsdb-server.pid");
        java.util.Optional<ProcessHandle> server = Files.exists(pidfile)
                ? ProcessHandle.of(Long.parseLong(Files.readString(pidfile).strip())) : java.util.Optional.empty();
        try {
            if (Files.exists(dir.resolve("ovsdb-server.ctl"))) {
                run("ovs-appctl", "--timeout=10", "-t", dir.resolve("ovsdb-server.ctl").toString(), "exit");
            }
        } catch (RuntimeException e) {
            // it did not exit when asked: end it by its pid, so no server outlives its directory
            server.ifPresent(ProcessHandle::destroyForcibly);
        } finally {
            // the server removes its pidfile and socket on its way out: wait for it (bounded) before deleting
            server.ifPresent(h -> {
                try {
                    h.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
                } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException x) {
                    h.destroyForcibly();
                } catch (InterruptedException x) {
                    Thread.currentThread().interrupt();
                }
            });
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
