package org.berth.agent.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.berth.agent.cli.CliException;
import org.berth.agent.placement.PlacementApi;
import org.berth.agent.placement.PlacementClient;
import org.berth.agent.placement.PlacementServer;
import org.berth.agent.placement.Traits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The scheduler against a real Placement (scripts/placement.sh, the JVM's shared one) with providers made here
 * (inventories and a driver trait no other test uses). The agents' side of the hand-off is played by
 * {@link FakeHosts} (the only stand-in: the lab test {@code CloudScheduleTest} uses real agents).
 */
class SchedulerTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    private PlacementApi api;
    private CloudPlacement placement;
    private String driver;
    private final Map<String, UUID> providers = new LinkedHashMap<>();
    private final Set<UUID> consumers = ConcurrentHashMap.newKeySet();

    @BeforeEach
    void placement() {
        PlacementServer server = PlacementServer.shared();
        api = new PlacementApi(server.url);
        placement = new CloudPlacement(new PlacementClient(server.url, "admin", Duration.ofSeconds(20)));
        driver = "sched" + UUID.randomUUID().toString().substring(0, 8);
    }

    @AfterEach
    void cleanUp() {
        consumers.forEach(api::deleteAllocations);
        providers.values().forEach(api::deleteProvider);
        for (UUID rp : providers.values()) {
            assertEquals(null, api.provider(rp), "provider " + rp + " is left");
        }
        for (UUID c : consumers) {
            assertTrue(api.get("/allocations/" + c).path("allocations").isEmpty(), "allocation of " + c + " is left");
        }
    }

    /** A host: a provider of that name with VCPU/MEMORY_MB/DISK_GB and the traits (the driver's, unless none). */
    private UUID host(String name, int vcpus, int memoryMb, int diskGb, String... traits) {
        String full = name + "-" + driver;
        UUID rp = UUID.randomUUID();
        assertEquals(200, api.send("POST", "/resource_providers", "{\"uuid\": \"" + rp + "\", \"name\": \"" + full
                + "\"}").status());
        providers.put(full, rp);
        assertEquals(200, api.send("PUT", "/resource_providers/" + rp + "/inventories", ("{\"resource_provider_"
                + "generation\": 0, \"inventories\": {\"VCPU\": {\"total\": %d}, \"MEMORY_MB\": {\"total\": %d}, "
                + "\"DISK_GB\": {\"total\": %d}}}").formatted(vcpus, memoryMb, diskGb)).status());
        List<String> all = new ArrayList<>(List.of(traits));
        all.add(Traits.driverTrait(driver));
        for (String t : all) {
            if (t.startsWith("CUSTOM_")) {
                api.send("PUT", "/traits/" + t, null);
            }
        }
        assertEquals(200, api.send("PUT", "/resource_providers/" + rp + "/traits", "{\"resource_provider_generation\""
                + ": 1, \"traits\": " + PlacementApi.JSON.valueToTree(all) + "}").status());
        return rp;
    }

    private String name(String host) {
        return host + "-" + driver;
    }

    private ObjectNode body(int vcpus, int memoryMb, int rootGb) {
        ObjectNode b = PlacementApi.JSON.createObjectNode().put("driver", driver).put("image_id", UUID.randomUUID()
                .toString());
        b.putObject("flavor").put("name", "custom").put("vcpus", vcpus).put("memory_mb", memoryMb).put("root_gb", rootGb);
        return b;
    }

    private Scheduler.Request request(ObjectNode body, int maxAttempts) {
        UUID uuid = UUID.randomUUID();
        consumers.add(uuid);
        return new Scheduler.Request(uuid, body, maxAttempts, true, WAIT, (h, b) -> { });
    }

    private Scheduler scheduler(FakeHosts hosts, long seed) {
        return new Scheduler(placement, providers.keySet(), hosts, new Random(seed));
    }

    /** Plays the agents: records spawns and deletes; a host in {@code failing} ends the spawn in ERROR. */
    static final class FakeHosts implements Scheduler.Hosts {
        final Set<String> failing = ConcurrentHashMap.newKeySet();
        final List<String> spawnedOn = Collections.synchronizedList(new ArrayList<>());
        final List<String> deletedOn = Collections.synchronizedList(new ArrayList<>());
        /** Hosts whose agent stops answering after accepting the spawn: their delete fails. */
        final Set<String> silentAfterSpawn = ConcurrentHashMap.newKeySet();

        @Override
        public JsonNode spawn(String host, ObjectNode body) {
            spawnedOn.add(host);
            return PlacementApi.JSON.createObjectNode().put("uuid", body.path("uuid").asText())
                    .put("vm_state", "building").put("task_state", "spawning");
        }

        @Override
        public JsonNode await(String host, UUID uuid, Duration limit) {
            return PlacementApi.JSON.createObjectNode().put("uuid", uuid.toString()).putNull("task_state")
                    .put("vm_state", failing.contains(host) ? "error" : "active")
                    .put("fault", failing.contains(host) ? "InstanceExists: the name is taken" : null);
        }

        @Override
        public boolean deleteAndWait(String host, UUID uuid, Duration limit) {
            if (silentAfterSpawn.contains(host)) {
                throw new CliException.Unreachable("http://" + host + "/v1/instances/" + uuid, "no answer within 5 s");
            }
            deletedOn.add(host);
            return true;
        }
    }

    @Test
    void resourcesAreTheAgentsReport() {
        ObjectNode vm = body(2, 512, 1);
        ((ObjectNode) vm.get("flavor")).put("ephemeral_gb", 2).put("swap_mb", 1);
        assertEquals(Map.of("VCPU", 2L, "MEMORY_MB", 512L, "DISK_GB", 4L), Scheduler.resources(vm),
                "DISK_GB = root + ephemeral + swap rounded up to GiB (CapacityService.diskGb)");
        assertEquals(Map.of("VCPU", 1L, "MEMORY_MB", 256L), Scheduler.resources(body(1, 256, 0)),
                "a class of 0 is left out (Placement refuses amounts of 0)");
        ObjectNode noMemory = body(1, 256, 0);
        ((ObjectNode) noMemory.get("flavor")).remove("memory_mb");
        assertEquals("flavor.memory_mb: is required", assertThrows(IllegalArgumentException.class,
                () -> Scheduler.resources(noMemory)).getMessage());
        ObjectNode tooSmall = body(1, 8, 0);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Scheduler.resources(tooSmall)).getMessage()
                .startsWith("flavor.memory_mb: 8 must be between 16 and"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Scheduler.driver(body(1, 256, 0)
                .put("driver", ""))).getMessage().startsWith("driver: is required"));
    }

    @Test
    void weighsFreeRamThenVcpuThenAtRandom() {
        UUID a = UUID.randomUUID();
        UUID b = UUID.randomUUID();
        UUID c = UUID.randomUUID();
        UUID d = UUID.randomUUID();
        Map<String, Long> r = Map.of("MEMORY_MB", 128L);
        CloudPlacement.Candidates cands = new CloudPlacement.Candidates(List.of(
                new CloudPlacement.Candidate(a, r), new CloudPlacement.Candidate(b, r),
                new CloudPlacement.Candidate(c, r), new CloudPlacement.Candidate(d, r)), Map.of(
                a, summary(1024, 0, 8, 0), b, summary(2048, 512, 8, 0), c, summary(2048, 512, 8, 4),
                d, summary(2048, 0, 1, 0)));
        Set<List<UUID>> orders = new HashSet<>();
        for (long seed = 0; seed < 20; seed++) {
            orders.add(Scheduler.weigh(cands, new Random(seed)).stream().map(CloudPlacement.Candidate::provider).toList());
        }
        // d: 2048 MB free; b: 1536 MB and 8 VCPU free; c: 1536 MB and 4 VCPU; a: 1024 MB
        assertEquals(Set.of(List.of(d, b, c, a)), orders);
        CloudPlacement.Candidates tie = new CloudPlacement.Candidates(List.of(new CloudPlacement.Candidate(a, r),
                new CloudPlacement.Candidate(b, r)), Map.of(a, summary(1024, 0, 8, 0), b, summary(1024, 0, 8, 0)));
        Set<UUID> firsts = new HashSet<>();
        for (long seed = 0; seed < 20; seed++) {
            firsts.add(Scheduler.weigh(tie, new Random(seed)).get(0).provider());
        }
        assertEquals(Set.of(a, b), firsts, "equal hosts are ordered at random");
    }

    private static CloudPlacement.Summary summary(long ram, long ramUsed, long vcpu, long vcpuUsed) {
        return new CloudPlacement.Summary(Map.of("MEMORY_MB", new CloudPlacement.Usage(ram, ramUsed),
                "VCPU", new CloudPlacement.Usage(vcpu, vcpuUsed)), Set.of());
    }

    @Test
    void claimsOnTheHostWithTheMostFreeRam() {
        host("small", 8, 1024, 10);
        UUID big = host("big", 8, 4096, 10);
        host("mid", 8, 2048, 10);
        FakeHosts hosts = new FakeHosts();
        Scheduler.Request r = request(body(1, 512, 1), 3);
        Scheduler.Placed p = scheduler(hosts, 1).schedule(r);
        assertEquals(name("big"), p.host());
        assertEquals(List.of(name("big")), hosts.spawnedOn);
        assertEquals(r.uuid().toString(), r.body().path("uuid").asText(), "the body carries the chosen uuid");
        assertEquals(Map.of(big, Map.of("VCPU", 1L, "MEMORY_MB", 512L, "DISK_GB", 1L)),
                placement.consumer(r.uuid()).allocations());
        assertEquals(List.of(new Scheduler.Attempt(name("big"), "active", null)), p.attempts());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> scheduler(hosts, 1).schedule(
                new Scheduler.Request(r.uuid(), body(1, 128, 0), 3, true, WAIT, (h, b) -> { }))).getMessage()
                .contains("already has allocations in Placement"), "a uuid in use is refused before any claim");
    }

    @Test
    void aSpawnThatEndsInErrorIsRescheduledAndItsClaimGivenBack() {
        host("first", 8, 4096, 10);
        UUID second = host("second", 8, 2048, 10);
        host("third", 8, 1024, 10);
        FakeHosts hosts = new FakeHosts();
        hosts.failing.add(name("first"));
        Scheduler.Request r = request(body(1, 256, 0), 3);
        Scheduler.Placed p = scheduler(hosts, 2).schedule(r);
        assertEquals(name("second"), p.host());
        assertEquals(List.of(name("first"), name("second")), hosts.spawnedOn);
        assertEquals(List.of(name("first")), hosts.deletedOn, "the failed spawn's instance is deleted there");
        assertEquals(Map.of(second, Map.of("VCPU", 1L, "MEMORY_MB", 256L)), placement.consumer(r.uuid()).allocations(),
                "only the second host's claim is held");
        assertEquals("error", p.attempts().get(0).outcome());
        assertTrue(p.attempts().get(0).reason().contains("InstanceExists"), p.attempts().toString());
    }

    @Test
    void aFailedHostWhoseCopyIsNotConfirmedGoneStopsTheReschedulingAndKeepsItsClaim() {
        UUID first = host("first", 8, 4096, 10);
        host("second", 8, 2048, 10);
        FakeHosts hosts = new FakeHosts();
        hosts.failing.add(name("first"));
        hosts.silentAfterSpawn.add(name("first"));
        Scheduler.Request r = request(body(1, 256, 0), 3);
        String m = assertThrows(CliException.Failed.class, () -> scheduler(hosts, 2).schedule(r)).getMessage();
        assertTrue(m.startsWith("the spawn failed on " + name("first") + " and deleting its copy there failed ("
                + "cannot reach the agent"), m);
        assertTrue(m.contains("a copy of instance " + r.uuid() + " may still exist on " + name("first")), m);
        assertTrue(m.contains("'berth cloud delete " + r.uuid() + "'"), m);
        assertEquals(List.of(name("first")), hosts.spawnedOn, "not rescheduled: no second copy");
        assertEquals(Map.of(first, Map.of("VCPU", 1L, "MEMORY_MB", 256L)), placement.consumer(r.uuid()).allocations(),
                "the host that may still have the copy keeps its claim");
    }

    @Test
    void aUuidClaimedByAnotherSchedulerMeanwhileIsInUseNotOverwritten() {
        host("mine", 8, 4096, 10);
        UUID theirs = host("theirs", 8, 1024, 10);
        FakeHosts hosts = new FakeHosts();
        UUID uuid = UUID.randomUUID();
        consumers.add(uuid);
        // a concurrent 'spawn --uuid' of the same uuid claims between this scheduler's check and its claim
        Scheduler.Request r = new Scheduler.Request(uuid, body(1, 256, 0), 3, true, WAIT, (h, b) ->
                assertTrue(placement.claim(uuid, theirs, Map.of("MEMORY_MB", 128L))));
        String m = assertThrows(CliException.Failed.class, () -> scheduler(hosts, 1).schedule(r)).getMessage();
        assertEquals("uuid " + uuid + " is in use (another claim holds it)", m);
        assertEquals(List.of(), hosts.spawnedOn);
        assertEquals(Map.of(theirs, Map.of("MEMORY_MB", 128L)), placement.consumer(uuid).allocations(),
                "the other claim is left as it was");
    }

    @Test
    void maxAttemptsBoundsTheHostsTried() {
        host("a", 8, 4096, 10);
        host("b", 8, 2048, 10);
        host("c", 8, 1024, 10);
        FakeHosts hosts = new FakeHosts();
        hosts.failing.addAll(List.of(name("a"), name("b"), name("c")));
        Scheduler.Request r = request(body(1, 256, 0), 2);
        String m = assertThrows(CliException.Failed.class, () -> scheduler(hosts, 3).schedule(r)).getMessage();
        assertTrue(m.startsWith("no valid host: the spawn failed on 2 host(s), --max-attempts 2 reached: "
                + name("a") + ": the spawn ended in ERROR"), m);
        assertEquals(List.of(name("a"), name("b")), hosts.spawnedOn);
        assertFalse(placement.consumer(r.uuid()).exists(), "no claim is left");
    }

    @Test
    void noValidHostNamesTheShortResource() {
        host("h1", 8, 2048, 10);
        host("h2", 8, 1024, 10);
        host("off", 8, 8192, 10, Traits.DISABLED);
        host("nodriver", 8, 8192, 10).toString();
        api.send("PUT", "/resource_providers/" + providers.get(name("nodriver")) + "/traits",
                "{\"resource_provider_generation\": 2, \"traits\": []}");
        FakeHosts hosts = new FakeHosts();
        String m = assertThrows(CliException.Failed.class, () -> scheduler(hosts, 4).schedule(request(
                body(1, 3000, 0), 3))).getMessage();
        assertEquals("no valid host: MEMORY_MB short: requested 3000, the most free on any host is 2048 (hosts: "
                + name("h1") + " 2048 free of 2048; " + name("h2") + " 1024 free of 1024)", m,
                "the disabled host and the one without the driver are not counted");
        String disk = assertThrows(CliException.Failed.class, () -> scheduler(hosts, 4).schedule(request(
                body(1, 128, 20), 3))).getMessage();
        assertTrue(disk.startsWith("no valid host: DISK_GB short: requested 20, the most free on any host is 10"), disk);
        ObjectNode other = body(1, 128, 0).put("driver", "none" + driver);
        assertTrue(assertThrows(CliException.Failed.class, () -> scheduler(hosts, 4).schedule(request(other, 3)))
                .getMessage().startsWith("no valid host: no enabled host has the trait CUSTOM_BERTH_DRIVER_NONE"));
        assertEquals(List.of(), hosts.spawnedOn);
    }

    @Test
    void aProviderOutsideTheHostsFileIsSkipped() {
        host("known", 8, 1024, 10);
        UUID stranger = host("stranger", 8, 4096, 10);
        FakeHosts hosts = new FakeHosts();
        Set<String> file = Set.of(name("known"));
        Scheduler.Request r = request(body(1, 256, 0), 3);
        Scheduler.Placed p = new Scheduler(placement, file, hosts, new Random(5)).schedule(r);
        assertEquals(name("known"), p.host());
        assertEquals(new Scheduler.Attempt(stranger.toString(), "skipped", "provider " + stranger
                + " is not a host of the hosts file"), p.attempts().get(0));
    }

    @Test
    void concurrentSchedulersNeverOvercommit() throws Exception {
        UUID h1 = host("c1", 64, 1024, 10);
        UUID h2 = host("c2", 64, 1024, 10);
        FakeHosts hosts = new FakeHosts();
        int requests = 12; // 2 x 1024 MB hold 8 of 256 MB
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<String>> results = new ArrayList<>();
        try {
            for (int i = 0; i < requests; i++) {
                long seed = i;
                results.add(pool.submit(() -> {
                    try {
                        return scheduler(hosts, seed).schedule(request(body(1, 256, 0), 3)).host();
                    } catch (CliException.Failed e) {
                        return e.getMessage();
                    }
                }));
            }
            List<String> out = new ArrayList<>();
            for (Future<String> f : results) {
                out.add(f.get(60, TimeUnit.SECONDS));
            }
            assertEquals(8, out.stream().filter(s -> !s.startsWith("no valid host")).count(), out.toString());
            assertTrue(out.stream().filter(s -> s.startsWith("no valid host")).allMatch(s ->
                    s.startsWith("no valid host: MEMORY_MB short: requested 256, the most free on any host is 0")), out.toString());
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
        for (UUID rp : List.of(h1, h2)) {
            CloudPlacement.Usage u = placement.usages(rp).get("MEMORY_MB");
            assertEquals(new CloudPlacement.Usage(1024, 1024), u, "full, not over");
        }
    }
}
