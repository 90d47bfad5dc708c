package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;

/** A container Berth did not create, even one named like Berth's, is not an instance. */
class ForeignContainerTest extends DockerTestBase {

    @Test
    void listIgnoresContainersBerthDoesNotOwn() {
        InstanceSpec ours = spec("sleep", "100000");
        driver.spawn(ours); // also loads berth/busybox:test into the engine for Testcontainers
        UUID foreign = UUID.randomUUID();
        spawned.add(foreign); // the @AfterEach leak check covers its name too
        try (var c = new GenericContainer<>(DockerImageName.parse("berth/busybox:test"))
                .withCommand("sleep", "100000")
                .withNetworkMode("none") // this engine runs without the default bridge
                .withCreateContainerCmdModifier(cmd -> cmd.withName(InstanceSpec.backendName(foreign)))) {
            c.start();
            var ids = driver.list().stream().map(i -> i.uuid()).toList();
            assertTrue(ids.contains(ours.uuid()));
            assertTrue(!ids.contains(foreign), "foreign container listed");
            assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(foreign));
            driver.destroy(foreign); // not ours: nothing to do, and it is not removed
            assertEquals(1, raw.listContainersCmd().withNameFilter(List.of(InstanceSpec.backendName(foreign)))
                    .exec().size());
        }
    }

    @Test
    void listShowsOnlyTheContextOwnersContainersAndUnmarkedOnesAreTheDefaultOwners() {
        InstanceSpec ours = spec("sleep", "100000");
        driver.spawn(ours); // owner TEST_OWNER
        // A container of a Berth from before owners: Berth's labels without org.berth.owner.
        InstanceSpec legacy = spec("sleep", "100000");
        spawned.add(legacy.uuid());
        var labels = new java.util.HashMap<>(SpecLabels.of(legacy, "unused"));
        labels.remove(SpecLabels.OWNER_LABEL);
        try (var c = new GenericContainer<>(DockerImageName.parse("berth/busybox:test"))
                .withCommand("sleep", "100000")
                .withNetworkMode("none")
                .withLabels(labels)
                .withCreateContainerCmdModifier(cmd -> cmd.withName(legacy.backendName()))) {
            c.start();
            var mine = driver.list().stream().map(i -> i.uuid()).toList();
            assertTrue(mine.contains(ours.uuid()) && !mine.contains(legacy.uuid()),
                    "owner " + TEST_OWNER + " lists its own only: " + mine);
            try (var agent = new DockerDriverProvider().create(new org.berth.driver.api.DriverContext(
                    new org.berth.driver.api.DriverConfig("docker", java.util.Map.of("call_timeout", "30s")), store,
                    java.util.Optional.empty(), org.berth.driver.api.EventSink.DISCARD, stateDir))) {
                var theirs = agent.list().stream().map(i -> i.uuid()).toList();
                assertTrue(theirs.contains(legacy.uuid()), "an unmarked container is the default owner's: " + theirs);
                assertTrue(!theirs.contains(ours.uuid()), "another owner's container listed: " + theirs);
                // host-wide usage still counts both, whoever owns them
                assertEquals(agent.resources().vcpusUsed(), driver.resources().vcpusUsed());
            }
        }
    }
}
