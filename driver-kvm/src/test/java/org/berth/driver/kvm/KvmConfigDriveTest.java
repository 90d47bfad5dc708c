package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;
import org.w3c.dom.Element;

/**
 * The config drive against the host's libvirtd + QEMU (TCG) with the busybox test guest: the image on disk, the
 * domain's cdrom, regeneration on hot-plug and hard reboot, removal with the instance, the kernel-parameter fallback,
 * and the guest configuring its NICs from the drive. VIFs are plain taps ({@link TapPlugger}).
 */
class KvmConfigDriveTest {
    private static final String TEST_OWNER = "berth-test";
    private static final String MARKER = "BERTH-GUEST-READY";
    private static final Flavor FLAVOR = new Flavor("t.small", 1, 256, 1, 0, 0);
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path stateDir;
    private static ManifestImageStore store;
    private static TapPlugger taps;
    private static ComputeDriver driver;
    private final List<UUID> spawned = new ArrayList<>();
    private final List<VifSpec> vifs = new ArrayList<>();

    @BeforeAll
    static void open() throws IOException {
        Files.createDirectories(Path.of("/var/lib/berth"));
        stateDir = Files.createDirectories(Path.of("/var/lib/berth/kvm-drive-test-" + UUID.randomUUID()));
        Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        store = new ManifestImageStore(TestImages.dir(), stateDir.resolve("_store"));
        taps = new TapPlugger();
        driver = open(Map.of());
    }

    private static ComputeDriver open(Map<String, String> options) {
        return new KvmDriverProvider().create(new DriverContext(new DriverConfig("kvm", options), store,
                Optional.of(taps), e -> { }, stateDir, TEST_OWNER));
    }

    @AfterAll
    static void close() throws IOException {
        driver.close();
        InstanceFiles.deleteTree(stateDir);
        assertFalse(Files.exists(stateDir));
    }

    @AfterEach
    void noLeaks() throws Exception {
        SystemDomains.destroyAndAssertGone(driver, stateDir, spawned);
        taps.assertNoneLeft(vifs);
    }

    private VifSpec vif(String mac, String cidr, String gateway) {
        VifSpec v = new VifSpec(UUID.randomUUID().toString(), mac, "br-int", 1400, Optional.empty(),
                List.of(IpAddress.parseCidr(cidr, "ip")),
                Optional.ofNullable(gateway).map(g -> IpAddress.parseAddress(g, "gw")));
        vifs.add(v);
        return v;
    }

    private InstanceSpec spec(String name, GuestConfig guest, VifSpec... nics) {
        UUID uuid = UUID.randomUUID();
        spawned.add(uuid);
        return new InstanceSpec(uuid, name, FLAVOR, store.byName(TestImages.GUEST_KERNEL).id(), List.of(nics),
                Map.of(), true, guest);
    }

    private static GuestConfig guest(String hostname, Optional<Boolean> drive) {
        return new GuestConfig(hostname, Map.of("role", "test"), Map.of(),
                Optional.of(java.util.Base64.getEncoder().encodeToString("#!/bin/sh\necho hi\n".getBytes(
                        StandardCharsets.UTF_8))), drive, Optional.of("proj-1"), GuestConfig.DEFAULT_ZONE);
    }

    private Path drive(UUID uuid) {
        return stateDir.resolve(uuid.toString()).resolve("disk.config");
    }

    private static Element domain(UUID uuid, int flags) throws Exception {
        Connect c = new Connect("qemu:///system");
        try {
            return Xml.parse(c.domainLookupByName("berth-" + uuid).getXMLDesc(flags)).getDocumentElement();
        } finally {
            c.close();
        }
    }

    /** The domain's cdrom disks. */
    private static List<Element> cdroms(Element domain) {
        List<Element> found = new ArrayList<>();
        var disks = domain.getElementsByTagName("disk");
        for (int i = 0; i < disks.getLength(); i++) {
            Element d = (Element) disks.item(i);
            if ("cdrom".equals(d.getAttribute("device"))) {
                found.add(d);
            }
        }
        return found;
    }

    private static String cmdline(Element domain) {
        return domain.getElementsByTagName("cmdline").item(0).getTextContent();
    }

    private JsonNode networkData(UUID uuid, String name) throws IOException {
        Path out = stateDir.resolve("_extract-" + name + "-" + uuid);
        try {
            List<String> files = IsoImage.extract(drive(uuid), out);
            assertTrue(files.contains("openstack/latest/meta_data.json"), files.toString());
            assertTrue(files.contains("openstack/latest/user_data"), files.toString());
            JsonNode meta = JSON.readTree(out.resolve("openstack/latest/meta_data.json").toFile());
            assertEquals(uuid.toString(), meta.path("uuid").asText());
            return JSON.readTree(out.resolve("openstack/latest/network_data.json").toFile());
        } finally {
            InstanceFiles.deleteTree(out);
        }
    }

    private String console(UUID uuid) {
        return new String(driver.consoleLog(uuid, 256 * 1024), StandardCharsets.UTF_8);
    }

    private String awaitConsole(UUID uuid, Pattern wanted) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            String log = console(uuid);
            if (wanted.matcher(log).find()) {
                return log;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(wanted + " not in the console of " + uuid + " within 90 s:\n" + console(uuid));
    }

    @Test
    void theDriveIsBuiltAttachedRegeneratedAndRemovedWithTheInstance() throws Exception {
        VifSpec eth0 = vif("fa:16:3e:19:00:21", "198.18.77.21/24", "198.18.77.1");
        InstanceSpec spec = spec("drive-guest", guest("drive-host", Optional.empty()), eth0);
        long t0 = System.nanoTime();
        driver.spawn(spec);
        System.out.printf("kvm config drive: spawn with a drive %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        Path iso = drive(spec.uuid());
        assertTrue(Files.isRegularFile(iso), "disk.config");
        String toc = IsoImage.toc(iso);
        assertTrue(toc.contains("Volume Id    : config-2") && toc.contains("Rock_Ridge") && toc.contains("Joliet"),
                toc);
        JsonNode net = networkData(spec.uuid(), "spawn");
        assertEquals(1, net.path("links").size());
        assertEquals(eth0.mac(), net.path("links").get(0).path("ethernet_mac_address").asText());

        for (int flags : new int[] {0, Domains.XML_INACTIVE}) {
            Element domain = domain(spec.uuid(), flags);
            List<Element> cdroms = cdroms(domain);
            assertEquals(1, cdroms.size(), "one cdrom");
            Element cd = cdroms.getFirst();
            assertEquals(iso.toString(), ((Element) cd.getElementsByTagName("source").item(0)).getAttribute("file"));
            assertEquals("ide", ((Element) cd.getElementsByTagName("target").item(0)).getAttribute("bus"));
            assertEquals(1, cd.getElementsByTagName("readonly").getLength(), "read-only");
            assertFalse(cmdline(domain).contains("berth.ip="), cmdline(domain));
            assertFalse(cmdline(domain).contains("berth.hostname="), cmdline(domain));
            assertEquals(0, domain.getElementsByTagName("oemStrings").getLength());
        }
        awaitConsole(spec.uuid(), Pattern.compile(MARKER));
        assertEquals(spec, driver.info(spec.uuid()).spec());
        try (ComputeDriver restarted = open(Map.of())) { // an agent restart finds the same spec in libvirt
            assertEquals(spec, restarted.list().stream().filter(i -> i.uuid().equals(spec.uuid())).findFirst()
                    .orElseThrow().spec());
        }

        // hot-plug: the drive is rewritten at once (by rename), the guest reads it at its next boot
        VifSpec eth1 = vif("fa:16:3e:19:00:22", "198.18.78.22/24", null);
        Object inode = Files.getAttribute(iso, "unix:ino");
        driver.attachInterface(spec.uuid(), eth1);
        assertNotEquals(inode, Files.getAttribute(iso, "unix:ino"), "replaced by rename");
        assertEquals(2, networkData(spec.uuid(), "attach").path("links").size());
        inode = Files.getAttribute(iso, "unix:ino");
        driver.reboot(spec.uuid(), RebootType.HARD);
        assertEquals(PowerState.RUNNING, driver.info(spec.uuid()).powerState());
        assertNotEquals(inode, Files.getAttribute(iso, "unix:ino"), "regenerated by the hard reboot");
        JsonNode after = networkData(spec.uuid(), "reboot");
        assertEquals(2, after.path("links").size());
        assertEquals(eth1.mac(), after.path("links").get(1).path("ethernet_mac_address").asText());
        assertEquals(1, cdroms(domain(spec.uuid(), 0)).size(), "still attached after the redefinition");

        driver.detachInterface(spec.uuid(), eth1.portId());
        assertEquals(1, networkData(spec.uuid(), "detach").path("links").size());

        // a snapshot is the root disk only: an instance spawned from it gets a drive of its own
        Image snap = driver.snapshot(spec.uuid(), "snap-with-drive");
        try {
            InstanceSpec copy = new InstanceSpec(UUID.randomUUID(), "from-snap", FLAVOR, snap.id(), List.of(),
                    Map.of(), false, guest("from-snap", Optional.empty()));
            spawned.add(copy.uuid());
            driver.spawn(copy);
            networkData(copy.uuid(), "snapshot"); // asserts meta_data.json carries the copy's uuid
            driver.destroy(copy.uuid());
        } finally {
            store.delete(snap.id());
        }

        driver.destroy(spec.uuid());
        assertFalse(Files.exists(iso), "the drive goes with the instance");
        assertFalse(Files.exists(stateDir.resolve(spec.uuid().toString())));
    }

    @Test
    void withoutADriveTheKernelParametersComeBack() throws Exception {
        VifSpec eth0 = vif("fa:16:3e:19:00:31", "198.18.77.31/24", "198.18.77.1");
        InstanceSpec off = spec("no-drive", guest("no-drive", Optional.of(false)), eth0);
        driver.spawn(off);
        assertFalse(Files.exists(drive(off.uuid())), "config_drive false: no disk.config");
        Element domain = domain(off.uuid(), 0);
        assertEquals(List.of(), cdroms(domain));
        assertTrue(cmdline(domain).contains("berth.ip=198.18.77.31/24"), cmdline(domain));
        assertTrue(cmdline(domain).contains("berth.hostname=no-drive"), cmdline(domain));
        driver.reboot(off.uuid(), RebootType.HARD);
        assertFalse(Files.exists(drive(off.uuid())), "none after a hard reboot either");
        driver.destroy(off.uuid());

        // the driver's default off, the request silent: no drive; the request asking for one: a drive
        try (ComputeDriver noDefault = open(Map.of("config_drive", "false"))) {
            InstanceSpec silent = spec("silent", GuestConfig.forName("silent"));
            noDefault.spawn(silent);
            assertFalse(Files.exists(drive(silent.uuid())));
            assertEquals(List.of(), cdroms(domain(silent.uuid(), Domains.XML_INACTIVE)));
            noDefault.destroy(silent.uuid());
            InstanceSpec asks = spec("asks", guest("asks", Optional.of(true)));
            noDefault.spawn(asks);
            assertTrue(Files.isRegularFile(drive(asks.uuid())));
            assertEquals(1, cdroms(domain(asks.uuid(), Domains.XML_INACTIVE)).size());
            noDefault.destroy(asks.uuid());
        }
    }

    /** The largest user data Nova takes and awkward metadata go through libvirt's metadata and onto the drive. */
    @Test
    void theLargestUserDataRoundTripsThroughLibvirtAndTheDrive() throws Exception {
        GuestConfig big = ConfigDriveTest.fullSpec().guest();
        InstanceSpec spec = spec("big-user-data", big, vif("fa:16:3e:19:00:51", "198.18.77.51/24", null));
        driver.spawn(spec);
        assertEquals(big, driver.list().stream().filter(i -> i.uuid().equals(spec.uuid())).findFirst().orElseThrow()
                .spec().guest(), "the guest config as libvirt's domain metadata keeps it");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(drive(spec.uuid()))),
                "user data is root's alone on the host");
        Path out = stateDir.resolve("_extract-big-" + spec.uuid());
        try {
            IsoImage.extract(drive(spec.uuid()), out);
            assertEquals(java.util.Arrays.toString(big.userDataBytes().orElseThrow()), java.util.Arrays.toString(
                    Files.readAllBytes(out.resolve("openstack/latest/user_data"))), "user_data on the drive, byte for byte");
            assertEquals("db <primary> & \"hot\"", JSON.readTree(out.resolve("openstack/latest/meta_data.json")
                    .toFile()).at("/meta/role").asText());
        } finally {
            InstanceFiles.deleteTree(out);
        }
        driver.destroy(spec.uuid());
        assertFalse(Files.exists(stateDir.resolve(spec.uuid().toString())), "the instance directory went with it");
    }

    @Test
    void aMissingIsoToolFailsTheSpawnNamingItAndLeavesNothing() {
        VifSpec eth0 = vif("fa:16:3e:19:00:41", "198.18.77.41/24", null);
        InstanceSpec spec = spec("no-tool", GuestConfig.forName("no-tool"), eth0);
        try (ComputeDriver noTool = open(Map.of("mkisofs_cmd", "/nonexistent/xorriso"))) {
            var e = assertThrows(DriverException.BackendFailure.class, () -> noTool.spawn(spec));
            assertEquals("xorriso", e.backend());
            assertTrue(e.getMessage().contains("'/nonexistent/xorriso' is not installed"), e.getMessage());
            assertThrows(DriverException.InstanceNotFound.class, () -> noTool.info(spec.uuid()));
            assertFalse(Files.exists(stateDir.resolve(spec.uuid().toString())), "nothing left behind");
        }
    }

    /**
     * The busybox guest's init mounts the drive and prints {@code BERTH-CONFIG-DRIVE uuid= hostname= links=} and one
     * {@code BERTH-NET <if> <addr> mac <mac> mtu <mtu>} per NIC from network_data.json (no berth.ip= is passed).
     */
    @Test
    void theGuestConfiguresItsNicsFromTheDrive() throws Exception {
        VifSpec eth0 = vif("fa:16:3e:19:00:51", "198.18.77.51/24", "198.18.77.1");
        InstanceSpec spec = spec("drive-reader", guest("from-the-drive", Optional.empty()), eth0);
        driver.spawn(spec);
        String log = awaitConsole(spec.uuid(), Pattern.compile(MARKER));
        assertTrue(log.contains("BERTH-CONFIG-DRIVE uuid=" + spec.uuid() + " hostname=from-the-drive links=1"), log);
        assertTrue(log.contains("BERTH-NET eth0 198.18.77.51/24 mac fa:16:3e:19:00:51 mtu 1400"), log);

        VifSpec eth1 = vif("fa:16:3e:19:00:52", "198.18.78.52/24", null);
        driver.attachInterface(spec.uuid(), eth1);
        driver.reboot(spec.uuid(), RebootType.HARD);
        log = awaitConsole(spec.uuid(), Pattern.compile(MARKER));
        assertTrue(log.contains("BERTH-CONFIG-DRIVE uuid=" + spec.uuid() + " hostname=from-the-drive links=2"), log);
        assertTrue(Pattern.compile("BERTH-NET \\S+ 198\\.18\\.77\\.51/24 mac fa:16:3e:19:00:51 mtu 1400")
                .matcher(log).find(), log);
        assertTrue(Pattern.compile("BERTH-NET \\S+ 198\\.18\\.78\\.52/24 mac fa:16:3e:19:00:52 mtu 1400")
                .matcher(log).find(), log);
        assertFalse(log.contains("berth.ip="), "the address came from the drive");
    }
}
