package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import com.github.dockerjava.api.command.InspectContainerResponse;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.LifecycleEvent.Transition;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

/** Narrow logic without an engine. */
class MappingTest {
    @Test
    void engineStatesMapToNovaPowerStates() {
        assertEquals(PowerState.RUNNING, PowerStates.of("running", false));
        assertEquals(PowerState.RUNNING, PowerStates.of("restarting", false));
        assertEquals(PowerState.PAUSED, PowerStates.of("paused", false));
        assertEquals(PowerState.SHUTDOWN, PowerStates.of("exited", false));
        assertEquals(PowerState.SHUTDOWN, PowerStates.of("created", false));
        assertEquals(PowerState.CRASHED, PowerStates.of("exited", true));
        assertEquals(PowerState.CRASHED, PowerStates.of("dead", false));
        assertEquals(PowerState.NOSTATE, PowerStates.of("removing", false));
        assertEquals(PowerState.NOSTATE, PowerStates.of(null, false));

        var inspect = mock(InspectContainerResponse.class);
        var state = mock(InspectContainerResponse.ContainerState.class);
        when(inspect.getState()).thenReturn(state);
        when(state.getStatus()).thenReturn("exited");
        when(state.getOOMKilled()).thenReturn(true);
        assertEquals(PowerState.CRASHED, PowerStates.of(inspect));
    }

    @Test
    void engineActionsMapToTransitions() {
        assertEquals(Optional.of(Transition.STARTED), EventPump.transition("start"));
        assertEquals(Optional.of(Transition.STOPPED), EventPump.transition("die"));
        assertEquals(Optional.of(Transition.PAUSED), EventPump.transition("pause"));
        assertEquals(Optional.of(Transition.RESUMED), EventPump.transition("unpause"));
        assertEquals(Optional.of(Transition.CRASHED), EventPump.transition("oom"));
        assertEquals(Optional.empty(), EventPump.transition("stop"));
        assertEquals(Optional.empty(), EventPump.transition("exec_start: sh"));
    }

    @Test
    void theRingKeepsTheLastBytes() {
        var ring = new ConsoleTail.Ring(5);
        ring.write("abc".getBytes());
        assertArrayEquals("abc".getBytes(), ring.bytes());
        ring.write("defg".getBytes());
        assertArrayEquals("cdefg".getBytes(), ring.bytes());
        ring.write("0123456789".getBytes());
        assertArrayEquals("56789".getBytes(), ring.bytes());
    }

    @Test
    void specsRoundTripThroughLabels() {
        var vif = new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:aa:bb:cc", "br-int", 9000, Optional.of(7),
                List.of(IpAddress.parseCidr("198.18.1.2/24", "ip"), IpAddress.parseCidr("2001:db8::5/64", "ip")),
                Optional.of(IpAddress.parseAddress("198.18.1.1", "gw")));
        var spec = new InstanceSpec(UUID.randomUUID(), "web-1", new Flavor("m1.small", 2, 2048, 20, 1, 512),
                UUID.randomUUID().toString(), List.of(vif, VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:00:00:02")),
                Map.of(InstanceSpec.COMMAND, "sh\n-c\necho \"hi\" ü", "env", "A=1"), false);
        assertEquals(Optional.of(spec), SpecLabels.from(SpecLabels.of(spec, "berth")));
        assertEquals("agent-1", SpecLabels.of(spec, "agent-1").get(SpecLabels.OWNER_LABEL));
        assertEquals(Optional.empty(), SpecLabels.from(Map.of(SpecLabels.UUID_LABEL, "x", SpecLabels.SPEC_LABEL, "{")));
        assertEquals(Optional.empty(), SpecLabels.from(Map.of()));
    }
}
