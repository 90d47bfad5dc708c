package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

/**
 * What a container learns about itself, against the real engine: the config-drive documents read-only at
 * /run/berth/metadata, its hostname and BERTH_META_* variables (VIFs through a recording plugger: the driver's
 * side of hot-plug, network_data.json following it).
 */
class GuestMetadataTest extends DockerTestBase {
    private static final String LATEST = MetadataDir.MOUNT_POINT + "/openstack/latest/";
    private static final String USER_DATA = "#cloud-config\nruncmd:\n  - echo berth-marker\n";

    private JsonNode json(ComputeDriver d, UUID uuid, String file) throws Exception {
        Run r = run(d, uuid, "cat", LATEST + file);
        assertEquals(0, r.exit(), file + ": " + r.out());
        return SpecLabels.json().readTree(r.out());
    }

    private static VifSpec vif(int n) {
        return VifSpec.of(UUID.randomUUID().toString(), String.format("fa:16:3e:00:01:%02x", n));
    }

    private InstanceSpec guestSpec(Map<String, String> metadata, Optional<Boolean> configDrive) {
        InstanceSpec s = spec("sleep", "100000");
        return s.withGuest(new GuestConfig("meta-box", metadata, Map.of("k1", MappingTest.KEY),
                Optional.of(Base64.getEncoder().encodeToString(USER_DATA.getBytes(StandardCharsets.UTF_8))),
                configDrive, Optional.of("proj-7"), "nova"));
    }

    @Test
    void theContainerSeesItsDocumentsHostnameAndEnvironment() throws Exception {
        ComputeDriver d = newDriver(Optional.of(new RecordingPlugger(null)), EventSink.DISCARD);
        try {
            VifSpec first = vif(1);
            InstanceSpec spec = guestSpec(Map.of("role", "db", "build-id", "42"), Optional.empty())
                    .withVifs(List.of(first));
            d.spawn(spec);
            UUID uuid = spec.uuid();

            JsonNode meta = json(d, uuid, "meta_data.json");
            assertEquals(uuid.toString(), meta.path("uuid").asText());
            assertEquals("meta-box", meta.path("hostname").asText());
            assertEquals(spec.name(), meta.path("name").asText());
            assertEquals("db", meta.path("meta").path("role").asText());
            assertEquals(MappingTest.KEY, meta.path("public_keys").path("k1").asText());
            assertEquals("proj-7", meta.path("project_id").asText());
            JsonNode links = json(d, uuid, "network_data.json").path("links");
            assertEquals(1, links.size(), links.toString());
            assertEquals(first.mac(), links.get(0).path("ethernet_mac_address").asText());
            assertEquals(new Run(0, USER_DATA), run(d, uuid, "cat", LATEST + "user_data"));
            assertEquals(0, run(d, uuid, "test", "-f", MetadataDir.MOUNT_POINT
                    + "/openstack/2012-08-10/meta_data.json").exit(), "the dated versions are there too");

            assertEquals(new Run(0, "meta-box\n"), run(d, uuid, "hostname"));
            String env = run(d, uuid, "env").out();
            assertTrue(env.contains("BERTH_META_ROLE=db\n") && env.contains("BERTH_META_BUILD_ID=42\n"), env);

            // read-only inside, even for the container's root; and sealed on the host
            Run write = run(d, uuid, "sh", "-c", "echo x > " + LATEST + "meta_data.json");
            assertNotEquals(0, write.exit(), write.out());
            assertTrue(write.out().contains("Read-only file system"), write.out());
            assertNotEquals(0, run(d, uuid, "touch", MetadataDir.MOUNT_POINT + "/new").exit());
            Path host = stateDir.resolve("metadata").resolve(spec.backendName() + ".metadata");
            assertEquals("r-xr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(host)));
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(host.getParent())),
                    "on the host only root reads the instances' user data and keys");
            assertEquals("r--r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(
                    host.resolve("openstack/latest/user_data"))));

            // hot-plug rewrites network_data.json of every version, and the running container sees it
            VifSpec second = vif(2);
            d.attachInterface(uuid, second);
            links = json(d, uuid, "network_data.json").path("links");
            assertEquals(2, links.size(), links.toString());
            assertEquals(second.mac(), links.get(1).path("ethernet_mac_address").asText());
            assertEquals(2, SpecLabels.json().readTree(host.resolve("openstack/2015-10-15/network_data.json")
                    .toFile()).path("links").size());
            assertEquals(List.of(), run(d, uuid, "ls", "-A", LATEST).out().lines()
                    .filter(l -> l.contains("tmp")).toList(), "no temporary file stays");
            d.detachInterface(uuid, first.portId());
            links = json(d, uuid, "network_data.json").path("links");
            assertEquals(1, links.size(), links.toString());
            assertEquals(second.mac(), links.get(0).path("ethernet_mac_address").asText());

            // a hard reboot keeps the documents; a driver started afresh (an agent restart) lists the same guest
            d.reboot(uuid, RebootType.HARD);
            assertEquals(1, json(d, uuid, "network_data.json").path("links").size());
            try (ComputeDriver fresh = newDriver(Optional.empty(), EventSink.DISCARD)) {
                var listed = fresh.list().stream().filter(i -> i.uuid().equals(uuid)).findFirst().orElseThrow();
                assertEquals(spec.guest(), listed.spec().guest());
                assertEquals(spec.guest(), fresh.info(uuid).spec().guest());
            }

            d.destroy(uuid);
            assertFalse(Files.exists(host), "the metadata directory goes with the container");
            assertEquals(List.of(), metadataDirs(uuid));
        } finally {
            d.close();
        }
    }

    @Test
    void aRebuildWritesEverythingAnew() throws Exception {
        InstanceSpec spec = guestSpec(Map.of("role", "old"), Optional.empty());
        driver.spawn(spec);
        // the agent's rebuild: destroy, then spawn the same uuid from the spec it keeps (here with new metadata)
        driver.destroy(spec.uuid());
        InstanceSpec rebuilt = spec.withGuest(new GuestConfig("new-box", Map.of("role", "new"), Map.of(),
                Optional.empty(), Optional.empty(), Optional.empty(), "nova"));
        driver.spawn(rebuilt);
        JsonNode meta = json(driver, spec.uuid(), "meta_data.json");
        assertEquals("new-box", meta.path("hostname").asText());
        assertEquals("new", meta.path("meta").path("role").asText());
        assertFalse(meta.has("public_keys"), meta.toString());
        assertEquals(1, run(driver, spec.uuid(), "test", "-e", LATEST + "user_data").exit(), "no user data any more");
        assertTrue(run(driver, spec.uuid(), "env").out().contains("BERTH_META_ROLE=new\n"));
        assertEquals(new Run(0, "new-box\n"), run(driver, spec.uuid(), "hostname"));
    }

    @Test
    void configDriveFalseGivesNoFilesButTheEnvironment() throws Exception {
        InstanceSpec spec = guestSpec(Map.of("role", "web"), Optional.of(false));
        driver.spawn(spec);
        assertEquals(1, run(driver, spec.uuid(), "test", "-e", MetadataDir.MOUNT_POINT).exit());
        assertEquals(List.of(), metadataDirs(spec.uuid()));
        assertTrue(run(driver, spec.uuid(), "env").out().contains("BERTH_META_ROLE=web\n"));
        assertEquals(new Run(0, "meta-box\n"), run(driver, spec.uuid(), "hostname"));
        assertEquals(Optional.of(false), driver.info(spec.uuid()).spec().guest().configDrive());
    }

    @Test
    void collidingKeysAreRefusedAndNothingIsMade() throws Exception {
        InstanceSpec spec = guestSpec(Map.of("build-id", "1", "build.id", "2"), Optional.empty());
        var e = assertThrows(IllegalArgumentException.class, () -> driver.spawn(spec));
        assertTrue(e.getMessage().contains("instance.metadata") && e.getMessage().contains("'build-id'")
                && e.getMessage().contains("'build.id'"), e.getMessage());
        assertEquals(List.of(), raw.listContainersCmd().withShowAll(true)
                .withNameFilter(List.of(spec.backendName())).exec());
        assertEquals(List.of(), metadataDirs(spec.uuid()));
    }

    @Test
    void aFailedSpawnLeavesNoDirectoryAndAStaleOneIsReplaced() throws Exception {
        VifSpec bad = vif(3);
        ComputeDriver d = newDriver(Optional.of(new RecordingPlugger(bad.portId())), EventSink.DISCARD);
        try {
            InstanceSpec failing = guestSpec(Map.of(), Optional.empty()).withVifs(List.of(bad));
            assertThrows(DriverException.VifFailure.class, () -> d.spawn(failing));
            assertEquals(List.of(), metadataDirs(failing.uuid()), "rolled back with the container");

            // a directory a crash left behind (no container) is replaced whole, not merged into
            InstanceSpec spec = guestSpec(Map.of(), Optional.empty());
            Path stale = Files.createDirectories(stateDir.resolve("metadata").resolve(spec.backendName() + ".metadata/openstack"));
            Files.writeString(stale.resolve("junk"), "old");
            d.spawn(spec);
            assertEquals(1, run(d, spec.uuid(), "test", "-e", MetadataDir.MOUNT_POINT + "/openstack/junk").exit());
            assertEquals(0, run(d, spec.uuid(), "test", "-f", LATEST + "meta_data.json").exit());

            // a second spawn of a live uuid is refused and leaves the live instance's documents alone
            assertThrows(DriverException.InstanceExists.class, () -> d.spawn(spec));
            assertEquals(0, run(d, spec.uuid(), "test", "-f", LATEST + "meta_data.json").exit());
        } finally {
            d.close();
        }
    }
}
