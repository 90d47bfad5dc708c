package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.berth.agent.TestAgent.Reply;
import org.berth.agent.placement.PlacementApi;
import org.berth.agent.placement.PlacementServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 14 acceptance with the real agent process (docker + kvm on br-int) and the real Placement, checked through
 * Placement's own API: the provider and its inventories equal GET /v1/host's, the traits follow the drivers, a
 * container's and a VM's allocations equal their flavors from admission on, disable sets COMPUTE_STATUS_DISABLED,
 * and after kill -9 with allocations deleted and foreign ones added behind its back, the restarted agent restores
 * its own within one sync and leaves the other provider's alone; after delete they are gone.
 */
class PlacementAcceptanceTest {
    private static final Duration SYNC = Duration.ofSeconds(3);
    private static final Map<String, Long> CONTAINER = Map.of("VCPU", 1L, "MEMORY_MB", 128L, "DISK_GB", 1L);
    private static final Map<String, Long> VM = Map.of("VCPU", 1L, "MEMORY_MB", 256L, "DISK_GB", 1L);

    @Test
    @Timeout(1200)
    void containerAndVmAllocationsDisableAndRestartAfterKill9() throws Exception {
        PlacementApi api = new PlacementApi(PlacementServer.shared().url);
        String name = "it-" + UUID.randomUUID().toString().substring(0, 8);
        UUID other = api.createProvider("it-other-" + UUID.randomUUID().toString().substring(0, 8));
        UUID rp = null;
        Guests guests = new Guests();
        long t0 = System.nanoTime();
        try (AgentProcess agent = AgentProcess.start("sync_power_state_interval: 1h\nhost: " + name
                + "\nupdate_resources_interval: " + SYNC.toSeconds() + "s\nplacement: {enabled: true, url: '"
                + PlacementServer.shared().url + "', timeout: 5s, max_backoff: 2s}\n")) {
            try {
                rp = UUID.fromString(Files.readString(agent.stateDir.resolve("placement-provider-uuid")).strip());
                run(agent, guests, api, rp, other, t0);
            } finally {
                List<String> problems = guests.destroyAndCheck(agent);
                assertTrue(problems.isEmpty(), () -> "cleanup: " + problems + "\nagent log:\n" + agent.logTail(4000));
            }
            UUID mine = rp;
            PlacementApi.await(SYNC.multipliedBy(3), () -> assertEquals(Map.of(), api.allocations(mine),
                    "after delete the allocations are gone"));
        } finally {
            if (rp != null) {
                api.deleteProvider(rp);
            }
            api.deleteProvider(other);
        }
        System.out.printf("PlacementAcceptanceTest: total %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Placement stopped while containers are spawned and deleted, then started: no spawn failed, and within one
     * sync Placement equals the store again.
     */
    @Test
    @Timeout(900)
    void placementDownWhileContainersSpawnAndDeleteThenBackWithinOneSync() throws Exception {
        Guests guests = new Guests();
        long t0 = System.nanoTime();
        try (PlacementServer own = PlacementServer.own();
             AgentProcess agent = AgentProcess.start("sync_power_state_interval: 1h\nhost: it-down-"
                     + UUID.randomUUID().toString().substring(0, 8) + "\nupdate_resources_interval: "
                     + SYNC.toSeconds() + "s\nplacement: {enabled: true, url: '" + own.url
                     + "', timeout: 2s, max_backoff: 2s}\n")) {
            PlacementApi api = new PlacementApi(own.url);
            UUID rp = UUID.fromString(Files.readString(agent.stateDir.resolve("placement-provider-uuid")).strip());
            try {
                String busybox = Guests.busybox();
                UUID a = UUID.randomUUID();
                Guests.spawn(agent, guests.containerBody(a, busybox, "198.18.22.50/24"));
                agent.awaitRunning(a, Guests.SPAWN_LIMIT);
                PlacementApi.await(SYNC.multipliedBy(2), () -> assertEquals(Map.of(a.toString(), CONTAINER), api.allocations(rp)));

                own.stop();
                Guests.step("Placement stopped", t0);
                UUID b = UUID.randomUUID();
                Guests.spawn(agent, guests.containerBody(b, busybox, "198.18.22.51/24"));
                UUID c = UUID.randomUUID();
                Guests.spawn(agent, guests.containerBody(c, busybox, "198.18.22.52/24"));
                agent.awaitRunning(b, Guests.SPAWN_LIMIT);
                agent.awaitRunning(c, Guests.SPAWN_LIMIT);
                assertEquals(202, agent.call("DELETE", "/v1/instances/" + a, null).status());
                agent.awaitInstance(a, Guests.DELETE_LIMIT, "deleted", n -> n == null);
                assertEquals(202, agent.call("DELETE", "/v1/instances/" + c, null).status());
                agent.awaitInstance(c, Guests.DELETE_LIMIT, "deleted", n -> n == null);
                JsonNode p = host(agent).get("placement");
                assertEquals("failing", p.get("state").asText(), p.toString());
                assertTrue(p.get("pending_changes").asInt() >= 1 && p.get("behind_seconds").asLong() >= 1, p.toString());
                Guests.step("2 spawns and 2 deletes done locally while Placement was down: " + p, t0);

                own.start();
                long restored = System.nanoTime();
                PlacementApi.await(SYNC.plus(Duration.ofSeconds(2)), () ->
                        assertEquals(Map.of(b.toString(), CONTAINER), api.allocations(rp)));
                Guests.step("Placement equals the store " + (System.nanoTime() - restored) / 1_000_000
                        + " ms after it came back", t0);
                PlacementApi.await(SYNC, () -> assertEquals("ok", placementState(agent)));
            } finally {
                List<String> problems = guests.destroyAndCheck(agent);
                assertTrue(problems.isEmpty(), () -> "cleanup: " + problems + "\nagent log:\n" + agent.logTail(4000));
                if (own.answers()) {
                    api.deleteProvider(rp);
                }
            }
        }
        System.out.printf("PlacementAcceptanceTest (outage): total %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    private static void run(AgentProcess agent, Guests guests, PlacementApi api, UUID rp, UUID other, long t0)
            throws Exception {
        PlacementApi.await(SYNC.multipliedBy(3), () -> assertEquals("ok", placementState(agent)));
        JsonNode host = host(agent);
        assertEquals(rp.toString(), host.at("/placement/resource_provider_uuid").asText());
        assertEquals(host.get("host").asText(), api.provider(rp).get("name").asText());
        JsonNode inv = api.inventories(rp);
        assertInventory(inv.get("VCPU"), host.get("vcpus").asLong(), 0, host.at("/allocation/cpu_allocation_ratio"));
        assertInventory(inv.get("MEMORY_MB"), host.get("memory_mb").asLong(),
                Math.min(host.get("memory_mb").asLong(), host.at("/allocation/reserved_host_memory_mb").asLong()),
                host.at("/allocation/ram_allocation_ratio"));
        assertInventory(inv.get("DISK_GB"), host.get("local_gb").asLong(), 0, host.at("/allocation/disk_allocation_ratio"));
        assertEquals(expectedTraits(agent), api.traits(rp));
        Guests.step("provider, inventories and traits as /v1/host and /v1/drivers say", t0);

        UUID c = UUID.randomUUID();
        Guests.spawn(agent, guests.containerBody(c, Guests.busybox(), "198.18.22.40/24"));
        UUID vm = UUID.randomUUID();
        Guests.spawn(agent, guests.vmBody(vm, Guests.guestKernel(), "198.18.22.41/24", null));
        long admitted = System.nanoTime();
        Map<String, Map<String, Long>> both = Map.of(c.toString(), CONTAINER, vm.toString(), VM);
        PlacementApi.await(SYNC, () -> assertEquals(both, api.allocations(rp)));
        Guests.step("allocations written " + (System.nanoTime() - admitted) / 1_000_000 + " ms after admission", t0);
        agent.awaitRunning(c, Guests.SPAWN_LIMIT);
        agent.awaitRunning(vm, Guests.SPAWN_LIMIT);
        Guests.step("container and VM RUNNING", t0);
        assertEquals(both, api.allocations(rp));

        Reply off = agent.call("POST", "/v1/host/disable", "{\"disabled_reason\": \"it maintenance\"}");
        assertEquals(200, off.status(), off.body());
        PlacementApi.await(SYNC, () -> assertTrue(api.traits(rp).contains("COMPUTE_STATUS_DISABLED")));
        UUID refused = UUID.randomUUID();
        Reply no = agent.call("POST", "/v1/instances", guests.containerBody(refused, Guests.busybox(), null));
        assertEquals(409, no.status(), no.body());
        assertTrue(no.body().contains("it maintenance"), no.body());
        assertEquals(200, agent.call("POST", "/v1/host/enable", null).status());
        PlacementApi.await(SYNC, () -> assertFalse(api.traits(rp).contains("COMPUTE_STATUS_DISABLED")));
        Guests.step("disable/enable seen in Placement", t0);

        agent.kill9();
        assertEquals(204, api.deleteAllocations(c));
        assertEquals(204, api.deleteAllocations(vm));
        UUID foreign = UUID.randomUUID();
        UUID orphan = UUID.randomUUID();
        api.allocate(foreign, Map.of(other, Map.of("VCPU", 2L, "MEMORY_MB", 512L)));
        api.allocate(orphan, Map.of(rp, Map.of("VCPU", 1L), other, Map.of("MEMORY_MB", 64L)));
        Guests.step("agent killed; its allocations deleted, a foreign consumer and an orphan added", t0);

        long restart = System.nanoTime();
        agent.start();
        long healedMs = PlacementApi.await(SYNC.plus(SYNC), () -> assertEquals(both, api.allocations(rp)));
        Guests.step("restarted agent restored its allocations " + ((System.nanoTime() - restart) / 1_000_000)
                + " ms after the restart began (" + healedMs + " ms after it answered)", t0);
        assertEquals(Map.of(foreign.toString(), Map.of("MEMORY_MB", 512L, "VCPU", 2L),
                orphan.toString(), Map.of("MEMORY_MB", 64L)), api.allocations(other),
                "the other provider's allocations are left alone");
    }

    /** The traits Berth should set, from what the agent says about its drivers (GET /v1/drivers). */
    private static Set<String> expectedTraits(AgentProcess agent) throws IOException, InterruptedException {
        Set<String> out = new TreeSet<>(Set.of("COMPUTE_NODE", "HW_ARCH_X86_64"));
        boolean hotplug = true;
        for (JsonNode d : agent.call("GET", "/v1/drivers", null).json().get("drivers")) {
            assertTrue(d.get("available").asBoolean(), d.toString());
            out.add("CUSTOM_BERTH_DRIVER_" + d.get("name").asText().toUpperCase(Locale.ROOT));
            d.get("image_formats").forEach(f -> out.add("COMPUTE_IMAGE_TYPE_"
                    + f.get("disk_format").asText().toUpperCase(Locale.ROOT)));
            boolean has = false;
            for (JsonNode cap : d.get("capabilities")) {
                has |= cap.asText().equals("interface_hotplug");
            }
            hotplug &= has;
        }
        if (hotplug) {
            out.add("COMPUTE_NET_ATTACH_INTERFACE");
        }
        assertTrue(out.contains("CUSTOM_BERTH_DRIVER_DOCKER") && out.contains("CUSTOM_BERTH_DRIVER_KVM"), out.toString());
        return out;
    }

    private static JsonNode host(AgentProcess agent) throws IOException, InterruptedException {
        Reply r = agent.call("GET", "/v1/host", null);
        assertEquals(200, r.status(), r.body());
        return r.json().get("host");
    }

    private static String placementState(AgentProcess agent) {
        try {
            return host(agent).at("/placement/state").asText();
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void assertInventory(JsonNode inv, long total, long reserved, JsonNode ratio) {
        assertEquals(total, inv.get("total").asLong(), inv.toString());
        assertEquals(reserved, inv.get("reserved").asLong(), inv.toString());
        assertEquals(ratio.asDouble(), inv.get("allocation_ratio").asDouble(), 1e-6, inv.toString());
        assertEquals(total, inv.get("max_unit").asLong(), inv.toString());
    }
}
