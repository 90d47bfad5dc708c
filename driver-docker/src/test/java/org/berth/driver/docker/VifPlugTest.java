package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

/** The driver's side of networking, against a recording plugger (ovs-vif plugs for real). */
class VifPlugTest extends DockerTestBase {
    private static VifSpec vif(int n) {
        return VifSpec.of(UUID.randomUUID().toString(), String.format("fa:16:3e:00:00:%02x", n));
    }

    @Test
    void vifsArePluggedIntoTheNamespaceOnEveryStartAndHotPlugged() {
        var plugger = new RecordingPlugger(null);
        ComputeDriver d = newDriver(Optional.of(plugger), EventSink.DISCARD);
        try {
            assertTrue(d.describe().has(Capability.INTERFACE_HOTPLUG));
            VifSpec a = vif(1);
            VifSpec b = vif(2);
            InstanceSpec spec = spec("sleep", "100000").withVifs(List.of(a, b));
            d.spawn(spec);
            long pid = raw.inspectContainerCmd(spec.backendName()).exec().getState().getPidLong();
            assertEquals(List.of(new RecordingPlugger.Call("plug", spec.uuid(), a.portId(), pid, "eth0"),
                    new RecordingPlugger.Call("plug", spec.uuid(), b.portId(), pid, "eth1")), plugger.of("plug"));
            // spawn returns only after the switch attached both: plugs first, then the waits
            assertEquals(List.of("plug", "plug", "attached", "attached"),
                    plugger.calls.stream().map(RecordingPlugger.Call::verb).toList());
            assertEquals(List.of(a.portId(), b.portId()),
                    plugger.of("attached").stream().map(RecordingPlugger.Call::portId).toList());

            VifSpec c = vif(3);
            d.attachInterface(spec.uuid(), c);
            assertEquals("eth2", plugger.of("plug").get(2).ifName());
            assertEquals(List.of(a, b, c), d.info(spec.uuid()).spec().vifs());
            d.detachInterface(spec.uuid(), a.portId());
            d.detachInterface(spec.uuid(), a.portId()); // idempotent
            assertEquals(List.of(b, c), d.info(spec.uuid()).spec().vifs());
            assertEquals(List.of(b, c), d.list().stream().filter(i -> i.uuid().equals(spec.uuid())).findFirst()
                    .orElseThrow().spec().vifs());

            plugger.calls.clear();
            d.reboot(spec.uuid(), org.berth.driver.api.RebootType.HARD);
            long newPid = raw.inspectContainerCmd(spec.backendName()).exec().getState().getPidLong();
            assertEquals(List.of(new RecordingPlugger.Call("plug", spec.uuid(), b.portId(), newPid, "eth0"),
                    new RecordingPlugger.Call("plug", spec.uuid(), c.portId(), newPid, "eth1")), plugger.of("plug"));

            d.powerOff(spec.uuid(), Duration.ofMillis(100));
            assertThrows(DriverException.InvalidInstanceState.class, () -> d.attachInterface(spec.uuid(), vif(4)));
            plugger.calls.clear();
            d.destroy(spec.uuid());
            assertEquals(2, plugger.of("unplug").size());
            assertFalse(Files.exists(stateDir.resolve(spec.uuid() + ".vifs.json")));
        } finally {
            d.close();
        }
    }

    @Test
    void aFailedPlugRollsTheSpawnBack() {
        VifSpec good = vif(1);
        VifSpec bad = vif(2);
        var plugger = new RecordingPlugger(bad.portId());
        ComputeDriver d = newDriver(Optional.of(plugger), EventSink.DISCARD);
        try {
            InstanceSpec spec = spec("sleep", "100000").withVifs(List.of(good, bad));
            assertThrows(DriverException.VifFailure.class, () -> d.spawn(spec));
            assertEquals(List.of(), raw.listContainersCmd().withShowAll(true)
                    .withNameFilter(List.of(spec.backendName())).exec());
            assertTrue(plugger.of("unplug").stream().anyMatch(c -> c.portId().equals(good.portId())),
                    "the plugged VIF was unplugged: " + plugger.calls);
        } finally {
            d.close();
        }
    }

    @Test
    void withoutAPluggerHotPlugIsMissing() {
        InstanceSpec spec = spec("sleep", "100000");
        driver.spawn(spec);
        assertThrows(DriverException.CapabilityMissing.class, () -> driver.attachInterface(spec.uuid(), vif(1)));
    }
}
