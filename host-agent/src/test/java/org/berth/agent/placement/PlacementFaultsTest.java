package org.berth.agent.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.berth.agent.TestAgent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The reporter's retry logic against the real Placement behind {@link FaultyProxy}: a real generation race,
 * HTML error pages, 5xx, resets and stalls. The agent runs in this JVM with the fake driver.
 */
class PlacementFaultsTest {
    private static final Map<String, Long> FLAVOR = Map.of("VCPU", 1L, "MEMORY_MB", 256L, "DISK_GB", 1L);
    private PlacementApi api;
    private FaultyProxy proxy;
    private TestAgent agent;
    private UUID rp;

    @BeforeEach
    void proxy() throws Exception {
        PlacementServer server = PlacementServer.shared();
        api = new PlacementApi(server.url);
        proxy = new FaultyProxy(server.url);
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (agent != null) {
            agent.close();
        }
        proxy.close();
        if (rp != null) {
            api.deleteProvider(rp);
        }
    }

    private void startAgent(String interval, String maxBackoff) throws Exception {
        agent = new TestAgent("drivers: {fake: {}}\nhost: f-" + UUID.randomUUID().toString().substring(0, 8)
                + "\nupdate_resources_interval: " + interval + "\nplacement: {enabled: true, url: '" + proxy.url()
                + "', timeout: 1s, max_backoff: " + maxBackoff + "}\n");
        rp = agent.agent.placement().providerUuid();
    }

    @Test
    void aGenerationConflictIsReadAgainAndResent() throws Exception {
        AtomicBoolean raced = new AtomicBoolean();
        // just before the agent's first inventory write, someone else bumps the provider's generation
        proxy.rules = r -> r.startsWith("PUT /resource_providers/") && r.endsWith("/inventories") && raced.compareAndSet(false, true)
                ? new FaultyProxy.Rule(FaultyProxy.Fault.PASS, () -> bumpGeneration(UUID.fromString(r.split("/")[2])))
                : FaultyProxy.Rule.of(FaultyProxy.Fault.PASS);
        startAgent("1h", "1s");
        PlacementApi.await(Duration.ofSeconds(10), () -> assertEquals(3, api.inventories(rp).size()));
        var puts = proxy.seen.stream().filter(s -> s.request().endsWith("/inventories") && s.request().startsWith("PUT")).toList();
        assertEquals(2, puts.size(), puts.toString());
        assertEquals(409, puts.get(0).status(), "the real Placement refused the stale generation");
        assertEquals(200, puts.get(1).status());
        assertTrue(api.traits(rp).contains("CUSTOM_RACED"), "the other writer's trait is kept");
        PlacementApi.await(Duration.ofSeconds(5), () -> assertEquals("ok", state().get("state").asText()));
    }

    private void bumpGeneration(UUID rp) {
        JsonNode t = api.get("/resource_providers/" + rp + "/traits");
        api.send("PUT", "/traits/CUSTOM_RACED", null);
        var body = PlacementApi.JSON.createObjectNode().put("resource_provider_generation",
                t.get("resource_provider_generation").asLong());
        var list = body.putArray("traits");
        t.get("traits").forEach(list::add);
        list.add("CUSTOM_RACED");
        assertEquals(200, api.send("PUT", "/resource_providers/" + rp + "/traits", body.toString()).status());
    }

    @Test
    void badAnswersAreRetriedWithBackoffAndNothingIsLost() throws Exception {
        startAgent("1s", "2s");
        PlacementApi.await(Duration.ofSeconds(10), () -> assertEquals("ok", state().get("state").asText()));
        for (FaultyProxy.Fault fault : new FaultyProxy.Fault[] {FaultyProxy.Fault.HTML_502, FaultyProxy.Fault.JSON_500,
                FaultyProxy.Fault.RESET, FaultyProxy.Fault.SLOW}) {
            proxy.rules = r -> FaultyProxy.Rule.of(fault);
            int before = proxy.seen.size();
            UUID u = agent.spawnAndWait("during-" + fault);
            assertEquals("active", agent.awaitInstance(u, i -> true).get("vm_state").asText(), "spawns work locally");
            PlacementApi.await(Duration.ofSeconds(10), () -> assertEquals("failing", state().get("state").asText()));
            String error = state().get("last_error").asText();
            assertTrue(switch (fault) {
                case HTML_502 -> error.contains("502") && error.contains("text/html");
                case JSON_500 -> error.contains("500");
                case RESET -> error.contains("cannot reach");
                default -> error.contains("no answer within 1000 ms");
            }, fault + ": " + error);
            Thread.sleep(6000);
            long attempts = proxy.seen.size() - before;
            // 1 s, 2 s, 2 s...: a handful of attempts in 6 s, not a hot loop (the JDK client sends a GET whose
            // connection closed without an answer once more by itself)
            long most = fault == FaultyProxy.Fault.RESET ? 12 : 6;
            assertTrue(attempts >= 2 && attempts <= most, fault + ": " + attempts + " requests in 6 s: " + proxy.seen);
            proxy.rules = r -> FaultyProxy.Rule.of(FaultyProxy.Fault.PASS);
            PlacementApi.await(Duration.ofSeconds(8), () -> assertEquals("ok", state().get("state").asText(),
                    fault + ": " + state()));
            assertEquals(0, state().get("pending_changes").asInt());
        }
        Set<String> all = api.allocations(rp).keySet();
        assertEquals(4, all.size(), all.toString());
        api.allocations(rp).values().forEach(v -> assertEquals(FLAVOR, v));
    }

    private JsonNode state() {
        try {
            return agent.call("GET", "/v1/host", null).json().at("/host/placement");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
