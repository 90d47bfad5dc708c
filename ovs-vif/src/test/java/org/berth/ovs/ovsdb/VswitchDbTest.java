package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The OVSDB helpers and monitor against the host's real ovsdb-server, on a throwaway bridge. */
class VswitchDbTest {
    private final String bridge = "br-bt" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));
    private OvsdbClient client;
    private VswitchDb db;

    @BeforeEach
    void connect() {
        client = OvsdbClient.connect(OvsdbEndpoint.parse(OvsdbEndpoint.DEFAULT), OvsdbClient.Options.defaults());
        db = new VswitchDb(client);
    }

    @AfterEach
    void cleanUp() {
        // Deleting the bridge row from Open_vSwitch.bridges garbage-collects it with its ports.
        db.bridgeDatapathType(bridge).ifPresent(dp -> {
            var found = OvsdbClient.await(client.transact(VswitchDb.DB,
                    java.util.List.of(Ops.select("Bridge", Ops.nameIs(bridge), "_uuid"))));
            var uuid = Ops.uuid(Ops.readUuid(found.get(0).path("rows").get(0).get("_uuid")));
            OvsdbClient.await(client.transact(VswitchDb.DB, java.util.List.of(
                    Ops.mutate("Open_vSwitch", JsonNodeFactory.instance.arrayNode(), "bridges", "delete", uuid))));
        });
        assertTrue(db.bridgeDatapathType(bridge).isEmpty(), "bridge left behind");
        assertEquals(0, client.pendingCalls());
        client.close();
    }

    @Test
    void ensureBridgeIsIdempotentAndSetsTheDatapath() {
        db.ensureBridge(bridge, "netdev");
        db.ensureBridge(bridge, "netdev");
        assertEquals(Optional.of("netdev"), db.bridgeDatapathType(bridge));
        assertTrue(db.findInterface(bridge).isPresent(), "bridge's internal interface missing");
    }

    @Test
    void portLifecycleWithMonitorUpdates() throws Exception {
        db.ensureBridge(bridge, "netdev");
        var updates = new LinkedBlockingQueue<JsonRpcMessage.Notification>();
        client.addListener(updates::add);
        ObjectNode requests = JsonNodeFactory.instance.objectNode();
        requests.putObject("Interface").putArray("columns").add("name").add("ofport");
        String monitorId = "berth-test-" + UUID.randomUUID();
        var initial = OvsdbClient.await(client.monitor(VswitchDb.DB, monitorId, requests));
        assertTrue(initial.path("Interface").size() >= 1, initial.toString());

        // An internal port needs no device of ours: vswitchd creates it.
        String port = bridge + "p";
        db.addPort(new VswitchDb.PortSpec(bridge, port, Map.of("iface-id", "x"), Optional.of(7), OptionalInt.of(1400)));
        var insertIface = OvsdbClient.await(client.transact(VswitchDb.DB, java.util.List.of(Ops.update("Interface",
                Ops.nameIs(port), JsonNodeFactory.instance.objectNode().put("type", "internal")))));
        assertEquals(1, insertIface.get(0).path("count").asInt());
        // Added as a system interface first, vswitchd may briefly fail it (ofport -1) until it sees type internal.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (db.findInterface(port).orElseThrow().ofport() <= 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(db.waitForOfport(port, Duration.ofSeconds(5)) > 0);
        assertEquals(Map.of("iface-id", "x"), db.findInterfaces("iface-id", "x").stream()
                .filter(r -> r.name().equals(port)).findFirst().orElseThrow().externalIds());

        JsonRpcMessage.Notification update = updates.poll(5, TimeUnit.SECONDS);
        assertNotNull(update, "no monitor update after adding a port");
        assertEquals("update", update.method());
        assertEquals(monitorId, update.params().get(0).asText());
        OvsdbClient.await(client.monitorCancel(monitorId));

        assertTrue(db.deletePort(port));
        assertFalse(db.deletePort(port));
        assertTrue(db.findInterface(port).isEmpty());
    }

    @Test
    void addPortToAMissingBridgeNamesIt() {
        var e = assertThrows(VswitchDb.BridgeNotFound.class, () -> db.addPort(new VswitchDb.PortSpec(bridge, bridge + "p",
                Map.of(), Optional.empty(), OptionalInt.empty())));
        assertEquals("bridge " + bridge + " does not exist", e.getMessage());
    }

    @Test
    void waitForOfportOfAnAbsentInterfaceFails() {
        var e = assertThrows(OvsdbException.class, () -> db.waitForOfport("nosuch" + bridge, Duration.ofMillis(200)));
        assertEquals("interface nosuch" + bridge + " does not exist", e.getMessage());
    }
}
