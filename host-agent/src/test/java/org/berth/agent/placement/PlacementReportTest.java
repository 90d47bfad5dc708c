package org.berth.agent.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.berth.agent.TestAgent;
import org.berth.agent.TestAgent.Reply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The report against the real Placement (the JVM's shared one), checked through Placement's own API: the agent
 * runs in this JVM with the fake driver, so the host's size and its instances are the test's to choose.
 */
class PlacementReportTest {
    private static final Map<String, Long> FLAVOR = Map.of("VCPU", 1L, "MEMORY_MB", 256L, "DISK_GB", 1L);
    private static final Duration SYNC = Duration.ofSeconds(1);
    private static PlacementServer server;
    private static PlacementApi api;
    private final List<UUID> providers = new ArrayList<>();
    private final List<TestAgent> agents = new ArrayList<>();

    @BeforeAll
    static void placement() {
        server = PlacementServer.shared();
        api = new PlacementApi(server.url);
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (TestAgent t : agents) {
            t.close();
        }
        providers.forEach(api::deleteProvider);
    }

    private TestAgent agent(String extra) throws Exception {
        return agent(PlacementServer.shared(), "t-" + UUID.randomUUID().toString().substring(0, 8), extra);
    }

    private TestAgent agent(PlacementServer on, String host, String extra) throws Exception {
        TestAgent t = new TestAgent("drivers: {fake: {options: {vcpus: 6, memory_mb: 12288, local_gb: 80}}}\n"
                + "host: " + host + "\nupdate_resources_interval: " + SYNC.toMillis() + "ms\n"
                + "placement: {enabled: true, url: '" + on.url + "', token: admin, timeout: 3s, max_backoff: 1s}\n" + extra);
        agents.add(t);
        providers.add(t.agent.placement().providerUuid());
        return t;
    }

    /** An agent on the shared Placement with these drivers (YAML flow mapping) and sync interval, default options. */
    private TestAgent withDrivers(String drivers, String interval) throws Exception {
        TestAgent t = new TestAgent("drivers: " + drivers + "\nhost: t-" + UUID.randomUUID().toString().substring(0, 8)
                + "\nupdate_resources_interval: " + interval + "\nplacement: {enabled: true, url: '" + server.url + "'}\n");
        agents.add(t);
        providers.add(rp(t));
        return t;
    }

    private static UUID rp(TestAgent t) {
        return t.agent.placement().providerUuid();
    }

    private static JsonNode host(TestAgent t) throws Exception {
        Reply r = t.call("GET", "/v1/host", null);
        assertEquals(200, r.status(), r.body());
        return r.json().get("host");
    }

    private static Duration withinOneSync() {
        return SYNC.multipliedBy(5);
    }

    @Test
    void providerHasTheInventoriesOfGetHostAndTheTraits() throws Exception {
        TestAgent t = agent("cpu_allocation_ratio: 4.0\nram_allocation_ratio: 1.25\nreserved_host_memory_mb: 1024\n");
        UUID rp = rp(t);
        assertEquals(rp.toString(), Files.readString(t.dir.resolve("state/placement-provider-uuid")).strip(),
                "the uuid is kept in the state dir");
        PlacementApi.await(withinOneSync(), () -> assertEquals("ok", stateOf(t)));
        JsonNode p = api.provider(rp);
        assertTrue(p.path("name").asText().startsWith("t-"), p.toString());
        JsonNode h = host(t);
        JsonNode inv = api.inventories(rp);
        assertInventory(inv.get("VCPU"), h.get("vcpus").asLong(), 0, h.at("/allocation/cpu_allocation_ratio").asDouble());
        assertInventory(inv.get("MEMORY_MB"), h.get("memory_mb").asLong(),
                h.at("/allocation/reserved_host_memory_mb").asLong(), h.at("/allocation/ram_allocation_ratio").asDouble());
        assertInventory(inv.get("DISK_GB"), h.get("local_gb").asLong(), 0, h.at("/allocation/disk_allocation_ratio").asDouble());
        // Placement's capacity (total - reserved) * ratio is what local admission allows
        assertEquals(h.at("/limits/vcpus").asLong(), capacity(inv.get("VCPU")));
        assertEquals(h.at("/limits/memory_mb").asLong(), capacity(inv.get("MEMORY_MB")));
        assertEquals(h.at("/limits/disk_gb").asLong(), capacity(inv.get("DISK_GB")));
        assertEquals(Set.of("COMPUTE_NODE", "HW_ARCH_X86_64", "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW",
                "COMPUTE_NET_ATTACH_INTERFACE", "CUSTOM_BERTH_DRIVER_FAKE"), api.traits(rp));
        assertEquals(rp.toString(), host(t).at("/placement/resource_provider_uuid").asText());

        t.restart();
        assertEquals(rp, rp(t), "the same provider after a restart");
    }

    @Test
    void traitsOthersSetAreKept() throws Exception {
        TestAgent t = agent("");
        UUID rp = rp(t);
        PlacementApi.await(withinOneSync(), () -> assertTrue(api.traits(rp).contains("COMPUTE_NODE")));
        JsonNode traits = api.get("/resource_providers/" + rp + "/traits");
        List<String> more = new ArrayList<>();
        traits.get("traits").forEach(x -> more.add(x.asText()));
        more.add("HW_CPU_X86_AVX2");
        more.remove("COMPUTE_NODE"); // ours: the agent puts it back
        api.send("PUT", "/traits/CUSTOM_RACK_7", null);
        more.add("CUSTOM_RACK_7");
        PlacementApi.Answer a = api.send("PUT", "/resource_providers/" + rp + "/traits", PlacementApi.JSON
                .createObjectNode().put("resource_provider_generation", traits.get("resource_provider_generation").asLong())
                .<com.fasterxml.jackson.databind.node.ObjectNode>set("traits", PlacementApi.JSON.valueToTree(more)).toString());
        assertEquals(200, a.status(), a.json().toString());
        PlacementApi.await(withinOneSync(), () -> assertTrue(api.traits(rp).contains("COMPUTE_NODE")));
        Set<String> now = api.traits(rp);
        assertTrue(now.contains("HW_CPU_X86_AVX2") && now.contains("CUSTOM_RACK_7"), now.toString());
    }

    @Test
    void inventoriesOthersSetAreKeptAndOursAreRestored() throws Exception {
        TestAgent t = agent("cpu_allocation_ratio: 4.0\n");
        UUID rp = rp(t);
        PlacementApi.await(withinOneSync(), () -> assertEquals("ok", stateOf(t)));
        assertTrue(List.of(201, 204).contains(api.send("PUT", "/resource_classes/CUSTOM_BERTH_TEST_SLOT", null).status()));
        long g = api.provider(rp).get("generation").asLong();
        PlacementApi.Answer a = api.send("POST", "/resource_providers/" + rp + "/inventories",
                "{\"resource_provider_generation\": " + g + ", \"resource_class\": \"CUSTOM_BERTH_TEST_SLOT\", \"total\": 4}");
        assertEquals(201, a.status(), a.json().toString());
        long vcpus = api.inventories(rp).get("VCPU").get("total").asLong();
        a = api.send("PUT", "/resource_providers/" + rp + "/inventories/VCPU", "{\"resource_provider_generation\": "
                + a.json().get("resource_provider_generation").asLong() + ", \"total\": " + vcpus
                + ", \"allocation_ratio\": 2.0}");
        assertEquals(200, a.status(), a.json().toString());
        PlacementApi.await(withinOneSync(), () -> {
            JsonNode inv = api.inventories(rp);
            assertEquals(4.0, inv.get("VCPU").get("allocation_ratio").asDouble(), "ours restored: " + inv);
            assertEquals(4, inv.path("CUSTOM_BERTH_TEST_SLOT").path("total").asLong(), "theirs kept: " + inv);
        });
    }

    @Test
    void allocationsFollowSpawnAndDelete() throws Exception {
        TestAgent t = agent("");
        UUID rp = rp(t);
        UUID a = t.spawnAndWait("alloc-a");
        UUID b = t.spawnAndWait("alloc-b");
        PlacementApi.await(withinOneSync(), () -> assertEquals(Map.of(a.toString(), FLAVOR, b.toString(), FLAVOR),
                api.allocations(rp)));
        JsonNode consumer = api.get("/allocations/" + a);
        assertEquals("berth", consumer.get("project_id").asText());
        assertEquals(Set.of(rp.toString()), fieldNames(consumer.get("allocations")));
        JsonNode claimed = host(t).get("claimed");
        assertEquals(claimed.get("memory_mb").asLong(), 512);

        assertEquals(202, t.call("DELETE", "/v1/instances/" + a, null).status());
        PlacementApi.await(withinOneSync(), () -> assertEquals(Map.of(b.toString(), FLAVOR), api.allocations(rp)));
        assertEquals(0, api.get("/allocations/" + a).get("allocations").size());
    }

    @Test
    void changesBetweenSyncsAreWrittenAsTheyComeAndNoneIsLost() throws Exception {
        // an hour between full syncs: only the writes of changes as they come can make Placement right in time
        TestAgent quick = new TestAgent("drivers: {fake: {}}\nhost: q-" + UUID.randomUUID().toString().substring(0, 8)
                + "\nupdate_resources_interval: 1h\nplacement: {enabled: true, url: '" + PlacementServer.shared().url + "'}\n");
        agents.add(quick);
        UUID rp = rp(quick);
        providers.add(rp);
        PlacementApi.await(withinOneSync(), () -> assertEquals("ok", stateOf(quick)));
        List<UUID> kept = new ArrayList<>();
        for (int i = 0; i < 15; i++) {
            UUID u = quick.spawnAndWait("quick-" + i);
            if (i % 3 == 0) {
                kept.add(u);
            } else {
                assertEquals(202, quick.call("DELETE", "/v1/instances/" + u, null).status()); // right after the spawn
            }
        }
        Map<String, Map<String, Long>> want = new java.util.TreeMap<>();
        kept.forEach(u -> want.put(u.toString(), FLAVOR));
        PlacementApi.await(Duration.ofSeconds(5), () -> assertEquals(want, api.allocations(rp)));
        assertEquals(1, host(quick).at("/placement/syncs").asLong(), "no full sync helped");
    }

    @Test
    void disableRefusesSpawnsAndSetsComputeStatusDisabled() throws Exception {
        TestAgent t = agent("");
        UUID rp = rp(t);
        Reply off = t.call("POST", "/v1/host/disable", "{\"disabled_reason\": \"kernel upgrade\"}");
        assertEquals(200, off.status(), off.body());
        assertEquals("disabled", off.json().at("/host/status").asText());
        Reply spawn = t.call("POST", "/v1/instances", TestAgent.spawnBody("fake", "refused", 128));
        assertEquals(409, spawn.status(), spawn.body());
        assertTrue(spawn.json().at("/error/message").asText().contains("kernel upgrade"), spawn.body());
        assertEquals("host", spawn.json().at("/error/field").asText());
        PlacementApi.await(withinOneSync(), () -> assertTrue(api.traits(rp).contains("COMPUTE_STATUS_DISABLED")));
        assertEquals(400, t.call("POST", "/v1/host/disable", "{}").status(), "a reason is required");

        t.restart();
        assertEquals("disabled", host(t).get("status").asText(), "disabled survives a restart");
        assertEquals("kernel upgrade", host(t).get("disabled_reason").asText());
        assertTrue(t.call("GET", "/metrics", null).body().contains("berth_host_disabled 1"));

        assertEquals(200, t.call("POST", "/v1/host/enable", null).status());
        PlacementApi.await(withinOneSync(), () -> assertFalse(api.traits(rp).contains("COMPUTE_STATUS_DISABLED")));
        t.spawnAndWait("allowed");
    }

    @Test
    void syncHealsDriftBothWaysAndLeavesOtherProvidersAlone() throws Exception {
        TestAgent t = agent("");
        UUID rp = rp(t);
        UUID mine = t.spawnAndWait("mine");
        PlacementApi.await(withinOneSync(), () -> assertEquals(Map.of(mine.toString(), FLAVOR), api.allocations(rp)));
        UUID other = api.createProvider("other-" + UUID.randomUUID().toString().substring(0, 8));
        providers.add(other);
        UUID foreign = UUID.randomUUID();
        UUID orphan = UUID.randomUUID();
        assertEquals(204, api.deleteAllocations(mine));
        api.allocate(foreign, Map.of(other, Map.of("VCPU", 2L)));
        api.allocate(orphan, Map.of(rp, Map.of("VCPU", 1L), other, Map.of("MEMORY_MB", 64L)));

        long ms = PlacementApi.await(withinOneSync(), () -> {
            assertEquals(Map.of(mine.toString(), FLAVOR), api.allocations(rp));
        });
        System.out.println("healed in " + ms + " ms");
        assertEquals(Map.of(foreign.toString(), Map.of("VCPU", 2L), orphan.toString(), Map.of("MEMORY_MB", 64L)),
                api.allocations(other), "the other provider's allocations are kept, the orphan's too");
    }

    @Test
    void allocationsDeletedWhileTheSyncRunsAreAllHealed() throws Exception {
        TestAgent t = agent("");
        UUID rp = rp(t);
        List<UUID> mine = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            mine.add(t.spawnAndWait("race-" + i));
        }
        PlacementApi.await(withinOneSync(), () -> assertEquals(40, api.allocations(rp).size()));
        // deleted one by one over several syncs: each sync finds some gone and writes them back meanwhile
        for (int round = 0; round < 2; round++) {
            for (UUID u : mine) {
                api.deleteAllocations(u);
            }
        }
        PlacementApi.await(withinOneSync().multipliedBy(2), () -> {
            Map<String, Map<String, Long>> now = api.allocations(rp);
            assertEquals(40, now.size());
            now.values().forEach(v -> assertEquals(FLAVOR, v));
        });
    }

    @Test
    void aProviderDeletedBehindItsBackIsRegisteredAgainWithItsAllocations() throws Exception {
        TestAgent t = agent("");
        UUID rp = rp(t);
        UUID u = t.spawnAndWait("survivor");
        PlacementApi.await(withinOneSync(), () -> assertEquals(Map.of(u.toString(), FLAVOR), api.allocations(rp)));
        api.deleteProvider(rp);
        assertEquals(null, api.provider(rp));
        PlacementApi.await(withinOneSync().multipliedBy(2), () -> {
            assertNotNull(api.provider(rp));
            assertEquals(3, api.inventories(rp).size());
            assertTrue(api.traits(rp).contains("COMPUTE_NODE"));
            assertEquals(Map.of(u.toString(), FLAVOR), api.allocations(rp));
        });
    }

    @Test
    void aClaimAlreadyInPlacementIsCheckedNotClaimedTwice() throws Exception {
        TestAgent t = agent("");
        UUID rp = rp(t);
        PlacementApi.await(withinOneSync(), () -> assertEquals("ok", stateOf(t)));
        UUID claimed = UUID.randomUUID();
        api.allocate(claimed, Map.of(rp, FLAVOR)); // as a scheduler claims before the spawn reaches the host
        long writes = host(t).at("/placement/writes").asLong();
        Reply r = t.call("POST", "/v1/instances", TestAgent.spawnBody("fake", "pre-claimed", 256)
                .replace("{\"driver\"", "{\"uuid\": \"" + claimed + "\", \"driver\""));
        assertEquals(202, r.status(), r.body());
        t.awaitInstance(claimed, i -> i.get("task_state").isNull());
        awaitSyncs(t, host(t).at("/placement/syncs").asLong() + 1);
        JsonNode c = api.get("/allocations/" + claimed);
        assertEquals("other", c.get("project_id").asText(), "the scheduler's claim stands: " + c);
        assertEquals(Map.of(claimed.toString(), FLAVOR), api.allocations(rp));
        // one refused create, no replacement
        assertTrue(host(t).at("/placement/writes").asLong() - writes <= 1, host(t).toString());
    }

    @Test
    void anIdleSyncWritesNothingAndReadsAtMostThree() throws Exception {
        TestAgent t = agent("");
        for (int i = 0; i < 3; i++) {
            t.spawnAndWait("idle-" + i);
        }
        PlacementApi.await(withinOneSync(), () -> assertEquals(3, api.allocations(rp(t)).size()));
        JsonNode before = awaitSyncs(t, 0);
        JsonNode after = awaitSyncs(t, before.get("syncs").asLong() + 3);
        long syncs = after.get("syncs").asLong() - before.get("syncs").asLong();
        long reads = after.get("reads").asLong() - before.get("reads").asLong();
        assertEquals(0, after.get("writes").asLong() - before.get("writes").asLong(), after.toString());
        assertTrue(reads <= 3 * (syncs + 1), reads + " reads in " + syncs + " syncs");
        System.out.println("idle: " + reads + " reads, 0 writes in " + syncs + " syncs");
    }

    @Test
    void aDriverThatIsDownHasNoTraitAndTheCapacityStays() throws Exception {
        TestAgent t = withDrivers("{fake: {options: {vcpus: 6}}, flaky: {options: {fail_times: 1000000}}}", "1s");
        UUID rp = rp(t);
        PlacementApi.await(withinOneSync(), () -> assertEquals("ok", stateOf(t)));
        assertEquals(6, api.inventories(rp).get("VCPU").get("total").asLong(), "the capacity stays");
        Set<String> traits = api.traits(rp);
        assertTrue(traits.contains("CUSTOM_BERTH_DRIVER_FAKE"), traits.toString());
        assertFalse(traits.contains("CUSTOM_BERTH_DRIVER_FLAKY"), traits.toString());
    }

    @Test
    void aDriverThatConnectsLaterGetsItsTrait() throws Exception {
        TestAgent t = withDrivers("{fake: {}, flaky: {options: {fail_times: 3}}}", "1h");
        UUID rp = rp(t);
        // the interval is an hour: the trait comes from the sync the connection asks for
        PlacementApi.await(Duration.ofSeconds(10), () -> assertTrue(api.traits(rp).contains("CUSTOM_BERTH_DRIVER_FLAKY")));
    }

    @Test
    void placementDownWhileSpawningAndDeletingThenBackWithinOneSync() throws Exception {
        try (PlacementServer own = PlacementServer.own()) {
            PlacementApi mine = new PlacementApi(own.url);
            TestAgent t = agent(own, "down-" + UUID.randomUUID().toString().substring(0, 8), "");
            UUID rp = rp(t);
            UUID a = t.spawnAndWait("before");
            PlacementApi.await(withinOneSync(), () -> assertEquals(Set.of(a.toString()), mine.allocations(rp).keySet()));

            own.stop();
            UUID b = t.spawnAndWait("during-1");
            UUID c = t.spawnAndWait("during-2");
            assertEquals(202, t.call("DELETE", "/v1/instances/" + a, null).status());
            PlacementApi.await(Duration.ofSeconds(10), () -> assertEquals(404, status(t, "/v1/instances/" + a)));
            assertEquals("active", t.awaitInstance(b, i -> true).get("vm_state").asText(), "spawns work locally");
            PlacementApi.await(Duration.ofSeconds(10), () -> assertEquals("failing", stateOf(t)));
            JsonNode p = host(t).get("placement");
            assertTrue(p.get("pending_changes").asInt() >= 1, p.toString());
            assertTrue(p.get("last_error").asText().contains("cannot reach"), p.toString());
            assertFalse(p.get("last_error").asText().contains("admin"), "no token in messages: " + p);
            String metrics = t.call("GET", "/metrics", null).body();
            assertTrue(metrics.contains("berth_placement_up 0"), metrics);
            Thread.sleep(1500);
            assertTrue(host(t).at("/placement/behind_seconds").asLong() >= 1, host(t).toString());

            own.start();
            long ms = PlacementApi.await(SYNC.plus(Duration.ofSeconds(1)).multipliedBy(3), () ->
                    assertEquals(Map.of(b.toString(), FLAVOR, c.toString(), FLAVOR), mine.allocations(rp)));
            System.out.println("in sync again " + ms + " ms after Placement came back");
            PlacementApi.await(withinOneSync(), () -> assertEquals("ok", stateOf(t)));
            assertEquals(0, host(t).at("/placement/pending_changes").asInt());
            t.close();
            agents.remove(t);
            mine.deleteProvider(rp);
        }
    }

    @Test
    void aNameTakenByAnotherProviderIsAClearError() throws Exception {
        String name = "taken-" + UUID.randomUUID().toString().substring(0, 8);
        providers.add(api.createProvider(name));
        TestAgent t = agent(server, name, "");
        PlacementApi.await(withinOneSync(), () -> assertEquals("failing", stateOf(t)));
        String error = host(t).at("/placement/last_error").asText();
        assertTrue(error.contains("placement.duplicate_name") && error.contains("'" + name + "'"), error);
        t.spawnAndWait("works-anyway");
    }

    private static int status(TestAgent t, String path) {
        try {
            return t.call("GET", path, null).status();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String stateOf(TestAgent t) {
        try {
            return host(t).at("/placement/state").asText();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The placement view once at least {@code syncs} full syncs ran (and the report is ok). */
    private static JsonNode awaitSyncs(TestAgent t, long syncs) throws Exception {
        JsonNode[] last = new JsonNode[1];
        PlacementApi.await(SYNC.multipliedBy(syncs + 5), () -> {
            try {
                last[0] = host(t).get("placement");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            assertTrue(last[0].get("syncs").asLong() >= Math.max(1, syncs) && last[0].get("state").asText().equals("ok")
                    && last[0].get("pending_changes").asInt() == 0, last[0].toString());
        });
        return last[0];
    }

    private static void assertInventory(JsonNode inv, long total, long reserved, double ratio) {
        assertNotNull(inv);
        assertEquals(total, inv.get("total").asLong(), inv.toString());
        assertEquals(reserved, inv.get("reserved").asLong(), inv.toString());
        assertEquals(ratio, inv.get("allocation_ratio").asDouble(), 1e-6, inv.toString());
        assertEquals(1, inv.get("min_unit").asLong());
        assertEquals(total, inv.get("max_unit").asLong());
        assertEquals(1, inv.get("step_size").asLong());
    }

    private static long capacity(JsonNode inv) {
        return (long) Math.floor((inv.get("total").asLong() - inv.get("reserved").asLong())
                * inv.get("allocation_ratio").asDouble());
    }

    private static Set<String> fieldNames(JsonNode n) {
        Set<String> out = new java.util.TreeSet<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
