package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import com.github.dockerjava.api.command.InspectContainerResponse;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.LifecycleEvent.Transition;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

/** Narrow logic without an engine. */
class MappingTest {
    /** A well-formed ed25519 public key (the blob encodes its type name). */
    static final String KEY = "ssh-ed25519 " + Base64.getEncoder().encodeToString(
            new byte[] {0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9', 0, 0, 0, 32,
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
                28, 29, 30, 31, 32}) + " test@berth";

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

    @Test
    void theGuestRoundTripsThroughLabelsWithTheLargestUserData() {
        byte[] data = new byte[GuestConfig.MAX_USER_DATA];
        new java.util.Random(17).nextBytes(data);
        String userData = Base64.getEncoder().encodeToString(data); // 87,380 characters
        var guest = new GuestConfig("web-1", Map.of("role", "db", "build id", "42 ü"),
                Map.of("k1", KEY), Optional.of(userData), Optional.of(false), Optional.of("proj-1"), "zone-b");
        var spec = InstanceSpec.of(UUID.randomUUID(), "web_1", new Flavor("m1.small", 1, 64, 0, 0, 0),
                UUID.randomUUID().toString()).withGuest(guest);
        var back = SpecLabels.from(SpecLabels.of(spec, "berth")).orElseThrow();
        assertEquals(guest, back.guest());
        assertEquals(spec, back);
        assertArrayEquals(data, back.guest().userDataBytes().orElseThrow());

        var defaults = spec.withGuest(GuestConfig.forName("web_1"));
        assertEquals(Optional.of(defaults), SpecLabels.from(SpecLabels.of(defaults, "berth")));
        assertEquals(Optional.empty(), SpecLabels.from(SpecLabels.of(defaults, "berth")).orElseThrow().guest()
                .configDrive(), "unset config_drive stays unset, not false");
    }

    @Test
    void aLabelFromBeforeGuestsGetsTheDefaultsForItsName() throws Exception {
        var spec = InstanceSpec.of(UUID.randomUUID(), "Old_Box", new Flavor("m1.small", 1, 64, 0, 0, 0),
                UUID.randomUUID().toString());
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) SpecLabels.json().readTree(SpecLabels.toJson(spec));
        json.remove("guest");
        var labels = new java.util.HashMap<>(SpecLabels.of(spec, "berth"));
        labels.put(SpecLabels.SPEC_LABEL, json.toString());
        var back = SpecLabels.from(labels).orElseThrow();
        assertEquals(GuestConfig.forName("Old_Box"), back.guest());
        assertEquals("old-box", back.guest().hostname());
    }

    @Test
    void metadataBecomesPrefixedEnvironmentVariables() {
        var guest = meta(Map.of("role", "db", "build-id.v2", "a=b c", "Zone:1", ""));
        assertEquals(List.of("BERTH_META_ZONE_1=", "BERTH_META_BUILD_ID_V2=a=b c", "BERTH_META_ROLE=db"),
                GuestEnvironment.of(guest));
        assertEquals("BERTH_META_A_B_C_D_E", GuestEnvironment.variable("a b-c.d:e"));
        assertEquals(List.of(), GuestEnvironment.of(GuestConfig.forName("x")));
    }

    private static GuestConfig meta(Map<String, String> metadata) {
        return new GuestConfig("x", metadata, Map.of(), Optional.empty(), Optional.empty(), Optional.empty(), "nova");
    }

    @Test
    void twoKeysForOneVariableAreRefusedNamingBoth() {
        var guest = meta(Map.of("build-id", "1", "build_id", "2"));
        var e = assertThrows(IllegalArgumentException.class, () -> GuestEnvironment.of(guest));
        assertTrue(e.getMessage().startsWith("instance.metadata: "), e.getMessage());
        assertTrue(e.getMessage().contains("'build-id'") && e.getMessage().contains("'build_id'")
                && e.getMessage().contains("BERTH_META_BUILD_ID"), e.getMessage());
        var upper = meta(Map.of("Role", "1", "role", "2"));
        assertThrows(IllegalArgumentException.class, () -> GuestEnvironment.of(upper));
    }
}
