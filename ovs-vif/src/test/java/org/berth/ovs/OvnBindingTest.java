package org.berth.ovs;

import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifSpec;
import org.berth.lab.PrivateOvsdb;
import org.berth.ovs.ovsdb.VswitchDb;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * OVN chassis detection and the wait for ovn-controller's {@code ovn-installed}, against a private ovsdb-server
 * (the test plays ovn-controller: it sets the keys itself, from another connection). No vswitchd: the ports are
 * database rows only, which is all the wait reads.
 */
class OvnBindingTest {
    private static PrivateOvsdb ovsdb;
    private static OvsVifPlugger plugger;

    @BeforeAll
    static void start() throws Exception {
        ovsdb = new PrivateOvsdb();
        plugger = OvsVifPlugger.connect(OvsVifConfig.defaults().withOvsdb(ovsdb.endpoint())
                .withReaperJournal(ovsdb.dir().resolve("vif-reaper")));
        plugger.db().ensureBridge("br-int", "netdev");
    }

    @AfterAll
    static void stop() throws Exception {
        if (plugger != null) {
            plugger.close();
        }
        if (ovsdb != null) {
            ovsdb.close();
        }
    }

    /** A port row as plugTap makes it, without a device (nothing attaches it here). */
    private static VifSpec portRow() {
        VifSpec vif = VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:00:00:01");
        plugger.db().addPort(new VswitchDb.PortSpec("br-int", vif.devName(), Map.of("iface-id", vif.portId()),
                Optional.empty(), OptionalInt.empty()));
        return vif;
    }

    /** What ovn-controller does once the port's flows are in: ovn-installed=true, here after {@code delayMs}. */
    private static CompletableFuture<Void> bindLater(VifSpec vif, long delayMs) {
        return CompletableFuture.runAsync(() -> {
            try {
                Thread.sleep(delayMs);
                ovsdb.vsctl("set", "Interface", vif.devName(), "external_ids:ovn-installed=true");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void aSwitchIsAnOvnChassisOnceOvnRemoteIsSet() throws Exception {
        assertFalse(plugger.isOvnChassis());
        ovsdb.vsctl("set", "Open_vSwitch", ".", "external_ids:ovn-remote=unix:/run/ovn/ovnsb_db.sock");
        try {
            assertTrue(plugger.isOvnChassis());
        } finally {
            ovsdb.vsctl("remove", "Open_vSwitch", ".", "external_ids", "ovn-remote");
        }
        assertFalse(plugger.isOvnChassis());
    }

    @Test
    void awaitBoundReturnsOnceOvnControllerSetsOvnInstalled() throws Exception {
        VifSpec vif = portRow();
        var controller = bindLater(vif, 300);
        long t0 = System.nanoTime();
        Duration took = plugger.awaitBound(vif, Duration.ofSeconds(10));
        long wall = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        controller.get(10, TimeUnit.SECONDS);
        assertTrue(took.toMillis() >= 250 && took.toMillis() < 5_000, "took " + took);
        assertTrue(wall < 5_000, "returned after " + wall + " ms");

        // Bound already: one round trip.
        Duration again = plugger.awaitBound(vif, Duration.ofSeconds(10));
        assertTrue(again.toMillis() < 1_000, "a bound port took " + again);
    }

    @Test
    void awaitBoundOutlastsTheIdleEcho() throws Exception {
        // The client echoes after 5 s without input; a wait longer than that must still end when the key comes.
        VifSpec vif = portRow();
        var controller = bindLater(vif, 6_500);
        Duration took = plugger.awaitBound(vif, Duration.ofSeconds(30));
        controller.get(10, TimeUnit.SECONDS);
        assertTrue(took.toMillis() >= 6_000 && took.toMillis() < 15_000, "took " + took);
    }

    @Test
    void awaitBoundTimesOutNamingTheDeviceAndIfaceId() {
        VifSpec vif = portRow();
        long t0 = System.nanoTime();
        var e = assertThrows(DriverException.OperationTimedOut.class,
                () -> plugger.awaitBound(vif, Duration.ofMillis(300)));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms >= 250 && ms < 5_000, "gave up after " + ms + " ms");
        assertEquals(Duration.ofMillis(300), e.timeout());
        assertTrue(e.getMessage().contains("ovn-controller never set external_ids:ovn-installed=true on Interface "
                + vif.devName() + " (iface-id " + vif.portId() + ")"), e.getMessage());
        // ovn-installed with another value is not a binding
        assertThrows(DriverException.OperationTimedOut.class, () -> {
            ovsdb.vsctl("set", "Interface", vif.devName(), "external_ids:ovn-installed=false");
            plugger.awaitBound(vif, Duration.ofMillis(200));
        });
    }

    @Test
    void awaitBoundOfAPortThatIsNotPluggedSaysSo() {
        VifSpec vif = VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:00:00:02");
        var e = assertThrows(DriverException.VifFailure.class, () -> plugger.awaitBound(vif, Duration.ofMillis(200)));
        assertEquals(vif.portId(), e.portId());
        assertTrue(e.getMessage().contains("interface " + vif.devName() + " does not exist"), e.getMessage());
    }
}
