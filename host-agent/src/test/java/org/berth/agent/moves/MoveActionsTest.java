package org.berth.agent.moves;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.UUID;
import org.berth.agent.TestAgent;
import org.berth.agent.TestAgent.Reply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The agent's side of cold migration, resize and rebuild on two in-process agents (fake driver): migrate_out,
 * the streamed image download into the other agent's streamed upload, the destination's spawn with the marker,
 * confirm, revert, rebuild, and the refusals (fields and rules named, 409 from wrong states).
 */
class MoveActionsTest {
    private static TestAgent a;
    private static TestAgent b;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        a = new TestAgent("host: test-a\ndrivers: {fake: {}}\n");
        b = new TestAgent("host: test-b\ndrivers: {fake: {}}\n");
    }

    @AfterAll
    static void stop() throws Exception {
        a.close();
        b.close();
    }

    private static Reply act(TestAgent t, UUID uuid, String body) throws Exception {
        return t.call("POST", "/v1/instances/" + uuid + "/action", body);
    }

    private static JsonNode idle(TestAgent t, UUID uuid) throws Exception {
        return t.awaitInstance(uuid, i -> i.get("task_state").isNull());
    }

    /** Source's image → destination's upload, as the conductor does it; returns the destination's image id. */
    private static String carry(String imageId) throws Exception {
        JsonNode meta = a.call("GET", "/v1/images/" + imageId, null).json().get("image");
        HttpResponse<byte[]> file = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.agent.port()
                        + "/v1/images/" + imageId + "/file")).header("Authorization", "Bearer " + a.token()).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, file.statusCode());
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(file.body()));
        assertEquals(meta.get("sha256").asText(), sha);
        assertEquals(sha, file.headers().firstValue("x-image-sha256").orElseThrow());
        assertEquals(String.valueOf(file.body().length), file.headers().firstValue("content-length").orElseThrow());
        String q = "name=" + meta.get("name").asText() + "&disk_format=" + meta.get("disk_format").asText()
                + "&container_format=" + meta.get("container_format").asText() + "&sha256=" + sha
                + "&properties=" + URLEncoder.encode("{\"origin\":\"test-a\"}", StandardCharsets.UTF_8);
        HttpResponse<String> up = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.agent.port()
                        + "/v1/images?" + q)).header("Authorization", "Bearer " + b.token())
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(file.body())).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, up.statusCode(), up.body());
        JsonNode img = TestAgent.JSON.readTree(up.body()).get("image");
        assertEquals("test-a", img.at("/properties/origin").asText());
        return img.get("id").asText();
    }

    private static String destinationBody(JsonNode source, String imageId, UUID migration) {
        ObjectNode spec = (ObjectNode) source.get("spec").deepCopy();
        spec.put("image_id", imageId).put("driver", "fake");
        spec.putObject("migration").put("id", migration.toString()).put("source", "test-a");
        return spec.toString();
    }

    @Test
    void migrateConfirmMovesTheInstanceAndLeavesNothingOnTheSource() throws Exception {
        UUID uuid = a.spawnAndWait("mover");
        UUID m = UUID.randomUUID();
        Reply out = act(a, uuid, "{\"migrate_out\": {\"migration_id\": \"" + m + "\", \"destination\": \"test-b\"}}");
        assertEquals(202, out.status(), out.body());
        assertEquals("resize_migrating", out.json().at("/instance/task_state").asText());
        JsonNode src = idle(a, uuid);
        assertEquals("stopped", src.get("vm_state").asText());
        assertEquals("source", src.at("/migration/role").asText());
        assertEquals(m.toString(), src.at("/migration/id").asText());
        assertEquals("test-b", src.at("/migration/peer").asText());
        assertEquals(256, src.at("/migration/old_flavor/memory_mb").asInt());
        String image = src.at("/migration/image_id").asText();
        assertEquals("migration-" + m, a.call("GET", "/v1/images/" + image, null).json().at("/image/name").asText());

        // the same migrate_out again is a no-op (a conductor run again goes on); another migration is refused
        Reply again = act(a, uuid, "{\"migrate_out\": {\"migration_id\": \"" + m + "\", \"destination\": \"test-b\"}}");
        assertEquals(202, again.status(), again.body());
        assertTrue(again.json().at("/instance/task_state").isNull());
        Reply other = act(a, uuid, "{\"migrate_out\": {\"migration_id\": \"" + UUID.randomUUID()
                + "\", \"destination\": \"test-b\"}}");
        assertEquals(409, other.status(), other.body());
        assertEquals("migrate_out.migration_id", other.json().at("/error/field").asText());
        assertEquals("in_migration", other.json().at("/error/rule").asText());
        Reply rebuild = act(a, uuid, "{\"rebuild\": {}}");
        assertEquals(409, rebuild.status(), rebuild.body());

        String copy = carry(image);
        Reply spawned = b.call("POST", "/v1/instances", destinationBody(src, copy, m));
        assertEquals(202, spawned.status(), spawned.body());
        JsonNode dst = b.awaitInstance(uuid, i -> i.get("vm_state").asText().equals("active"));
        assertEquals("destination", dst.at("/migration/role").asText());
        assertEquals("test-a", dst.at("/migration/peer").asText());
        assertEquals(src.at("/spec/vifs"), dst.at("/spec/vifs"));

        Reply revertOnDest = act(b, uuid, "{\"revert_migration\": {}}");
        assertEquals(409, revertOnDest.status(), revertOnDest.body());
        assertEquals("not_source", revertOnDest.json().at("/error/rule").asText());

        assertEquals(202, act(a, uuid, "{\"confirm_migration\": {}}").status());
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (a.call("GET", "/v1/instances/" + uuid, null).status() != 404 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(404, a.call("GET", "/v1/instances/" + uuid, null).status());
        assertEquals(404, a.call("GET", "/v1/images/" + image, null).status(), "the migration image is deleted");
        assertFalse(a.fake().uuids().contains(uuid), "nothing left in the source's backend");
        Reply confirmDest = act(b, uuid, "{\"confirm_migration\": null}");
        assertEquals(202, confirmDest.status(), confirmDest.body());
        assertTrue(confirmDest.json().at("/instance/migration").isNull());
        Reply none = act(b, uuid, "{\"confirm_migration\": {}}");
        assertEquals(409, none.status());
        assertEquals("no_migration", none.json().at("/error/rule").asText());

        assertEquals(202, b.call("DELETE", "/v1/instances/" + uuid, null).status());
    }

    @Test
    void revertPowersTheSourceOnAgainAndDropsTheImage() throws Exception {
        UUID uuid = a.spawnAndWait("reverter");
        UUID m = UUID.randomUUID();
        assertEquals(202, act(a, uuid, "{\"migrate_out\": {\"migration_id\": \"" + m
                + "\", \"destination\": \"test-b\"}}").status());
        JsonNode src = idle(a, uuid);
        String image = src.at("/migration/image_id").asText();
        assertEquals(202, act(a, uuid, "{\"revert_migration\": {}}").status());
        JsonNode back = a.awaitInstance(uuid, i -> i.get("task_state").isNull() && i.get("vm_state").asText().equals("active"));
        assertTrue(back.get("migration").isNull());
        assertEquals(404, a.call("GET", "/v1/images/" + image, null).status());
        assertEquals(202, a.call("DELETE", "/v1/instances/" + uuid, null).status());
    }

    @Test
    void revertOfAStoppedInstanceLeavesItStopped() throws Exception {
        UUID uuid = a.spawnAndWait("stopped-reverter");
        assertEquals(202, act(a, uuid, "{\"stop\": null}").status());
        a.awaitInstance(uuid, i -> i.get("task_state").isNull() && i.get("vm_state").asText().equals("stopped"));
        UUID m = UUID.randomUUID();
        assertEquals(202, act(a, uuid, "{\"migrate_out\": {\"migration_id\": \"" + m
                + "\", \"destination\": \"test-b\"}}").status());
        assertEquals(false, idle(a, uuid).at("/migration/was_active").asBoolean(true), "the marker says it was stopped");
        assertEquals(202, act(a, uuid, "{\"revert_migration\": {}}").status());
        JsonNode back = a.awaitInstance(uuid, i -> i.get("task_state").isNull() && i.get("migration").isNull());
        assertEquals("stopped", back.get("vm_state").asText(), back.toString());
        assertEquals(org.berth.driver.api.PowerState.SHUTDOWN, a.fake().info(uuid).powerState());
        assertEquals(202, a.call("DELETE", "/v1/instances/" + uuid, null).status());
    }

    @Test
    void rebuildSpawnsTheSameInstanceAgain() throws Exception {
        UUID uuid = a.spawnAndWait("rebuilt");
        String backend = a.call("GET", "/v1/instances/" + uuid, null).json().at("/instance/backend_id").asText();
        Reply r = act(a, uuid, "{\"rebuild\": {\"image_id\": \"" + TestAgent.IMAGE_ID + "\"}}");
        assertEquals(202, r.status(), r.body());
        assertEquals("rebuilding", r.json().at("/instance/task_state").asText());
        JsonNode done = a.awaitInstance(uuid, i -> i.get("task_state").isNull());
        assertEquals("active", done.get("vm_state").asText());
        assertTrue(a.fake().uuids().contains(uuid));
        assertTrue(a.call("GET", "/v1/instances/" + uuid + "/events", null).body().contains("rebuild.end"), backend);
        Reply unknownImage = act(a, uuid, "{\"rebuild\": {\"image_id\": \"" + UUID.randomUUID() + "\"}}");
        assertEquals(404, unknownImage.status(), unknownImage.body());
        assertEquals("image_id", unknownImage.json().at("/error/field").asText());
        assertEquals(202, a.call("DELETE", "/v1/instances/" + uuid, null).status());
    }

    @Test
    void anInterruptedRebuildWhoseFinishFailsEndsInErrorAndCanBeDeleted() throws Exception {
        try (TestAgent t = new TestAgent("host: test-c\ndrivers: {fake: {}}\n")) {
            UUID uuid = t.spawnAndWait("rebuild-cut-off");
            t.agent.close();
            // the agent died mid-rebuild to an image that is gone since: reconcile's respawn fails on it
            String missing = UUID.randomUUID().toString();
            try (org.berth.agent.store.Store s = org.berth.agent.store.Store.open(t.dir.resolve("state/berth.db"))) {
                var r = s.find(uuid).orElseThrow();
                var spec = org.berth.agent.store.SpecJson.readString(r.specJson());
                var target = new org.berth.driver.api.InstanceSpec(uuid, spec.name(), spec.flavor(), missing,
                        spec.vifs(), spec.properties(), spec.powerOn());
                s.update(r.withTask("rebuilding").withSpecJson(org.berth.agent.store.SpecJson.writeString(target)));
            }
            t.start(); // its first sweep tries to finish the rebuild

            JsonNode failed = t.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
            assertEquals("error", failed.get("vm_state").asText(), failed.toString());
            assertTrue(failed.get("task_state").isNull(), "no task left: " + failed);
            var rec = t.agent.store().find(uuid).orElseThrow();
            assertTrue(rec.fault() != null && rec.fault().startsWith("rebuild after an agent restart failed")
                    && rec.fault().contains(missing), String.valueOf(rec.fault()));
            t.agent.reconciler().sweepNow(Duration.ofSeconds(10)); // a later sweep leaves it alone
            var events = t.agent.store().events(uuid, 50).stream().map(e -> e.kind()).toList();
            assertEquals(1, events.stream().filter("reconcile.rebuilding.error"::equals).count(), events.toString());
            assertFalse(events.contains("reconcile.rebuild_finished"), events.toString());
            assertEquals("error", t.call("GET", "/v1/instances/" + uuid, null).json().at("/instance/vm_state").asText());

            Reply del = t.call("DELETE", "/v1/instances/" + uuid, null);
            assertEquals(202, del.status(), del.body());
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (t.call("GET", "/v1/instances/" + uuid, null).status() != 404 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(404, t.call("GET", "/v1/instances/" + uuid, null).status());
            assertTrue(t.fake().uuids().isEmpty(), "backend empty: " + t.fake().uuids());
        }
    }

    @Test
    void badMoveRequestsNameTheFieldAndTheRule() throws Exception {
        UUID uuid = a.spawnAndWait("refusals");
        String[][] cases = {
            {"{\"migrate_out\": {}}", "400", "migrate_out.migration_id", "required"},
            {"{\"migrate_out\": {\"migration_id\": \"x\", \"destination\": \"test-b\"}}", "400", "migrate_out.migration_id", "uuid"},
            {"{\"migrate_out\": {\"migration_id\": \"" + UUID.randomUUID() + "\"}}", "400", "migrate_out.destination", "required"},
            {"{\"migrate_out\": {\"migration_id\": \"" + UUID.randomUUID() + "\", \"destination\": \"a b\"}}", "400", "migrate_out.destination", "host_name"},
            {"{\"migrate_out\": {\"migration_id\": \"" + UUID.randomUUID() + "\", \"destination\": \"test-a\"}}", "400", "migrate_out.destination", "other_host"},
            {"{\"migrate_out\": {\"migration_id\": \"" + UUID.randomUUID() + "\", \"destination\": \"test-b\", \"x\": 1}}", "400", "migrate_out.x", "unknown_field"},
            {"{\"migrate_out\": 3}", "400", "migrate_out", "type"},
            {"{\"confirm_migration\": {\"x\": 1}}", "400", "confirm_migration.x", "unknown_field"},
            {"{\"confirm_migration\": {}}", "409", "confirm_migration", "no_migration"},
            {"{\"revert_migration\": {}}", "409", "revert_migration", "no_migration"},
            {"{\"rebuild\": {\"image_id\": 5}}", "400", "rebuild.image_id", "uuid"},
            {"{\"migrate_out\": {\"migration_id\": \"" + uuid + "\", \"destination\": \"test-b\"}}", "400", "migrate_out.migration_id", "distinct"},
            {"{\"rebuild\": {\"image_id\": \"" + TestAgent.IMAGE_ID + "\", \"imageRef\": \"" + TestAgent.IMAGE_ID + "\"}}", "400", "rebuild", "one_of"},
        };
        for (String[] c : cases) {
            Reply r = act(a, uuid, c[0]);
            assertEquals(Integer.parseInt(c[1]), r.status(), c[0] + " → " + r.body());
            assertEquals(c[2], r.json().at("/error/field").asText(), c[0]);
            assertEquals(c[3], r.json().at("/error/rule").asText(), c[0]);
        }
        String spawn = TestAgent.spawnBody("fake", "d", 128).replace("\"name\": \"d\"", "\"name\": \"d\", "
                + "\"migration\": {\"id\": \"nope\", \"source\": \"test-a\"}");
        Reply s = b.call("POST", "/v1/instances", spawn);
        assertEquals(400, s.status(), s.body());
        assertEquals("migration.id", s.json().at("/error/field").asText());
        Reply s2 = b.call("POST", "/v1/instances", spawn.replace("nope", UUID.randomUUID().toString())
                .replace("test-a", "test-b"));
        assertEquals(400, s2.status(), s2.body());
        assertEquals("other_host", s2.json().at("/error/rule").asText());
        Reply file = a.call("GET", "/v1/images/" + UUID.randomUUID() + "/file", null);
        assertEquals(404, file.status(), file.body());
        Reply up = a.call("POST", "/v1/images?name=x&disk_format=raw&container_format=bare&sha256=" + "0".repeat(64)
                + "&properties=%5B%5D", null);
        assertTrue(up.status() == 400 || up.status() == 415, up.body());
        assertEquals(202, a.call("DELETE", "/v1/instances/" + uuid, null).status());
    }
}
