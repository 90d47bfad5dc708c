package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Collectors;
import org.berth.agent.cli.CliException;
import org.berth.agent.placement.PlacementClient;
import org.berth.agent.placement.PlacementException;
import org.berth.agent.placement.ProviderCalls;

/**
 * What {@code berth cloud} asks Placement (microversion 1.39 on every request, through {@link PlacementClient}):
 * providers by name, allocation candidates, claims with consumer generations, releases, consumers, and each
 * provider's inventories, usages and allocations. Consumers are written with the agents' project and user
 * ({@link ProviderCalls#PROJECT}, {@link ProviderCalls#USER}) so that the agents' writes and ours agree. Errors are
 * {@link PlacementException}s. Thread-safe.
 */
public final class CloudPlacement {
    public static final String VCPU = "VCPU";
    public static final String MEMORY_MB = "MEMORY_MB";
    public static final String DISK_GB = "DISK_GB";
    /** The classes Berth's flavors claim, in the order messages and tables show them. */
    public static final List<String> CLASSES = List.of(VCPU, MEMORY_MB, DISK_GB);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A CLI asks again after a 5xx (a 500 "database is locked" from Placement on SQLite rolled its write back). */
    static final int SERVER_ERROR_ATTEMPTS = 4;

    private final PlacementClient client;

    public CloudPlacement(PlacementClient client) {
        this.client = client;
    }

    /** A client for the hosts file's Placement, every request bounded by {@code timeout}. */
    public static CloudPlacement of(CloudHosts hosts, Duration timeout) {
        return new CloudPlacement(new PlacementClient(hosts.placementUrl(), hosts.placementToken(), timeout,
                SERVER_ERROR_ATTEMPTS));
    }

    public PlacementClient client() {
        return client;
    }

    /** A resource provider (a host: its name is the agent's {@code host}). */
    public record Provider(UUID uuid, String name, long generation) {
    }

    /** What a provider has of one class: capacity = (total - reserved) x allocation_ratio, and what is used. */
    public record Usage(long capacity, long used) {
        public long free() {
            return Math.max(0, capacity - used);
        }
    }

    /** One allocation request: the provider it claims on and the amounts. */
    public record Candidate(UUID provider, Map<String, Long> resources) {
    }

    /** A provider's summary in an allocation_candidates answer. */
    public record Summary(Map<String, Usage> resources, Set<String> traits) {
        public long free(String rc) {
            Usage u = resources.get(rc);
            return u == null ? 0 : u.free();
        }
    }

    /** The answer of GET /allocation_candidates. */
    public record Candidates(List<Candidate> requests, Map<UUID, Summary> summaries) {
    }

    /** A consumer's allocations by provider; {@code generation} null when Placement does not know the consumer. */
    public record Consumer(Long generation, Map<UUID, Map<String, Long>> allocations, String projectId, String userId) {
        public boolean exists() {
            return generation != null || !allocations.isEmpty();
        }
    }

    /** Every resource provider (root providers: one per host). */
    public List<Provider> providers() {
        return providers("/resource_providers");
    }

    /** Providers that have every one of {@code required} traits (a name with '!' first: must not have it). */
    public List<Provider> providers(List<String> required) {
        return providers("/resource_providers" + (required.isEmpty() ? "" : "?required=" + String.join(",", required)));
    }

    private List<Provider> providers(String path) {
        JsonNode list = field(client.get(path), path, "resource_providers", false);
        List<Provider> out = new ArrayList<>();
        for (JsonNode rp : list) {
            out.add(new Provider(UUID.fromString(rp.path("uuid").asText()), rp.path("name").asText(),
                    rp.path("generation").asLong()));
        }
        return out;
    }

    /** The provider of that name (a host's agent registers it under its {@code host}). */
    public Optional<Provider> provider(String name) {
        String path = "/resource_providers?name=" + name;
        return providers(path).stream().filter(p -> p.name().equals(name)).findFirst();
    }

    /**
     * {@code GET /allocation_candidates}: the providers that can hold {@code resources} (amounts of 0 are left out:
     * Placement refuses them), have every {@code required} trait, and whose root is not disabled
     * ({@code root_required=!COMPUTE_STATUS_DISABLED}); at most {@code limit} requests.
     */
    public Candidates candidates(Map<String, Long> resources, List<String> required, int limit) {
        String res = resources.entrySet().stream().filter(e -> e.getValue() > 0)
                .map(e -> e.getKey() + ":" + e.getValue()).collect(Collectors.joining(","));
        if (res.isEmpty()) {
            throw new IllegalArgumentException("flavor: claims no resource (every amount is 0)");
        }
        String path = "/allocation_candidates?resources=" + res
                + (required.isEmpty() ? "" : "&required=" + String.join(",", required))
                + "&root_required=!COMPUTE_STATUS_DISABLED&limit=" + limit;
        PlacementClient.Answer a = client.get(path);
        List<Candidate> requests = new ArrayList<>();
        for (JsonNode r : field(a, path, "allocation_requests", false)) {
            r.path("allocations").properties().forEach(e ->
                    requests.add(new Candidate(UUID.fromString(e.getKey()), amounts(e.getValue().path("resources")))));
        }
        Map<UUID, Summary> summaries = new LinkedHashMap<>();
        field(a, path, "provider_summaries", true).properties().forEach(e -> {
            Map<String, Usage> u = new LinkedHashMap<>();
            e.getValue().path("resources").properties().forEach(rc -> u.put(rc.getKey(),
                    new Usage(rc.getValue().path("capacity").asLong(), rc.getValue().path("used").asLong())));
            Set<String> traits = new TreeSet<>();
            e.getValue().path("traits").forEach(t -> traits.add(t.asText()));
            summaries.put(UUID.fromString(e.getKey()), new Summary(Map.copyOf(u), traits));
        });
        return new Candidates(requests, summaries);
    }

    /**
     * Claims {@code resources} on {@code provider} for {@code consumer}: {@code PUT /allocations/{consumer}}, which
     * writes a new consumer (generation null). True when claimed; false when Placement refused it for capacity (a
     * lost race with another scheduler: try the next candidate).
     *
     * @throws CliException.Failed "uuid U is in use" when the consumer exists already (another claim holds it)
     */
    public boolean claim(UUID consumer, UUID provider, Map<String, Long> resources) {
        try {
            put(consumer, Map.of(provider, resources), null);
            return true;
        } catch (PlacementException.Refused e) {
            if (e.status() != 409) {
                throw e;
            }
            if (e.concurrentUpdate()) {
                // written as a new consumer, yet it exists: another claim (a concurrent spawn --uuid of the same
                // uuid) holds it; re-reading and overwriting it would let both spawn the instance
                throw new CliException.Failed("uuid " + consumer + " is in use (another claim holds it)");
            }
            return false; // "... would exceed the capacity": another claim won
        }
    }

    /** Writes the consumer's allocations with that generation (null: a new consumer). */
    public void put(UUID consumer, Map<UUID, Map<String, Long>> allocations, Long generation) {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode all = body.putObject("allocations");
        allocations.forEach((rp, res) -> {
            ObjectNode r = all.putObject(rp.toString()).putObject("resources");
            res.forEach(r::put);
        });
        body.put("project_id", ProviderCalls.PROJECT).put("user_id", ProviderCalls.USER).put("consumer_type", "INSTANCE");
        if (generation == null) {
            body.putNull("consumer_generation");
        } else {
            body.put("consumer_generation", generation);
        }
        client.put("/allocations/" + consumer, body);
    }

    /** Gives every allocation of the consumer back ({@code DELETE /allocations/{c}}); false when it had none. */
    public boolean release(UUID consumer) {
        return client.delete("/allocations/" + consumer).status() != 404;
    }

    /** {@code GET /allocations/{consumer}}. */
    public Consumer consumer(UUID consumer) {
        String path = "/allocations/" + consumer;
        PlacementClient.Answer a = client.get(path);
        Map<UUID, Map<String, Long>> by = new LinkedHashMap<>();
        field(a, path, "allocations", true).properties().forEach(e ->
                by.put(UUID.fromString(e.getKey()), amounts(e.getValue().path("resources"))));
        JsonNode g = a.body().path("consumer_generation");
        return new Consumer(g.isNumber() ? g.asLong() : null, Map.copyOf(by),
                a.body().path("project_id").asText(ProviderCalls.PROJECT), a.body().path("user_id").asText(ProviderCalls.USER));
    }

    /** The provider's usage and capacity per class (its inventories and usages); empty when it is gone. */
    public Map<String, Usage> usages(UUID provider) {
        String invPath = "/resource_providers/" + provider + "/inventories";
        PlacementClient.Answer inv = client.get(invPath);
        if (inv.status() == 404) {
            return Map.of();
        }
        String usePath = "/resource_providers/" + provider + "/usages";
        PlacementClient.Answer use = client.get(usePath);
        if (use.status() == 404) {
            return Map.of();
        }
        JsonNode used = field(use, usePath, "usages", true);
        Map<String, Usage> out = new LinkedHashMap<>();
        field(inv, invPath, "inventories", true).properties().forEach(e -> {
            JsonNode i = e.getValue();
            long capacity = (long) Math.floor((i.path("total").asLong() - i.path("reserved").asLong())
                    * i.path("allocation_ratio").asDouble(1.0));
            out.put(e.getKey(), new Usage(capacity, used.path(e.getKey()).asLong(0)));
        });
        return out;
    }

    /** The provider's allocations by consumer; empty when it is gone. */
    public Map<UUID, Map<String, Long>> allocations(UUID provider) {
        String path = "/resource_providers/" + provider + "/allocations";
        PlacementClient.Answer a = client.get(path);
        if (a.status() == 404) {
            return Map.of();
        }
        Map<UUID, Map<String, Long>> out = new LinkedHashMap<>();
        field(a, path, "allocations", true).properties().forEach(e ->
                out.put(UUID.fromString(e.getKey()), amounts(e.getValue().path("resources"))));
        return out;
    }

    /** The provider's traits; empty when it is gone. */
    public Set<String> traits(UUID provider) {
        String path = "/resource_providers/" + provider + "/traits";
        PlacementClient.Answer a = client.get(path);
        if (a.status() == 404) {
            return Set.of();
        }
        Set<String> out = new TreeSet<>();
        field(a, path, "traits", false).forEach(t -> out.add(t.asText()));
        return out;
    }

    private static Map<String, Long> amounts(JsonNode n) {
        Map<String, Long> out = new LinkedHashMap<>();
        n.properties().forEach(e -> out.put(e.getKey(), e.getValue().asLong()));
        return Map.copyOf(out);
    }

    /** The answer's field, an object or a list; anything else is a bad answer, named. */
    private static JsonNode field(PlacementClient.Answer a, String path, String field, boolean object) {
        JsonNode n = a.body().get(field);
        if (a.status() >= 300 || n == null || (object ? !n.isObject() : !n.isArray())) {
            throw new IllegalStateException("Placement GET " + path + " answered " + a.status() + " without a '"
                    + field + "' " + (object ? "object" : "list") + ": " + a.body());
        }
        return n;
    }
}
