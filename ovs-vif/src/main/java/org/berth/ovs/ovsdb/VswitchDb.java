package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The few {@code Open_vSwitch} database operations a VIF plugger needs, each one transaction (two for a delete),
 * blocking with the client's timeouts. Thread-safe. Failures are {@link OvsdbException}s.
 */
public final class VswitchDb {
    public static final String DB = "Open_vSwitch";
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final String IFACE_COLUMNS = "_uuid,name,external_ids,ofport,error,mtu_request";

    private final OvsdbClient client;

    public VswitchDb(OvsdbClient client) {
        this.client = client;
    }

    /** An OVS port with one Interface of the same name, as Nova and os-vif create them. */
    public record PortSpec(String bridge, String name, Map<String, String> externalIds, Optional<Integer> tag,
                           OptionalInt mtuRequest) {
        public PortSpec {
            externalIds = Map.copyOf(externalIds);
        }
    }

    /** One row of the Interface table; {@code ofport} is 0 while unset, -1 when vswitchd failed to attach it. */
    public record InterfaceRow(String uuid, String name, Map<String, String> externalIds, long ofport, String error) {
    }

    /** The bridge named in a port operation is not in the database. */
    public static final class BridgeNotFound extends OvsdbException {
        private final String bridge;

        BridgeNotFound(String bridge) {
            super(Kind.ERROR, "bridge " + bridge + " does not exist");
            this.bridge = bridge;
        }

        public String bridge() {
            return bridge;
        }
    }

    public Optional<String> bridgeDatapathType(String bridge) {
        ArrayNode result = OvsdbClient.await(client.transact(DB,
                List.of(Ops.select("Bridge", Ops.nameIs(bridge), "name", "datapath_type"))));
        JsonNode rows = result.get(0).path("rows");
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0).path("datapath_type").asText(""));
    }

    /** Creates {@code bridge} with {@code datapathType} (system or netdev) unless it exists; an existing one is kept. */
    public void ensureBridge(String bridge, String datapathType) {
        if (bridgeDatapathType(bridge).isPresent()) {
            return;
        }
        ObjectNode iface = F.objectNode().put("name", bridge).put("type", "internal");
        ObjectNode port = F.objectNode().put("name", bridge);
        port.set("interfaces", Ops.namedUuid("iface"));
        ObjectNode row = F.objectNode().put("name", bridge).put("datapath_type", datapathType);
        row.set("ports", Ops.namedUuid("port"));
        try {
            OvsdbClient.await(client.transact(DB, List.of(
                    Ops.waitNow("Bridge", Ops.nameIs(bridge), List.of("name"), "==", F.arrayNode()),
                    Ops.insert("Interface", iface, "iface"),
                    Ops.insert("Port", port, "port"),
                    Ops.insert("Bridge", row, "bridge"),
                    Ops.mutate("Open_vSwitch", F.arrayNode(), "bridges", "insert", Ops.set(Ops.namedUuid("bridge"))),
                    Ops.comment("berth: ensure bridge " + bridge))));
        } catch (OvsdbClient.TransactionError e) {
            if (e.index() != 0) {
                throw e;
            }
            // Someone else created the bridge between our select and our transaction: that is what we wanted.
        }
    }

    /**
     * Adds port {@code spec.name()} with its Interface to {@code spec.bridge()} in one transaction.
     *
     * @throws BridgeNotFound if the bridge does not exist
     */
    public void addPort(PortSpec spec) {
        ObjectNode iface = F.objectNode().put("name", spec.name());
        iface.set("external_ids", Ops.map(spec.externalIds()));
        spec.mtuRequest().ifPresent(mtu -> iface.put("mtu_request", mtu));
        ObjectNode port = F.objectNode().put("name", spec.name());
        port.set("interfaces", Ops.namedUuid("iface"));
        spec.tag().ifPresent(tag -> port.put("tag", tag));
        ObjectNode present = F.objectNode().put("name", spec.bridge());
        try {
            OvsdbClient.await(client.transact(DB, List.of(
                    Ops.waitNow("Bridge", Ops.nameIs(spec.bridge()), List.of("name"), "==", F.arrayNode().add(present)),
                    Ops.insert("Interface", iface, "iface"),
                    Ops.insert("Port", port, "port"),
                    Ops.mutate("Bridge", Ops.nameIs(spec.bridge()), "ports", "insert", Ops.set(Ops.namedUuid("port"))),
                    Ops.comment("berth: add port " + spec.name()))));
        } catch (OvsdbClient.TransactionError e) {
            if (e.index() == 0) {
                throw new BridgeNotFound(spec.bridge());
            }
            throw e;
        }
    }

    /**
     * Sets the spec's external_ids keys (others' keys, such as OVN's {@code ovn-installed}, stay, as with os-vif's
     * {@code db_set}), the Interface's mtu_request and the Port's tag of an existing port.
     */
    public void updatePort(PortSpec spec) {
        ObjectNode iface = F.objectNode();
        iface.set("mtu_request", spec.mtuRequest().isPresent()
                ? F.numberNode(spec.mtuRequest().getAsInt()) : Ops.set());
        ObjectNode port = F.objectNode();
        port.set("tag", spec.tag().isPresent() ? F.numberNode(spec.tag().get()) : Ops.set());
        JsonNode[] keys = spec.externalIds().keySet().stream().map(F::textNode).toArray(JsonNode[]::new);
        OvsdbClient.await(client.transact(DB, List.of(
                // a map "insert" keeps a key's old value: delete the keys first, in the same transaction
                Ops.mutate("Interface", Ops.nameIs(spec.name()), "external_ids", "delete", Ops.set(keys)),
                Ops.mutate("Interface", Ops.nameIs(spec.name()), "external_ids", "insert", Ops.map(spec.externalIds())),
                Ops.update("Interface", Ops.nameIs(spec.name()), iface),
                Ops.update("Port", Ops.nameIs(spec.name()), port))));
    }

    public Optional<InterfaceRow> findInterface(String name) {
        List<InterfaceRow> rows = selectInterfaces(Ops.nameIs(name));
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.get(0));
    }

    /** Interfaces whose external_ids contain {@code key=value}, e.g. every port of one instance by vm-uuid. */
    public List<InterfaceRow> findInterfaces(String key, String value) {
        return selectInterfaces(Ops.where(Ops.condition("external_ids", "includes", Ops.map(Map.of(key, value)))));
    }

    private List<InterfaceRow> selectInterfaces(ArrayNode where) {
        ArrayNode result = OvsdbClient.await(client.transact(DB,
                List.of(Ops.select("Interface", where, IFACE_COLUMNS.split(",")))));
        return interfaceRows(result.get(0));
    }

    /** The Interface rows of one select result. */
    private static List<InterfaceRow> interfaceRows(JsonNode selectResult) {
        List<InterfaceRow> rows = new ArrayList<>();
        for (JsonNode row : selectResult.path("rows")) {
            JsonNode ofport = Ops.readOptional(row.get("ofport"));
            JsonNode error = Ops.readOptional(row.get("error"));
            rows.add(new InterfaceRow(Ops.readUuid(row.get("_uuid")), row.path("name").asText(),
                    Ops.readMap(row.get("external_ids")), ofport == null ? 0 : ofport.asLong(),
                    error == null ? null : error.asText()));
        }
        return rows;
    }

    /** Removes port {@code name} from whichever bridge holds it; its Interface goes with it. False if absent. */
    public boolean deletePort(String name) {
        ArrayNode found = OvsdbClient.await(client.transact(DB, List.of(Ops.select("Port", Ops.nameIs(name), "_uuid"))));
        JsonNode rows = found.get(0).path("rows");
        if (rows.isEmpty()) {
            return false;
        }
        ArrayNode uuid = Ops.uuid(Ops.readUuid(rows.get(0).get("_uuid")));
        // Port is not a root table: once no Bridge refers to it, ovsdb-server deletes it and its Interface.
        OvsdbClient.await(client.transact(DB, List.of(
                Ops.mutate("Bridge", Ops.where(Ops.condition("ports", "includes", uuid)), "ports", "delete", uuid),
                Ops.comment("berth: delete port " + name))));
        return true;
    }

    /** The external_ids of the switch's one {@code Open_vSwitch} row (where ovn-controller reads its settings). */
    public Map<String, String> switchExternalIds() {
        ArrayNode result = OvsdbClient.await(client.transact(DB,
                List.of(Ops.select("Open_vSwitch", F.arrayNode(), "external_ids"))));
        JsonNode rows = result.get(0).path("rows");
        return rows.isEmpty() ? Map.of() : Ops.readMap(rows.get(0).get("external_ids"));
    }

    /**
     * Waits until Interface {@code name}'s external_ids hold {@code key=value} (ovn-controller's
     * {@code ovn-installed=true}), with a server-side {@code wait}: no polling, one round trip when it is there.
     *
     * @throws OvsdbException TIMEOUT if the key is not there after {@code timeout} (also when the Interface is not)
     */
    public void waitForExternalId(String name, String key, String value, Duration timeout) {
        // The rows the where selects are [] until the key is set: wait until they are not.
        ArrayNode where = Ops.where(Ops.condition("name", "==", F.textNode(name)),
                Ops.condition("external_ids", "includes", Ops.map(Map.of(key, value))));
        ObjectNode wait = Ops.waitNow("Interface", where, List.of("name"), "!=", F.arrayNode());
        wait.put("timeout", Math.max(1, timeout.toMillis()));
        try {
            OvsdbClient.await(client.transact(DB, List.of(wait), timeout.plus(client.options().callTimeout())));
        } catch (OvsdbClient.TransactionError e) {
            if (e.index() == 0) {
                throw new OvsdbException(OvsdbException.Kind.TIMEOUT, "external_ids:" + key + "=" + value
                        + " not set on interface " + name + " within " + timeout.toMillis() + " ms");
            }
            throw e;
        }
    }

    /**
     * Waits until ovs-vswitchd has attached Interface {@code name} (ofport > 0), with a server-side {@code wait}.
     *
     * @return the ofport
     * @throws OvsdbException TIMEOUT if it is still unset after {@code timeout}; ERROR if vswitchd failed (ofport -1)
     */
    public long waitForOfport(String name, Duration timeout) {
        ArrayNode unset = F.arrayNode().add(F.objectNode().set("ofport", Ops.set()));
        ObjectNode wait = Ops.waitNow("Interface", Ops.nameIs(name), List.of("ofport"), "!=", unset);
        wait.put("timeout", Math.max(1, timeout.toMillis()));
        ArrayNode result;
        try {
            // The select in the same transaction reads the row the wait released on: no second round trip.
            result = OvsdbClient.await(client.transact(DB, List.of(wait,
                    Ops.select("Interface", Ops.nameIs(name), IFACE_COLUMNS.split(","))),
                    timeout.plus(client.options().callTimeout())));
        } catch (OvsdbClient.TransactionError e) {
            if (e.index() == 0) {
                throw new OvsdbException(OvsdbException.Kind.TIMEOUT, "ovs-vswitchd did not attach interface " + name
                        + " within " + timeout.toMillis() + " ms (ofport still unset)");
            }
            throw e;
        }
        List<InterfaceRow> rows = interfaceRows(result.get(1));
        if (rows.isEmpty()) {
            throw new OvsdbException(OvsdbException.Kind.ERROR, "interface " + name + " does not exist");
        }
        InterfaceRow row = rows.getFirst();
        if (row.ofport() <= 0) {
            throw new OvsdbException(OvsdbException.Kind.ERROR, "ovs-vswitchd could not attach interface " + name
                    + " (ofport " + row.ofport() + "): " + (row.error() == null ? "no error given" : row.error()));
        }
        return row.ofport();
    }
}
