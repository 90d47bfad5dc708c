package org.berth.agent.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.berth.agent.TestAgent;
import org.berth.agent.placement.PlacementApi;
import org.berth.agent.placement.PlacementServer;
import org.berth.driver.api.PowerState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The returning host's rule against a real Placement: an instance rebuilt elsewhere while the agent was down is
 * destroyed and never started, the rebuilt copy is kept, and while Placement cannot tell nothing is touched.
 */
class ReturningHostTest {
    private static final Map<String, Long> FLAVOR = Map.of("VCPU", 1L, "MEMORY_MB", 256L, "DISK_GB", 1L);
    /** PlacementApi.createProvider's providers have VCPU and MEMORY_MB only. */
    private static final Map<String, Long> ON_OTHER = Map.of("VCPU", 1L, "MEMORY_MB", 256L);
    private final List<TestAgent> agents = new ArrayList<>();
    private final List<UUID> providers = new ArrayList<>();
    private final List<PlacementServer> servers = new ArrayList<>();
    private PlacementApi api;

    @AfterEach
    void cleanUp() throws Exception {
        try {
            for (TestAgent t : agents) {
                t.close();
            }
            if (api != null) {
                for (UUID rp : providers) {
                    api.deleteProvider(rp);
                    assertEquals(null, api.provider(rp), "provider " + rp + " left");
                }
            }
        } finally {
            // a failed check above must not leave the test's own Placement processes running
            servers.forEach(PlacementServer::close);
        }
    }

    private TestAgent agent(PlacementServer on, String extra) throws Exception {
        api = new PlacementApi(on.url);
        TestAgent t = new TestAgent("drivers: {fake: {options: {vcpus: 4, memory_mb: 8192, local_gb: 40}}}\n"
                + "host: r-" + UUID.randomUUID().toString().substring(0, 8) + "\nupdate_resources_interval: 1s\n"
                + "placement: {enabled: true, url: '" + on.url + "', token: admin, timeout: 2s, max_backoff: 1s}\n"
                + extra);
        agents.add(t);
        providers.add(t.agent.placement().providerUuid());
        return t;
    }

    private UUID spawn(TestAgent t, String name, String properties) throws Exception {
        String body = TestAgent.spawnBody("fake", name, 256).strip();
        body = body.substring(0, body.length() - 1) + ", \"properties\": " + properties + "}";
        TestAgent.Reply r = t.call("POST", "/v1/instances", body);
        assertEquals(202, r.status(), r.body());
        UUID uuid = UUID.fromString(r.json().at("/instance/uuid").asText());
        t.awaitInstance(uuid, i -> "active".equals(i.get("vm_state").asText()) && i.get("task_state").isNull());
        return uuid;
    }

    /** What evacuate leaves: the consumer holds the source's part and the destination's. */
    private void evacuatedTo(UUID consumer, UUID source, UUID dest, boolean destIsOther) {
        JsonNode c = api.get("/allocations/" + consumer);
        String body = """
                {"allocations": {"%s": {"resources": %s}, "%s": {"resources": %s}}, "project_id": "berth",
                 "user_id": "berth", "consumer_generation": %s, "consumer_type": "INSTANCE"}
                """.formatted(source, json(destIsOther ? FLAVOR : ON_OTHER), dest, json(destIsOther ? ON_OTHER : FLAVOR),
                c.path("consumer_generation"));
        PlacementApi.Answer a = api.send("PUT", "/allocations/" + consumer, body);
        assertEquals(204, a.status(), String.valueOf(a.json()));
    }

    private static String json(Map<String, Long> m) {
        return PlacementApi.JSON.valueToTree(m).toString();
    }

    private Set<String> holders(UUID consumer) {
        Set<String> out = new java.util.TreeSet<>();
        api.get("/allocations/" + consumer).path("allocations").fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void anInstanceRebuiltElsewhereIsDestroyedAndItsPartGivenBackWhileTheRebuiltCopyIsKept() throws Exception {
        PlacementServer placement = PlacementServer.shared();
        TestAgent b = agent(placement, "resume_guests_state_on_host_boot: true\n");
        UUID rpB = b.agent.placement().providerUuid();
        UUID stale = spawn(b, "evacuated-away", "{}");
        UUID arrived = spawn(b, "evacuated-here", "{}");
        UUID mine = spawn(b, "stays", "{}");
        PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rpB.toString()), holders(mine)));
        PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rpB.toString()), holders(stale)));
        PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rpB.toString()), holders(arrived)));

        String otherName = "r-other-" + UUID.randomUUID().toString().substring(0, 8);
        UUID other = api.createProvider(otherName);
        providers.add(other);
        b.agent.close();
        // while b was down: 'stale' was rebuilt on the other host; 'arrived' was evacuated from the other host to b
        evacuatedTo(stale, rpB, other, true);
        evacuatedTo(arrived, other, rpB, false);
        markEvacuatedFrom(b, arrived, otherName);
        b.start();

        var gone = b.agent.store().find(stale).orElseThrow();
        assertEquals(org.berth.agent.store.VmState.DELETED, gone.vmState(), gone.toString());
        assertEquals(404, b.call("GET", "/v1/instances/" + stale, null).status());
        assertFalse(b.fake().uuids().contains(stale), "the stale copy is destroyed");
        var events = b.agent.store().events(stale, 50).toString();
        assertTrue(events.contains("evacuated: rebuilt on " + otherName + " while this host was down"), events);
        PlacementApi.await(Duration.ofSeconds(10), () -> assertEquals(Set.of(other.toString()), holders(stale)));

        assertEquals("active", b.call("GET", "/v1/instances/" + arrived, null).json().at("/instance/vm_state").asText());
        assertTrue(b.fake().uuids().contains(arrived), "the rebuilt copy is kept");
        assertEquals(Set.of(rpB.toString(), other.toString()), holders(arrived), "the source's part waits for it");
        assertEquals("active", b.call("GET", "/v1/instances/" + mine, null).json().at("/instance/vm_state").asText());
        assertEquals(PowerState.RUNNING, b.fake().info(mine).powerState());

        for (UUID u : List.of(arrived, mine)) {
            assertEquals(202, b.call("DELETE", "/v1/instances/" + u, null).status());
            awaitGone(b, u);
        }
        assertTrue(b.fake().uuids().isEmpty(), "backend empty: " + b.fake().uuids());
        api.deleteAllocations(stale);
        api.deleteAllocations(arrived);
    }

    @Test
    void aMigrationCutOffBeforeItsMarkerIsNotTakenForAnEvacuation() throws Exception {
        PlacementServer placement = PlacementServer.shared();
        TestAgent b = agent(placement, "resume_guests_state_on_host_boot: true\n");
        UUID rpB = b.agent.placement().providerUuid();
        UUID uuid = spawn(b, "migrating", "{}");
        PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rpB.toString()), holders(uuid)));
        UUID other = api.createProvider("r-dest-" + UUID.randomUUID().toString().substring(0, 8));
        providers.add(other);
        b.agent.close();
        // the conductor moved the source's part to the migration's consumer and claimed the destination, then the
        // source restarted before migrate_out recorded its marker: the instance consumer holds only the destination
        UUID migration = UUID.randomUUID();
        JsonNode c = api.get("/allocations/" + uuid);
        PlacementApi.Answer moved = api.send("POST", "/allocations", """
                {"%s": {"allocations": {"%s": {"resources": %s}}, "project_id": "berth", "user_id": "berth",
                        "consumer_generation": %s, "consumer_type": "INSTANCE"},
                 "%s": {"allocations": {"%s": {"resources": %s}}, "project_id": "berth", "user_id": "berth",
                        "consumer_generation": null, "consumer_type": "MIGRATION"}}
                """.formatted(uuid, other, json(ON_OTHER), c.path("consumer_generation"), migration, rpB,
                json(FLAVOR)));
        assertEquals(204, moved.status(), String.valueOf(moved.json()));
        b.start();

        JsonNode rec = b.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
        assertEquals("active", rec.get("vm_state").asText(), "kept: " + rec);
        assertTrue(b.fake().uuids().contains(uuid), "the local copy is not destroyed");
        String events = b.agent.store().events(uuid, 50).toString();
        assertFalse(events.contains("evacuated"), events);
        assertEquals(202, b.call("DELETE", "/v1/instances/" + uuid, null).status());
        awaitGone(b, uuid);
        // the agent's report removes its part of both as the record goes; the test's own parts go with them
        PlacementApi.await(Duration.ofSeconds(20), () -> {
            api.deleteAllocations(uuid);
            api.deleteAllocations(migration);
            assertEquals(Set.of(), holders(uuid));
            assertEquals(Set.of(), holders(migration));
        });
    }

    /** Writes the consumer as held by exactly these providers (a test-made provider has ON_OTHER's classes). */
    private void heldBy(UUID consumer, Map<UUID, Map<String, Long>> parts) {
        JsonNode c = api.get("/allocations/" + consumer);
        var allocations = PlacementApi.JSON.createObjectNode();
        parts.forEach((rp, res) -> allocations.putObject(rp.toString()).set("resources",
                PlacementApi.JSON.valueToTree(res)));
        String body = """
                {"allocations": %s, "project_id": "berth", "user_id": "berth", "consumer_generation": %s,
                 "consumer_type": "INSTANCE"}
                """.formatted(allocations, c.path("consumer_generation"));
        PlacementApi.Answer a = api.send("PUT", "/allocations/" + consumer, body);
        assertEquals(204, a.status(), String.valueOf(a.json()));
    }

    /**
     * Another host's provider (VCPU and MEMORY_MB, as {@link PlacementApi#createProvider}), made with retries: the
     * shared Placement's sqlite answers 500 "database is locked" now and then on a loaded machine.
     */
    private UUID otherHost(String prefix) throws InterruptedException {
        UUID rp = UUID.randomUUID();
        providers.add(rp); // cleaned up even if only half made
        PlacementApi.await(Duration.ofSeconds(20), () -> {
            JsonNode have = api.provider(rp);
            if (have == null) {
                PlacementApi.Answer made = api.send("POST", "/resource_providers", "{\"uuid\": \"" + rp
                        + "\", \"name\": \"" + prefix + rp.toString().substring(0, 8) + "\"}");
                assertEquals(200, made.status(), String.valueOf(made.json()));
                have = api.provider(rp);
            }
            PlacementApi.Answer inv = api.send("PUT", "/resource_providers/" + rp + "/inventories", """
                    {"resource_provider_generation": %s,
                     "inventories": {"VCPU": {"total": 64}, "MEMORY_MB": {"total": 65536}}}
                    """.formatted(have.path("generation")));
            assertEquals(200, inv.status(), String.valueOf(inv.json()));
        });
        return rp;
    }

    /** Spawns one instance per name on {@code t} and waits until its report has put each on its provider. */
    private List<UUID> spawnHeldHere(TestAgent t, String... names) throws Exception {
        String rp = t.agent.placement().providerUuid().toString();
        List<UUID> out = new ArrayList<>();
        for (String name : names) {
            UUID u = spawn(t, name, "{}");
            PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rp), holders(u)));
            out.add(u);
        }
        return out;
    }

    /**
     * The test's own parts of these consumers go, checked; retried while the agent's report, removing its own part
     * of a deleted instance, may write the consumer back from what it read just before.
     */
    private void dropAllocations(UUID... consumers) throws InterruptedException {
        for (UUID u : consumers) {
            PlacementApi.await(Duration.ofSeconds(20), () -> {
                api.deleteAllocations(u);
                assertEquals(Set.of(), holders(u), "allocations of " + u + " left");
            });
        }
    }

    private String nameOf(UUID rp) {
        return api.get("/resource_providers/" + rp).path("name").asText();
    }

    @Test
    void aChainedEvacuationsStaleMiddleCopyIsDestroyedAndTheLastCopyNamingTheWholeChainIsKept() throws Exception {
        TestAgent b = agent(PlacementServer.shared(), "resume_guests_state_on_host_boot: true\n");
        UUID rpB = b.agent.placement().providerUuid();
        List<UUID> spawned = spawnHeldHere(b, "chain-middle", "chain-last");
        UUID middle = spawned.get(0);
        UUID last = spawned.get(1);
        UUID c = otherHost("r-c-");
        UUID next = otherHost("r-next-");
        b.agent.close();
        // 'middle': C evacuated to this host, C stays dead, then this host evacuated to 'next': {C, this, next};
        // this copy names C only, so 'next' is a later destination and this copy is the stale one
        markEvacuatedFrom(b, middle, nameOf(c));
        heldBy(middle, Map.of(c, ON_OTHER, rpB, FLAVOR, next, ON_OTHER));
        // 'last': C evacuated to 'next', then 'next' evacuated to this host; its spec names the chain "C,next"
        markEvacuatedFrom(b, last, nameOf(c) + "," + nameOf(next));
        heldBy(last, Map.of(c, ON_OTHER, next, ON_OTHER, rpB, FLAVOR));
        b.start();

        var gone = b.agent.store().find(middle).orElseThrow();
        assertEquals(org.berth.agent.store.VmState.DELETED, gone.vmState(), gone.toString());
        assertFalse(b.fake().uuids().contains(middle), "the stale middle copy does not run next to the later one");
        String events = b.agent.store().events(middle, 50).toString();
        assertTrue(events.contains("evacuated: rebuilt on "), events);
        PlacementApi.await(Duration.ofSeconds(10),
                () -> assertEquals(new java.util.TreeSet<>(Set.of(c.toString(), next.toString())), holders(middle)));

        JsonNode kept = b.call("GET", "/v1/instances/" + last, null).json().get("instance");
        assertEquals("active", kept.get("vm_state").asText(), kept.toString());
        assertEquals(PowerState.RUNNING, b.fake().info(last).powerState());
        assertEquals(Set.of(c.toString(), next.toString(), rpB.toString()), holders(last), "the sources' parts wait");

        assertEquals(202, b.call("DELETE", "/v1/instances/" + last, null).status());
        awaitGone(b, last);
        assertTrue(b.fake().uuids().isEmpty(), "backend empty: " + b.fake().uuids());
        dropAllocations(middle, last);
    }

    @Test
    void anEvacuatedCopyCutOffMidRebuildOrMidSpawnIsDestroyedNotFinished() throws Exception {
        TestAgent b = agent(PlacementServer.shared(), "resume_guests_state_on_host_boot: true\n");
        UUID other = otherHost("r-other-");
        List<UUID> spawned = spawnHeldHere(b, "cut-mid-rebuild", "cut-mid-spawn");
        UUID rpB = b.agent.placement().providerUuid();
        UUID rebuilding = spawned.get(0);
        UUID spawning = spawned.get(1);
        b.agent.close();
        powerLoss(b); // the host lost power mid-task: the backend has them SHUTDOWN, a rebuild would respawn
        rewrite(b, rebuilding, r -> r.withTask("rebuilding"));
        rewrite(b, spawning, r -> r.withState(org.berth.agent.store.VmState.BUILDING, PowerState.NOSTATE)
                .withTask("spawning"));
        evacuatedTo(rebuilding, rpB, other, true);
        evacuatedTo(spawning, rpB, other, true);
        b.start();

        for (UUID u : List.of(rebuilding, spawning)) {
            var rec = b.agent.store().find(u).orElseThrow();
            assertEquals(org.berth.agent.store.VmState.DELETED, rec.vmState(), rec.toString());
            assertEquals(null, rec.taskState(), "the task is cleared: " + rec);
            assertFalse(b.fake().uuids().contains(u), "destroyed, not respawned: " + u);
            String events = b.agent.store().events(u, 50).toString();
            assertTrue(events.contains("reconcile.evacuated"), events);
            assertFalse(events.contains("rebuild_finished") || events.contains("task_finished")
                    || events.contains("spawn_rolled_back"), "the task was not finished: " + events);
            PlacementApi.await(Duration.ofSeconds(10), () -> assertEquals(Set.of(other.toString()), holders(u)));
            assertEquals(404, b.call("GET", "/v1/instances/" + u, null).status());
        }
        b.agent.reconciler().sweepNow(Duration.ofSeconds(10));
        assertTrue(b.fake().uuids().isEmpty(), "a later sweep starts nothing: " + b.fake().uuids());
        dropAllocations(rebuilding, spawning);
    }

    @Test
    void whilePlacementCannotTellNothingIsStartedOrDestroyedAndTheCheckIsRetried() throws Exception {
        PlacementServer own = PlacementServer.own();
        servers.add(own);
        TestAgent b = agent(own, "resume_guests_state_on_host_boot: true\n");
        UUID uuid = spawn(b, "waits", "{}");
        UUID rpB = b.agent.placement().providerUuid();
        PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rpB.toString()), holders(uuid)));
        b.agent.close();
        powerLoss(b); // the backend has it SHUTDOWN; the record still says active/running
        own.stop();
        b.start();

        assertEquals(PowerState.SHUTDOWN, b.fake().info(uuid).powerState(), "not started while Placement is down");
        JsonNode rec = b.call("GET", "/v1/instances/" + uuid, null).json().get("instance");
        assertEquals("active", rec.get("vm_state").asText(), "not destroyed, not power-synced: " + rec);

        own.start();
        long ms = PlacementApi.await(Duration.ofSeconds(30),
                () -> assertEquals(PowerState.RUNNING, b.fake().info(uuid).powerState()));
        System.out.println("Placement back: the held instance was checked and resumed within " + ms + " ms");
        assertEquals(Set.of(rpB.toString()), holders(uuid));
        assertEquals(202, b.call("DELETE", "/v1/instances/" + uuid, null).status());
        awaitGone(b, uuid);
    }

    private static void awaitGone(TestAgent t, UUID uuid) throws Exception {
        PlacementApi.await(Duration.ofSeconds(10), () -> {
            try {
                assertEquals(404, t.call("GET", "/v1/instances/" + uuid, null).status());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** Every fake instance of {@code t} SHUTDOWN in the fake backend's file (the agent is stopped). */
    private static void powerLoss(TestAgent t) throws Exception {
        try (var files = java.nio.file.Files.walk(t.dir)) {
            for (var f : files.filter(p -> p.getFileName().toString().equals("instances.json")).toList()) {
                java.nio.file.Files.writeString(f, java.nio.file.Files.readString(f).replace("RUNNING", "SHUTDOWN"));
            }
        }
    }

    /** Rewrites the stored spec of {@code uuid} as berth cloud evacuate spawns it: property evacuated_from. */
    private static void markEvacuatedFrom(TestAgent t, UUID uuid, String source) throws Exception {
        rewrite(t, uuid, r -> {
            var spec = org.berth.agent.store.SpecJson.readString(r.specJson());
            var props = new java.util.HashMap<>(spec.properties());
            props.put(org.berth.agent.reconcile.EvacuatedCheck.EVACUATED_FROM, source);
            var marked = new org.berth.driver.api.InstanceSpec(spec.uuid(), spec.name(), spec.flavor(), spec.imageId(),
                    spec.vifs(), props, spec.powerOn());
            return r.withSpecJson(org.berth.agent.store.SpecJson.writeString(marked));
        });
    }

    /** Changes the stored record of {@code uuid} while the agent is stopped (what a crash left behind). */
    private static void rewrite(TestAgent t, UUID uuid,
                                java.util.function.UnaryOperator<org.berth.agent.store.InstanceRecord> change)
            throws Exception {
        try (org.berth.agent.store.Store s = org.berth.agent.store.Store.open(t.dir.resolve("state/berth.db"))) {
            s.update(change.apply(s.find(uuid).orElseThrow()));
        }
    }
}
