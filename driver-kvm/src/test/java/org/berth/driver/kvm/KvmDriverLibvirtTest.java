package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;

/** The driver against the host's real libvirtd + QEMU (TCG), with the test guest images. */
class KvmDriverLibvirtTest {
    /** Not the agent's owner: an agent running on the same host does not adopt this test's domains. */
    private static final String TEST_OWNER = "berth-test";

    private static final Path IMAGES = TestImages.dir();
    private static final String MARKER = "BERTH-GUEST-READY";
    private static final Flavor FLAVOR = new Flavor("t.small", 1, 256, 1, 0, 0);

    private static Path stateDir;
    private static ManifestImageStore store;
    private static final List<LifecycleEvent> EVENTS = new CopyOnWriteArrayList<>();
    private static KvmDriver driver;
    private final List<UUID> spawned = new ArrayList<>();

    @BeforeAll
    static void open() throws IOException {
        Files.createDirectories(Path.of("/var/lib/berth"));
        Files.setPosixFilePermissions(Path.of("/var/lib/berth"), PosixFilePermissions.fromString("rwxr-xr-x"));
        stateDir = Files.createDirectories(Path.of("/var/lib/berth/kvm-test-" + UUID.randomUUID()));
        Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        store = new ManifestImageStore(IMAGES, stateDir.resolve("_store"));
        ComputeDriverProvider provider = ServiceLoader.load(ComputeDriverProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(p -> p.name().equals("kvm")).findFirst().orElseThrow();
        DriverContext ctx = new DriverContext(new DriverConfig("kvm", Map.of("shutdown_timeout", "30s",
                "soft_reboot_timeout", "20s")), store, Optional.empty(), EVENTS::add, stateDir, TEST_OWNER);
        driver = (KvmDriver) provider.create(ctx);
    }

    @AfterAll
    static void close() throws IOException {
        driver.close();
        driver.close();
        try (Stream<Path> files = Files.walk(stateDir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @AfterEach
    void noLeaks() throws Exception {
        for (UUID uuid : spawned) {
            driver.destroy(uuid);
            driver.destroy(uuid); // idempotent
            assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(uuid));
            assertFalse(Files.exists(stateDir.resolve(uuid.toString())), "instance dir of " + uuid);
            assertFalse(Files.exists(Path.of("/var/lib/libvirt/qemu/save/berth-" + uuid + ".save")));
        }
        SystemDomains.assertGone(spawned);
        try (Stream<Path> s = Files.list(stateDir.resolve("_snapshots")).filter(Files::isRegularFile)) {
            assertEquals(0, s.count(), "snapshot temp files");
        } catch (java.nio.file.NoSuchFileException ignored) {
            // no snapshot taken
        }
    }

    private InstanceSpec spec(String imageName, Map<String, String> props) {
        UUID uuid = UUID.randomUUID();
        spawned.add(uuid);
        return new InstanceSpec(uuid, "guest-" + imageName, FLAVOR, store.byName(imageName).id(), List.of(), props,
                true);
    }

    private String console(UUID uuid) {
        return new String(driver.consoleLog(uuid, 256 * 1024), StandardCharsets.UTF_8);
    }

    private long awaitMarker(UUID uuid, String marker) throws InterruptedException {
        long start = System.nanoTime();
        while (System.nanoTime() - start < Duration.ofSeconds(60).toNanos()) {
            if (console(uuid).contains(marker)) {
                return (System.nanoTime() - start) / 1_000_000;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(marker + " not in console of " + uuid + " within 60 s:\n" + console(uuid));
    }

    @Test
    void describesItself() {
        var info = driver.describe();
        assertEquals("kvm", info.name());
        assertEquals("QEMU", info.hypervisorType(), "virt_type auto on a host without vmx/svm");
        assertTrue(info.has(Capability.SUSPEND) && info.has(Capability.SNAPSHOT) && info.has(Capability.PAUSE));
        assertFalse(info.has(Capability.INTERFACE_HOTPLUG), "no VIF plugger in this context");
        var r = driver.resources();
        assertTrue(r.vcpus() >= 1 && r.memoryMb() > 0 && r.hypervisorVersion() > 1_000_000, r.toString());
        assertEquals("x86_64", r.cpuInfo().arch());
    }

    @Test
    void diskBootSuspendResumeSnapshotAndGracefulPowerOff() throws Exception {
        InstanceSpec spec = spec("berth-guest-disk", Map.of());
        long t0 = System.nanoTime();
        InstanceInfo info = driver.spawn(spec);
        long spawnMs = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(PowerState.RUNNING, info.powerState());
        assertEquals(spec, info.spec());
        assertEquals("berth-" + spec.uuid(), info.backendId());
        long bootMs = awaitMarker(spec.uuid(), MARKER);
        assertThrows(DriverException.InstanceExists.class, () -> driver.spawn(spec));
        assertTrue(driver.list().stream().anyMatch(i -> i.uuid().equals(spec.uuid())));
        var usage = driver.resources();
        assertTrue(usage.vcpusUsed() >= 1 && usage.memoryMbUsed() >= 256 && usage.runningInstances() >= 1);

        long s0 = System.nanoTime();
        driver.suspend(spec.uuid());
        long suspendMs = (System.nanoTime() - s0) / 1_000_000;
        assertEquals(PowerState.SUSPENDED, driver.info(spec.uuid()).powerState());
        assertThrows(DriverException.InvalidInstanceState.class, () -> driver.pause(spec.uuid()));
        s0 = System.nanoTime();
        driver.resume(spec.uuid());
        long resumeMs = (System.nanoTime() - s0) / 1_000_000;
        assertEquals(PowerState.RUNNING, driver.info(spec.uuid()).powerState());

        Image snap = driver.snapshot(spec.uuid(), "snap-of-disk");
        assertEquals(PowerState.RUNNING, driver.info(spec.uuid()).powerState(), "snapshot keeps the power state");
        try {
            assertEquals(DiskFormat.QCOW2, snap.diskFormat());
            long p0 = System.nanoTime();
            driver.powerOff(spec.uuid(), Duration.ofSeconds(30));
            long offMs = (System.nanoTime() - p0) / 1_000_000;
            assertEquals(PowerState.SHUTDOWN, driver.info(spec.uuid()).powerState());
            assertTrue(console(spec.uuid()).contains("BERTH-ACPI-POWER-BUTTON"), "graceful path");
            assertTrue(offMs < 25_000, "graceful shutdown took " + offMs + " ms");
            driver.powerOff(spec.uuid(), Duration.ofSeconds(1)); // already off

            InstanceSpec again = new InstanceSpec(UUID.randomUUID(), "from-snapshot", FLAVOR, snap.id(), List.of(),
                    Map.of(), true);
            spawned.add(again.uuid());
            driver.spawn(again);
            long snapBootMs = awaitMarker(again.uuid(), MARKER);
            System.out.printf("kvm timings: spawn(define+start) %d ms, boot to marker %d ms, managed save %d ms, "
                    + "restore %d ms, graceful power off %d ms, snapshot boot %d ms%n", spawnMs, bootMs, suspendMs,
                    resumeMs, offMs, snapBootMs);
            assertTrue(EVENTS.stream().anyMatch(e -> e.uuid().equals(spec.uuid())
                    && e.transition() == LifecycleEvent.Transition.SUSPENDED), "events: " + EVENTS);
            assertTrue(EVENTS.stream().anyMatch(e -> e.uuid().equals(spec.uuid())
                    && e.transition() == LifecycleEvent.Transition.STOPPED));
        } finally {
            driver.destroy(spawned.getLast());
            store.delete(snap.id());
        }
    }

    @Test
    void kernelBootPauseAndHardRebootRegeneratesALostDefinition() throws Exception {
        InstanceSpec spec = spec("berth-guest-kernel", Map.of("os_command_line", "console=ttyS0 quiet'\"<&>"));
        driver.spawn(spec);
        awaitMarker(spec.uuid(), MARKER);
        assertEquals(spec, driver.info(spec.uuid()).spec(), "metadata round trip through libvirt");
        long r0 = System.nanoTime();
        driver.reboot(spec.uuid(), RebootType.SOFT);
        long softMs = (System.nanoTime() - r0) / 1_000_000;
        assertEquals(PowerState.RUNNING, driver.info(spec.uuid()).powerState());
        long bootMs = awaitMarker(spec.uuid(), MARKER);
        System.out.printf("kvm timings: soft reboot %d ms, then boot to marker %d ms%n", softMs, bootMs);
        assertTrue(softMs < 15_000, "soft reboot used the guest, not the 20 s fallback: " + softMs + " ms");
        var bad = assertThrows(DriverException.InvalidInstanceState.class, () -> driver.unpause(spec.uuid()));
        assertEquals(PowerState.RUNNING, bad.found());
        driver.pause(spec.uuid());
        driver.pause(spec.uuid());
        assertEquals(PowerState.PAUSED, driver.info(spec.uuid()).powerState());
        driver.reboot(spec.uuid(), RebootType.HARD); // from PAUSED
        assertEquals(PowerState.RUNNING, driver.info(spec.uuid()).powerState());

        driver.powerOff(spec.uuid(), Duration.ZERO); // forced
        assertEquals(PowerState.SHUTDOWN, driver.info(spec.uuid()).powerState());
        Connect c = new Connect("qemu:///system");
        try {
            c.domainLookupByName("berth-" + spec.uuid()).undefine();
        } finally {
            c.close();
        }
        assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(spec.uuid()));
        driver.reboot(spec.uuid(), RebootType.HARD);
        InstanceInfo info = driver.info(spec.uuid());
        assertEquals(PowerState.RUNNING, info.powerState());
        assertEquals(spec, info.spec());
        awaitMarker(spec.uuid(), MARKER);
        driver.powerOn(spec.uuid()); // already running
    }

    @Test
    void failedSpawnsLeaveNothingAndUnknownIdsAreNotFound() throws Exception {
        UUID unknown = UUID.randomUUID();
        assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(unknown));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver.powerOff(unknown, Duration.ofSeconds(1)));
        driver.destroy(unknown);

        InstanceSpec missing = new InstanceSpec(UUID.randomUUID(), "missing", FLAVOR, UUID.randomUUID().toString(),
                List.of(), Map.of(), true);
        spawned.add(missing.uuid());
        assertThrows(DriverException.ImageNotFound.class, () -> driver.spawn(missing));

        Image real = store.byName("berth-guest-disk");
        Image corrupt = new Image(UUID.randomUUID().toString(), "corrupt", DiskFormat.QCOW2, ContainerFormat.BARE,
                "0".repeat(64), real.size(), Map.of());
        store.put(corrupt, store.file(real.id()));
        InstanceSpec bad = new InstanceSpec(UUID.randomUUID(), "corrupt", FLAVOR, corrupt.id(), List.of(), Map.of(),
                true);
        spawned.add(bad.uuid());
        var e = assertThrows(DriverException.ImageInvalid.class, () -> driver.spawn(bad));
        assertTrue(e.rule().contains("sha256"), e.getMessage());
        assertFalse(Files.exists(stateDir.resolve("_base").resolve(corrupt.id())));

        VifPlugger failing = new VifPlugger() {
            @Override
            public String plugTap(UUID instance, VifSpec vif) {
                throw new DriverException.VifFailure(vif.portId(), "injected", null);
            }

            @Override
            public void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void awaitAttached(UUID instance, VifSpec vif) {
                throw new DriverException.VifFailure(vif.portId(), "never plugged", null);
            }

            @Override
            public void unplug(UUID instance, VifSpec vif) {
            }
        };
        DriverContext ctx = new DriverContext(DriverConfig.empty("kvm"), store, Optional.of(failing), x -> { },
                stateDir, TEST_OWNER);
        try (ComputeDriver withFailingNet = new KvmDriverProvider().create(ctx)) {
            InstanceSpec vifFails = spec("berth-guest-kernel", Map.of())
                    .withVifs(List.of(VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:19:00:09")));
            assertThrows(DriverException.VifFailure.class, () -> withFailingNet.spawn(vifFails));
            assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(vifFails.uuid()));
            assertFalse(Files.exists(stateDir.resolve(vifFails.uuid().toString())));
        }

        InstanceSpec ramdisk = new InstanceSpec(UUID.randomUUID(), "ari", FLAVOR,
                store.byName("berth-guest-initrd").id(), List.of(), Map.of(), true);
        spawned.add(ramdisk.uuid());
        assertThrows(DriverException.ImageInvalid.class, () -> driver.spawn(ramdisk));
    }

    @Test
    void unreachableLibvirtIsBackendUnavailable() {
        DriverContext ctx = new DriverContext(new DriverConfig("kvm", Map.of("uri",
                "qemu+unix:///system?socket=/nonexistent/libvirt-sock", "call_timeout", "10s")), store,
                Optional.empty(), e -> { }, stateDir);
        var e = assertThrows(DriverException.BackendUnavailable.class, () -> new KvmDriverProvider().create(ctx));
        assertEquals("libvirt", e.backend());
    }

    @Test
    void aStateDirQemuCannotReachRefusesToCreate() throws IOException {
        // as a clone under /root (0700) did: every spawn failed with "Permission denied" on its disk
        Path closed = Files.createDirectory(stateDir.resolve("closed-" + UUID.randomUUID()));
        try {
            Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));
            Path inside = Files.createDirectories(closed.resolve("state/kvm"));
            DriverContext ctx = new DriverContext(DriverConfig.empty("kvm"), store, Optional.empty(), e -> { },
                    inside, TEST_OWNER);
            var e = assertThrows(DriverException.StateDirUnreachable.class, () -> new KvmDriverProvider().create(ctx));
            assertEquals(closed, e.blocked());
            assertTrue(e.user().contains("uid 64055") || e.user().startsWith("libvirt-qemu"), e.user());
            Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx--x--x"));
            new KvmDriverProvider().create(ctx).close();
        } finally {
            try (Stream<Path> files = Files.walk(closed)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void vifsAtSpawnAndHotplugKeepMetadataInSync() throws Exception {
        TapPlugger taps = new TapPlugger();
        DriverContext ctx = new DriverContext(DriverConfig.empty("kvm"), store, Optional.of(taps), e -> { },
                stateDir, TEST_OWNER);
        try (ComputeDriver withNet = new KvmDriverProvider().create(ctx)) {
            assertTrue(withNet.describe().has(Capability.INTERFACE_HOTPLUG));
            VifSpec eth0 = new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:19:00:01", "br-int", 1400,
                    Optional.empty(), List.of(IpAddress.parseCidr("198.18.77.10/24", "ip")),
                    Optional.of(IpAddress.parseAddress("198.18.77.1", "gw")));
            InstanceSpec spec = spec("berth-guest-kernel", Map.of()).withVifs(List.of(eth0));
            withNet.spawn(spec);
            assertTrue(TapPlugger.exists(eth0.devName()));
            awaitMarker(spec.uuid(), MARKER);
            assertTrue(console(spec.uuid()).contains("BERTH-NET eth0 198.18.77.10/24 mac fa:16:3e:19:00:01 mtu 1400"),
                    console(spec.uuid()));

            VifSpec eth1 = VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:19:00:02");
            withNet.attachInterface(spec.uuid(), eth1);
            assertEquals(List.of(eth0, eth1), withNet.info(spec.uuid()).spec().vifs());
            // the metadata rewritten by the hot-plug keeps the owner: the instance is still listed as the owner's
            assertTrue(withNet.list().stream().anyMatch(i -> i.uuid().equals(spec.uuid())), "lost after attach");
            awaitMarker(spec.uuid(), "BERTH-NIC-ADD");
            withNet.detachInterface(spec.uuid(), eth1.portId());
            withNet.detachInterface(spec.uuid(), eth1.portId()); // idempotent
            assertEquals(List.of(eth0), withNet.info(spec.uuid()).spec().vifs());
            assertFalse(TapPlugger.exists(eth1.devName()));

            withNet.destroy(spec.uuid());
            assertFalse(TapPlugger.exists(eth0.devName()), "destroy unplugs");
            assertTrue(taps.plugged.isEmpty());
        }
    }

    @Test
    void definedOnlyThenBaseCleanupIsExplicit() throws Exception {
        InstanceSpec spec = spec("berth-guest-disk", Map.of()).withPowerOn(false);
        long t0 = System.nanoTime();
        InstanceInfo info = driver.spawn(spec);
        System.out.printf("kvm timings: spawn without power on (overlay + define) %d ms%n",
                (System.nanoTime() - t0) / 1_000_000);
        assertEquals(PowerState.SHUTDOWN, info.powerState());
        String id = spec.imageId();
        assertTrue(Files.exists(stateDir.resolve("_base").resolve(id)));
        assertFalse(driver.removeUnusedBaseImages(Duration.ZERO).contains(id), "in use");
        driver.destroy(spec.uuid());
        assertTrue(Files.exists(stateDir.resolve("_base").resolve(id)), "destroy never removes bases");
        assertFalse(driver.removeUnusedBaseImages(Duration.ofHours(1)).contains(id), "too young");
        assertTrue(driver.removeUnusedBaseImages(Duration.ZERO).contains(id));
        assertFalse(Files.exists(stateDir.resolve("_base").resolve(id)));
    }
}
