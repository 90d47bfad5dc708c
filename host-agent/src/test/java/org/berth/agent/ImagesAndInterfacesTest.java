package org.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.berth.agent.TestAgent.Reply;
import org.berth.image.ManifestImageStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** POST/DELETE /v1/images and the interfaces endpoints. */
class ImagesAndInterfacesTest {
    private static TestAgent t;

    @BeforeAll
    static void start() throws Exception {
        t = new TestAgent("drivers: {fake: {}}\n");
    }

    @AfterAll
    static void stop() throws Exception {
        t.close();
    }

    private static String importBody(String file, String sha) {
        return """
                {"name": "imported", "disk_format": "qcow2", "container_format": "bare", "file": "%s", "sha256": "%s"}
                """.formatted(file, sha);
    }

    @Test
    void importVerifiesTheChecksumSpawnsAndDeletesWhenUnused() throws Exception {
        Path dir = t.dir.resolve("state/import");
        Files.createDirectories(dir);
        Path file = dir.resolve("mine.qcow2");
        Files.writeString(file, "an image to import\n");
        String sha = ManifestImageStore.sha256(file);

        Reply bad = t.call("POST", "/v1/images", importBody("mine.qcow2", "0".repeat(64)));
        assertEquals(400, bad.status(), bad.body());
        assertEquals("sha256", bad.json().at("/error/field").asText());
        assertEquals("mismatch", bad.json().at("/error/rule").asText());

        Reply ok = t.call("POST", "/v1/images", importBody("mine.qcow2", sha));
        assertEquals(201, ok.status(), ok.body());
        String id = ok.json().at("/image/id").asText();
        assertEquals(sha, ok.json().at("/image/sha256").asText());
        assertTrue(Files.exists(file), "the source is copied, not moved");

        Reply spawn = t.call("POST", "/v1/instances", TestAgent.spawnBody("fake", "from-import", 128)
                .replace(TestAgent.IMAGE_ID, id));
        assertEquals(202, spawn.status(), spawn.body());
        UUID uuid = UUID.fromString(spawn.json().at("/instance/uuid").asText());
        t.awaitInstance(uuid, i -> i.get("vm_state").asText().equals("active"));

        Reply inUse = t.call("DELETE", "/v1/images/" + id, null);
        assertEquals(409, inUse.status(), inUse.body());
        assertEquals("in_use", inUse.json().at("/error/rule").asText());

        t.call("DELETE", "/v1/instances/" + uuid, null);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (t.call("GET", "/v1/instances/" + uuid, null).status() != 404 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(204, t.call("DELETE", "/v1/images/" + id, null).status());
        assertEquals(404, t.call("GET", "/v1/images/" + id, null).status());
    }

    @Test
    void importRefusesPathsOutsideTheImageDirectories() throws Exception {
        for (String path : new String[] {"../../../../etc/passwd", "/etc/passwd", "../state/token", "missing.qcow2"}) {
            Reply r = t.call("POST", "/v1/images", importBody(path, "0".repeat(64)));
            assertEquals(400, r.status(), path + ": " + r.body());
            assertEquals("file", r.json().at("/error/field").asText(), path);
        }
        Reply badFormat = t.call("POST", "/v1/images", importBody("x", "0".repeat(64)).replace("qcow2", "vmdk"));
        assertEquals(400, badFormat.status());
        assertEquals("disk_format", badFormat.json().at("/error/field").asText());
    }

    @Test
    void interfacesAreHotPluggedAndKeptInTheSpec() throws Exception {
        UUID uuid = t.spawnAndWait("nic");
        String port = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        Reply attach = t.call("POST", "/v1/instances/" + uuid + "/interfaces",
                "{\"port_id\": \"" + port + "\", \"mac\": \"fa:16:3e:00:00:42\", \"ips\": [\"198.18.0.42/24\"]}");
        assertEquals(202, attach.status(), attach.body());
        var i = t.awaitInstance(uuid, x -> x.get("task_state").isNull());
        assertTrue(i.at("/spec/vifs").toString().contains(port), i.toString());
        assertEquals("br-int", i.at("/spec/vifs/0/bridge").asText(), "the configured bridge is the default");

        Reply badMac = t.call("POST", "/v1/instances/" + uuid + "/interfaces",
                "{\"port_id\": \"" + port + "\", \"mac\": \"nope\"}");
        assertEquals(400, badMac.status());
        assertEquals("vif.mac", badMac.json().at("/error/field").asText());

        assertEquals(202, t.call("DELETE", "/v1/instances/" + uuid + "/interfaces/" + port, null).status());
        i = t.awaitInstance(uuid, x -> x.get("task_state").isNull());
        assertFalse(i.at("/spec/vifs").toString().contains(port), i.toString());
        t.call("DELETE", "/v1/instances/" + uuid, null);
    }
}
