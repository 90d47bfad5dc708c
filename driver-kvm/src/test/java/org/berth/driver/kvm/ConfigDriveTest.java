package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Stream;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.VifSpec;
import org.berth.metadata.MetadataDocuments;
import org.berth.metadata.MetadataFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;

/** The guest config in the domain's metadata and the config drive image (real xorriso, no libvirt). */
class ConfigDriveTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KEY = "ssh-ed25519 " + Base64.getEncoder().encodeToString(
            "\0\0\0\u000bssh-ed25519\0\0\0\u0020abcdefghijabcdefghijabcdefghij01".getBytes(StandardCharsets.ISO_8859_1))
            + " lead@berth";

    @TempDir
    Path tmp;

    /** A spec with every guest field set: the largest user data Nova takes, control characters in metadata. */
    static InstanceSpec fullSpec() {
        byte[] data = new byte[GuestConfig.MAX_USER_DATA];
        new Random(17).nextBytes(data);
        Map<String, String> meta = new HashMap<>();
        meta.put("role", "db <primary> & \"hot\"");
        meta.put("odd value", "tab\there\u0001 ünï\r\n  ");
        meta.put("empty", "");
        GuestConfig guest = new GuestConfig("db-1", meta, Map.of("lead key", KEY),
                Optional.of(Base64.getEncoder().encodeToString(data)), Optional.of(true), Optional.of("proj-42"),
                "edge-1");
        return KvmUnitTest.hostileSpec().withGuest(guest);
    }

    private static DomainXml.Layout layout(Path drive) {
        return new DomainXml.Layout(Path.of("/d/disk"), null, Path.of("/d/disk.swap"), Path.of("/k"), null,
                "console=ttyS0", Path.of("/d/console.log"), drive);
    }

    @Test
    void theWholeGuestConfigRoundTripsThroughTheDomainMetadata() {
        InstanceSpec spec = fullSpec();
        assertTrue(spec.guest().userData().orElseThrow().length() > 87_000, "87 KB of base64");
        String xml = DomainXml.build(spec, "agent", KvmConfig.VirtType.QEMU, KvmConfig.GuestOffloads.ON,
                layout(null), true);
        assertEquals(spec.guest(), SpecXml.read(xml).orElseThrow().guest());
        assertEquals(spec, SpecXml.read(xml).orElseThrow());

        // MIME-style base64 with CRLF line breaks: XML parsers turn CR into LF, so it is kept encoded
        String mime = Base64.getMimeEncoder().encodeToString("#cloud-config\nruncmd: [echo hi]\n".repeat(20)
                .getBytes(StandardCharsets.UTF_8));
        assertTrue(mime.contains("\r\n"));
        InstanceSpec crlf = spec.withGuest(new GuestConfig("h", Map.of(), Map.of(), Optional.of(mime),
                Optional.of(false), Optional.empty(), GuestConfig.DEFAULT_ZONE));
        assertEquals(crlf, SpecXml.read(DomainXml.build(crlf, "agent", KvmConfig.VirtType.QEMU,
                KvmConfig.GuestOffloads.ON, layout(null), true)).orElseThrow());

        // a definition written before the guest config existed reads as Nova's defaults for its name
        Element domain = Xml.parse(xml).getDocumentElement();
        Element guest = Xml.first(domain, SpecXml.NS, "guest");
        guest.getParentNode().removeChild(guest);
        assertEquals(GuestConfig.forName(spec.name()), SpecXml.read(Xml.write(domain)).orElseThrow().guest());
    }

    @Test
    void aDriveIsAReadOnlyIdeCdromAndReplacesTheGuestParameters() {
        InstanceSpec spec = fullSpec();
        Element with = Xml.parse(DomainXml.build(spec, "agent", KvmConfig.VirtType.QEMU, KvmConfig.GuestOffloads.ON,
                layout(Path.of("/d/disk.config")), true)).getDocumentElement();
        var disks = with.getElementsByTagName("disk");
        assertEquals(3, disks.getLength(), "root, swap, config drive");
        Element cdrom = (Element) disks.item(2);
        assertEquals("cdrom", cdrom.getAttribute("device"));
        assertEquals("/d/disk.config", ((Element) cdrom.getElementsByTagName("source").item(0)).getAttribute("file"));
        Element target = (Element) cdrom.getElementsByTagName("target").item(0);
        assertEquals("hdd", target.getAttribute("dev"));
        assertEquals("ide", target.getAttribute("bus"));
        assertEquals("raw", ((Element) cdrom.getElementsByTagName("driver").item(0)).getAttribute("type"));
        assertEquals(1, cdrom.getElementsByTagName("readonly").getLength());
        for (int i = 0; i < 2; i++) {
            assertEquals("virtio", ((Element) ((Element) disks.item(i)).getElementsByTagName("target").item(0))
                    .getAttribute("bus"), "the other disks stay virtio");
        }
        assertEquals("console=ttyS0", with.getElementsByTagName("cmdline").item(0).getTextContent());
        assertEquals(0, with.getElementsByTagName("sysinfo").getLength(), "no SMBIOS OEM strings");

        Element without = Xml.parse(DomainXml.build(spec, "agent", KvmConfig.VirtType.QEMU,
                KvmConfig.GuestOffloads.ON, layout(null), true)).getDocumentElement();
        assertEquals(2, without.getElementsByTagName("disk").getLength());
        assertTrue(without.getElementsByTagName("cmdline").item(0).getTextContent()
                .contains(" berth.ip=198.18.0.10/24 "), "the fallback for images without a drive");
        assertTrue(without.getElementsByTagName("cmdline").item(0).getTextContent()
                .contains(" berth.hostname=db-1 "), "the guest's hostname, not its name (vm-1)");
        assertEquals(5, without.getElementsByTagName("entry").getLength());
    }

    @Test
    void optionsNameTheirRule() {
        KvmConfig defaults = KvmConfig.from(DriverConfig.empty("kvm"));
        assertTrue(defaults.configDrive());
        assertEquals("xorriso", defaults.mkisofsCmd());
        KvmConfig off = KvmConfig.from(new DriverConfig("kvm", Map.of("config_drive", "False",
                "mkisofs_cmd", "/usr/bin/genisoimage")));
        assertFalse(off.configDrive());
        assertEquals("/usr/bin/genisoimage", off.mkisofsCmd());
        var e = assertThrows(DriverException.InvalidConfiguration.class, () -> KvmConfig.from(
                new DriverConfig("kvm", Map.of("config_drive", "yes"))));
        assertEquals("drivers.kvm.config_drive", e.option());
        assertTrue(e.getMessage().contains("true or false"), e.getMessage());

        ConfigDrive drive = new ConfigDrive(true, "xorriso", Duration.ofSeconds(5), "1.0");
        assertEquals(List.of("-as", "genisoimage", "-o", "/o", "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
                "-publisher", "Berth 1.0", "-quiet", "-J", "-r", "-V", "config-2", "-input-charset", "utf-8", "/s"),
                drive.arguments(Path.of("/o"), Path.of("/s")));
        assertEquals("-o", new ConfigDrive(true, "/usr/bin/genisoimage", Duration.ofSeconds(5), "1.0")
                .arguments(Path.of("/o"), Path.of("/s")).getFirst(), "genisoimage takes them as they are");
        InstanceSpec spec = fullSpec();
        assertTrue(drive.wanted(spec.withGuest(GuestConfig.forName("x"))), "the driver's default");
        assertFalse(new ConfigDrive(false, "xorriso", Duration.ofSeconds(5), "1").wanted(
                spec.withGuest(GuestConfig.forName("x"))));
        assertTrue(new ConfigDrive(false, "xorriso", Duration.ofSeconds(5), "1").wanted(spec), "the request wins");
    }

    @Test
    void theDriveIsAnIso9660VolumeLabelledConfig2WithEveryDocument() throws Exception {
        InstanceSpec spec = fullSpec();
        Path dir = Files.createDirectory(tmp.resolve("instance"));
        ConfigDrive drive = new ConfigDrive(true, "xorriso", Duration.ofSeconds(30), "0.1.0");
        long t0 = System.nanoTime();
        Path iso = drive.write(dir, spec);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("config drive: %d bytes of documents, image %d bytes, built in %d ms%n",
                MetadataDocuments.of(spec).stream().mapToLong(f -> f.content().length).sum(), Files.size(iso), ms);
        assertEquals(dir.resolve("disk.config"), iso);
        assertEquals(List.of(iso), list(dir), "no staging directory or temporary image left");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(iso)));

        String toc = IsoImage.toc(iso);
        assertTrue(toc.contains("Volume Id    : config-2"), toc);
        assertTrue(toc.contains("Rock_Ridge") && toc.contains("Joliet"), toc);
        Path out = tmp.resolve("out");
        List<String> files = IsoImage.extract(iso, out);
        List<MetadataFile> expected = MetadataDocuments.of(spec);
        assertEquals(expected.stream().map(MetadataFile::path).sorted().toList(), files);
        for (MetadataFile f : expected) {
            if (f.path().endsWith("meta_data.json")) { // random_seed differs from call to call
                JsonNode read = JSON.readTree(out.resolve(f.path()).toFile());
                assertEquals(spec.uuid().toString(), read.path("uuid").asText());
                assertEquals("db-1", read.path("hostname").asText());
                assertEquals(KEY, read.path("public_keys").path("lead key").asText());
            } else {
                assertArrayEquals(f.content(), Files.readAllBytes(out.resolve(f.path())), f.path());
            }
        }
        byte[] userData = Files.readAllBytes(out.resolve("openstack/latest/user_data"));
        assertArrayEquals(spec.guest().userDataBytes().orElseThrow(), userData, "user data decoded");

        // a rewrite replaces the file by rename: a QEMU holding the old one keeps reading the old one
        Object before = Files.getAttribute(iso, "unix:ino");
        InstanceSpec twoNics = spec.withVifs(List.of(spec.vifs().getFirst(),
                VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:00:00:07")));
        drive.write(dir, twoNics);
        assertNotEquals(before, Files.getAttribute(iso, "unix:ino"));
        Path again = tmp.resolve("again");
        IsoImage.extract(iso, again);
        assertEquals(2, JSON.readTree(again.resolve("openstack/latest/network_data.json").toFile()).path("links")
                .size());
        ConfigDrive.remove(dir);
        assertEquals(List.of(), list(dir));
    }

    @Test
    void aMissingToolIsNamedAndLeavesNothing() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("instance"));
        for (String tool : List.of("berth-no-such-xorriso", tmp.resolve("xorriso").toString())) {
            var e = assertThrows(DriverException.BackendFailure.class, () -> new ConfigDrive(true, tool,
                    Duration.ofSeconds(5), "1").write(dir, fullSpec()));
            assertTrue(e.getMessage().contains("'" + tool + "' is not installed"), e.getMessage());
            assertTrue(e.getMessage().contains("xorriso"), e.getMessage());
            assertEquals(List.of(), list(dir));
        }
        // the tool fails: its error is reported, nothing of the attempt stays
        var e = assertThrows(DriverException.BackendFailure.class, () -> new ConfigDrive(true, "false",
                Duration.ofSeconds(5), "1").write(dir, fullSpec()));
        assertEquals("false", e.backend());
        assertEquals(List.of(), list(dir));
    }

    private static List<Path> list(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}
