package org.berth.agent;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.berth.agent.config.ConfigLoader;
import org.berth.agent.fake.FakeDriver;
import org.berth.image.ManifestImageStore;

/**
 * A real agent on 127.0.0.1 (ephemeral port) with the fake driver, a temp state dir and one test image; plus a
 * small HTTP client. {@link #close()} stops the agent and deletes the directory.
 */
public final class TestAgent implements AutoCloseable {
    public static final ObjectMapper JSON = new ObjectMapper();
    public static final String IMAGE_ID = "0b2a6d2e-6b51-4c7e-9d0e-2f3a4b5c6d7e";

    public final Path dir;
    public Agent agent;
    private final String yaml;
    private final HttpClient http;
    /** "http", or "https" for an agent with {@code tls:} in its options. */
    private final String scheme;

    public record Reply(int status, JsonNode json, String body, HttpResponse<String> raw) {
    }

    /** @param extraYaml more options, appended to the defaults of the test agent */
    public TestAgent(String extraYaml) throws IOException {
        this(Files.createTempDirectory("berth-agent-test"), extraYaml, null);
    }

    /** An agent whose {@code extraYaml} sets {@code tls:}, called over HTTPS trusting {@code trust}'s CAs. */
    public TestAgent(String extraYaml, javax.net.ssl.SSLContext trust) throws IOException {
        this(Files.createTempDirectory("berth-agent-test"), extraYaml, trust);
    }

    private TestAgent(Path dir, String extraYaml, javax.net.ssl.SSLContext trust) throws IOException {
        this.dir = dir;
        HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
        this.http = trust == null ? client.build() : client.sslContext(trust).build();
        this.scheme = trust == null ? "http" : "https";
        Path images = dir.resolve("images");
        Files.createDirectories(images);
        Path file = images.resolve("test-disk.qcow2");
        Files.writeString(file, "not really a qcow2\n");
        String sha = ManifestImageStore.sha256(file);
        Files.writeString(images.resolve("test-disk.json"), """
                {"id": "%s", "name": "test-disk", "file": "test-disk.qcow2", "sha256": "%s", "size": %d,
                 "disk_format": "qcow2", "container_format": "bare", "properties": {}}
                """.formatted(IMAGE_ID, sha, Files.size(file)));
        this.yaml = """
                listen_address: 127.0.0.1
                listen_port: 0
                state_dir: %s
                %s
                image_dirs: [%s]
                %s
                sync_power_state_interval: 1h
                shutdown_timeout: 5s
                driver_retry_max_backoff: 200ms
                """.formatted(dir.resolve("state"), extraYaml.contains("instances_path:") ? ""
                : "instances_path: " + dir.resolve("instances"), images,
                extraYaml.contains("ovs:") ? "" : "ovs: {enabled: false}") + extraYaml;
        try {
            start();
        } catch (RuntimeException e) {
            deleteDir();
            throw e;
        }
    }

    /** Starts the agent and waits for its start-up reconcile sweep, so tests never race with it. */
    public void start() {
        agent = Agent.start(ConfigLoader.parse(yaml));
        agent.reconciler().sweepNow(Duration.ofSeconds(10));
    }

    /** Stops the agent (keeps the directory) and starts a new one on the same state. */
    public void restart() {
        agent.close();
        start();
    }

    public FakeDriver fake() {
        return (FakeDriver) agent.drivers().find("fake").orElseThrow();
    }

    /** GET /v1/events (plain HTTP) with the current token: the answer's head, the body as lines. */
    public HttpResponse<Stream<String>> openEvents() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.port() + "/v1/events"))
                .header("Authorization", "Bearer " + token()).build();
        return HttpClient.newHttpClient().sendAsync(req, HttpResponse.BodyHandlers.ofLines())
                .get(10, java.util.concurrent.TimeUnit.SECONDS);
    }

    public String token() throws IOException {
        return Files.readString(agent.tokenFile()).trim();
    }

    public Reply call(String method, String path, String body) throws IOException, InterruptedException {
        return call(method, path, body, token());
    }

    public Reply call(String method, String path, String body, String token) throws IOException, InterruptedException {
        return send(http, scheme + "://127.0.0.1:" + agent.port(), method, path, body, token, Duration.ofSeconds(10));
    }

    /** One request to an agent on 127.0.0.1:{@code port}; a JSON answer is parsed into {@link Reply#json()}. */
    public static Reply send(HttpClient http, int port, String method, String path, String body, String token,
                             Duration timeout) throws IOException, InterruptedException {
        return send(http, "http://127.0.0.1:" + port, method, path, body, token, timeout);
    }

    /** One request to {@code base} (scheme://host:port). */
    public static Reply send(HttpClient http, String base, String method, String path, String body, String token,
                             Duration timeout) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(timeout)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = null;
        if (r.headers().firstValue("content-type").orElse("").startsWith("application/json")) {
            json = JSON.readTree(r.body());
        }
        return new Reply(r.statusCode(), json, r.body(), r);
    }

    public static String spawnBody(String driver, String name, int memoryMb) {
        return """
                {"driver": "%s", "name": "%s", "image_id": "%s",
                 "flavor": {"name": "m1.test", "vcpus": 1, "memory_mb": %d, "root_gb": 1}}
                """.formatted(driver, name, IMAGE_ID, memoryMb);
    }

    /** Spawns on the fake driver and waits until the spawn task has finished. */
    public UUID spawnAndWait(String name) throws Exception {
        Reply r = call("POST", "/v1/instances", spawnBody("fake", name, 256));
        if (r.status() != 202) {
            fail("spawn answered " + r.status() + ": " + r.body());
        }
        UUID uuid = UUID.fromString(r.json().at("/instance/uuid").asText());
        awaitInstance(uuid, i -> i.get("task_state").isNull());
        return uuid;
    }

    /** Polls GET /v1/instances/{uuid} until the condition holds (at most 10 s). */
    public JsonNode awaitInstance(UUID uuid, Predicate<JsonNode> condition) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            Reply r = call("GET", "/v1/instances/" + uuid, null);
            if (r.status() == 200) {
                last = r.json().get("instance");
                if (condition.test(last)) {
                    return last;
                }
            }
            Thread.sleep(20);
        }
        return fail("instance " + uuid + " did not reach the expected state; last: " + last);
    }

    @Override
    public void close() throws IOException {
        try {
            if (agent != null) {
                agent.close();
            }
        } finally {
            deleteDir();
        }
    }

    private void deleteDir() throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
