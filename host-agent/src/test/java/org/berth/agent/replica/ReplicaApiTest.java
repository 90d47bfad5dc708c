package org.berth.agent.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.berth.agent.TestAgent;
import org.berth.agent.TestAgent.Reply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /v1/replicas: what it keeps, across a restart, and how each bad request is refused (field and rule). */
class ReplicaApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TestAgent agent;

    @BeforeAll
    static void start() throws Exception {
        agent = new TestAgent("drivers: {fake: {}}\n");
    }

    @AfterAll
    static void stop() throws Exception {
        agent.close();
    }

    private static ObjectNode body(UUID uuid, String host, Instant at) throws Exception {
        ObjectNode b = (ObjectNode) JSON.readTree("""
                {"host": "%s", "driver": "docker", "updated_at": "%s",
                 "spec": {"uuid": "%s", "name": "web-1", "image_id": "%s", "power_on": true, "properties": {},
                          "flavor": {"name": "m1.small", "vcpus": 1, "memory_mb": 256, "root_gb": 1},
                          "vifs": [{"port_id": "%s", "mac": "fa:16:3e:00:00:01", "bridge": "br-int", "mtu": 1442,
                                    "ips": ["198.18.10.5/24"]}]}}
                """.formatted(host, at, uuid, TestAgent.IMAGE_ID, UUID.randomUUID()));
        return b;
    }

    private static Reply put(UUID uuid, Object body) throws Exception {
        return agent.call("PUT", "/v1/replicas/" + uuid, body.toString());
    }

    private static void refused(Reply r, int status, String field, String rule) {
        assertEquals(status, r.status(), r.body());
        assertEquals(field, r.json().at("/error/field").asText(), r.body());
        assertEquals(rule, r.json().at("/error/rule").asText(), r.body());
        assertTrue(status == 405 || r.json().at("/error/message").asText().startsWith(field), r.body());
    }

    @Test
    void keepsReplacesListsDeletesAndSurvivesARestart() throws Exception {
        UUID a = UUID.randomUUID();
        UUID b = UUID.randomUUID();
        Instant t0 = Instant.parse("2026-12-07T18:00:00Z");
        assertEquals(201, put(a, body(a, "lab-h2", t0)).status());
        assertEquals(201, put(b, body(b, "lab-h3", t0)).status());
        Reply newer = put(a, body(a, "lab-h1", t0.plusSeconds(5)));
        assertEquals(200, newer.status(), newer.body());
        refused(put(a, body(a, "lab-h2", t0.plusSeconds(1))), 409, "updated_at", "stale");

        Reply one = agent.call("GET", "/v1/replicas/" + a, null);
        assertEquals("lab-h1", one.json().at("/replica/host").asText());
        assertEquals("docker", one.json().at("/replica/driver").asText());
        assertEquals("fa:16:3e:00:00:01", one.json().at("/replica/spec/vifs/0/mac").asText());
        assertEquals(t0.plusSeconds(5).toString(), one.json().at("/replica/updated_at").asText());

        agent.restart();
        Reply onH1 = agent.call("GET", "/v1/replicas?host=lab-h1", null);
        assertEquals(1, onH1.json().get("replicas").size(), onH1.body());
        assertEquals(a.toString(), onH1.json().at("/replicas/0/uuid").asText());
        assertEquals(2, agent.call("GET", "/v1/replicas", null).json().get("replicas").size());

        assertEquals(204, agent.call("DELETE", "/v1/replicas/" + a, null).status());
        refused(agent.call("DELETE", "/v1/replicas/" + a, null), 404, "uuid", "not_found");
        refused(agent.call("GET", "/v1/replicas/" + a, null), 404, "uuid", "not_found");
        assertEquals(204, agent.call("DELETE", "/v1/replicas/" + b, null).status());
        assertEquals(0, agent.call("GET", "/v1/replicas", null).json().get("replicas").size());
        try (Stream<Path> left = Files.list(agent.dir.resolve("state/replicas"))) {
            assertEquals(0, left.count(), "no replica file left");
        }
    }

    @Test
    void everyBadRequestNamesItsFieldAndRule() throws Exception {
        UUID u = UUID.randomUUID();
        Instant now = Instant.now();
        ObjectNode b = body(u, "lab-h2", now);
        b.remove("host");
        refused(put(u, b), 400, "host", "required");
        refused(put(u, body(u, "lab h2", now)), 400, "host", "host_name");
        refused(put(u, body(u, "lab-h2", now).put("color", "red")), 400, "color", "unknown_field");
        refused(put(u, body(u, "lab-h2", now).put("driver", "Dock er")), 400, "driver", "name");
        b = body(u, "lab-h2", now);
        b.remove("driver");
        refused(put(u, b), 400, "driver", "required");
        b = body(u, "lab-h2", now);
        b.remove("spec");
        refused(put(u, b), 400, "spec", "required");
        b = body(u, "lab-h2", now);
        ((ObjectNode) b.get("spec")).remove("flavor");
        refused(put(u, b), 400, "spec.flavor", "required");
        b = body(u, "lab-h2", now);
        ((ObjectNode) b.get("spec")).remove("uuid");
        refused(put(u, b), 400, "spec.uuid", "required");
        refused(put(UUID.randomUUID(), body(u, "lab-h2", now)), 400, "spec.uuid", "mismatch");
        refused(put(u, body(u, "lab-h2", now).put("updated_at", "yesterday")), 400, "updated_at", "timestamp");
        refused(put(u, body(u, "lab-h2", now).put("updated_at", 12)), 400, "updated_at", "timestamp");
        b = body(u, "lab-h2", now);
        ((ObjectNode) b.at("/spec/properties")).put("pad", "x".repeat(ReplicaStore.MAX_BYTES));
        refused(put(u, b), 413, "body", "too_large");
        refused(agent.call("PUT", "/v1/replicas/" + u, "[]"), 400, "body", "type");
        refused(agent.call("PUT", "/v1/replicas/not-a-uuid", body(u, "lab-h2", now).toString()), 400, "uuid", "uuid");
        refused(agent.call("GET", "/v1/replicas?host=a%20b", null), 400, "host", "host_name");
        refused(agent.call("GET", "/v1/replicas?hots=lab-h1", null), 400, "hots", "unknown_parameter");
        refused(agent.call("POST", "/v1/replicas/" + u, "{}"), 405, "method", "not_allowed");
        assertEquals(0, agent.call("GET", "/v1/replicas", null).json().get("replicas").size(), "nothing kept");
    }

    @Test
    void theStoreIsBoundedAndDropsWhatDoesNotRead(@TempDir Path dir) throws Exception {
        ReplicaStore s = ReplicaStore.open(dir);
        Instant t = Instant.parse("2026-12-07T18:00:00Z");
        for (int i = 0; i < ReplicaStore.MAX_REPLICAS; i++) {
            assertEquals(ReplicaStore.Put.CREATED, s.put(new Replica(new UUID(0, i), "h", "fake",
                    JSON.createObjectNode(), t)));
        }
        assertEquals(ReplicaStore.Put.FULL, s.put(new Replica(UUID.randomUUID(), "h", "fake", JSON.createObjectNode(), t)));
        assertEquals(ReplicaStore.Put.REPLACED, s.put(new Replica(new UUID(0, 1), "g", "fake", JSON.createObjectNode(),
                t.plusSeconds(1))), "an update of a kept one still goes in");
        Files.writeString(dir.resolve(new UUID(0, 2) + ".json"), "{broken");
        Files.writeString(dir.resolve(new UUID(0, 3) + ".tmp"), "half");
        ReplicaStore again = ReplicaStore.open(dir);
        assertEquals(ReplicaStore.MAX_REPLICAS - 1, again.size());
        assertFalse(Files.exists(dir.resolve(new UUID(0, 3) + ".tmp")));
        assertEquals(1, again.list(Optional.of("g")).size());
    }
}
