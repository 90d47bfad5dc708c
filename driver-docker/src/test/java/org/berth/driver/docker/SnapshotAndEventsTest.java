package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.LifecycleEvent.Transition;
import org.berth.driver.api.PowerState;
import org.junit.jupiter.api.Test;

class SnapshotAndEventsTest extends DockerTestBase {

    @Test
    void aSnapshotIsADockerImageInTheStoreThatSpawnsAgain() throws Exception {
        InstanceSpec spec = spec("sh", "-c", "echo SNAP-CONTENT > /marker; sleep 100000")
                .withGuest(new org.berth.driver.api.GuestConfig("snapped", java.util.Map.of("secret", "s3cr3t"),
                        java.util.Map.of(), Optional.empty(), Optional.empty(), Optional.empty(), "nova"));
        driver.spawn(spec);
        Thread.sleep(300); // the marker is written at once; commit copies the file system as it is
        Image snap = driver.snapshot(spec.uuid(), "snap-" + spec.uuid().toString().substring(0, 8));
        engineImages.add(snap.property("docker_image_id", ""));
        assertEquals(DiskFormat.RAW, snap.diskFormat());
        assertEquals(ContainerFormat.DOCKER, snap.containerFormat());
        assertTrue(Files.size(store.file(snap.id())) > 0);
        String tar = new String(Files.readAllBytes(store.file(snap.id())), java.nio.charset.StandardCharsets.ISO_8859_1);
        // the image holds the file system, not the instance's metadata (in its environment or spec label)
        assertTrue(tar.contains("SNAP-CONTENT"), "the snapshot has the container's file");
        int at = tar.indexOf("s3cr3t");
        assertTrue(at < 0, () -> "the metadata value is in the image: " + tar.substring(Math.max(0, at - 300), at + 20));
        assertFalse(tar.contains("czNjcjN0"), "the metadata value is in the image, base64");
        assertEquals(PowerState.RUNNING, driver.info(spec.uuid()).powerState(), "ends in the state it had");
        assertNotEquals(busybox.sha256(), snap.sha256());

        // The committed image was removed from the engine: spawning loads the tarball by its manifest's id.
        InstanceSpec again = spec("cat", "/marker").withPowerOn(true);
        again = InstanceSpec.of(again.uuid(), "again", SMALL, snap.id())
                .withProperties(java.util.Map.of(InstanceSpec.COMMAND, "sh\n-c\ncat /marker; env; sleep 100000"));
        InstanceSpec finalAgain = again;
        assertEquals(PowerState.RUNNING, driver.spawn(again).powerState());
        await("snapshot content", Duration.ofSeconds(10), () -> log(finalAgain.uuid()).contains("SNAP-CONTENT"));
        await("its environment", Duration.ofSeconds(10), () -> log(finalAgain.uuid()).contains("PATH="));
        // the snapshot is the file system, not the first instance's metadata (emptied: the engine cannot unset)
        assertTrue(!log(finalAgain.uuid()).contains("s3cr3t") && log(finalAgain.uuid()).contains("BERTH_META_SECRET=\n"),
                log(finalAgain.uuid()));
        assertEquals(new org.berth.driver.api.GuestConfig("again", java.util.Map.of(), java.util.Map.of(),
                Optional.empty(), Optional.empty(), Optional.empty(), "nova"), driver.info(finalAgain.uuid()).spec()
                .guest().withAvailabilityZone("nova"));
    }

    @Test
    void engineEventsBecomeLifecycleEvents() {
        List<LifecycleEvent> events = new CopyOnWriteArrayList<>();
        ComputeDriver withEvents = newDriver(Optional.empty(), events::add);
        try {
            InstanceSpec spec = spec("sleep", "100000");
            withEvents.spawn(spec);
            withEvents.pause(spec.uuid());
            withEvents.unpause(spec.uuid());
            withEvents.powerOff(spec.uuid(), Duration.ofMillis(200));
            List<Transition> expected = List.of(Transition.STARTED, Transition.PAUSED, Transition.RESUMED,
                    Transition.STOPPED);
            await("events " + expected, Duration.ofSeconds(10), () -> events.stream()
                    .filter(e -> e.uuid().equals(spec.uuid())).map(LifecycleEvent::transition).toList()
                    .equals(expected));
        } finally {
            withEvents.close();
        }
        withEvents.close(); // idempotent
    }
}
