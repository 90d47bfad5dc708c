package org.berth.conformance.e2e.ovn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.berth.conformance.HostOvs;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifSpec;
import org.berth.ovs.OvsVifPlugger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * ovs-vif's wait for OVN's binding against a real ovn-controller ({@link LocalOvn}): a tap plugged for a logical
 * port is bound ({@code ovn-installed=true}) and {@code awaitBound} returns with the time it took; a tap whose port
 * the northbound database does not have is never bound and the wait times out naming it.
 */
class OvnBindingWaitTest {
    @Test
    @Timeout(180)
    void awaitBoundReturnsOnceOvnControllerBindsThePort() throws Exception {
        OvsVifPlugger plugger = HostOvs.plugger();
        String suffix = HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt(1 << 16));
        assertFalse(plugger.isOvnChassis(), "this host is an OVN chassis before the test made it one");
        LocalOvn ovn = LocalOvn.start("br-ovn-" + suffix);
        UUID instance = UUID.randomUUID();
        VifSpec known = vif(ovn.bridge());
        VifSpec unknown = vif(ovn.bridge());
        try {
            assertTrue(plugger.isOvnChassis(), "ovn-remote set by LocalOvn");
            String ls = "berth-ls-" + suffix;
            ovn.nbctl("ls-add", ls);
            ovn.nbctl("lsp-add", ls, known.portId());
            ovn.nbctl("--wait=sb", "sync");

            long t0 = System.nanoTime();
            plugger.plugTap(instance, known);
            plugger.awaitAttached(instance, known);
            long attached = System.nanoTime();
            Duration bound = plugger.awaitBound(known, Duration.ofSeconds(60));
            long done = System.nanoTime();
            System.out.printf("OVN binding: plug+attach %d ms, then awaitBound %d ms (plug to bound %d ms)%n",
                    (attached - t0) / 1_000_000, bound.toMillis(), (done - t0) / 1_000_000);
            Duration again = plugger.awaitBound(known, Duration.ofSeconds(60));
            System.out.printf("OVN binding: awaitBound of a bound port %.2f ms%n", again.toNanos() / 1e6);
            assertTrue(again.toMillis() < 1_000, "a bound port waited " + again);
            assertEquals("up", ovn.nbctl("lsp-get-up", known.portId()).strip());

            plugger.plugTap(instance, unknown);
            plugger.awaitAttached(instance, unknown);
            var e = assertThrows(DriverException.OperationTimedOut.class,
                    () -> plugger.awaitBound(unknown, Duration.ofSeconds(2)));
            assertTrue(e.getMessage().contains("Interface " + unknown.devName() + " (iface-id " + unknown.portId()
                    + ")"), e.getMessage());
        } finally {
            for (VifSpec v : List.of(known, unknown)) {
                plugger.unplug(instance, v);
            }
            ovn.close();
        }
        assertTrue(plugger.awaitDevicesDeleted(Duration.ofSeconds(10)), "taps still being deleted");
        assertEquals(List.of(), ovn.leftovers());
        assertFalse(plugger.isOvnChassis(), "ovn-remote left behind");
    }

    private static VifSpec vif(String bridge) {
        byte[] tail = new byte[2];
        ThreadLocalRandom.current().nextBytes(tail);
        return new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:16:" + HexFormat.ofDelimiter(":").formatHex(tail),
                bridge, 1500, Optional.empty(), List.of(), Optional.empty());
    }
}
