package org.berth.agent.placement;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Placement's own API, spoken directly (not through Berth's client), for tests to check what Placement holds and
 * to change it behind the agent's back.
 */
public final class PlacementApi {
    public static final ObjectMapper JSON = new ObjectMapper();
    private final URI base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
            .version(HttpClient.Version.HTTP_1_1).build();

    public PlacementApi(URI base) {
        this.base = base;
    }

    public record Answer(int status, JsonNode json) {
    }

    public Answer send(String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(20))
                .header("X-Auth-Token", "admin").header("OpenStack-API-Version", "placement 1.39")
                .header("Accept", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body().isBlank() ? JSON.createObjectNode() : JSON.readTree(r.body()));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(method + " " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public JsonNode get(String path) {
        Answer a = send("GET", path, null);
        if (a.status() != 200) {
            fail("GET " + path + " answered " + a.status() + ": " + a.json());
        }
        return a.json();
    }

    /** The provider of this uuid, or null. */
    public JsonNode provider(UUID rp) {
        Answer a = send("GET", "/resource_providers/" + rp, null);
        return a.status() == 404 ? null : a.json();
    }

    public JsonNode inventories(UUID rp) {
        return get("/resource_providers/" + rp + "/inventories").get("inventories");
    }

    public TreeSet<String> traits(UUID rp) {
        TreeSet<String> out = new TreeSet<>();
        get("/resource_providers/" + rp + "/traits").get("traits").forEach(t -> out.add(t.asText()));
        return out;
    }

    /** Consumer → resource class → amount, on that provider. */
    public Map<String, Map<String, Long>> allocations(UUID rp) {
        Map<String, Map<String, Long>> out = new TreeMap<>();
        get("/resource_providers/" + rp + "/allocations").get("allocations").properties().forEach(e -> {
            Map<String, Long> r = new TreeMap<>();
            e.getValue().get("resources").properties().forEach(x -> r.put(x.getKey(), x.getValue().asLong()));
            out.put(e.getKey(), r);
        });
        return out;
    }

    /** Creates a provider (someone else's) with a VCPU/MEMORY_MB inventory, for foreign consumers. */
    public UUID createProvider(String name) {
        UUID rp = UUID.randomUUID();
        expect(200, send("POST", "/resource_providers", "{\"uuid\": \"" + rp + "\", \"name\": \"" + name + "\"}"));
        expect(200, send("PUT", "/resource_providers/" + rp + "/inventories", """
                {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 64}, "MEMORY_MB": {"total": 65536}}}
                """));
        return rp;
    }

    /** PUT /allocations/{consumer} on the given providers, as a scheduler would claim (a new consumer). */
    public void allocate(UUID consumer, Map<UUID, Map<String, Long>> byProvider) {
        StringBuilder a = new StringBuilder();
        byProvider.forEach((rp, res) -> {
            if (a.length() > 0) {
                a.append(',');
            }
            a.append('"').append(rp).append("\": {\"resources\": ");
            try {
                a.append(JSON.writeValueAsString(res));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            a.append('}');
        });
        expect(204, send("PUT", "/allocations/" + consumer, "{\"allocations\": {" + a + "}, \"project_id\": \"other\", "
                + "\"user_id\": \"other\", \"consumer_generation\": null, \"consumer_type\": \"INSTANCE\"}"));
    }

    /** DELETE /allocations/{consumer}: 204, or 404 when it had none. */
    public int deleteAllocations(UUID consumer) {
        return send("DELETE", "/allocations/" + consumer, null).status();
    }

    /** Deletes a provider after removing its consumers' allocations (test clean-up). */
    public void deleteProvider(UUID rp) {
        // a few times (bounded): an agent's last report can land between the allocations' delete and the provider's
        // (409: in use), and SQLite may answer "database is locked" while another writer holds it (500)
        for (int attempt = 1; attempt <= 20 && provider(rp) != null; attempt++) {
            allocations(rp).keySet().forEach(c -> deleteAllocations(UUID.fromString(c)));
            Answer a = send("DELETE", "/resource_providers/" + rp, null);
            if (a.status() == 204 || a.status() == 404) {
                return;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void expect(int status, Answer a) {
        if (a.status() != status) {
            fail("Placement answered " + a.status() + " (expected " + status + "): " + a.json());
        }
    }

    /** Polls until {@code check} returns normally, at most {@code limit}; then rethrows its last failure. */
    public static long await(Duration limit, Runnable check) throws InterruptedException {
        long t0 = System.nanoTime();
        long deadline = t0 + limit.toNanos();
        while (true) {
            try {
                check.run();
                return (System.nanoTime() - t0) / 1_000_000;
            } catch (AssertionError | RuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
            Thread.sleep(100);
        }
    }

}
