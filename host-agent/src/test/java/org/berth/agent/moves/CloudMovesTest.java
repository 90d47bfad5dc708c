package org.berth.agent.moves;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.berth.agent.TestAgent;
import org.berth.agent.cloud.CloudCli;
import org.berth.agent.cloud.CloudHosts;
import org.berth.agent.cloud.CloudPlacement;
import org.berth.agent.placement.PlacementApi;
import org.berth.agent.placement.PlacementServer;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code berth cloud migrate | resize | confirm | revert | rebuild} end to end on three in-process agents (fake
 * driver) reporting to a real Placement: the allocations move as Nova's conductor moves them, a full destination is
 * refused before anything stops, a migration cut off after the source's migrate_out is finished by running migrate
 * again, and the refusals say what to run.
 */
class CloudMovesTest {
    private static final Duration SETTLE = Duration.ofSeconds(15);
    private static PlacementServer server;
    private static CloudPlacement placement;
    private static TestAgent a;
    private static TestAgent b;
    private static TestAgent small;
    /** A host whose spawns take longer than a short --wait-timeout (a destination still building). */
    private static TestAgent slow;
    private static Path hosts;
    /** The same hosts with a's agent unreachable (a closed port). */
    private static Path aDown;

    @BeforeAll
    static void start() throws Exception {
        server = PlacementServer.shared();
        a = agent("mv-a-", 8192);
        b = agent("mv-b-", 8192);
        small = agent("mv-s-", 512);
        slow = agent("mv-w-", 2048, ", spawn_delay_ms: 6000");
        // every host's inventory in Placement before a test claims on it (a claim on a provider without inventory
        // is refused like a full one)
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (TestAgent t : List.of(a, b, small, slow)) {
            while (!t.agent.placement().state().state().equals("ok")) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(name(t) + " did not report to Placement: " + t.agent.placement().state());
                }
                Thread.sleep(50);
            }
        }
        hosts = Files.createTempFile("berth-cloud-hosts", ".json");
        ObjectNode file = TestAgent.JSON.createObjectNode();
        file.putObject("placement").put("url", server.url.toString()).put("token", "admin");
        ArrayNode list = file.putArray("hosts");
        for (TestAgent t : List.of(a, b, small, slow)) {
            list.addObject().put("name", name(t)).put("api", "http://127.0.0.1:" + t.agent.port())
                    .put("token_file", t.agent.tokenFile().toString());
        }
        Files.writeString(hosts, file.toString());
        ((ObjectNode) list.get(0)).put("api", "http://127.0.0.1:1");
        aDown = Files.createTempFile("berth-cloud-hosts-a-down", ".json");
        Files.writeString(aDown, file.toString());
        placement = CloudPlacement.of(CloudHosts.load(hosts), Duration.ofSeconds(10));
    }

    @AfterAll
    static void stop() throws Exception {
        PlacementApi api = new PlacementApi(server.url);
        for (TestAgent t : List.of(a, b, small, slow)) {
            UUID rp = t.agent.placement().providerUuid();
            t.close();
            api.deleteProvider(rp);
        }
        Files.deleteIfExists(hosts);
        Files.deleteIfExists(aDown);
    }

    private static TestAgent agent(String prefix, int memoryMb) throws Exception {
        return agent(prefix, memoryMb, "");
    }

    private static TestAgent agent(String prefix, int memoryMb, String options) throws Exception {
        return new TestAgent("drivers: {fake: {options: {vcpus: 8, memory_mb: " + memoryMb + ", local_gb: 40"
                + options + "}}}\n"
                + "host: " + prefix + UUID.randomUUID().toString().substring(0, 8) + "\nupdate_resources_interval: 2s\n"
                + "placement: {enabled: true, url: '" + server.url + "', token: admin, timeout: 3s, max_backoff: 1s}\n");
    }

    private static String name(TestAgent t) {
        return t.agent.config().placement().host();
    }

    private static UUID rp(TestAgent t) {
        return t.agent.placement().providerUuid();
    }

    @Test
    void migrateConfirmMovesTheAllocationAndLeavesNothingOnTheSource() throws Exception {
        UUID uuid = spawnOnA("mover");
        // no --host: Placement's candidate with the most free RAM that is not the source: b (small has 512 MB)
        JsonNode moved = ok("migrate", uuid.toString());
        assertEquals(name(b), moved.get("destination").asText());
        UUID m = UUID.fromString(moved.get("migration").asText());
        awaitMovedToB(uuid, m);
        JsonNode there = b.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
        assertEquals("destination", there.at("/migration/role").asText());
        assertEquals(TestAgent.IMAGE_ID, there.at("/spec/properties/base_image_ref").asText(),
                "the carried image names the image it was built from");
        assertEquals(TestAgent.IMAGE_ID, org.berth.agent.cloud.Moves.buildImage(there.get("spec")),
                "an evacuation rebuilds it from that image, not from the carried one (on b only)");
        assertTrue(!there.at("/spec/image_id").asText().equals(TestAgent.IMAGE_ID));
        assertEquals("source", a.call("GET", "/v1/instances/" + uuid, null).json().at("/instance/migration/role")
                .asText());

        String[] again = cli("migrate", uuid.toString());
        assertEquals("1", again[0], again[1] + again[2]);
        assertTrue(again[2].contains("berth cloud confirm " + uuid), "a migrate run again says what to run: "
                + again[2]);

        ok("confirm", uuid.toString());
        awaitAllocations(m, Set.of());
        awaitAllocations(uuid, Set.of(rp(b)));
        assertEquals(404, a.call("GET", "/v1/instances/" + uuid, null).status());
        assertTrue(b.call("GET", "/v1/instances/" + uuid, null).json().at("/instance/migration").isNull());
        assertEquals(List.of(), images(a, "migration-" + m), "the source's migration image is gone");
        assertTrue(!a.fake().uuids().contains(uuid), "nothing in the source's backend");
        // evacuate's spec replicas are republished from b: the others hold {host b, the spec b runs}
        for (TestAgent other : List.of(a, small)) {
            JsonNode r = other.call("GET", "/v1/replicas/" + uuid, null).json();
            assertEquals(name(b), r.at("/replica/host").asText(), "replica on " + name(other) + ": " + r);
        }
        assertEquals(404, b.call("GET", "/v1/replicas/" + uuid, null).status(), "b holds the instance, no replica");
        delete(b, uuid);
        for (TestAgent t : List.of(a, b, small)) {
            t.call("DELETE", "/v1/replicas/" + uuid, null); // what berth cloud delete would withdraw
        }
    }

    @Test
    void revertBringsTheInstanceBackAndDropsTheDestinationsCopy() throws Exception {
        UUID uuid = spawnOnA("reverted");
        String[] moved = cli("migrate", uuid.toString(), "--host", name(b));
        assertEquals("0", moved[0], moved[2]);
        // without --json: one line per step, and what to run next
        for (String said : List.of("Placement: source usage moved to the migration", "migrate_out done", "carried",
                name(b) + ": " + uuid + " active", "berth cloud confirm " + uuid)) {
            assertTrue(moved[1].contains(said), "'" + said + "' in:\n" + moved[1]);
        }
        UUID m = UUID.fromString(Migrations.id(moved[1]));
        JsonNode reverted = ok("revert", uuid.toString());
        assertEquals(m.toString(), reverted.get("migration").asText());
        JsonNode back = a.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
        assertEquals("active", back.get("vm_state").asText());
        assertTrue(back.get("migration").isNull());
        assertEquals(404, b.call("GET", "/v1/instances/" + uuid, null).status());
        assertEquals(List.of(), images(b, "migration-" + m));
        assertEquals(List.of(), images(a, "migration-" + m));
        revertedAndDelete(uuid, m);
    }

    @Test
    void resizeClaimsTheNewFlavorAndAFullDestinationIsRefusedBeforeAnythingStops() throws Exception {
        UUID uuid = spawnOnA("resized");
        String[] full = cli("resize", uuid.toString(), "--flavor", "m1.big", "--vcpus", "2", "--memory-mb", "1024",
                "--host", name(small), "--json");
        assertEquals("1", full[0], full[1] + full[2]);
        assertTrue(full[2].contains("no valid host"), full[2]);
        JsonNode still = a.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
        assertEquals("active", still.get("vm_state").asText(), "nothing stopped");
        assertTrue(still.get("migration").isNull());
        awaitAllocations(uuid, Set.of(rp(a)));

        JsonNode resized = ok("resize", uuid.toString(), "--flavor", "m1.big", "--vcpus", "2", "--memory-mb", "1024");
        assertEquals("resize", resized.get("action").asText());
        assertEquals(name(b), resized.get("destination").asText());
        ok("confirm", uuid.toString());
        assertTrue(eventually(() -> placement.consumer(uuid).allocations().equals(Map.of(rp(b),
                Map.of("VCPU", 2L, "MEMORY_MB", 1024L, "DISK_GB", 1L)))), "the new flavor's allocation on b: "
                + placement.consumer(uuid).allocations());
        assertEquals("m1.big", b.call("GET", "/v1/instances/" + uuid, null).json().at("/instance/spec/flavor/name")
                .asText());

        JsonNode rebuilt = ok("rebuild", uuid.toString(), "--image", "test-disk");
        assertEquals(name(b), rebuilt.get("destination").asText());
        assertEquals(TestAgent.IMAGE_ID, b.call("GET", "/v1/instances/" + uuid, null).json()
                .at("/instance/spec/image_id").asText());
        delete(b, uuid);
    }

    @Test
    void aMigrationCutOffAfterMigrateOutIsFinishedByMigrateAgain() throws Exception {
        UUID uuid = spawnOnA("cut-off");
        // what a conductor killed right after the source's migrate_out leaves: the marker, the image, no Placement move
        UUID m = UUID.randomUUID();
        assertEquals(202, a.call("POST", "/v1/instances/" + uuid + "/action", "{\"migrate_out\": {\"migration_id\": \""
                + m + "\", \"destination\": \"" + name(b) + "\"}}").status());
        a.awaitInstance(uuid, i -> i.get("task_state").isNull());
        String[] confirm = cli("confirm", uuid.toString());
        assertEquals("1", confirm[0]);
        assertTrue(confirm[2].contains("berth cloud migrate " + uuid), confirm[2]);

        JsonNode done = ok("migrate", uuid.toString());
        assertEquals(m.toString(), done.get("migration").asText(), "the cut-off migration was finished");
        assertEquals(name(b), done.get("destination").asText());
        awaitMovedToB(uuid, m);
        confirmAndDelete(uuid, m);
    }

    @Test
    void aDestinationSpawnThatFailsIsRolledBack() throws Exception {
        UUID uuid = spawnOnA("blocked");
        // b's backend already has an object of that uuid (one no record knows): the destination's spawn fails there
        b.fake().spawn(new InstanceSpec(uuid, "stray", new Flavor("m1.test", 1, 64, 1, 0, 0), TestAgent.IMAGE_ID,
                List.of(), Map.of(), false));
        String[] r = cli("migrate", uuid.toString(), "--host", name(b));
        assertEquals("1", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("rolled back") && r[2].contains("copy deleted") && r[2].contains("Placement moved back")
                && r[2].contains("reverted"), "the failure says what was undone: " + r[2]);
        JsonNode back = a.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
        assertEquals("active", back.get("vm_state").asText(), "the source runs again");
        assertTrue(back.get("migration").isNull());
        assertEquals(404, b.call("GET", "/v1/instances/" + uuid, null).status(), "the failed copy is gone");
        assertEquals(List.of(), images(b, "migration-" + Migrations.id(r[2])));
        awaitAllocations(UUID.fromString(Migrations.id(r[2])), Set.of());
        awaitAllocations(uuid, Set.of(rp(a)));
        delete(a, uuid);
    }

    /** The migration's id in a CLI message ("migration <uuid> ..."). */
    private static final class Migrations {
        static String id(String text) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("migration ([0-9a-f-]{36})").matcher(text);
            assertTrue(m.find(), text);
            return m.group(1);
        }
    }

    @Test
    void refusalsNameWhatIsWrong() throws Exception {
        UUID uuid = a.spawnAndWait("refused");
        String[] none = cli("confirm", uuid.toString());
        assertEquals("1", none[0]);
        assertTrue(none[2].contains("no migration"), none[2]);
        String[] same = cli("migrate", uuid.toString(), "--host", name(a));
        assertEquals("2", same[0]);
        assertTrue(same[2].contains("--host") && same[2].contains("instance's host"), same[2]);
        String[] sameHost = cli("resize", uuid.toString(), "--flavor", "x", "--vcpus", "1", "--memory-mb", "64",
                "--allow-same-host");
        assertEquals("2", sameHost[0]);
        assertTrue(sameHost[2].contains("--allow-same-host"), sameHost[2]);
        String[] unknown = cli("migrate", UUID.randomUUID().toString());
        assertEquals("1", unknown[0]);
        assertTrue(unknown[2].contains("no host has it"), unknown[2]);
        String[] bad = cli("revert", "nope");
        assertEquals("2", bad[0]);
        assertTrue(bad[2].contains("UUID"), bad[2]);
        delete(a, uuid);
    }

    @Test
    void noMoveGoesAheadWhileTheMigrationsOtherHostDoesNotAnswer() throws Exception {
        UUID uuid = spawnOnA("peer-down");
        UUID m = UUID.fromString(ok("migrate", uuid.toString(), "--host", name(b)).get("migration").asText());
        // a (the source, still holding its copy and the marker) does not answer: its side of the move is unknown
        for (String verb : List.of("confirm", "revert", "migrate")) {
            CloudCli.Run r = new CloudCli(aDown).text(verb, uuid.toString());
            assertEquals(1, r.code(), verb + ": " + r);
            assertTrue(r.err().contains(name(a)) && r.err().contains("did not answer")
                    && r.err().contains("berth cloud " + verb + " " + uuid), verb + ": " + r.err());
        }
        assertEquals("destination", b.call("GET", "/v1/instances/" + uuid, null).json()
                .at("/instance/migration/role").asText(), "b's marker is kept");
        assertEquals("source", a.call("GET", "/v1/instances/" + uuid, null).json().at("/instance/migration/role")
                .asText());
        awaitMovedToB(uuid, m);
        confirmAndDelete(uuid, m);
    }

    @Test
    void aDestinationStillBuildingPastTheWaitIsNotRolledBackUnderIt() throws Exception {
        UUID uuid = spawnOnA("slow-dest");
        String[] r = cli("migrate", uuid.toString(), "--host", name(slow), "--wait-timeout", "2s");
        assertEquals("1", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("may still be building on " + name(slow)) && r[2].contains("berth cloud revert "
                + uuid), r[2]);
        UUID m = UUID.fromString(Migrations.id(r[2]));
        JsonNode src = a.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
        assertEquals("stopped", src.get("vm_state").asText(), "the source is not powered on next to the copy");
        assertEquals("source", src.at("/migration/role").asText());
        awaitAllocations(m, Set.of(rp(a)));
        awaitAllocations(uuid, Set.of(rp(slow)));
        slow.awaitInstance(uuid, i -> i.get("task_state").isNull());
        JsonNode reverted = ok("revert", uuid.toString());
        assertEquals(m.toString(), reverted.get("migration").asText());
        assertEquals("active", a.call("GET", "/v1/instances/" + uuid, null).json().at("/instance/vm_state").asText());
        assertEquals(404, slow.call("GET", "/v1/instances/" + uuid, null).status());
        assertTrue(!slow.fake().uuids().contains(uuid), "nothing left in the slow host's backend");
        revertedAndDelete(uuid, m);
    }

    @Test
    void anInstanceStillHoldingAPartOnAnotherHostIsNotMigrated() throws Exception {
        UUID uuid = spawnOnA("evacuated-part");
        PlacementApi api = new PlacementApi(server.url);
        String goneName = "mv-gone-" + UUID.randomUUID().toString().substring(0, 8);
        UUID gone = api.createProvider(goneName);
        try {
            // an evacuation's consumer: the dead host's part next to the new host's (Nova keeps both)
            CloudPlacement.Consumer now = placement.consumer(uuid);
            ObjectNode body = TestAgent.JSON.createObjectNode();
            ObjectNode all = body.putObject("allocations");
            all.putObject(rp(a).toString()).set("resources", TestAgent.JSON.valueToTree(now.allocations().get(rp(a))));
            all.putObject(gone.toString()).putObject("resources").put("VCPU", 1).put("MEMORY_MB", 64);
            body.put("project_id", now.projectId()).put("user_id", now.userId()).put("consumer_generation",
                    now.generation()).put("consumer_type", "INSTANCE");
            assertEquals(204, placement.client().put("/allocations/" + uuid, body).status());
            awaitAllocations(uuid, Set.of(rp(a), gone));
            String[] r = cli("migrate", uuid.toString(), "--host", name(b));
            assertEquals("1", r[0], r[1] + r[2]);
            assertTrue(r[2].contains("still holds a part on " + goneName) && r[2].contains("bring " + goneName
                    + " back first"), r[2]);
            JsonNode still = a.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
            assertEquals("active", still.get("vm_state").asText());
            assertTrue(still.get("migration").isNull());
        } finally {
            api.deleteProvider(gone);
        }
        delete(a, uuid);
    }

    @Test
    void aStoppedInstancesCutOffMigrationIsFinishedStopped() throws Exception {
        UUID uuid = spawnOnA("stopped-cut-off");
        assertEquals(202, a.call("POST", "/v1/instances/" + uuid + "/action", "{\"stop\": null}").status());
        a.awaitInstance(uuid, i -> i.get("task_state").isNull() && "stopped".equals(i.get("vm_state").asText()));
        UUID m = UUID.randomUUID();
        assertEquals(202, a.call("POST", "/v1/instances/" + uuid + "/action", "{\"migrate_out\": {\"migration_id\": \""
                + m + "\", \"destination\": \"" + name(b) + "\"}}").status());
        a.awaitInstance(uuid, i -> i.get("task_state").isNull());
        JsonNode done = ok("migrate", uuid.toString());
        assertEquals(m.toString(), done.get("migration").asText());
        assertEquals("stopped", b.call("GET", "/v1/instances/" + uuid, null).json().at("/instance/vm_state").asText(),
                "a stopped instance stays stopped when its migration is finished");
        confirmAndDelete(uuid, m);
    }

    // ---- helpers ----

    /** Waits until Placement holds the instance on b and its source's usage (a's) in migration {@code m}. */
    private static void awaitMovedToB(UUID uuid, UUID m) throws InterruptedException {
        awaitAllocations(uuid, Set.of(rp(b)));
        awaitAllocations(m, Set.of(rp(a)));
    }

    /** Checks Placement holds the reverted instance on a and migration {@code m} nothing, then deletes it on a. */
    private static void revertedAndDelete(UUID uuid, UUID m) throws Exception {
        awaitAllocations(uuid, Set.of(rp(a)));
        awaitAllocations(m, Set.of());
        delete(a, uuid);
    }

    /** Spawns an instance on a and waits until Placement holds it there. */
    private static UUID spawnOnA(String name) throws Exception {
        UUID uuid = a.spawnAndWait(name);
        awaitAllocations(uuid, Set.of(rp(a)));
        return uuid;
    }

    /** Confirms the instance's migration {@code m} to b, checks the migration consumer is freed, deletes it on b. */
    private static void confirmAndDelete(UUID uuid, UUID m) throws Exception {
        ok("confirm", uuid.toString());
        awaitAllocations(m, Set.of());
        delete(b, uuid);
    }

    private static JsonNode ok(String... args) {
        CloudCli.Run r = new CloudCli(hosts).json(args);
        assertEquals(0, r.code(), String.join(" ", args) + ": " + r);
        return r.json();
    }

    private static String[] cli(String... args) {
        CloudCli.Run r = new CloudCli(hosts).text(args);
        return new String[] {Integer.toString(r.code()), r.out(), r.err()};
    }

    private static List<String> images(TestAgent t, String name) throws Exception {
        List<String> out = new ArrayList<>();
        t.call("GET", "/v1/images", null).json().get("images").forEach(i -> {
            if (i.get("name").asText().equals(name)) {
                out.add(i.toString());
            }
        });
        return out;
    }

    /** Deletes the instance, checks no carried image is left anywhere, and waits for Placement to drop it. */
    private static void delete(TestAgent t, UUID uuid) throws Exception {
        assertEquals(202, t.call("DELETE", "/v1/instances/" + uuid, null).status());
        assertTrue(eventually(() -> {
            try {
                return t.call("GET", "/v1/instances/" + uuid, null).status() == 404;
            } catch (Exception e) {
                return false;
            }
        }), "deleted");
        for (TestAgent any : List.of(a, b, small, slow)) {
            for (JsonNode i : any.call("GET", "/v1/images", null).json().get("images")) {
                assertTrue(!i.get("name").asText().startsWith("migration-"), "a carried image goes with its instance "
                        + "(or its rebuild): " + i + " on " + name(any));
            }
        }
        awaitAllocations(uuid, Set.of());
    }

    private static void awaitAllocations(UUID consumer, Set<UUID> providers) throws InterruptedException {
        assertTrue(eventually(() -> placement.consumer(consumer).allocations().keySet().equals(providers)),
                consumer + " should be allocated on " + providers + ": " + placement.consumer(consumer).allocations());
    }

    private static boolean eventually(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(100);
        }
        return condition.getAsBoolean();
    }
}
