package org.berth.agent.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.berth.agent.replica.Replica;
import org.berth.agent.replica.ReplicaStore;
import org.berth.agent.store.FieldError;
import org.berth.agent.store.SpecJson;
import org.berth.driver.api.InstanceSpec;

/**
 * /v1/replicas: the spec copies {@code berth cloud} keeps on every other host so a dead host's instances can be
 * rebuilt (evacuate). {@code PUT /v1/replicas/{uuid}} {host, driver, spec, updated_at}, {@code GET} one or all
 * ({@code ?host=H}), {@code DELETE}. The agent never acts on them.
 */
final class ReplicaRoutes {
    private static final Set<String> FIELDS = Set.of("host", "driver", "spec", "updated_at");
    /** A driver's name as the agent's config takes it; the replica's host may run drivers this one does not. */
    private static final Pattern DRIVER = Pattern.compile("[a-z][a-z0-9_-]{0,63}");

    private final ReplicaStore store;
    private final String bridge;

    ReplicaRoutes(ReplicaStore store, String bridge) {
        this.store = store;
        this.bridge = bridge;
    }

    Response handle(Request r, String[] p) {
        if (p.length == 3) {
            return Routes.only(r, "GET", () -> list(r));
        }
        if (p.length != 4) {
            throw Routes.notFound(r.path());
        }
        UUID uuid = Routes.uuidSegment(p[3]);
        return switch (r.method()) {
            case "PUT" -> put(r, uuid);
            case "GET" -> Response.json(200, Map.of("replica", view(store.find(uuid).orElseThrow(() -> missing(uuid)))));
            case "DELETE" -> {
                if (!store.delete(uuid)) {
                    throw missing(uuid);
                }
                yield Response.noContent();
            }
            default -> throw Routes.notAllowed(r, "GET, PUT, DELETE");
        };
    }

    private Response list(Request r) {
        for (String k : r.query().keySet()) {
            if (!k.equals("host")) {
                throw new ApiError(400, Routes.cut(k), "unknown_parameter", Routes.cut(k)
                        + ": is not a parameter of GET /v1/replicas; parameters: host");
            }
        }
        String host = r.param("host");
        if (host != null) {
            Routes.hostName(Views.MAPPER.getNodeFactory().textNode(host), "host");
        }
        ArrayNode list = Views.MAPPER.createArrayNode();
        store.list(Optional.ofNullable(host)).forEach(x -> list.add(view(x)));
        ObjectNode n = Views.MAPPER.createObjectNode();
        n.set("replicas", list);
        return Response.json(200, n);
    }

    private Response put(Request r, UUID uuid) {
        Routes.requireJson(r);
        if (r.body().length > ReplicaStore.MAX_BYTES) {
            throw new ApiError(413, "body", "too_large", "body: " + r.body().length + " bytes; a replica is at most "
                    + ReplicaStore.MAX_BYTES + " bytes");
        }
        Replica replica = read(Views.parse(r.body()), uuid);
        ReplicaStore.Put done = store.put(replica);
        return switch (done) {
            case STALE -> throw new ApiError(409, "updated_at", "stale", "updated_at: " + replica.updatedAt()
                    + " is older than the replica kept (" + store.find(uuid).map(Replica::updatedAt).orElse(null)
                    + "); the newest one wins");
            case FULL -> throw new ApiError(409, "replicas", "limit", "replicas: this agent keeps at most "
                    + ReplicaStore.MAX_REPLICAS + " replicas; delete some first");
            case CREATED, REPLACED -> Response.json(done == ReplicaStore.Put.CREATED ? 201 : 200,
                    Map.of("replica", view(replica)));
        };
    }

    /** The body, checked field by field: every error names the field and the rule. */
    Replica read(JsonNode body, UUID uuid) {
        if (!body.isObject()) {
            throw new ApiError(400, "body", "type", "body: must be a JSON object {host, driver, spec, updated_at}");
        }
        body.fieldNames().forEachRemaining(k -> {
            if (!FIELDS.contains(k)) {
                throw new ApiError(400, Routes.cut(k), "unknown_field", Routes.cut(k) + ": is not a field of a "
                        + "replica; fields: driver, host, spec, updated_at");
            }
        });
        String host = Routes.hostName(body.get("host"), "host");
        JsonNode d = body.get("driver");
        if (d == null || d.isNull()) {
            throw new ApiError(400, "driver", "required", "driver: must be given (the driver the instance runs under)");
        }
        if (!d.isTextual() || !DRIVER.matcher(d.asText()).matches()) {
            throw new ApiError(400, "driver", "name", "driver: '" + Routes.cut(d.asText()) + "' must be 1-64 lower-case "
                    + "letters, digits, _ and - starting with a letter");
        }
        JsonNode spec = body.get("spec");
        if (spec == null || spec.isNull()) {
            throw new ApiError(400, "spec", "required", "spec: must be given (the instance's spec as GET "
                    + "/v1/instances/{uuid} shows it)");
        }
        InstanceSpec parsed;
        try {
            parsed = SpecJson.read(spec, Set.of(), bridge);
        } catch (FieldError e) {
            throw new ApiError(400, "spec." + e.field(), e.rule(), "spec." + e.getMessage());
        }
        if (!spec.hasNonNull("uuid")) {
            throw new ApiError(400, "spec.uuid", "required", "spec.uuid: must be given (" + uuid + ")");
        }
        if (!parsed.uuid().equals(uuid)) {
            throw new ApiError(400, "spec.uuid", "mismatch", "spec.uuid: " + parsed.uuid() + " is not the path's "
                    + uuid);
        }
        return new Replica(uuid, host, d.asText(), spec, instant(body.get("updated_at")));
    }

    private static Instant instant(JsonNode v) {
        if (v == null || v.isNull()) {
            throw new ApiError(400, "updated_at", "required", "updated_at: must be given (an ISO-8601 time, UTC)");
        }
        try {
            if (!v.isTextual()) {
                throw new DateTimeParseException("not a string", v.toString(), 0);
            }
            return Instant.parse(v.asText());
        } catch (DateTimeParseException e) {
            throw new ApiError(400, "updated_at", "timestamp", "updated_at: '" + Routes.cut(v.asText()) + "' must be "
                    + "an ISO-8601 time in UTC such as 2026-12-07T18:00:00Z");
        }
    }

    private static ApiError missing(UUID uuid) {
        return new ApiError(404, "uuid", "not_found", "uuid: no replica of instance " + uuid);
    }

    static ObjectNode view(Replica r) {
        ObjectNode n = Views.MAPPER.createObjectNode();
        n.put("uuid", r.uuid().toString()).put("host", r.host()).put("driver", r.driver());
        n.set("spec", r.spec());
        n.put("updated_at", r.updatedAt().toString());
        return n;
    }
}
