package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.UUID;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

class DockerDriverTest extends DockerTestBase {

    @Test
    void providerIsFoundByServiceLoaderAndDeclaresItsMatrix() {
        var names = ServiceLoader.load(ComputeDriverProvider.class).stream().map(p -> p.get().name()).toList();
        assertTrue(names.contains("docker"), names.toString());
        var info = driver.describe();
        assertEquals("docker", info.hypervisorType());
        assertTrue(info.has(Capability.PAUSE) && info.has(Capability.SNAPSHOT) && info.has(Capability.CONSOLE_LOG)
                && info.has(Capability.SOFT_REBOOT) && info.has(Capability.LIFECYCLE_EVENTS));
        assertFalse(info.has(Capability.SUSPEND));
        assertFalse(info.has(Capability.INTERFACE_HOTPLUG), "no plugger, no hot-plug");
        assertTrue(info.accepts(busybox));
    }

    @Test
    void spawnStoresTheSpecInLabelsAndInfoAndListRebuildIt() {
        var vif = new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:00:00:01", "br-int", 1400,
                java.util.Optional.of(42), List.of(org.berth.driver.api.IpAddress.parseCidr("198.18.0.5/24", "ip")),
                java.util.Optional.of(org.berth.driver.api.IpAddress.parseAddress("198.18.0.1", "gw")));
        InstanceSpec spec = spec().withVifs(List.of(vif)).withProperties(Map.of("note", "x"));
        InstanceInfo spawned = driver.spawn(spec);
        assertEquals(PowerState.RUNNING, spawned.powerState());
        assertEquals(spec, spawned.spec());
        assertEquals(spec, driver.info(spec.uuid()).spec());
        var listed = driver.list().stream().filter(i -> i.uuid().equals(spec.uuid())).toList();
        assertEquals(1, listed.size());
        assertEquals(spec, listed.get(0).spec());
        assertEquals(PowerState.RUNNING, listed.get(0).powerState());

        var c = raw.inspectContainerCmd(spec.backendName()).exec();
        assertEquals(spec.uuid().toString(), c.getConfig().getLabels().get(SpecLabels.UUID_LABEL));
        var host = c.getHostConfig();
        assertEquals("none", host.getNetworkMode());
        assertEquals(64L << 20, host.getMemory());
        assertEquals(1_000_000_000L, host.getNanoCPUs());
        assertEquals(List.of("no-new-privileges"), host.getSecurityOpts());
        String restart = host.getRestartPolicy().getName();
        assertTrue(restart == null || restart.isEmpty() || restart.equals("no"), restart);
        await("ready marker", Duration.ofSeconds(10), () -> log(spec.uuid()).contains("BERTH-CONTAINER-READY"));

        assertThrows(DriverException.InstanceExists.class, () -> driver.spawn(spec));
    }

    @Test
    void powerOffOfSleepAsPid1FallsBackToSigkillAfterTheTimeout() {
        InstanceSpec spec = spec("sleep", "100000");
        driver.spawn(spec);
        long t0 = System.nanoTime();
        driver.powerOff(spec.uuid(), Duration.ofSeconds(1));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 1000 && ms < 8000, "power off took " + ms + " ms");
        assertEquals(PowerState.SHUTDOWN, driver.info(spec.uuid()).powerState());
        driver.powerOff(spec.uuid(), Duration.ofSeconds(1)); // already off
        driver.powerOn(spec.uuid());
        assertEquals(PowerState.RUNNING, driver.info(spec.uuid()).powerState());
        driver.powerOn(spec.uuid()); // already on
    }

    @Test
    void gracefulPowerOffOfTheDefaultCommandIsQuick() {
        InstanceSpec spec = spec();
        driver.spawn(spec);
        await("ready marker", Duration.ofSeconds(10), () -> log(spec.uuid()).contains("BERTH-CONTAINER-READY"));
        long t0 = System.nanoTime();
        driver.powerOff(spec.uuid(), Duration.ofSeconds(20));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 5000, "graceful stop took " + ms + " ms");
        assertEquals(PowerState.SHUTDOWN, driver.info(spec.uuid()).powerState());
    }

    @Test
    void pauseIsReportedAndStateRulesHold() {
        InstanceSpec spec = spec("sleep", "100000");
        UUID id = spec.uuid();
        driver.spawn(spec);
        driver.pause(id);
        assertEquals(PowerState.PAUSED, driver.info(id).powerState());
        assertEquals(PowerState.PAUSED, driver.list().stream().filter(i -> i.uuid().equals(id)).findFirst()
                .orElseThrow().powerState());
        driver.pause(id); // already paused
        driver.unpause(id);
        assertEquals(PowerState.RUNNING, driver.info(id).powerState());
        var e = assertThrows(DriverException.InvalidInstanceState.class, () -> driver.unpause(id));
        assertEquals(PowerState.RUNNING, e.found());

        driver.pause(id);
        driver.powerOff(id, Duration.ofSeconds(1)); // PAUSED is forced off
        assertEquals(PowerState.SHUTDOWN, driver.info(id).powerState());
        var p = assertThrows(DriverException.InvalidInstanceState.class, () -> driver.pause(id));
        assertEquals(PowerState.SHUTDOWN, p.found());
        assertThrows(DriverException.CapabilityMissing.class, () -> driver.suspend(id));
        assertThrows(DriverException.CapabilityMissing.class, () -> driver.resume(id));
    }

    @Test
    void rebootEndsRunningFromEveryState() {
        InstanceSpec spec = spec("sleep", "100000");
        UUID id = spec.uuid();
        driver.spawn(spec.withPowerOn(false));
        assertEquals(PowerState.SHUTDOWN, driver.info(id).powerState());
        driver.reboot(id, RebootType.HARD); // from SHUTDOWN
        assertEquals(PowerState.RUNNING, driver.info(id).powerState());
        driver.pause(id);
        driver.reboot(id, RebootType.SOFT); // from PAUSED
        assertEquals(PowerState.RUNNING, driver.info(id).powerState());
        long t0 = System.nanoTime();
        driver.reboot(id, RebootType.SOFT); // sleep ignores SIGTERM: falls back to kill after stop_timeout (2 s)
        assertTrue((System.nanoTime() - t0) / 1_000_000 >= 2000);
        assertEquals(PowerState.RUNNING, driver.info(id).powerState());
        driver.reboot(id, RebootType.HARD);
        assertEquals(PowerState.RUNNING, driver.info(id).powerState());
    }

    @Test
    void consoleLogIsABoundedTail() {
        InstanceSpec spec = spec("sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; echo END-MARK;"
                + " sleep 100000");
        driver.spawn(spec);
        await("log end", Duration.ofSeconds(20), () -> log(spec.uuid()).contains("END-MARK"));
        byte[] tail = driver.consoleLog(spec.uuid(), 100);
        assertEquals(100, tail.length);
        String text = new String(tail, StandardCharsets.UTF_8);
        assertTrue(text.endsWith("line-2999\nEND-MARK\n"), text);
        assertEquals(1, driver.consoleLog(spec.uuid(), 1).length);
        assertTrue(driver.consoleLog(spec.uuid(), 1 << 20).length < 1 << 20);
        assertThrows(IllegalArgumentException.class, () -> driver.consoleLog(spec.uuid(), 0));
        assertThrows(IllegalArgumentException.class, () -> driver.consoleLog(spec.uuid(), (1 << 20) + 1));
    }

    @Test
    void unknownInstancesAndBadImagesMapToDriverErrors() {
        UUID unknown = UUID.randomUUID();
        assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(unknown));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver.powerOn(unknown));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver.consoleLog(unknown, 10));
        driver.destroy(unknown); // idempotent

        InstanceSpec missing = spec();
        var noImage = InstanceSpec.of(missing.uuid(), "x", SMALL, UUID.randomUUID().toString());
        assertThrows(DriverException.ImageNotFound.class, () -> driver.spawn(noImage));

        Image bare = new Image(UUID.randomUUID().toString(), "bare", DiskFormat.RAW, ContainerFormat.BARE,
                busybox.sha256(), busybox.size(), Map.of());
        store.put(bare, store.file(busybox.id()));
        var wrongFormat = InstanceSpec.of(missing.uuid(), "x", SMALL, bare.id());
        assertThrows(DriverException.ImageInvalid.class, () -> driver.spawn(wrongFormat));

        Image corrupt = new Image(UUID.randomUUID().toString(), "corrupt", DiskFormat.RAW, ContainerFormat.DOCKER,
                "0".repeat(64), busybox.size(), Map.of());
        store.put(corrupt, store.file(busybox.id()));
        var badSum = InstanceSpec.of(missing.uuid(), "x", SMALL, corrupt.id());
        var e = assertThrows(DriverException.ImageInvalid.class, () -> driver.spawn(badSum));
        assertTrue(e.rule().contains("sha256"), e.getMessage());
    }

    @Test
    void aSpawnWhoseCommandCannotStartLeavesNoContainer() {
        InstanceSpec spec = spec("/no/such/binary");
        assertThrows(DriverException.class, () -> driver.spawn(spec));
        assertEquals(List.of(), raw.listContainersCmd().withShowAll(true)
                .withNameFilter(List.of(spec.backendName())).exec());
        assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(spec.uuid()));
    }

    @Test
    void aCommandThatEndsAtOnceIsAnInstanceThatShutDown() {
        InstanceSpec spec = spec("true");
        driver.spawn(spec);
        await("SHUTDOWN", Duration.ofSeconds(10), () -> driver.info(spec.uuid()).powerState() == PowerState.SHUTDOWN);
        driver.powerOn(spec.uuid());
        assertTrue(driver.list().stream().anyMatch(i -> i.uuid().equals(spec.uuid())));
    }

    @Test
    void anUnreachableEngineIsBackendUnavailable() {
        var ctx = new org.berth.driver.api.DriverContext(new org.berth.driver.api.DriverConfig("docker",
                Map.of("host", "unix:///nonexistent/berth-" + UUID.randomUUID() + ".sock", "call_timeout", "5s")),
                store, java.util.Optional.empty(), org.berth.driver.api.EventSink.DISCARD, stateDir);
        long t0 = System.nanoTime();
        var e = assertThrows(DriverException.BackendUnavailable.class, () -> new DockerDriverProvider().create(ctx));
        assertEquals("docker", e.backend());
        assertTrue((System.nanoTime() - t0) / 1_000_000 < 6000);
        var bad = new org.berth.driver.api.DriverContext(new org.berth.driver.api.DriverConfig("docker",
                Map.of("call_timeout", "forever")), store, java.util.Optional.empty(),
                org.berth.driver.api.EventSink.DISCARD, stateDir);
        var c = assertThrows(DriverException.InvalidConfiguration.class, () -> new DockerDriverProvider().create(bad));
        assertEquals("drivers.docker.call_timeout", c.option());
    }

    @Test
    void resourcesCountThisDriversInstances() {
        InstanceSpec spec = spec();
        var before = driver.resources();
        driver.spawn(spec);
        var after = driver.resources();
        assertEquals("docker", after.hypervisorType());
        assertTrue(after.vcpus() >= 1 && after.memoryMb() > 64 && after.localGb() > 0);
        assertTrue(after.hypervisorVersion() >= 20_000_000L, "version " + after.hypervisorVersion());
        assertTrue(after.memoryMbUsed() >= before.memoryMbUsed() + 64 - 64 * 8, "shared engine: others may churn");
        assertTrue(after.runningInstances() >= 1);
        assertFalse(after.cpuInfo().arch().isBlank());
    }
}
