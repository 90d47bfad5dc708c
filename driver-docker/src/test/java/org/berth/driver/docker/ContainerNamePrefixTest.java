package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.junit.jupiter.api.Test;

/**
 * Two agents on one engine (the lab's hosts share the machine's dockerd) hold the same instance uuid at once while it
 * migrates or is evacuated: {@code container_name_prefix} keeps their containers apart.
 */
class ContainerNamePrefixTest extends DockerTestBase {

    @Test
    void twoAgentsOnOneEngineHoldTheSameUuidUnderTheirOwnNames() {
        InstanceSpec spec = spec("sleep", "100000");
        DriverConfig other = new DriverConfig("docker", Map.of("call_timeout", "30s",
                "container_name_prefix", "berth-test-b-"));
        try (var b = new DockerDriverProvider().create(new DriverContext(other, store, Optional.empty(),
                EventSink.DISCARD, stateDir, "berth-test-b"))) {
            driver.spawn(spec); // berth-<uuid>
            b.spawn(spec); // berth-test-b-<uuid>: no name conflict
            try {
                assertEquals(1, raw.listContainersCmd().withShowAll(true)
                        .withNameFilter(List.of("^/" + spec.backendName() + "$")).exec().size());
                assertEquals(1, raw.listContainersCmd().withShowAll(true)
                        .withNameFilter(List.of("^/berth-test-b-" + spec.uuid() + "$")).exec().size());
                assertEquals(PowerState.RUNNING, b.info(spec.uuid()).powerState());
                assertTrue(b.list().stream().anyMatch(i -> i.uuid().equals(spec.uuid())), "b lists its own copy");
                driver.destroy(spec.uuid());
                assertEquals(PowerState.RUNNING, b.info(spec.uuid()).powerState(), "b's copy is untouched");
            } finally {
                b.destroy(spec.uuid());
            }
            assertEquals(0, raw.listContainersCmd().withShowAll(true)
                    .withNameFilter(List.of("berth-test-b-" + spec.uuid())).exec().size());
        }
    }

    @Test
    void anAgentHearsOnlyItsOwnContainersEventsNotAnotherHostsCopyOfTheSameUuid() throws Exception {
        InstanceSpec spec = spec("sleep", "100000");
        DriverConfig other = new DriverConfig("docker", Map.of("call_timeout", "30s",
                "container_name_prefix", "berth-test-b-"));
        java.util.concurrent.BlockingQueue<org.berth.driver.api.LifecycleEvent> heard =
                new java.util.concurrent.LinkedBlockingQueue<>();
        try (var b = new DockerDriverProvider().create(new DriverContext(other, store, Optional.empty(), heard::add,
                stateDir, "berth-test-b"))) {
            try {
                driver.spawn(spec); // the other host's copy starts (a migration's destination): not b's event
                assertEquals(null, heard.poll(2, java.util.concurrent.TimeUnit.SECONDS), "b heard another host's "
                        + "container");
                b.spawn(spec);
                var e = heard.poll(10, java.util.concurrent.TimeUnit.SECONDS);
                assertTrue(e != null && e.uuid().equals(spec.uuid())
                        && e.transition() == org.berth.driver.api.LifecycleEvent.Transition.STARTED, "b's own: " + e);
            } finally {
                driver.destroy(spec.uuid());
                b.destroy(spec.uuid());
            }
        }
    }

    @Test
    void aPrefixOutsideTheRuleIsRefusedNamingTheOption() {
        for (String bad : List.of("lab-h1-", "berth-Lab-", "berth-x", "berth--", "berth-a/b-")) {
            var e = assertThrows(DriverException.InvalidConfiguration.class, () -> DockerSettings.from(
                    new DriverConfig("docker", Map.of("container_name_prefix", bad))));
            assertTrue(e.getMessage().contains("drivers.docker.container_name_prefix"), e.getMessage());
        }
        assertEquals("berth-lab-h1-" + "x", DockerSettings.from(new DriverConfig("docker",
                Map.of("container_name_prefix", "berth-lab-h1-"))).namePrefix() + "x");
    }
}
