package org.berth.ovs;

import org.berth.driver.api.DriverException;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifSpec;
import org.berth.ovs.ovsdb.VswitchDb;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Against the host's real ovsdb-server and ovs-vswitchd ({@code br-int}, netdev datapath). Every test uses fresh
 * random port ids and removes what it plugged, also when it fails; the OVS state is read back with {@code ovs-vsctl}.
 */
class OvsVifPluggerTest {
    private static OvsVifPlugger plugger;
    private final List<VifSpec> plugged = new ArrayList<>();
    private final List<AutoCloseable> cleanups = new ArrayList<>();

    @BeforeAll
    static void connect() {
        plugger = OvsVifPlugger.connect(OvsVifConfig.defaults());
    }

    @AfterAll
    static void disconnect() {
        plugger.close();
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (VifSpec vif : plugged) {
            plugger.unplug(UUID.randomUUID(), vif);
        }
        for (AutoCloseable c : cleanups.reversed()) {
            c.close();
        }
        for (VifSpec vif : plugged) {
            assertGone(vif);
        }
    }

    private VifSpec newVif(String bridge, int mtu, Optional<Integer> vlan, List<IpAddress> ips) {
        byte[] mac = new byte[3];
        ThreadLocalRandom.current().nextBytes(mac);
        VifSpec vif = new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:" + HexFormat.ofDelimiter(":").formatHex(mac),
                bridge, mtu, vlan, ips, Optional.empty());
        plugged.add(vif);
        return vif;
    }

    private static String vsctl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ovs-vsctl", "--timeout=10"));
        cmd.addAll(List.of(args));
        return TestNamespace.sh(cmd.toArray(String[]::new)).strip();
    }

    /** Nothing of the VIF on the host once the reaper has deleted the unplugged devices (bounded wait). */
    private static void assertGone(VifSpec vif) throws Exception {
        assertTrue(plugger.awaitDevicesDeleted(Duration.ofSeconds(10)),
                "devices still being deleted after 10 s: " + plugger.devicesBeingDeleted());
        assertFalse(Files.exists(Path.of("/sys/class/net", vif.devName())), vif.devName() + " is still on the host");
        assertFalse(Files.exists(Path.of("/sys/class/net", vif.nsDevName())), vif.nsDevName() + " is still on the host");
        assertEquals("", vsctl("--bare", "--columns=name", "find", "Port", "name=" + vif.devName()), "port still in OVS");
        assertEquals("", vsctl("--bare", "--columns=name", "find", "Interface", "external_ids:iface-id=" + vif.portId()));
    }

    /** After {@link OvsVifPlugger#awaitAttached}: Berth's four keys exactly, and an ofport. */
    private static void assertExternalIds(UUID instance, VifSpec vif) {
        plugger.awaitAttached(instance, vif);
        VswitchDb.InterfaceRow row = plugger.db().findInterface(vif.devName()).orElseThrow();
        assertEquals(Map.of("iface-id", vif.portId(), "iface-status", "active", "attached-mac", vif.mac(),
                "vm-uuid", instance.toString()), row.externalIds());
        assertTrue(row.ofport() > 0, "ofport " + row.ofport());
    }

    private static String sysfs(String dev, String attr) throws Exception {
        return Files.readString(Path.of("/sys/class/net", dev, attr)).strip();
    }

    @Test
    void plugsAndUnplugsAVmTap() throws Exception {
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1450, Optional.empty(), List.of());
        assertEquals(vif.devName(), plugger.plugTap(instance, vif));

        assertExternalIds(instance, vif);
        // Cross-check with ovs-vsctl, the tool operators use.
        assertTrue(vsctl("list-ports", "br-int").lines().anyMatch(vif.devName()::equals));
        assertEquals("\"" + vif.portId() + "\"", vsctl("get", "Interface", vif.devName(), "external_ids:iface-id"));
        assertTrue(Long.parseLong(vsctl("get", "Interface", vif.devName(), "ofport")) > 0);
        assertEquals("1450", vsctl("get", "Interface", vif.devName(), "mtu_request"));
        assertEquals("[]", vsctl("get", "Port", vif.devName(), "tag"));
        assertEquals("1450", sysfs(vif.devName(), "mtu"));
        assertEquals(1, Integer.decode(sysfs(vif.devName(), "flags")) & 1, "tap is not up");
        assertTrue(Files.exists(Path.of("/sys/class/net", vif.devName(), "tun_flags")), "not a tun/tap device");
        assertEquals(List.of(vif.devName()), plugger.devicesOf(instance));

        plugger.unplug(instance, vif);
        // The port is gone when unplug returns; the tap follows in the background.
        assertEquals("", vsctl("--bare", "--columns=name", "find", "Port", "name=" + vif.devName()));
        assertEquals(List.of(), plugger.devicesOf(instance));
        assertGone(vif);
        plugger.unplug(instance, vif);  // idempotent
        assertEquals(List.of(), plugger.devicesOf(instance));
    }

    @Test
    void plugTapIsIdempotentAndKeepsTheOfport() throws Exception {
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1500, Optional.of(42), List.of());
        plugger.plugTap(instance, vif);
        plugger.awaitAttached(instance, vif);
        String ofport = vsctl("get", "Interface", vif.devName(), "ofport");
        assertEquals("42", vsctl("get", "Port", vif.devName(), "tag"));
        assertEquals(vif.devName(), plugger.plugTap(instance, vif));
        assertEquals(ofport, vsctl("get", "Interface", vif.devName(), "ofport"));
        assertEquals(1, vsctl("list-ports", "br-int").lines().filter(vif.devName()::equals).count());
        assertExternalIds(instance, vif);
    }

    @Test
    void replugWithAnotherInstanceRewritesExternalIds() throws Exception {
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        plugger.plugTap(UUID.randomUUID(), vif);
        UUID second = UUID.randomUUID();
        plugger.plugTap(second, vif);
        assertExternalIds(second, vif);
    }

    @Test
    void replugKeepsExternalIdsOthersWrote() throws Exception {
        // ovn-controller marks a bound port with ovn-installed; a replug (power_on, restart) must not wipe it.
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        plugger.plugTap(instance, vif);
        vsctl("set", "Interface", vif.devName(), "external_ids:ovn-installed=true");
        plugger.awaitAttached(instance, vif);
        String ofport = vsctl("get", "Interface", vif.devName(), "ofport");

        plugger.plugTap(instance, vif);
        assertEquals("\"true\"", vsctl("get", "Interface", vif.devName(), "external_ids:ovn-installed"));
        assertEquals(ofport, vsctl("get", "Interface", vif.devName(), "ofport"));

        UUID second = UUID.randomUUID();
        plugger.plugTap(second, vif);
        var ids = plugger.db().findInterface(vif.devName()).orElseThrow().externalIds();
        assertEquals(Map.of("iface-id", vif.portId(), "iface-status", "active", "attached-mac", vif.mac(),
                "vm-uuid", second.toString(), "ovn-installed", "true"), ids);
    }

    @Test
    void unplugOfANeverPluggedVifSucceeds() throws Exception {
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        plugger.unplug(UUID.randomUUID(), vif);
        assertGone(vif);
    }

    @Test
    void missingBridgeIsNamedAndNothingIsLeft() throws Exception {
        VifSpec vif = newVif("br-nope" + ThreadLocalRandom.current().nextInt(1000), 1500, Optional.empty(), List.of());
        var e = assertThrows(DriverException.VifFailure.class, () -> plugger.plugTap(UUID.randomUUID(), vif));
        assertTrue(e.getMessage().contains("bridge " + vif.bridge() + " does not exist"), e.getMessage());
        assertEquals(vif.portId(), e.portId());
        assertFalse(Files.exists(Path.of("/sys/class/net", vif.devName())), "tap not rolled back");
        assertEquals("", vsctl("--bare", "--columns=name", "find", "Interface", "name=" + vif.devName()));
    }

    @Test
    void createsAMissingBridgeWithTheConfiguredDatapathWhenAsked() throws Exception {
        String bridge = "br-bt" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));
        cleanups.add(() -> vsctl("--if-exists", "del-br", bridge));
        var config = new OvsVifConfig(OvsVifConfig.defaults().ovsdb(), OvsVifConfig.Datapath.AUTO, true,
                java.time.Duration.ofSeconds(10), java.time.Duration.ofSeconds(10), java.time.Duration.ofSeconds(10));
        try (OvsVifPlugger creating = OvsVifPlugger.connect(config)) {
            VifSpec vif = newVif(bridge, 1500, Optional.empty(), List.of());
            creating.plugTap(UUID.randomUUID(), vif);
            assertEquals("netdev", vsctl("get", "Bridge", bridge, "datapath_type"));
            assertTrue(vsctl("list-ports", bridge).lines().anyMatch(vif.devName()::equals));
            creating.unplug(UUID.randomUUID(), vif);
        }
    }

    @Test
    void plugsAContainerNamespace() throws Exception {
        TestNamespace ns = new TestNamespace();
        cleanups.add(ns);
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1400, Optional.empty(), List.of(IpAddress.parseCidr("198.18.0.10/24", "ip")))
                .withIps(List.of(IpAddress.parseCidr("198.18.0.10/24", "ip")),
                        Optional.of(IpAddress.parseAddress("198.18.0.1", "gw")));
        plugged.set(plugged.size() - 1, vif);

        plugger.plugNamespace(instance, vif, ns.pid(), "eth0");

        assertExternalIds(instance, vif);
        assertEquals("1400", sysfs(vif.devName(), "mtu"));
        assertFalse(Files.exists(Path.of("/sys/class/net", vif.nsDevName())), "ns end still on the host");
        String link = ns.exec("ip", "-o", "link", "show", "dev", "eth0").output();
        assertTrue(link.contains("link/ether " + vif.mac()), link);
        assertTrue(link.contains("mtu 1400"), link);
        assertTrue(link.contains(",UP"), link);
        String addr = ns.exec("ip", "-o", "-4", "addr", "show", "dev", "eth0").output();
        assertTrue(addr.contains("inet 198.18.0.10/24"), addr);
        String route = ns.exec("ip", "route", "show", "default").output();
        assertEquals("default via 198.18.0.1 dev eth0", route.strip());

        // Same pid again: nothing changes.
        String ofport = vsctl("get", "Interface", vif.devName(), "ofport");
        plugger.plugNamespace(instance, vif, ns.pid(), "eth0");
        assertEquals(ofport, vsctl("get", "Interface", vif.devName(), "ofport"));

        plugger.unplug(instance, vif);
        assertGone(vif);
        assertTrue(ns.exec("ip", "link", "show", "dev", "eth0").exit() != 0, "eth0 survived unplug");
    }

    @Test
    void vethOffloadsAreOffOnBothEndsOnTheNetdevDatapath() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue("netdev".equals(OvsVifConfig.Datapath.AUTO.ovsValue()),
                "the kernel datapath keeps veth offloads");
        assertFalse(OvsVifConfig.defaults().vethOffloads());
        TestNamespace ns = new TestNamespace();
        cleanups.add(ns);
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        plugger.plugNamespace(UUID.randomUUID(), vif, ns.pid(), "eth0");
        String host = TestNamespace.sh("ethtool", "-k", vif.devName());
        String peer = ns.exec("ethtool", "-k", "eth0").output();
        for (String features : List.of(host, peer)) {
            assertTrue(features.contains("tx-checksumming: off"), features);
            assertTrue(features.contains("tcp-segmentation-offload: off"), features);
            assertTrue(features.contains("generic-segmentation-offload: off"), features);
        }

        // Asked to keep them, a plug into a bridge the switch runs on the netdev datapath still turns them off
        // (the switch's datapath_type decides, not the config's guess from this host's kernel modules): kept, TCP
        // through the userspace datapath would not work.
        assertEquals("netdev", plugger.db().bridgeDatapathType("br-int").orElseThrow());
        try (OvsVifPlugger keeping = OvsVifPlugger.connect(OvsVifConfig.defaults().withVethOffloads(true))) {
            TestNamespace other = new TestNamespace();
            cleanups.add(other);
            VifSpec kept = newVif("br-int", 1500, Optional.empty(), List.of());
            keeping.plugNamespace(UUID.randomUUID(), kept, other.pid(), "eth0");
            assertTrue(TestNamespace.sh("ethtool", "-k", kept.devName()).contains("tx-checksumming: off"));
            assertTrue(other.exec("ethtool", "-k", "eth0").output().contains("tx-checksumming: off"));
            keeping.unplug(UUID.randomUUID(), kept);
            assertTrue(keeping.awaitDevicesDeleted(Duration.ofSeconds(10)));
        }
    }

    @Test
    void twoNamespacesOnBrIntPingEachOther() throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/bin/ping")) || Files.isExecutable(Path.of("/bin/ping")),
                "ping is missing: scripts/host-setup.sh must install iputils-ping");
        TestNamespace a = new TestNamespace();
        cleanups.add(a);
        TestNamespace b = new TestNamespace();
        cleanups.add(b);
        int net = ThreadLocalRandom.current().nextInt(200);
        VifSpec va = newVif("br-int", 1500, Optional.empty(), List.of(IpAddress.parseCidr("198.18." + net + ".1/24", "ip")));
        VifSpec vb = newVif("br-int", 1500, Optional.empty(), List.of(IpAddress.parseCidr("198.18." + net + ".2/24", "ip")));
        plugger.plugNamespace(UUID.randomUUID(), va, a.pid(), "eth0");
        plugger.plugNamespace(UUID.randomUUID(), vb, b.pid(), "eth0");
        plugger.awaitAttached(UUID.randomUUID(), va);
        plugger.awaitAttached(UUID.randomUUID(), vb);

        var ping = a.exec("ping", "-c", "3", "-i", "0.5", "-W", "2", "198.18." + net + ".2");
        assertEquals(0, ping.exit(), ping.output());
        var back = b.exec("ping", "-c", "3", "-i", "0.5", "-W", "2", "198.18." + net + ".1");
        assertEquals(0, back.exit(), back.output());
    }

    @Test
    void failedNamespacePlugRollsBack() throws Exception {
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        long noSuchPid = 4_194_000L + ThreadLocalRandom.current().nextInt(300);
        var e = assertThrows(DriverException.VifFailure.class,
                () -> plugger.plugNamespace(UUID.randomUUID(), vif, noSuchPid, "eth0"));
        assertTrue(e.getMessage().contains("netns " + noSuchPid), e.getMessage());
        assertGone(vif);
    }

    @Test
    void failureInsideTheNamespaceRollsBackTheOvsPortToo() throws Exception {
        TestNamespace ns = new TestNamespace();
        cleanups.add(ns);
        // An address that is already there with another prefix fails nothing; a clash of names does: lo exists.
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        var e = assertThrows(DriverException.VifFailure.class,
                () -> plugger.plugNamespace(UUID.randomUUID(), vif, ns.pid(), "lo"));
        assertTrue(e.getMessage().contains("ip -batch -"), e.getMessage());
        assertGone(vif);
    }

    @Test
    void survivesAnOvsdbReconnect() throws Exception {
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        org.berth.ovs.ovsdb.OvsdbTestAccess.dropConnection(plugger.client());
        plugger.plugTap(UUID.randomUUID(), vif);
        assertTrue(vsctl("list-ports", "br-int").lines().anyMatch(vif.devName()::equals));
    }

    @Test
    void badArgumentsAreRejectedBeforeAnythingIsCreated() throws Exception {
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        assertInstanceOf(DriverException.VifFailure.class, assertThrows(DriverException.class,
                () -> plugger.plugNamespace(UUID.randomUUID(), vif, 0, "eth0")));
        assertThrows(DriverException.VifFailure.class,
                () -> plugger.plugNamespace(UUID.randomUUID(), vif, 1, "eth0; reboot"));
        assertGone(vif);
    }

    @Test
    void replugIntoARestartedContainerMovesTheVifToTheNewPid() throws Exception {
        TestNamespace first = new TestNamespace();
        cleanups.add(first);
        TestNamespace second = new TestNamespace();
        cleanups.add(second);
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of(IpAddress.parseCidr("198.18.1.5/24", "ip")));
        plugger.plugNamespace(instance, vif, first.pid(), "eth0");
        plugger.plugNamespace(instance, vif, second.pid(), "eth1");

        assertTrue(first.exec("ip", "link", "show", "dev", "eth0").exit() != 0, "old container kept eth0");
        String link = second.exec("ip", "-o", "link", "show", "dev", "eth1").output();
        assertTrue(link.contains("link/ether " + vif.mac()), link);
        assertExternalIds(instance, vif);
        assertEquals(1, vsctl("list-ports", "br-int").lines().filter(vif.devName()::equals).count());

        // The replugged port really forwards: ping a peer on br-int.
        TestNamespace peer = new TestNamespace();
        cleanups.add(peer);
        VifSpec peerVif = newVif("br-int", 1500, Optional.empty(), List.of(IpAddress.parseCidr("198.18.1.6/24", "ip")));
        plugger.plugNamespace(UUID.randomUUID(), peerVif, peer.pid(), "eth0");
        plugger.awaitAttached(UUID.randomUUID(), peerVif);
        var ping = second.exec("ping", "-c", "3", "-i", "0.5", "-W", "2", "198.18.1.6");
        assertEquals(0, ping.exit(), ping.output());
    }

    @Test
    void plugsManyTapsConcurrently() throws Exception {
        UUID instance = UUID.randomUUID();
        List<VifSpec> vifs = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            vifs.add(newVif("br-int", 1500, Optional.empty(), List.of()));
        }
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(8)) {
            var futures = vifs.stream().map(v -> pool.submit(() -> plugger.plugTap(instance, v))).toList();
            for (var f : futures) {
                f.get(30, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
        assertEquals(vifs.stream().map(VifSpec::devName).sorted().toList(),
                plugger.devicesOf(instance).stream().sorted().toList());
        for (VifSpec vif : vifs) {
            assertExternalIds(instance, vif);
        }
    }

    @Test
    void containerRestartAfterItsVethDiedGetsAWorkingPort() throws Exception {
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of(IpAddress.parseCidr("198.18.2.5/24", "ip")));
        TestNamespace old = new TestNamespace();
        plugger.plugNamespace(instance, vif, old.pid(), "eth0");
        old.close();  // the container stops: its namespace and the veth pair go away, the OVS port stays
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (Files.exists(Path.of("/sys/class/net", vif.devName())) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertFalse(Files.exists(Path.of("/sys/class/net", vif.devName())), "veth outlived its namespace");

        TestNamespace restarted = new TestNamespace();
        cleanups.add(restarted);
        TestNamespace peer = new TestNamespace();
        cleanups.add(peer);
        plugger.plugNamespace(instance, vif, restarted.pid(), "eth0");
        VifSpec peerVif = newVif("br-int", 1500, Optional.empty(), List.of(IpAddress.parseCidr("198.18.2.6/24", "ip")));
        plugger.plugNamespace(UUID.randomUUID(), peerVif, peer.pid(), "eth0");
        plugger.awaitAttached(UUID.randomUUID(), peerVif);
        assertExternalIds(instance, vif);
        var ping = restarted.exec("ping", "-c", "3", "-i", "0.5", "-W", "2", "198.18.2.6");
        assertEquals(0, ping.exit(), ping.output());
    }

    @Test
    void tapDeletedBehindOurBackIsRecreatedOnReplug() throws Exception {
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        plugger.plugTap(instance, vif);
        TestNamespace.sh("ip", "link", "del", "dev", vif.devName());
        plugger.plugTap(instance, vif);
        assertTrue(Files.exists(Path.of("/sys/class/net", vif.devName(), "tun_flags")));
        assertExternalIds(instance, vif);
        assertEquals(1, vsctl("list-ports", "br-int").lines().filter(vif.devName()::equals).count());
    }

    @Test
    void plugRightAfterUnplugKeepsTheNewPlugOutOfTheReapersHands() throws Exception {
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        for (int round = 0; round < 5; round++) {
            plugger.plugTap(instance, vif);
            plugger.awaitAttached(instance, vif);
            plugger.unplug(instance, vif);
            // Again at once: the plug takes the tap back from the reaper or waits while it is being deleted.
            plugger.plugTap(instance, vif);
            plugger.awaitAttached(instance, vif);
            assertFalse(plugger.devicesBeingDeleted().contains(vif.devName()), "re-plugged tap still queued");
            // Whatever the reaper still had to do is done: the re-plugged tap must have survived it.
            assertTrue(plugger.awaitDevicesDeleted(Duration.ofSeconds(10)));
            assertTrue(Files.exists(Path.of("/sys/class/net", vif.devName(), "tun_flags")),
                    "round " + round + ": the reaper deleted the re-plugged tap");
            assertExternalIds(instance, vif);
            assertEquals(1, vsctl("list-ports", "br-int").lines().filter(vif.devName()::equals).count());
            plugger.unplug(instance, vif);
        }
    }

    @Test
    void awaitAttachedNamesTheVifThatIsNotPlugged() {
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        var e = assertThrows(DriverException.VifFailure.class, () -> plugger.awaitAttached(UUID.randomUUID(), vif));
        assertEquals(vif.portId(), e.portId());
        assertTrue(e.getMessage().contains(vif.devName()), e.getMessage());
    }

    @Test
    void awaitAttachedReportsWhyVswitchdCouldNotAttach() throws Exception {
        // A port whose device does not exist: vswitchd sets ofport -1 and says why in the Interface's error.
        UUID instance = UUID.randomUUID();
        VifSpec vif = newVif("br-int", 1500, Optional.empty(), List.of());
        plugger.db().addPort(new VswitchDb.PortSpec("br-int", vif.devName(), Map.of("iface-id", vif.portId()),
                Optional.empty(), java.util.OptionalInt.empty()));
        var e = assertThrows(DriverException.VifFailure.class, () -> plugger.awaitAttached(instance, vif));
        assertEquals(vif.portId(), e.portId());
        assertTrue(e.getMessage().contains("could not attach interface " + vif.devName()), e.getMessage());
    }
}
