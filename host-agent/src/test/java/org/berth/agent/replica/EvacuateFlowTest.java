package org.berth.agent.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.berth.agent.TestAgent;
import org.berth.agent.cli.BerthCli;
import org.berth.agent.cli.CliException;
import org.berth.agent.cloud.CloudCommand;
import org.berth.agent.cloud.CloudHosts;
import org.berth.agent.cloud.Evacuate;
import org.berth.agent.cloud.Replicas;
import org.berth.agent.placement.PlacementApi;
import org.berth.agent.placement.PlacementServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Evacuate end to end on two in-process agents (fake driver) and a real Placement: the refusals, the rebuild on the
 * survivor (claim next to the source's part, same spec, marked, republished), "no spec replica" reported, and the
 * returning host destroying its copy. The OVN check is played by a lambda (the lab test runs the real one).
 */
class EvacuateFlowTest {
    private final List<TestAgent> agents = new ArrayList<>();
    private final List<UUID> providers = new ArrayList<>();
    private PlacementApi api;

    @AfterEach
    void cleanUp() throws Exception {
        for (TestAgent t : agents) {
            t.close();
        }
        for (UUID rp : providers) {
            api.deleteProvider(rp);
            assertEquals(null, api.provider(rp), "provider " + rp + " left");
        }
    }

    private TestAgent agent(String host) throws Exception {
        return agent(host, 0);
    }

    private TestAgent agent(String host, int spawnDelayMs) throws Exception {
        TestAgent t = new TestAgent("drivers: {fake: {options: {vcpus: 4, memory_mb: 8192, local_gb: 40, "
                + "spawn_delay_ms: " + spawnDelayMs + "}}}\n"
                + "host: " + host + "\nupdate_resources_interval: 1s\n"
                + "placement: {enabled: true, url: '" + PlacementServer.shared().url + "', token: admin, timeout: 2s, "
                + "max_backoff: 1s}\n");
        agents.add(t);
        providers.add(t.agent.placement().providerUuid());
        return t;
    }

    private static Path hostsFile(Path dir, boolean withSb, TestAgent... hosts) throws Exception {
        StringBuilder list = new StringBuilder();
        for (TestAgent t : hosts) {
            list.append(list.isEmpty() ? "" : ",").append("""
                    {"name": "%s", "api": "http://127.0.0.1:%d", "token_file": "%s"}"""
                    .formatted(t.agent.config().placement().host(), t.agent.port(), t.agent.tokenFile()));
        }
        Path f = dir.resolve("hosts.json");
        Files.writeString(f, """
                {"placement": {"url": "%s", "token": "admin"}, %s "hosts": [%s]}
                """.formatted(PlacementServer.shared().url, withSb ? "\"sb\": \"unix:/nonexistent/sb.sock\"," : "",
                list));
        return f;
    }

    private Set<String> holders(UUID consumer) {
        Set<String> out = new java.util.TreeSet<>();
        api.get("/allocations/" + consumer).path("allocations").fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void aDeadHostsInstanceIsRebuiltOnTheSurvivorAndItsStaleCopyGoesWhenItReturns(@TempDir Path dir) throws Exception {
        api = new PlacementApi(PlacementServer.shared().url);
        String suffix = UUID.randomUUID().toString().substring(0, 6);
        TestAgent a = agent("ev-a-" + suffix);
        TestAgent b = agent("ev-b-" + suffix);
        String bName = "ev-b-" + suffix;
        UUID rpA = a.agent.placement().providerUuid();
        UUID rpB = b.agent.placement().providerUuid();
        UUID kept = b.spawnAndWait("kept");
        UUID orphan = b.spawnAndWait("no-replica");
        PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rpB.toString()), holders(kept)));
        PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rpB.toString()), holders(orphan)));
        PlacementApi.await(Duration.ofSeconds(20), () -> assertTrue(api.traits(rpA).contains("CUSTOM_BERTH_DRIVER_FAKE")));
        Path hosts = hostsFile(dir, true, a, b);
        CloudCommand.Cloud cloud = new CloudCommand.Cloud(CloudHosts.load(hosts), Duration.ofSeconds(5));
        assertTrue(Replicas.publish(cloud, bName, kept).missed().isEmpty());
        JsonNode spec = b.call("GET", "/v1/instances/" + kept, null).json().at("/instance/spec");

        // refused while B answers; then B "dies" and its chassis is still there; then the chassis is gone
        CliException live = assertThrows(CliException.class,
                () -> new Evacuate(cloud, Duration.ofSeconds(20), (sb, ch) -> false).run(bName, null));
        assertTrue(live.getMessage().contains("check 1 (agent unreachable) failed"), live.getMessage());
        b.agent.close();
        CliException chassis = assertThrows(CliException.class,
                () -> new Evacuate(cloud, Duration.ofSeconds(20), (sb, ch) -> true).run(bName, null));
        assertTrue(chassis.getMessage().contains("check 2 (OVN chassis gone) failed") && chassis.getMessage()
                .contains("chassis '" + bName + "'"), chassis.getMessage());
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = BerthCli.run(new String[] {"cloud", "--hosts", hostsFile(dir, false, a, b).toString(), "evacuate",
                bName}, new PrintWriter(out), new PrintWriter(err), Map.of());
        assertEquals(1, exit, out + " " + err);
        assertTrue(err.toString().contains("names no \"sb\""), err.toString());

        List<Evacuate.Row> rows = new Evacuate(cloud, Duration.ofSeconds(20), (sb, ch) -> false).run(bName, null);
        assertEquals(2, rows.size(), rows.toString());
        Evacuate.Row done = rows.stream().filter(r -> r.uuid().equals(kept)).findFirst().orElseThrow();
        Evacuate.Row missed = rows.stream().filter(r -> r.uuid().equals(orphan)).findFirst().orElseThrow();
        assertTrue(done.ok() && done.to().equals(a.agent.config().placement().host()), done.toString());
        assertFalse(missed.ok());
        assertEquals("cannot rebuild: no spec replica", missed.result());
        JsonNode rebuilt = a.call("GET", "/v1/instances/" + kept, null).json().get("instance");
        assertEquals("active", rebuilt.get("vm_state").asText());
        assertEquals(bName, rebuilt.at("/spec/properties/berth.evacuated_from").asText());
        assertEquals(spec.get("flavor"), rebuilt.at("/spec/flavor"));
        assertEquals(spec.get("name"), rebuilt.at("/spec/name"));
        assertEquals(Set.of(rpA.toString(), rpB.toString()), holders(kept), "both parts, as Nova's evacuate");
        assertEquals(404, a.call("GET", "/v1/replicas/" + kept, null).status(), "A has the instance, no replica of it");

        // A restarts before B is back: its copy is the rebuilt one, kept
        a.restart();
        assertEquals("active", a.call("GET", "/v1/instances/" + kept, null).json().at("/instance/vm_state").asText());
        // B returns: its copy goes, its part too
        b.start();
        assertEquals(404, b.call("GET", "/v1/instances/" + kept, null).status());
        assertFalse(b.fake().uuids().contains(kept));
        assertTrue(b.fake().uuids().contains(orphan), "what was not evacuated stays");
        PlacementApi.await(Duration.ofSeconds(10), () -> assertEquals(Set.of(rpA.toString()), holders(kept)));

        // both agents listen on new ports since their restarts
        CloudCommand.Cloud now = new CloudCommand.Cloud(CloudHosts.load(hostsFile(dir, true, a, b)), Duration.ofSeconds(5));
        assertTrue(Replicas.withdraw(now, kept).missed().isEmpty());
        for (TestAgent t : List.of(a, b)) {
            assertEquals(0, t.call("GET", "/v1/replicas", null).json().get("replicas").size());
        }
        assertEquals(202, a.call("DELETE", "/v1/instances/" + kept, null).status());
        assertEquals(202, b.call("DELETE", "/v1/instances/" + orphan, null).status());
        for (UUID u : List.of(kept, orphan)) {
            PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(), holders(u)));
        }
    }

    /** Two agents A and B; one instance spawned on B, its replica published on A; then B's agent is closed. */
    private record Dead(TestAgent a, String aName, String bName, UUID rpA, UUID rpB, UUID uuid,
                        CloudCommand.Cloud cloud, String suffix) {
    }

    private Dead deadHostWithOneInstance(Path dir, String prefix, int spawnDelayOnA) throws Exception {
        String suffix = UUID.randomUUID().toString().substring(0, 6);
        String aName = prefix + "-a-" + suffix;
        String bName = prefix + "-b-" + suffix;
        TestAgent a = agent(aName, spawnDelayOnA);
        TestAgent b = agent(bName);
        UUID rpA = a.agent.placement().providerUuid();
        UUID rpB = b.agent.placement().providerUuid();
        UUID uuid = b.spawnAndWait(prefix + "-instance");
        PlacementApi.await(Duration.ofSeconds(20), () -> assertEquals(Set.of(rpB.toString()), holders(uuid)));
        PlacementApi.await(Duration.ofSeconds(20), () -> assertTrue(api.traits(rpA).contains("CUSTOM_BERTH_DRIVER_FAKE")));
        CloudCommand.Cloud cloud = new CloudCommand.Cloud(CloudHosts.load(hostsFile(dir, true, a, b)),
                Duration.ofSeconds(5));
        assertTrue(Replicas.publish(cloud, bName, uuid).missed().isEmpty());
        b.agent.close();
        return new Dead(a, aName, bName, rpA, rpB, uuid, cloud, suffix);
    }

    @Test
    void aPartOnAProviderThatIsNoHostToResumeOnIsReportedNotRebuiltElsewhere(@TempDir Path dir) throws Exception {
        api = new PlacementApi(PlacementServer.shared().url);
        Dead d = deadHostWithOneInstance(dir, "ev2", 0);
        UUID other = api.createProvider("ev2-other-" + d.suffix()); // another (dead) host, not in the hosts file
        providers.add(other);
        // an earlier evacuation rebuilt it on a host that is now dead too: its consumer holds B's part and that one
        JsonNode held = api.get("/allocations/" + d.uuid());
        JsonNode bPart = held.at("/allocations/" + d.rpB() + "/resources");
        assertEquals(204, api.send("PUT", "/allocations/" + d.uuid(), ("{\"allocations\": {\"%s\": {\"resources\": %s}, "
                + "\"%s\": {\"resources\": {\"VCPU\": 1, \"MEMORY_MB\": 64}}}, \"project_id\": \"%s\", "
                + "\"user_id\": \"%s\", \"consumer_generation\": %d, \"consumer_type\": \"INSTANCE\"}")
                .formatted(d.rpB(), bPart, other, held.get("project_id").asText(), held.get("user_id").asText(),
                        held.get("consumer_generation").asLong())).status());

        List<Evacuate.Row> rows = new Evacuate(d.cloud(), Duration.ofSeconds(20), (sb, ch) -> false).run(d.bName(), null);
        assertEquals(1, rows.size(), rows.toString());
        Evacuate.Row row = rows.get(0);
        assertFalse(row.ok(), row.toString());
        assertEquals("not rebuilt: its consumer also holds a part on ev2-other-" + d.suffix() + ", which is not a host "
                + "of the hosts file; check where the instance runs first", row.result());
        assertEquals(404, d.a().call("GET", "/v1/instances/" + d.uuid(), null).status(), "no second copy on A");
        assertEquals(Set.of(d.rpB().toString(), other.toString()), holders(d.uuid()), "no part added on A");
        Replicas.withdraw(d.cloud(), d.uuid()); // B does not answer: only A's replica goes
        assertEquals(0, d.a().call("GET", "/v1/replicas", null).json().get("replicas").size());
        assertEquals(204, api.deleteAllocations(d.uuid()));
        assertEquals(Set.of(), holders(d.uuid()));
    }

    @Test
    void aDestinationWhoseCopyIsNotConfirmedGoneKeepsItsClaim(@TempDir Path dir) throws Exception {
        api = new PlacementApi(PlacementServer.shared().url);
        Dead d = deadHostWithOneInstance(dir, "ev3", 4000); // A's spawn outlasts the evacuation's wait and delete

        List<Evacuate.Row> rows = new Evacuate(d.cloud(), Duration.ofSeconds(1), (sb, ch) -> false).run(d.bName(), null);
        assertEquals(1, rows.size(), rows.toString());
        Evacuate.Row row = rows.get(0);
        assertFalse(row.ok(), row.toString());
        assertEquals(d.aName(), row.to());
        assertTrue(row.result().startsWith("failed on " + d.aName() + " (") && row.result().contains("deleting its copy "
                + "there failed") && row.result().contains("a copy may still exist on " + d.aName() + ", which keeps its "
                + "claim"), row.result());
        assertEquals(Set.of(d.rpA().toString(), d.rpB().toString()), holders(d.uuid()), "A keeps its claim: its copy may run");

        // the copy on A does come up; a second run resumes there instead of starting another
        List<Evacuate.Row> again = new Evacuate(d.cloud(), Duration.ofSeconds(20), (sb, ch) -> false).run(d.bName(), null);
        assertTrue(again.get(0).ok() && again.get(0).to().equals(d.aName()), again.toString());
        assertEquals(Set.of(d.rpA().toString(), d.rpB().toString()), holders(d.uuid()));
        Replicas.withdraw(d.cloud(), d.uuid()); // B does not answer: only A's replica goes
        assertEquals(0, d.a().call("GET", "/v1/replicas", null).json().get("replicas").size());
        assertEquals(202, d.a().call("DELETE", "/v1/instances/" + d.uuid(), null).status());
        PlacementApi.await(Duration.ofSeconds(20), () -> {
            try {
                assertEquals(404, d.a().call("GET", "/v1/instances/" + d.uuid(), null).status());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        api.deleteAllocations(d.uuid());
        assertEquals(Set.of(), holders(d.uuid()));
    }
}
