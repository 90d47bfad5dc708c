package org.berth.agent.vif;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import org.berth.agent.TestAgent;
import org.berth.lab.PrivateOvsdb;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The agent's binding wait from spawn to instance events, with the fake driver plugging real taps through the agent's
 * VIF plugger into a private ovsdb-server. The test plays ovs-vswitchd (it sets each Interface's ofport) and
 * ovn-controller (ovn-installed=true on the ports it binds), and makes the switch an OVN chassis (ovn-remote).
 */
class OvnBindingEventsTest {
    private PrivateOvsdb ovsdb;
    private Thread fakeSwitch;
    private volatile boolean running = true;
    private final Set<String> attached = ConcurrentHashMap.newKeySet();
    private final Set<String> bound = ConcurrentHashMap.newKeySet();
    private final List<TestAgent> agents = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        ovsdb = new PrivateOvsdb();
        ovsdb.vsctl("set", "Open_vSwitch", ".", "external_ids:ovn-remote=unix:/nonexistent/ovnsb_db.sock");
        fakeSwitch = Thread.ofPlatform().daemon().name("fake-vswitchd").start(() -> {
            while (running) {
                try {
                    for (String dev : attached) {
                        ovsdb.vsctl("--if-exists", "set", "Interface", dev, "ofport=1");
                    }
                    for (String dev : bound) {
                        ovsdb.vsctl("--if-exists", "set", "Interface", dev, "external_ids:ovn-installed=true");
                    }
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                } catch (Exception e) {
                    // a port deleted between two sets: the next round sees it gone
                }
            }
        });
    }

    @AfterEach
    void stop() throws Exception {
        try {
            for (TestAgent a : agents) {
                a.close();
            }
        } finally {
            running = false;
            fakeSwitch.interrupt();
            fakeSwitch.join(5_000);
            ovsdb.close();
        }
    }

    /** Deletes the instance and checks that its port and tap are gone. */
    private void deleteAndCheckUnplugged(TestAgent a, UUID uuid, String portId) throws Exception {
        assertEquals(202, a.call("DELETE", "/v1/instances/" + uuid, null).status());
        awaitUnplugged(portId);
    }

    /** The port is gone from OVS and its tap from the host (the agent's reaper deletes taps behind), within 10 s. */
    private void awaitUnplugged(String portId) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        Path tap = Path.of("/sys/class/net", "tap" + portId.substring(0, 11));
        while ((Files.exists(tap) || !interfacesOf(portId).isEmpty()) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals("", interfacesOf(portId), "port left in OVS");
        assertFalse(Files.exists(tap), tap + " left on the host");
    }

    private TestAgent agent(String policy) throws Exception {
        TestAgent a = new TestAgent("""
                ovs: {ovsdb: "%s", create_bridges: true}
                drivers: {fake: {options: {plug_vifs: "true"}}}
                %s
                """.formatted(ovsdb.endpoint(), policy));
        agents.add(a);
        return a;
    }

    /** A port of its own (random, so its tap name is this test's) that the fake vswitchd attaches. */
    private String port() {
        String id = UUID.randomUUID().toString();
        attached.add("tap" + id.substring(0, 11));
        return id;
    }

    private static UUID spawn(TestAgent a, String portId) throws Exception {
        byte[] mac = new byte[2];
        ThreadLocalRandom.current().nextBytes(mac);
        TestAgent.Reply r = a.call("POST", "/v1/instances", """
                {"driver": "fake", "name": "ovn", "image_id": "%s",
                 "flavor": {"name": "m1.test", "vcpus": 1, "memory_mb": 128, "root_gb": 1},
                 "vifs": [{"port_id": "%s", "mac": "fa:16:3e:00:%02x:%02x"}]}
                """.formatted(TestAgent.IMAGE_ID, portId, mac[0], mac[1]));
        assertEquals(202, r.status(), r.body());
        return UUID.fromString(r.json().at("/instance/uuid").asText());
    }

    private static List<JsonNode> events(TestAgent a, UUID uuid, String kind) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        a.call("GET", "/v1/instances/" + uuid + "/events", null).json().path("events").forEach(e -> {
            if (e.path("kind").asText().equals(kind)) {
                out.add(e);
            }
        });
        return out;
    }

    private String interfacesOf(String portId) throws Exception {
        return ovsdb.vsctl("--bare", "--columns=name", "find", "Interface", "external_ids:iface-id=" + portId);
    }

    /** An instance spawned (its task finished) by an agent with {@code policy}. */
    private record Spawned(TestAgent agent, UUID uuid, String port, JsonNode instance) {
        String onlyEvent(String kind) throws Exception {
            List<JsonNode> found = events(agent, uuid, kind);
            assertEquals(1, found.size(), kind + ": " + found);
            return found.getFirst().get("detail").asText();
        }
    }

    private Spawned spawnAndWait(String policy, String port) throws Exception {
        TestAgent a = agent(policy);
        UUID uuid = spawn(a, port);
        return new Spawned(a, uuid, port, a.awaitInstance(uuid, x -> x.get("task_state").isNull()));
    }

    @Test
    void aSpawnWaitsForOvnAndRecordsTheBindingTime() throws Exception {
        String port = port();
        bound.add("tap" + port.substring(0, 11));
        Spawned s = spawnAndWait("vif_plugging_timeout: 20s", port);
        assertEquals("active", s.instance().get("vm_state").asText(), s.instance().toString());
        String detail = s.onlyEvent("vif.bound");
        assertTrue(detail.matches("port " + port + " bound by OVN in \\d+ ms"), detail);

        // a hot-plugged interface too
        String second = port();
        bound.add("tap" + second.substring(0, 11));
        TestAgent.Reply attach = s.agent().call("POST", "/v1/instances/" + s.uuid() + "/interfaces",
                "{\"port_id\": \"" + second + "\", \"mac\": \"fa:16:3e:00:01:02\"}");
        assertEquals(202, attach.status(), attach.body());
        s.agent().awaitInstance(s.uuid(), x -> x.get("task_state").isNull());
        List<String> details = events(s.agent(), s.uuid(), "vif.bound").stream().map(e -> e.get("detail").asText())
                .toList();
        assertEquals(2, details.size(), details.toString());
        assertTrue(details.get(1).matches("port " + second + " bound by OVN in \\d+ ms"), details.toString());
        assertEquals(202, s.agent().call("DELETE", "/v1/instances/" + s.uuid() + "/interfaces/" + second, null)
                .status());
        s.agent().awaitInstance(s.uuid(), x -> x.get("task_state").isNull());
        awaitUnplugged(second);
        deleteAndCheckUnplugged(s.agent(), s.uuid(), port);
    }

    @Test
    void aPortOvnNeverBindsFailsTheSpawnAndNothingStaysPlugged() throws Exception {
        Spawned s = spawnAndWait("vif_plugging_timeout: 1s", port());
        String port = s.port();
        assertEquals("error", s.instance().get("vm_state").asText(), s.instance().toString());
        assertEquals("spawn failed: port " + port + " was not bound by OVN within 1 s (vif_plugging_timeout): "
                + "ovn-controller never set ovn-installed on Interface tap" + port.substring(0, 11) + "; does the "
                + "northbound database have a logical switch port named " + port + "?",
                s.instance().get("fault").asText());
        assertEquals("", interfacesOf(port), "the port was not unplugged");
        assertEquals(List.of(), events(s.agent(), s.uuid(), "vif.bound"));
        deleteAndCheckUnplugged(s.agent(), s.uuid(), port);
    }

    @Test
    void notFatalTheInstanceGoesOnAndTheEventSaysThePortIsUnbound() throws Exception {
        Spawned s = spawnAndWait("vif_plugging_timeout: 1s\nvif_plugging_is_fatal: false", port());
        assertEquals("active", s.instance().get("vm_state").asText(), s.instance().toString());
        String detail = s.onlyEvent("vif.unbound");
        assertTrue(detail.startsWith("port " + s.port() + " was not bound by OVN"), detail);
        deleteAndCheckUnplugged(s.agent(), s.uuid(), s.port());
    }
}
