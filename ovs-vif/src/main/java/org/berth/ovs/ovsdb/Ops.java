package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builders for RFC 7047 transaction operations and values (section 5.1 notation). */
public final class Ops {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private Ops() {
    }

    public static ArrayNode condition(String column, String function, JsonNode value) {
        return F.arrayNode().add(column).add(function).add(value);
    }

    public static ArrayNode where(ArrayNode... conditions) {
        ArrayNode where = F.arrayNode();
        for (ArrayNode c : conditions) {
            where.add(c);
        }
        return where;
    }

    public static ArrayNode nameIs(String name) {
        return where(condition("name", "==", F.textNode(name)));
    }

    public static ObjectNode select(String table, ArrayNode where, String... columns) {
        ObjectNode op = op("select", table).set("where", where);
        ArrayNode cols = op.putArray("columns");
        for (String c : columns) {
            cols.add(c);
        }
        return op;
    }

    public static ObjectNode insert(String table, ObjectNode row, String uuidName) {
        ObjectNode op = op("insert", table).set("row", row);
        op.put("uuid-name", uuidName);
        return op;
    }

    public static ObjectNode update(String table, ArrayNode where, ObjectNode row) {
        ObjectNode op = op("update", table).set("where", where);
        op.set("row", row);
        return op;
    }

    public static ObjectNode mutate(String table, ArrayNode where, String column, String mutator, JsonNode value) {
        ObjectNode op = op("mutate", table).set("where", where);
        op.putArray("mutations").add(F.arrayNode().add(column).add(mutator).add(value));
        return op;
    }

    public static ObjectNode delete(String table, ArrayNode where) {
        return op("delete", table).set("where", where);
    }

    /** {@code wait} with timeout 0: the transaction aborts unless the rows match now. */
    public static ObjectNode waitNow(String table, ArrayNode where, List<String> columns, String until, ArrayNode rows) {
        ObjectNode op = op("wait", table).put("timeout", 0).set("where", where);
        ArrayNode cols = op.putArray("columns");
        columns.forEach(cols::add);
        op.put("until", until);
        op.set("rows", rows);
        return op;
    }

    public static ObjectNode comment(String text) {
        return F.objectNode().put("op", "comment").put("comment", text);
    }

    private static ObjectNode op(String op, String table) {
        return F.objectNode().put("op", op).put("table", table);
    }

    public static ArrayNode uuid(String uuid) {
        return F.arrayNode().add("uuid").add(uuid);
    }

    public static ArrayNode namedUuid(String name) {
        return F.arrayNode().add("named-uuid").add(name);
    }

    public static ArrayNode set(JsonNode... atoms) {
        ArrayNode values = F.arrayNode();
        for (JsonNode a : atoms) {
            values.add(a);
        }
        return F.arrayNode().add("set").add(values);
    }

    public static ArrayNode map(Map<String, String> entries) {
        ArrayNode pairs = F.arrayNode();
        entries.forEach((k, v) -> pairs.add(F.arrayNode().add(k).add(v)));
        return F.arrayNode().add("map").add(pairs);
    }

    /** Reads an OVSDB map value ({@code ["map", [[k, v], ...]]}) into an ordered Java map. */
    public static Map<String, String> readMap(JsonNode value) {
        Map<String, String> map = new LinkedHashMap<>();
        if (value != null && value.isArray() && value.size() == 2 && "map".equals(value.get(0).asText())) {
            value.get(1).forEach(pair -> map.put(pair.get(0).asText(), pair.get(1).asText()));
        }
        return map;
    }

    /** Reads an optional atom ({@code ["set", []]} when empty, else the atom itself). */
    public static JsonNode readOptional(JsonNode value) {
        if (value == null || value.isNull()) {
            return null;
        }
        if (value.isArray() && value.size() == 2 && "set".equals(value.get(0).asText())) {
            JsonNode atoms = value.get(1);
            return atoms.isEmpty() ? null : atoms.get(0);
        }
        return value;
    }

    /** Reads a uuid atom {@code ["uuid", "..."]}. */
    public static String readUuid(JsonNode value) {
        return value != null && value.isArray() && value.size() == 2 ? value.get(1).asText() : null;
    }
}
