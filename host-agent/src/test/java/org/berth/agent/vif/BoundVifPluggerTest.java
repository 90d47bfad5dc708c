package org.berth.agent.vif;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.berth.agent.config.VifPluggingConfig;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

/** The binding policy on its own: the switch's plugger and the chassis are mocks. */
class BoundVifPluggerTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(300);
    private final VifPlugger plugs = mock(VifPlugger.class);
    private final OvnChassis chassis = mock(OvnChassis.class);
    private final VifBindings bindings = new VifBindings();
    private final AtomicLong now = new AtomicLong();
    private final UUID instance = UUID.randomUUID();
    private final VifSpec vif = VifSpec.of("b1000000-0000-4000-8000-000000000001", "fa:16:3e:00:00:10");

    private BoundVifPlugger plugger(Duration timeout, boolean fatal) {
        return new BoundVifPlugger(plugs, chassis, new VifPluggingConfig(timeout, fatal), bindings, now::get);
    }

    private static DriverException.OperationTimedOut neverBound() {
        return new DriverException.OperationTimedOut("OVN binding of port x", TIMEOUT, "ovn-controller never set it");
    }

    @Test
    void onAnOvnChassisWaitsForTheBindingAfterTheAttachAndRecordsIt() {
        when(chassis.isOvnChassis()).thenReturn(true);
        when(chassis.awaitBound(vif, TIMEOUT)).thenReturn(Duration.ofMillis(412));
        plugger(TIMEOUT, true).awaitAttached(instance, vif);
        var order = org.mockito.Mockito.inOrder(plugs, chassis);
        order.verify(plugs).awaitAttached(instance, vif);
        order.verify(chassis).awaitBound(vif, TIMEOUT);
        List<VifBinding> taken = bindings.take(instance);
        assertEquals(1, taken.size());
        assertEquals("vif.bound", taken.getFirst().event());
        assertEquals("port " + vif.portId() + " bound by OVN in 412 ms", taken.getFirst().detail());
        assertEquals(List.of(), bindings.take(instance), "taken once");
    }

    @Test
    void fatalTimeoutFailsWithTheOperatorsQuestion() {
        when(chassis.isOvnChassis()).thenReturn(true);
        DriverException.OperationTimedOut cause = neverBound();
        when(chassis.awaitBound(vif, TIMEOUT)).thenThrow(cause);
        var e = assertThrows(DriverException.OperationTimedOut.class,
                () -> plugger(TIMEOUT, true).awaitAttached(instance, vif));
        assertEquals("port " + vif.portId() + " was not bound by OVN within 300 s (vif_plugging_timeout): "
                + "ovn-controller never set ovn-installed on Interface " + vif.devName() + "; does the northbound "
                + "database have a logical switch port named " + vif.portId() + "?", e.getMessage());
        assertEquals(TIMEOUT, e.timeout());
        assertSame(cause, e.getCause());
        assertEquals(List.of(), bindings.take(instance), "nothing to report: the spawn fails with it");
    }

    @Test
    void notFatalTimeoutGoesOnAndRecordsTheUnboundPort() {
        when(chassis.isOvnChassis()).thenReturn(true);
        when(chassis.awaitBound(vif, Duration.ofMillis(1500))).thenThrow(neverBound());
        plugger(Duration.ofMillis(1500), false).awaitAttached(instance, vif);
        VifBinding b = bindings.take(instance).getFirst();
        assertEquals("vif.unbound", b.event());
        assertTrue(b.detail().startsWith("port " + vif.portId() + " was not bound by OVN within 1500 ms "
                + "(vif_plugging_timeout)"), b.detail());
        assertTrue(b.detail().contains("vif_plugging_is_fatal is false"), b.detail());
    }

    @Test
    void zeroTimeoutDoesNotWait() {
        when(chassis.isOvnChassis()).thenReturn(true);
        plugger(Duration.ZERO, true).awaitAttached(instance, vif);
        verify(plugs).awaitAttached(instance, vif);
        verify(chassis, never()).isOvnChassis();
        verify(chassis, never()).awaitBound(any(), any());
        assertEquals(List.of(), bindings.take(instance));
    }

    @Test
    void plainOvsDoesNotWaitAndTheCheckIsCachedForAFewSeconds() {
        when(chassis.isOvnChassis()).thenReturn(false, true);
        BoundVifPlugger p = plugger(TIMEOUT, true);
        p.awaitAttached(instance, vif);
        now.addAndGet(BoundVifPlugger.CHASSIS_TTL.toNanos() - 1);
        p.awaitAttached(instance, vif);
        verify(chassis, times(1)).isOvnChassis();
        verify(chassis, never()).awaitBound(any(), any());

        // ovn-controller configured later: seen once the cache is stale
        when(chassis.awaitBound(vif, TIMEOUT)).thenReturn(Duration.ofMillis(3));
        now.addAndGet(1);
        p.awaitAttached(instance, vif);
        verify(chassis, times(2)).isOvnChassis();
        verify(chassis).awaitBound(vif, TIMEOUT);
    }

    @Test
    void aFailedAttachIsNotFollowedByTheBindingWait() {
        doThrow(new DriverException.VifFailure(vif.portId(), "could not attach", null))
                .when(plugs).awaitAttached(instance, vif);
        assertThrows(DriverException.VifFailure.class, () -> plugger(TIMEOUT, true).awaitAttached(instance, vif));
        verify(chassis, never()).isOvnChassis();
    }

    @Test
    void plugsAndUnplugsGoStraightToTheSwitch() {
        when(plugs.plugTap(instance, vif)).thenReturn(vif.devName());
        BoundVifPlugger p = plugger(TIMEOUT, true);
        assertEquals(vif.devName(), p.plugTap(instance, vif));
        p.plugNamespace(instance, vif, 42, "eth0");
        p.unplug(instance, vif);
        verify(plugs).plugNamespace(instance, vif, 42, "eth0");
        verify(plugs).unplug(instance, vif);
    }
}
