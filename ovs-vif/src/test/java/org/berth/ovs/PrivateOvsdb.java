package org.berth.ovs;

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
final class PrivateOvsdb implements AutoCloseable {
    private static final String SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
    final Path dir;

    PrivateOvsdb() throws IOException, InterruptedException {
        dir = Files.createTempDirectory("berth-ovsdb-");
        try {
            TestNamespace.sh("ovsdb-tool", "create", dir.resolve("conf.db").toString(), SCHEMA);
            TestNamespace.sh("ovsdb-server", dir.resolve("conf.db").toString(), "--remote=punix:" + socket(),
                    "--pidfile=" + dir.resolve("ovsdb-server.pid"), "--unixctl=" + dir.resolve("ovsdb-server.ctl"),
                    "--log-file=" + dir.resolve("ovsdb-server.log"), "--detach", "--no-chdir");
            vsctl("init");
        } catch (IOException | InterruptedException | RuntimeException e) {
            close();
            throw e;
        }
    }

    Path socket() {
        return dir.resolve("db.sock");
    }

    /** The endpoint in ovsdb-server's notation. */
    String endpoint() {
        return "unix:" + socket();
    }

    /** {@code ovs-vsctl --no-wait} against this server (no vswitchd to wait for). */
    String vsctl(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ovs-vsctl", "--db=" + endpoint(), "--no-wait", "--timeout=10"));
        cmd.addAll(List.of(args));
        return TestNamespace.sh(cmd.toArray(String[]::new)).strip();
    }

    @Override
    public void close() throws IOException {
        try {
            if (Files.exists(dir.resolve("ovsdb-server.ctl"))) {
                TestNamespace.run(List.of("ovs-appctl", "--timeout=10", "-t", dir.resolve("ovsdb-server.ctl").toString(), "exit"));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
