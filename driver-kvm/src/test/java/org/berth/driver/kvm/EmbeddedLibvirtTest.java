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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.libvirt.Connect;
import org.w3c.dom.Element;

/**
 * The driver on libvirt's embedded QEMU driver ({@code qemu:///embed?root=DIR}) under a fresh root: QEMU is run by
 * the embedding process's libvirt, not by libvirtd. libvirt starts the embedded driver once per process and holds
 * the root until the process exits, so "another process" is a child JVM ({@link EmbedChild}).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EmbeddedLibvirtTest {
    private static final String MARKER = "BERTH-GUEST-READY";
    private static final List<LifecycleEvent> EVENTS = new CopyOnWriteArrayList<>();

    private static Path stateDir;
    private static Path root;
    private static String uri;
    private static ManifestImageStore store;
    private static final TapPlugger TAPS = new TapPlugger();
    private static final List<UUID> SPAWNED = new ArrayList<>();
    private static final List<String> TAP_NAMES = new ArrayList<>();

    @BeforeAll
    static void prepare() throws IOException {
        String id = UUID.randomUUID().toString().substring(0, 8);
        Files.createDirectories(Path.of("/var/lib/berth"));
        stateDir = Files.createDirectories(Path.of("/var/lib/berth/kvm-embed-test-" + id));
        Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        root = Path.of("/var/lib/berth/e-" + id); // short: QEMU's monitor socket lives below it
        uri = "qemu:///embed?root=" + root;
        store = new ManifestImageStore(TestImages.dir(), stateDir.resolve("_store"));
    }

    private static KvmDriver open() throws IOException {
        return EmbedChild.open(root, stateDir, TAPS, EVENTS::add);
    }

    @AfterAll
    static void nothingLeft() throws Exception {
        if (Files.exists(root)) {
            try (KvmDriver driver = open()) {
                for (UUID uuid : SPAWNED) {
                    driver.destroy(uuid);
                    assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(uuid));
                }
                assertTrue(driver.list().isEmpty(), "domains left: " + driver.list());
            }
        }
        assertEquals(List.of(), qemuProcessesUnder(root), "QEMU processes of the root");
        assertTrue(TAP_NAMES.stream().noneMatch(TapPlugger::exists), "taps left: " + TAP_NAMES);
        assertTrue(SPAWNED.stream().noneMatch(u -> Files.exists(stateDir.resolve(u.toString()))), "instance dirs");
        for (Path dir : new Path[] {root, stateDir}) {
            if (Files.exists(dir)) {
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            assertFalse(Files.exists(dir), dir + " removed");
        }
    }

    /** The pids of QEMU processes whose command line mentions {@code dir}. */
    static List<Long> qemuProcessesUnder(Path dir) {
        List<Long> found = new ArrayList<>();
        ProcessHandle.allProcesses().forEach(p -> {
            Path cmdline = Path.of("/proc", Long.toString(p.pid()), "cmdline");
            try {
                String args = new String(Files.readAllBytes(cmdline), StandardCharsets.UTF_8);
                if (args.startsWith("/usr/bin/qemu-system") && args.contains(dir.toString())) {
                    found.add(p.pid());
                }
            } catch (IOException e) {
                // gone meanwhile
            }
        });
        return found;
    }

    @Test
    @Order(1)
    void aDomainSpawnedByAProcessThatExitedIsSeenAndControlledByTheNext() throws Exception {
        assertFalse(Files.exists(root));
        UUID uuid = UUID.randomUUID();
        InstanceSpec spec = EmbedChild.spec(uuid, "fa:16:3e:19:01:01");
        SPAWNED.add(uuid);
        TAP_NAMES.add(spec.vifs().getFirst().devName());
        assertEquals("OK", EmbedChild.run(Duration.ofSeconds(120), stateDir.resolve("child-spawn.log"), "spawn",
                root.toString(), stateDir.toString(), uuid.toString(), "fa:16:3e:19:01:01"));
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(root)), "root 0755");
        long qemuPid = qemuPid(uuid);
        assertEquals(List.of(qemuPid), qemuProcessesUnder(root), "QEMU outlives the process that started it");
        assertFalse(onSystemLibvirt(uuid), "an embedded domain is not libvirtd's");

        try (KvmDriver driver = open()) {
            InstanceInfo found = driver.list().stream().filter(i -> i.uuid().equals(uuid)).findFirst().orElseThrow(
                    () -> new AssertionError("the running domain is not listed by the next process"));
            assertEquals(PowerState.RUNNING, found.powerState());
            assertEquals(spec, found.spec());
            assertEquals(qemuPid, qemuPid(uuid), "the same QEMU, reattached");
            assertOffloadsOffInLibvirtAndQemu(uuid, qemuPid, 1);
            var usage = driver.resources();
            assertTrue(usage.runningInstances() >= 1 && usage.memoryMbUsed() >= 256, usage.toString());

            driver.reboot(uuid, RebootType.SOFT); // the monitor is live again, not only the listing
            awaitMarker(driver, uuid, MARKER);
            driver.pause(uuid);
            assertEquals(PowerState.PAUSED, driver.info(uuid).powerState());
            driver.unpause(uuid);
            var snap = driver.snapshot(uuid, "embedded-snap");
            store.delete(snap.id());
            VifSpec eth1 = VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:19:01:02");
            TAP_NAMES.add(eth1.devName());
            driver.attachInterface(uuid, eth1);
            awaitMarker(driver, uuid, "BERTH-NIC-ADD");
            assertOffloadsOffInLibvirtAndQemu(uuid, qemuPid(uuid), 2); // a new QEMU: snapshot saves and restores
            driver.detachInterface(uuid, eth1.portId());
            driver.powerOff(uuid, Duration.ofSeconds(30));
            assertEquals(PowerState.SHUTDOWN, driver.info(uuid).powerState());
            assertEquals(List.of(), qemuProcessesUnder(root));
            driver.powerOn(uuid);
            awaitMarker(driver, uuid, MARKER);
            try (var console = driver.openConsole(uuid)) { // an fdstream on the pty: no libvirtd in between
                byte[] line = "\recho $((6*7))\r".getBytes(StandardCharsets.US_ASCII);
                console.write(line, 0, line.length);
                StringBuilder seen = new StringBuilder();
                byte[] buf = new byte[4096];
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (seen.indexOf("\n42\r\n") < 0) {
                    assertTrue(System.nanoTime() < deadline, "no 42 on the embedded console: " + seen);
                    int n = console.read(buf, 0, buf.length, Duration.ofMillis(500));
                    assertTrue(n >= 0, "embedded console ended: " + seen);
                    seen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                }
            }
            awaitEvent(uuid, LifecycleEvent.Transition.PAUSED, 1);
            awaitEvent(uuid, LifecycleEvent.Transition.STOPPED, 1);
            awaitEvent(uuid, LifecycleEvent.Transition.STARTED, 1);
        }
        // the driver closed and opened again in one process (libvirt keeps its embedded driver): still there
        try (KvmDriver again = open()) {
            assertEquals(PowerState.RUNNING, again.info(uuid).powerState());
            again.destroy(uuid);
            assertThrows(DriverException.InstanceNotFound.class, () -> again.info(uuid));
            assertFalse(TapPlugger.exists(spec.vifs().getFirst().devName()));
            assertEquals(List.of(), qemuProcessesUnder(root));
        }
    }

    @Test
    @Order(2)
    void aRootHeldByAnotherProcessIsSaidSo() throws Exception {
        try (KvmDriver holding = open()) {
            assertTrue(holding.list().isEmpty());
            String said = EmbedChild.run(Duration.ofSeconds(60), stateDir.resolve("child-open.log"), "open",
                    root.toString(), stateDir.toString());
            System.out.println("embed: a second process on a held root is told: " + said);
            assertTrue(said.startsWith("FAILED " + DriverException.BackendUnavailable.class.getName()), said);
            assertTrue(said.contains(root + " is held by another process (pid " + ProcessHandle.current().pid()
                    + ")"), said);
        }
    }

    private static long qemuPid(UUID uuid) throws IOException {
        return Long.parseLong(Files.readString(root.resolve("run/qemu/berth-" + uuid + ".pid")).trim());
    }

    private static void assertOffloadsOffInLibvirtAndQemu(UUID uuid, long pid, int nics) throws Exception {
        Connect c = new Connect(uri); // this process's embedded driver, a second connection to it
        try {
            Element domain = Xml.parse(c.domainLookupByName("berth-" + uuid).getXMLDesc(0)).getDocumentElement();
            var interfaces = domain.getElementsByTagName("interface");
            assertEquals(nics, interfaces.getLength());
            for (int i = 0; i < interfaces.getLength(); i++) {
                KvmUnitTest.assertOffloadsOff((Element) interfaces.item(i));
            }
        } finally {
            c.close();
        }
        String cmdline = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                StandardCharsets.UTF_8);
        if (nics == 1) { // a hot-plugged NIC is added over QMP, not on the command line
            assertTrue(cmdline.contains("\"csum\":false") && cmdline.contains("\"guest_csum\":false")
                    && cmdline.contains("\"gso\":false") && cmdline.contains("\"host_tso4\":false"), cmdline);
        }
    }

    private static boolean onSystemLibvirt(UUID uuid) throws Exception {
        Connect c = new Connect("qemu:///system");
        try {
            Set<String> names = new HashSet<>(List.of(c.listDefinedDomains()));
            for (int id : c.listDomains()) {
                names.add(c.domainLookupByID(id).getName());
            }
            return names.contains("berth-" + uuid);
        } finally {
            c.close();
        }
    }

    private static String console(KvmDriver driver, UUID uuid) {
        return new String(driver.consoleLog(uuid, 256 * 1024), StandardCharsets.UTF_8);
    }

    /** Waits for the {@code marker} of the current boot (the log starts afresh at each boot). */
    private static void awaitMarker(KvmDriver driver, UUID uuid, String marker) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (console(driver, uuid).contains(marker)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(marker + " not in console of " + uuid + " within 60 s:\n" + console(driver, uuid));
    }

    private static void awaitEvent(UUID uuid, LifecycleEvent.Transition t, int atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            if (EVENTS.stream().filter(e -> e.uuid().equals(uuid) && e.transition() == t).count() >= atLeast) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(atLeast + " x " + t + " of " + uuid + " not published: " + EVENTS);
    }
}
