package org.berth.ovs;

import org.berth.driver.api.VifSpec;
import org.berth.ovs.link.Commands;
import org.berth.ovs.ovsdb.OvsdbClient;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native client over {@code tcp:}: the test gives the host's ovsdb-server a loopback TCP remote
 * ({@code ovs-appctl -t ovsdb-server ovsdb-server/add-remote ptcp:PORT:127.0.0.1}), plugs and unplugs a tap through
 * it into a bridge the plugger creates, reads the result back over the unix socket with {@code ovs-vsctl}, and removes
 * the remote again, also when the test fails.
 */
class OvsdbTcpRemoteTest {
    private static final Commands COMMANDS = new Commands(Duration.ofSeconds(20));
    private static final Duration LISTEN = Duration.ofSeconds(10);

    @Test
    void plugsAndUnplugsThroughALoopbackTcpRemote() throws Exception {
        String bridge = "br-bt" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));
        String mac = String.format("fa:16:3e:15:%02x:%02x", ThreadLocalRandom.current().nextInt(256),
                ThreadLocalRandom.current().nextInt(256));
        VifSpec vif = new VifSpec(UUID.randomUUID().toString(), mac, bridge, 1500, Optional.empty(), List.of(),
                Optional.empty());
        UUID instance = UUID.randomUUID();
        var problems = new ArrayList<String>();
        String remote = null;
        try {
            int port = addLoopbackRemote();
            remote = "ptcp:" + port + ":127.0.0.1";
            var config = OvsVifConfig.defaults().withOvsdb("tcp:127.0.0.1:" + port).withCreateBridges(true);
            try (OvsVifPlugger plugger = OvsVifPlugger.connect(config)) {
                assertTrue(tcpStates(port).contains("01"), "no established TCP connection to 127.0.0.1:" + port);
                OvsdbClient.await(plugger.client().echo());

                assertEquals(vif.devName(), plugger.plugTap(instance, vif));
                plugger.awaitAttached(instance, vif);
                // Read back over the unix socket, with the operators' tool.
                assertEquals(OvsVifConfig.Datapath.AUTO.ovsValue(), vsctl("get", "Bridge", bridge, "datapath_type"));
                assertEquals(List.of(vif.devName()), vsctl("list-ports", bridge).lines().toList());
                assertEquals(Map.of("iface-id", vif.portId(), "iface-status", "active", "attached-mac", vif.mac(),
                        "vm-uuid", instance.toString()), plugger.db().findInterface(vif.devName()).orElseThrow().externalIds());
                assertEquals("\"" + vif.portId() + "\"", vsctl("get", "Interface", vif.devName(), "external_ids:iface-id"));
                assertTrue(Long.parseLong(vsctl("get", "Interface", vif.devName(), "ofport")) > 0, "no ofport");

                plugger.unplug(instance, vif);
                assertEquals("", vsctl("list-ports", bridge));
                assertTrue(plugger.awaitDevicesDeleted(Duration.ofSeconds(10)), "tap deletion still under way");
                assertFalse(Files.exists(Path.of("/sys/class/net", vif.devName())), "tap left after unplug");
            }
        } finally {
            if (remote != null) {
                var r = COMMANDS.tryRun(List.of("ovs-appctl", "-t", "ovsdb-server", "ovsdb-server/remove-remote", remote),
                        null);
                if (r.exitCode() != 0) {
                    problems.add("remove-remote " + remote + ": " + r.stderr().strip());
                }
            }
            COMMANDS.tryRun(List.of("ip", "link", "del", "dev", vif.devName()), null);
            COMMANDS.tryRun(List.of("ovs-vsctl", "--timeout=10", "--if-exists", "del-br", bridge), null);
        }
        if (remote != null) {
            assertFalse(remotes().contains(remote), "remote still configured: " + remotes());
            int port = Integer.parseInt(remote.split(":")[1]);
            long deadline = System.nanoTime() + LISTEN.toNanos();
            while (tcpStates(port).contains("0A") && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertFalse(tcpStates(port).contains("0A"), "ovsdb-server still listens on 127.0.0.1:" + port);
        }
        assertFalse(bridgeExists(bridge), "bridge " + bridge + " left behind");
        assertTrue(problems.isEmpty(), () -> "cleanup: " + problems);
    }

    /**
     * Adds {@code ptcp:PORT:127.0.0.1} on a port that was free a moment ago and waits until ovsdb-server listens;
     * another process may take the port in between, so a few ports are tried.
     */
    private static int addLoopbackRemote() throws Exception {
        var tried = new ArrayList<Integer>();
        for (int attempt = 0; attempt < 3; attempt++) {
            int port;
            try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = probe.getLocalPort();
            }
            tried.add(port);
            String remote = "ptcp:" + port + ":127.0.0.1";
            COMMANDS.run(List.of("ovs-appctl", "-t", "ovsdb-server", "ovsdb-server/add-remote", remote));
            assertTrue(remotes().contains(remote), "add-remote did not take: " + remotes());
            long deadline = System.nanoTime() + LISTEN.toNanos();
            while (System.nanoTime() < deadline) {
                if (tcpStates(port).contains("0A")) {
                    return port;
                }
                Thread.sleep(50);
            }
            COMMANDS.run(List.of("ovs-appctl", "-t", "ovsdb-server", "ovsdb-server/remove-remote", remote));
        }
        throw new AssertionError("ovsdb-server did not listen on any of 127.0.0.1:" + tried);
    }

    private static List<String> remotes() {
        return COMMANDS.run(List.of("ovs-appctl", "-t", "ovsdb-server", "ovsdb-server/list-remotes")).lines()
                .map(String::strip).toList();
    }

    /**
     * The TCP states ({@code 0A} listen, {@code 01} established) of IPv4 sockets on 127.0.0.1 whose local or remote
     * port is {@code port}, from /proc/net/tcp.
     */
    private static List<String> tcpStates(int port) throws IOException {
        String endpoint = "0100007F:" + String.format(Locale.ROOT, "%04X", port);
        return Files.readAllLines(Path.of("/proc/net/tcp")).stream().skip(1).map(String::strip)
                .map(l -> l.split("\\s+"))
                .filter(f -> f[1].equals(endpoint) || f[2].equals(endpoint))
                .map(f -> f[3]).toList();
    }

    private static boolean bridgeExists(String bridge) {
        return COMMANDS.tryRun(List.of("ovs-vsctl", "--timeout=10", "br-exists", bridge), null).exitCode() == 0;
    }

    private static String vsctl(String... args) {
        var argv = new ArrayList<>(List.of("ovs-vsctl", "--timeout=10"));
        argv.addAll(List.of(args));
        return COMMANDS.run(argv).strip();
    }
}
