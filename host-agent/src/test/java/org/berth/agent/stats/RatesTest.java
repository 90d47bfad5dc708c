package org.berth.agent.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.PowerState;
import org.junit.jupiter.api.Test;

/** Rates between two samples, across a counter reset (the backend object restarted). */
class RatesTest {
    private static final UUID U = UUID.fromString("6f1a7f1e-1b2c-4d3e-8f40-0a1b2c3d4e5f");
    private static final Instant T0 = Instant.parse("2026-12-08T00:00:00Z");

    private static InstanceStats stats(long cpuNs, long rx, long tx, long read, long write) {
        return new InstanceStats(U, PowerState.RUNNING, cpuNs, 1, List.of(cpuNs),
                new InstanceStats.Memory(InstanceStats.UNKNOWN, InstanceStats.UNKNOWN, InstanceStats.UNKNOWN),
                List.of(new InstanceStats.VifStats("port-1", "tap0", rx, 0, 0, 0, tx, 0, 0, 0)),
                List.of(new InstanceStats.DiskStats("vda", read, 0, write, 0, InstanceStats.UNKNOWN,
                        InstanceStats.UNKNOWN)));
    }

    @Test
    void growingCountersGiveTheirRate() {
        Rates r = Rates.between(stats(1_000_000_000L, 1000, 2000, 0, 0), T0,
                stats(3_000_000_000L, 21_000, 2000, 4096, 8192), T0.plusSeconds(10));
        assertEquals(20.0, r.cpuPercent(), 1e-9, "2 s of CPU in 10 s");
        assertEquals(List.of(20.0), r.vcpuPercent());
        assertEquals(2000.0, r.rxBytesPerSecond());
        assertEquals(0.0, r.txBytesPerSecond());
        assertEquals(409.6, r.readBytesPerSecond(), 1e-9);
    }

    @Test
    void aResetGivesNoRateNeverANegativeOne() {
        // a container stop/start (new cgroup, new veth) or a VM's QEMU restart: every counter began again from 0
        Rates r = Rates.between(stats(50_000_000_000L, 900_000, 800_000, 1 << 20, 2 << 20), T0,
                stats(1_000_000_000L, 1000, 500, 0, 4096), T0.plusSeconds(10));
        assertNull(r.cpuPercent(), "cpu went backwards");
        assertEquals(java.util.Arrays.asList((Double) null), r.vcpuPercent());
        assertNull(r.vifs().get("port-1").rxBytesPerSecond());
        assertNull(r.vifs().get("port-1").txBytesPerSecond());
        assertNull(r.rxBytesPerSecond(), "a total with an unknown part is unknown");
        assertNull(r.txBytesPerSecond());
        assertNull(r.readBytesPerSecond());
        assertNull(r.writeBytesPerSecond());
    }

    @Test
    void perSecondIsNullOnResetUnknownOrNoTime() {
        assertNull(Rates.perSecond(10, 9, 1));
        assertNull(Rates.perSecond(InstanceStats.UNKNOWN, 9, 1));
        assertNull(Rates.perSecond(1, InstanceStats.UNKNOWN, 1));
        assertNull(Rates.perSecond(1, 2, 0));
        assertEquals(0.0, Rates.perSecond(5, 5, 1));
    }
}
