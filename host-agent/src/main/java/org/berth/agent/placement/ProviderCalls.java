package org.berth.agent.placement;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * The calls nova-compute makes for its root provider (INTEROP.md), typed. Each returns what Placement answered,
 * generation included; none retries (the reporter decides).
 */
public final class ProviderCalls {
    /** The project and user of every consumer Berth writes (the agents' and {@code berth cloud}'s agree). */
    public static final String PROJECT = "berth";
    public static final String USER = "berth";

    private final PlacementClient client;
    private final UUID uuid;
    private final String name;
    private final String path;

    ProviderCalls(PlacementClient client, UUID uuid, String name) {
        this.client = client;
        this.uuid = uuid;
        this.name = name;
        this.path = "/resource_providers/" + uuid;
    }

    UUID uuid() {
        return uuid;
    }

    record Inventories(long generation, Map<String, Inventory> byClass) {
    }

    record TraitList(long generation, Set<String> traits) {
    }

    /** A consumer's allocations on every provider; {@code generation} null when Placement does not know it. */
    record Consumer(Long generation, Map<String, Map<String, Long>> byProvider, String projectId, String userId) {
        static Consumer none() {
            return new Consumer(null, Map.of(), PROJECT, USER);
        }
    }

    /** Finds the provider by uuid or creates it; its generation. */
    long register() {
        PlacementClient.Answer a = client.get("/resource_providers?in_tree=" + uuid);
        JsonNode list = array(a, "resource_providers");
        for (JsonNode rp : list) {
            if (uuid.toString().equals(rp.path("uuid").asText())) {
                return rp.path("generation").asLong();
            }
        }
        ObjectNode body = PlacementClient.JSON.createObjectNode().put("uuid", uuid.toString()).put("name", name);
        try {
            return client.post("/resource_providers", body).body().path("generation").asLong();
        } catch (PlacementException.Refused e) {
            if (e.status() == 409 && "placement.duplicate_name".equals(e.code())) {
                throw new PlacementException.Refused(e.request(), 409, e.code(), "a resource provider named '" + name
                        + "' exists with another uuid than this host's " + uuid + " (kept in the state dir): another "
                        + "host uses this name, or this host's state dir was replaced; set 'host' to a unique name or "
                        + "delete the old provider");
            }
            if (e.status() == 409) {
                return client.get(path).body().path("generation").asLong();
            }
            throw e;
        }
    }

    /** Null when the provider is gone. */
    Inventories inventories() {
        PlacementClient.Answer a = client.get(path + "/inventories");
        if (a.status() == 404) {
            return null;
        }
        Map<String, Inventory> out = new LinkedHashMap<>();
        object(a, "inventories").properties().forEach(e -> out.put(e.getKey(), Inventory.parse(e.getValue())));
        return new Inventories(generation(a), out);
    }

    long putInventories(long generation, Map<String, Inventory> inv) {
        ObjectNode body = PlacementClient.JSON.createObjectNode().put("resource_provider_generation", generation);
        ObjectNode all = body.putObject("inventories");
        inv.forEach((rc, i) -> all.set(rc, i.json()));
        return generation(client.put(path + "/inventories", body));
    }

    /** Null when the provider is gone. */
    TraitList traits() {
        PlacementClient.Answer a = client.get(path + "/traits");
        if (a.status() == 404) {
            return null;
        }
        Set<String> out = new TreeSet<>();
        array(a, "traits").forEach(t -> out.add(t.asText()));
        return new TraitList(generation(a), out);
    }

    /** Custom traits must exist before a provider can have them (201 created, 204 already there). */
    void createTrait(String trait) {
        client.put("/traits/" + trait, null);
    }

    long putTraits(long generation, Set<String> traits) {
        ObjectNode body = PlacementClient.JSON.createObjectNode().put("resource_provider_generation", generation);
        var list = body.putArray("traits");
        traits.forEach(list::add);
        return generation(client.put(path + "/traits", body));
    }

    /** This provider's allocations by consumer; null when the provider is gone. */
    Map<UUID, Map<String, Long>> allocations() {
        PlacementClient.Answer a = client.get(path + "/allocations");
        if (a.status() == 404) {
            return null;
        }
        Map<UUID, Map<String, Long>> out = new HashMap<>();
        object(a, "allocations").properties().forEach(e -> out.put(consumerId(e.getKey()),
                resources(e.getValue().path("resources"))));
        return out;
    }

    Consumer consumer(UUID consumer) {
        PlacementClient.Answer a = client.get("/allocations/" + consumer);
        JsonNode allocs = object(a, "allocations");
        if (allocs.isEmpty()) {
            return Consumer.none();
        }
        Map<String, Map<String, Long>> by = new LinkedHashMap<>();
        allocs.properties().forEach(e -> by.put(e.getKey(), resources(e.getValue().path("resources"))));
        JsonNode g = a.body().path("consumer_generation");
        return new Consumer(g.isNumber() ? g.asLong() : null, by, a.body().path("project_id").asText(PROJECT),
                a.body().path("user_id").asText(USER));
    }

    /** Writes the consumer's allocations on every provider (PUT replaces them all); 409 if its generation moved. */
    void putConsumer(UUID consumer, Consumer c) {
        ObjectNode body = PlacementClient.JSON.createObjectNode();
        ObjectNode allocs = body.putObject("allocations");
        c.byProvider().forEach((rp, res) -> {
            ObjectNode r = allocs.putObject(rp).putObject("resources");
            res.forEach(r::put);
        });
        body.put("project_id", c.projectId()).put("user_id", c.userId()).put("consumer_type", "INSTANCE");
        if (c.generation() == null) {
            body.putNull("consumer_generation");
        } else {
            body.put("consumer_generation", c.generation());
        }
        client.put("/allocations/" + consumer, body);
    }

    /** Deletes every allocation of the consumer (callers make sure they are all this provider's). */
    void deleteConsumer(UUID consumer) {
        client.delete("/allocations/" + consumer);
    }

    private UUID consumerId(String raw) {
        try {
            return UUID.fromString(raw);
        } catch (IllegalArgumentException e) {
            throw new PlacementException.BadAnswer("GET " + path + "/allocations", 200, "consumer '" + raw
                    + "' is not a UUID");
        }
    }

    private static Map<String, Long> resources(JsonNode n) {
        Map<String, Long> out = new LinkedHashMap<>();
        n.properties().forEach(e -> out.put(e.getKey(), e.getValue().asLong()));
        return Map.copyOf(out);
    }

    private JsonNode object(PlacementClient.Answer a, String field) {
        return field(a, field, true);
    }

    private JsonNode array(PlacementClient.Answer a, String field) {
        return field(a, field, false);
    }

    /** The answer's field, an object or a list; anything else is a bad answer (never a silent empty one). */
    private JsonNode field(PlacementClient.Answer a, String field, boolean object) {
        JsonNode n = a.body().get(field);
        if (a.status() >= 300 || n == null || (object ? !n.isObject() : !n.isArray())) {
            throw new PlacementException.BadAnswer("GET " + path, a.status(), "the answer has no '" + field + "' "
                    + (object ? "object" : "list") + ": " + PlacementClient.snippet(a.body().toString()));
        }
        return n;
    }

    private static long generation(PlacementClient.Answer a) {
        JsonNode g = a.body().get("resource_provider_generation");
        if (g == null || !g.isIntegralNumber()) {
            throw new PlacementException.BadAnswer("provider generation", a.status(),
                    "the answer has no resource_provider_generation: " + a.body());
        }
        return g.asLong();
    }
}
